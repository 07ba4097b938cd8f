"""Fusing dense and lexical document scores into one ranking.

Every function takes the per-document dense cosines, the per-document lexical BM25 scores and the
lexical evidence (the idf-weighted share of the typed words that the best lexical match contains,
in [0, 1]) and returns fused scores. `calibrated` is shipped; the others are kept because the
ablation (bench/ablation.py, eval/README.md) measures them against it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Scores = dict[str, float]


@dataclass
class FusionParams:
    """Weights of the ranking. The defaults are the measured choice (eval/README.md): the
    calibrated fusion, from a flat region of the grid over SweFAQ, SweQUAD-MC and our climate set."""

    method: str = "calibrated"     # see FUSIONS
    dense_temperature: float = 0.05  # calibrated: dense as exp((cos − best) / τ)
    lexical_weight: float = 1.25   # lexical: weight · evidence^power · (bm25 / best)^lexical_power
    evidence_power: float = 1.0
    lexical_power: float = 2.0
    part_weight: float = 0.35      # query side: compound parts of a typed word
    synonym_weight: float = 0.3    # query side: theme synonyms
    title_weight: float = 2.0      # BM25 column weight of title + organisation
    theme_weight: float = 0.2      # added to documents tagged with a theme the query names
    margin_weight: float = 0.0     # adaptive only: weight of the lexical top-1 margin
    max_lexical: float = 0.95      # adaptive only: cap on the lexical share
    rrf_k: int = 60                # rrf only


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


def calibrated(dense: Scores, lexical: Scores, evidence: float, p: FusionParams) -> Scores:
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


def rrf(dense: Scores, lexical: Scores, evidence: float, p: FusionParams) -> Scores:
    """Reciprocal rank fusion."""
    fused: Scores = {}
    for ranked in (dense, lexical):
        for rank, doc_id in enumerate(sorted(ranked, key=lambda d: (-ranked[d], d)), start=1):
            fused[doc_id] = fused.get(doc_id, 0.0) + 1.0 / (p.rrf_k + rank)
    return fused


def evidence_sum(dense: Scores, lexical: Scores, evidence: float, p: FusionParams) -> Scores:
    """Min-max dense + lexical / best, the lexical side weighted by evidence^power."""
    fused = dict(minmax(dense))
    return _add(fused, minmax(lexical, floor=0.0), p.lexical_weight * evidence ** p.evidence_power)


def plain_sum(dense: Scores, lexical: Scores, evidence: float, p: FusionParams) -> Scores:
    """Min-max dense + weighted lexical / best, ignoring the evidence."""
    return evidence_sum(dense, lexical, 1.0, p)


def adaptive(dense: Scores, lexical: Scores, evidence: float, p: FusionParams) -> Scores:
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


def fuse(dense: Scores, lexical: Scores, evidence: float, params: FusionParams) -> Scores:
    try:
        method = FUSIONS[params.method]
    except KeyError:
        raise ValueError(f"unknown fusion '{params.method}' (one of {', '.join(FUSIONS)})") from None
    return method(dense, lexical, evidence, params)
