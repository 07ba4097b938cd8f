"""From candidates to one ranking: fusion of the dense and lexical document scores, the theme
boost, the hit set and the chunk each hit shows. Pure functions over plain dicts: no knowledge base.

Every fusion function takes the per-document dense cosines, the per-document lexical BM25 scores
and the lexical evidence (the idf-weighted share of the typed words that the best lexical match
contains, in [0, 1]) and returns fused scores. `calibrated` is shipped; the others are kept
because the ablation (bench/ablation.py, eval/README.md) measures them against it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping

if TYPE_CHECKING:
    from .planner import QueryPlan

Scores = dict[str, float]
BestChunks = dict[str, tuple[int, float]]   # doc id -> (its best chunk id, that chunk's score)

FIRST_PAGE = 10           # the best fused documents are always shown
MIN_HITS = 5              # a query with no lexical match still shows its nearest documents
HIT_SET_DENSE_DOCS = 30   # at most this many dense-only candidates shown
DENSE_MARGIN = 0.04       # ... within this cosine of the best dense match
# The hits that `total` and the facets count: documents whose score is at least this share of
# the best one. bench/hit_set.py, precision / recall at 0.40 (0.45): climate 0.51 / 0.78
# (0.59 / 0.71), SweFAQ 0.27 / 0.91 (0.31 / 0.89), SweQUAD-MC 0.51 / 0.99 (0.56 / 0.99): the
# lowest share that keeps precision ≥ 0.5 on the sets with several relevant documents per query
# (eval/README.md "Hit set, re-cut"). The former "every lexical match" set had 0.07 / 0.98.
# Dense-only ranking (cosines bunch together): within HIT_COSINE of the best.
HIT_SHARE = 0.40
HIT_COSINE = 0.03


@dataclass(frozen=True)
class FusionWeights:
    """How the dense and lexical sides are combined (see FUSIONS)."""

    method: str = "calibrated"     # see FUSIONS
    dense_temperature: float = 0.05  # calibrated: dense as exp((cos − best) / τ)
    lexical_weight: float = 1.25   # lexical: weight · evidence^power · (bm25 / best)^lexical_power
    evidence_power: float = 1.0
    lexical_power: float = 2.0
    margin_weight: float = 0.0     # adaptive only: weight of the lexical top-1 margin
    max_lexical: float = 0.95      # adaptive only: cap on the lexical share
    rrf_k: int = 60                # rrf only


@dataclass(frozen=True)
class ExpansionWeights:
    """Query side: the weight of the terms a typed word expands to (the typed word itself is 1)."""

    part_weight: float = 0.35      # compound parts of a typed word
    synonym_weight: float = 0.3    # theme synonyms
    generic: bool = False          # treat generic words (kunskap/data/generic_sv.txt) apart: never evidence
    generic_weight: float = 1.0    # ... and their BM25 weight (0: dropped like stopwords)


@dataclass(frozen=True)
class DenseWeights:
    """How a document's dense score is made from its chunks (cosines of the query)."""

    second_chunk: float = 0.0      # score = (best + w·second best chunk) / (1 + w)
    centroid: float = 0.0          # ... then (1 − w)·that + w·cos(query, mean of the document's chunks)
    # Pseudo-relevance feedback: the query vector + w·mean of the top-k documents' mean vectors,
    # searched again. k 2–3, w 0.2–0.5 all gain on the climate set and hold the dev sets
    # (eval/README.md, "Generalising ranking"); of that flat region, the cell that does not cost
    # descriptive queries is shipped.
    prf_docs: int = 2
    prf_weight: float = 0.3
    # A document-level vector of "title – organisation\nsummary" (summary_text; ablation only:
    # ingest does not embed it, bench/ablation.py does): the document's score blended as
    # (1 − w)·chunks + w·cos(query, that vector), or the larger of the two when summary_max.
    summary: float = 0.0
    summary_max: bool = False


@dataclass(frozen=True)
class FeedbackTerms:
    """Dense-guided lexical feedback (RM3-style expansion; eval/README.md "Lexical feedback from
    the dense side"): the analysed body terms of the best chunks of the top `docs` dense documents,
    by tf·idf within those chunks, the typed terms, stopwords and generic words left out and terms
    in more than `max_df_share` of the chunks too; the best `terms` of them are searched with
    BM25 weight `weight` (the best term; the others in proportion to their tf·idf). They are
    never lexical evidence: the evidence stays the share of the typed words.

    Shipped: 5 documents, 15 terms, weight 0.3, only for Swedish queries whose lexical evidence
    is below 0.5, organisation names left out. Mean nDCG@10 over the three sets 0.8251 → 0.8277
    (climate +0.000, SweFAQ +0.009, SweQUAD-MC −0.001); English queries on the climate set
    −0.010 (one query), descriptive +0.001, paraphrase +0.015, misspelt +0.008. Its neighbours
    (10–15 terms, weight 0.3–0.4) measure the same; expanding every query was worse."""

    docs: int = 5                  # top dense documents read (0: off)
    terms: int = 15                # expansions added
    weight: float = 0.3            # BM25 weight of the best expansion
    below_evidence: float = 0.5    # only for queries whose (scaled) lexical evidence is below this (> 1: always)
    english: bool = False          # English queries too (their Swedish lexical side has a tenth of the weight)
    organisations: bool = False    # organisation names (their analysed terms) may be expansions
    max_df_share: float = 0.1      # terms in more chunks than this share are too common to expand with
    # The lexical side is fused with at least this evidence when expansions were added (0: the
    # typed evidence alone decides its weight, so a query without typed matches gains nothing).
    fusion_floor: float = 0.0

    @classmethod
    def off(cls) -> "FeedbackTerms":
        return cls(docs=0)


@dataclass(frozen=True)
class RankingParams:
    """Weights of the ranking, in the order the pipeline uses them. The defaults are the measured
    choice (eval/README.md): the calibrated fusion, from a flat region of the grid over SweFAQ,
    SweQUAD-MC and our climate set; the theme boost from the climate set."""

    expansion: ExpansionWeights = field(default_factory=ExpansionWeights)  # query analysis
    title_weight: float = 2.0      # lexical: BM25 column weight of title + organisation
    dense: DenseWeights = field(default_factory=DenseWeights)
    fusion: FusionWeights = field(default_factory=FusionWeights)
    long_query_words: int = 0      # a query with at least this many content words (0: off) ...
    long_query_factor: float = 1.0  # ... has its lexical evidence scaled by this (descriptive queries)
    theme_boost: float = 0.2       # added to documents tagged with a theme the query names
    feedback: FeedbackTerms = field(default_factory=FeedbackTerms)   # lexical side, after dense


@dataclass
class Candidates:
    """What each side found for one query, per document (best chunk)."""

    plan: QueryPlan
    dense: Scores = field(default_factory=dict)
    dense_best: BestChunks = field(default_factory=dict)
    lexical: Scores = field(default_factory=dict)
    lexical_best: BestChunks = field(default_factory=dict)
    evidence: float = 0.0
    typed_evidence: Scores = field(default_factory=dict)   # per document: share of the typed words it holds
    feedback: dict[str, float] = field(default_factory=dict)  # expansions from the dense side -> BM25 weight
    matched: set[str] = field(default_factory=set)   # lexical candidates matching the query's own terms


@dataclass
class Ranking:
    ranking: list[tuple[str, float]]   # the hits best first, then the possible ones: [(doc id, score)]
    best_chunks: dict[str, int | None]  # doc id -> the chunk its snippet comes from
    hit_set: set[str]                   # the hits: what total and facets count
    possible: int = 0                   # how many of `ranking` come after the hits


def minmax(scores: Scores, floor: float | None = None) -> Scores:
    """Scores scaled to [0, 1] over the candidates (from `floor` instead of the minimum if given)."""
    if not scores:
        return {}
    top = max(scores.values())
    low = min(scores.values()) if floor is None else floor
    span = max(top - low, 1e-9)
    return {d: (v - low) / span for d, v in scores.items()}


def _add(into: Scores, scores: Scores, weight: float = 1.0) -> Scores:
    for doc_id, value in scores.items():
        into[doc_id] = into.get(doc_id, 0.0) + weight * value
    return into


def calibrated(dense: Scores, lexical: Scores, evidence: float, p: FusionWeights) -> Scores:
    """Each side scaled by its distance to its own best match: dense as exp((cos − best)/τ), so a
    clear dense winner counts and a crowd of near-equal cosines does not; lexical as
    (bm25 / best)^power, weighted by its evidence."""
    fused: Scores = {}
    if dense:
        top = max(dense.values())
        fused = {d: math.exp((v - top) / p.dense_temperature) for d, v in dense.items()}
    if lexical:
        top_lex = max(lexical.values())
        _add(fused, {d: (v / top_lex) ** p.lexical_power for d, v in lexical.items()},
             p.lexical_weight * evidence ** p.evidence_power)
    return fused


def rrf(dense: Scores, lexical: Scores, evidence: float, p: FusionWeights) -> Scores:
    """Reciprocal rank fusion."""
    fused: Scores = {}
    for ranked in (dense, lexical):
        for rank, doc_id in enumerate(sorted(ranked, key=lambda d: (-ranked[d], d)), start=1):
            fused[doc_id] = fused.get(doc_id, 0.0) + 1.0 / (p.rrf_k + rank)
    return fused


def evidence_sum(dense: Scores, lexical: Scores, evidence: float, p: FusionWeights) -> Scores:
    """Min-max dense + lexical / best, the lexical side weighted by evidence^power."""
    fused = dict(minmax(dense))
    return _add(fused, minmax(lexical, floor=0.0), p.lexical_weight * evidence ** p.evidence_power)


def plain_sum(dense: Scores, lexical: Scores, evidence: float, p: FusionWeights) -> Scores:
    """Min-max dense + weighted lexical / best, ignoring the evidence."""
    return evidence_sum(dense, lexical, 1.0, p)


def adaptive(dense: Scores, lexical: Scores, evidence: float, p: FusionWeights) -> Scores:
    """(1 − λ)·dense + λ·lexical, both min-max normalised, λ from the evidence and from how
    clearly the best lexical match stands out (margin to the second)."""
    values = sorted(lexical.values(), reverse=True)
    margin = (values[0] - values[1]) / values[0] if len(values) > 1 else (1.0 if values else 0.0)
    lam = 1.0 if not dense else min(p.max_lexical, p.lexical_weight * evidence ** p.evidence_power
                                    + p.margin_weight * margin)
    fused = {d: (1 - lam) * v for d, v in minmax(dense).items()}
    return _add(fused, minmax(lexical, floor=0.0), lam)


FUSIONS = {"calibrated": calibrated, "rrf": rrf, "evidence": evidence_sum, "sum": plain_sum,
           "adaptive": adaptive}


def fuse(dense: Scores, lexical: Scores, evidence: float, weights: FusionWeights) -> Scores:
    try:
        method = FUSIONS[weights.method]
    except KeyError:
        raise ValueError(f"unknown fusion '{weights.method}' (one of {', '.join(FUSIONS)})") from None
    return method(dense, lexical, evidence, weights)


def scores_for_mode(found: Candidates, mode: str, params: RankingParams,
                    document_themes: Callable[[], Mapping[str, frozenset[str]]]) -> Scores:
    """One score per candidate document: one side alone, or both fused plus the theme boost.
    `document_themes` (doc id -> theme tags) is called only when the boost applies."""
    if mode == "lexical":
        return dict(found.lexical)
    if mode == "dense":
        return dict(found.dense)
    evidence = found.evidence
    if found.feedback and params.feedback.fusion_floor:
        evidence = max(evidence, params.feedback.fusion_floor)
    scores = fuse(found.dense, found.lexical, evidence, params.fusion)
    if found.plan.themes and params.theme_boost:
        # The query names a theme: the curated theme tags are evidence too.
        tagged = document_themes()
        for doc_id in scores:
            if tagged.get(doc_id, frozenset()) & found.plan.themes:
                scores[doc_id] += params.theme_boost
    return scores


def candidate_set(found: Candidates, scores: Scores, mode: str) -> set[str]:
    """Everything worth showing: the first page of the fused ranking, every lexical match, and
    the dense documents close to the best dense match (so a query without lexical match still
    has its nearest documents: no dead ends). Beyond the hits these are "fler möjliga träffar"."""
    dense = found.dense
    # Lexical matches of the query's own terms; a document found through the dense side's
    # expansions alone is shown only as the fused scores or the dense side place it.
    lexical = found.matched if found.feedback else set(found.lexical)
    hits = set(lexical) if mode != "dense" else set()
    if dense and mode != "lexical":
        top = max(dense.values())
        close = sorted((d for d in dense if d not in hits), key=lambda d: (-dense[d], d))
        floor = top - DENSE_MARGIN if hits else top - 2 * DENSE_MARGIN
        admitted = [d for d in close if dense[d] >= floor][:HIT_SET_DENSE_DOCS]
        hits |= set(admitted or close[:MIN_HITS])
    hits |= set(sorted(scores, key=lambda d: (-scores[d], d))[:FIRST_PAGE])
    return hits


def hit_set(found: Candidates, scores: Scores, mode: str) -> set[str]:
    """The hits: the candidates that score close enough to the best one to be what was asked
    for (see HIT_SHARE). Never empty when there are candidates."""
    if not scores:
        return set()
    top = max(scores.values())
    if mode == "dense":
        hits = {d for d, v in scores.items() if v >= top - HIT_COSINE}
    else:
        hits = {d for d, v in scores.items() if v >= HIT_SHARE * top} if top > 0 else set()
    return hits or {min(scores, key=lambda d: (-scores[d], d))}


def best_chunk(found: Candidates, doc_id: str) -> int | None:
    """The chunk a hit shows: the one with the typed words when the lexical evidence is strong,
    else the one closest in meaning."""
    lex, den = found.lexical_best.get(doc_id), found.dense_best.get(doc_id)
    chosen = (lex if found.evidence >= 0.5 else den) or lex or den
    return chosen[0] if chosen else None


def rank(found: Candidates, mode: str, params: RankingParams,
         document_themes: Callable[[], Mapping[str, frozenset[str]]]) -> Ranking:
    """The hits ranked by score (ties by id), then the other candidates, with the chunk each
    shows."""
    scores = scores_for_mode(found, mode, params, document_themes)
    hits = hit_set(found, scores, mode)
    shown = candidate_set(found, scores, mode) | hits
    ranking = sorted(((d, scores.get(d, 0.0)) for d in shown), key=lambda x: (x[0] not in hits, -x[1], x[0]))
    return Ranking(ranking, {doc_id: best_chunk(found, doc_id) for doc_id, _ in ranking}, hits,
                   possible=len(shown) - len(hits))


def sort_newest(ranking: list[tuple[str, float]], documents: Mapping[str, dict], hits: int | None = None) -> None:
    """Newest first (year, then publication date), by score within the same date; the first
    `hits` entries (the hits) stay ahead of the possible ones."""
    def key(x):
        return -(documents[x[0]].get("year") or 0), documents[x[0]].get("published") or "", -x[1], x[0]

    hits = len(ranking) if hits is None else hits
    ranking[:] = sorted(ranking[:hits], key=key) + sorted(ranking[hits:], key=key)
