"""Lexical candidates: the best postings of each analysed term (FTS5's BM25, read in impact
order), weighted BM25 summed per chunk, the best chunk per document, and the lexical evidence
(how much of what was typed the best matching chunk contains)."""

from __future__ import annotations

import math
from typing import Callable, Iterator, Protocol

import numpy as np

from .dense import ChunkTable
from .planner import QueryPlan
from .ranking import BestChunks, Scores

# Bounds that make a query's lexical cost independent of the corpus size (issue 14 §1). None
# binds on the evaluation sets (at most 2,112 chunks and 498 documents; the commonest term is in
# 1,216 chunks), so their ranking is what an unbounded read gives. Chosen on the synthetic 100k
# corpus of bench/scale.py against an unbounded read (bench/README.md, "Scale"): the hybrid top
# 10 keeps 88 % of its documents (the former FTS5 read of 5,000 a term: 82 %).
TERM_CHUNKS = 1500   # chunks read per term, best BM25 first (impact-ordered postings)
LEXICAL_DOCS = 1000  # documents kept as lexical candidates, best first: what fusion and the hit set see
# When a term was read only in part, a chunk found through another term may hold it too: the
# chunks scoring best so far are scored over every term (read among them, exactly).
RESCORE_CHUNKS = 500
# Expansions from the dense side (feedback.py) weigh 0.3 at most and are found in at most a tenth
# of the chunks: a term's best 300 postings are what can move a ranking (on the evaluation sets
# every feedback term has fewer postings than that).
FEEDBACK_TERM_CHUNKS = 300
# A filter passing at most this many chunks is searched exactly: every posting of the query's
# terms among its chunks is read (from their rows: ~50 µs a chunk on SQLite), not each term's
# best postings in the whole corpus, which could all lie outside it. Between that and the whole corpus a term's read grows
# with the share the filter excludes, up to FILTERED_TERM_CHUNKS.
FILTER_EXACT_CHUNKS = 1000
FILTERED_TERM_CHUNKS = 10 * TERM_CHUNKS


class LexicalIndex(Protocol):
    def term_postings(self, term: str, title_weight: float, limit: int) -> tuple[np.ndarray, np.ndarray]: ...
    def postings_within(self, terms, title_weight: float, chunk_ids) -> dict[str, tuple[np.ndarray, np.ndarray]]: ...
    def term_document_frequency(self, term: str) -> int: ...


def lexical_candidates(index: LexicalIndex, plan: QueryPlan, chunks: ChunkTable,
                       allowed: set[str] | None, title_weight: float,
                       doc_evidence: Scores | None = None,
                       allowed_chunks: np.ndarray | None = None,
                       feedback: Callable[[float], dict[str, float]] | None = None,
                       matched: set[str] | None = None) -> tuple[Scores, BestChunks, float]:
    """Per document (the LEXICAL_DOCS best): summed weighted BM25 of its best chunk; and the
    evidence in [0, 1], the idf share of the typed terms that the best chunk holds.
    `doc_evidence`, if given, is filled with the same share per kept document (its best chunk by
    that share): how much of what was typed, not of its expansions, the document holds.
    `allowed_chunks` are the chunks of the `allowed` documents when a filter excludes some (see
    FILTER_EXACT_CHUNKS). `feedback`, if given, is called with the evidence and returns more
    terms with their weights (expansions from the dense side, feedback.py): they add to the BM25
    sums and never to the evidence. `matched`, if given, is filled with the documents that match
    the query's own terms (typed, compound parts, synonyms), not only its feedback. The work
    follows the postings read, never the corpus."""
    n_chunks = max(len(chunks.chunk_ids), 1)
    limit, within = TERM_CHUNKS, None
    if allowed_chunks is not None and len(allowed_chunks) <= FILTER_EXACT_CHUNKS:
        within = allowed_chunks
    elif allowed_chunks is not None:
        limit = min(FILTERED_TERM_CHUNKS, int(TERM_CHUNKS * n_chunks / max(len(allowed_chunks), 1)))
    read = _Reader(index, title_weight, limit, within)
    idf_total = 0.0
    weighed: dict[str, tuple[float, float]] = {}   # term -> (its weight, the idf it adds to the evidence)
    for (term, weight), df in zip(plan.terms.items(), read.terms(plan.terms.items())):
        idf = math.log(1 + (n_chunks - df + 0.5) / (df + 0.5))
        # A typed word that no document uses but that is a theme synonym is carried by its
        # expansion: it does not count against the lexical evidence.
        # Generic words ("göra", "enkel") say how, not what: they are never evidence.
        typed = weight >= 1.0 and term not in plan.generic
        if typed and not (df == 0 and term in plan.expanded):
            idf_total += idf
        weighed[term] = (weight, idf if typed else 0.0)
        read.typed(idf if typed else 0.0)
    own = read.per_chunk(chunks, allowed)
    best_evidence = float(own.typed[own.keep].max()) if own.keep.any() else 0.0
    evidence = min(best_evidence / idf_total, 1.0) if idf_total > 0 else 0.0
    if matched is not None:
        matched.update(chunks.doc_ids[i] for i in np.unique(own.doc[own.keep]).tolist())
    if feedback is not None:
        more = [(term, weight) for term, weight in feedback(evidence).items() if term not in plan.terms]
        for (term, weight), _ in zip(more, read.terms(more, min(limit, FEEDBACK_TERM_CHUNKS))):
            read.typed(0.0)
            weighed[term] = (weight, 0.0)
        found = read.per_chunk(chunks, allowed)
    else:
        found = own
    if not read.rows():
        return {}, {}, evidence
    if read.truncated and RESCORE_CHUNKS:
        found.rescore(index, weighed, title_weight)
    keep = found.keep & (found.score > 0)
    if not keep.any():
        return {}, {}, 0.0
    rows = np.flatnonzero(keep)
    rows = rows[np.lexsort((found.chunk[rows], -found.score[rows]))]     # best chunk first, ties by id
    _, first = np.unique(found.doc_row[rows], return_index=True)        # each document's best chunk
    best = rows[np.sort(first)[:LEXICAL_DOCS]]                          # the documents, best first
    names = [chunks.doc_ids[i] for i in found.doc[best].tolist()]
    scores = found.score[best].tolist()
    doc_scores: Scores = dict(zip(names, scores))
    best_chunk: BestChunks = {d: (c, s) for d, c, s in zip(names, found.chunk[best].tolist(), scores)}
    if doc_evidence is not None and idf_total > 0:
        # the largest share of the typed words that any chunk of each kept document holds
        most = np.zeros(len(found.present))
        np.maximum.at(most, found.doc_row[rows], found.typed[rows])
        for name, row in zip(names, found.doc_row[best].tolist()):
            doc_evidence[name] = min(float(most[row]) / idf_total, 1.0)
    return doc_scores, best_chunk, evidence


class _Reader:
    """The postings of a query's terms, read one term at a time: each term's best `limit`, or
    every posting among the chunks of a selective filter (`within`)."""

    def __init__(self, index: LexicalIndex, title_weight: float, limit: int, within: np.ndarray | None):
        self.index, self.title_weight, self.limit, self.within = index, title_weight, limit, within
        self.ids: list[np.ndarray] = []
        self.scores: list[np.ndarray] = []
        self.typed_idf: list[np.ndarray] = []
        self.truncated = False   # a term was read only in part

    def terms(self, items, limit: int | None = None) -> Iterator[int]:
        """Reads terms [(term, weight)] one by one (their BM25 weighted; at most `limit` postings
        each, if given), yielding each one's document frequency once it is read (the caller then
        says what it adds to the evidence)."""
        items, limit = list(items), limit or self.limit
        within = (self.index.postings_within([t for t, _ in items], self.title_weight, self.within)
                  if self.within is not None and items else {})
        for term, weight in items:
            if self.within is not None:
                chunk_ids, bm25 = within.get(term, (np.empty(0, np.int64), np.empty(0)))
                df = self.index.term_document_frequency(term) if len(chunk_ids) else 0
            else:
                chunk_ids, bm25 = self.index.term_postings(term, self.title_weight, limit)
                df = len(chunk_ids) if len(chunk_ids) < limit else self.index.term_document_frequency(term)
                self.truncated |= df > len(chunk_ids)
            self.ids.append(chunk_ids)
            self.scores.append(weight * bm25)
            yield df

    def typed(self, idf: float) -> None:
        """The idf the last term read adds to the evidence of the chunks holding it."""
        self.typed_idf.append(np.full(len(self.ids[-1]), idf))

    def rows(self) -> int:
        return sum(len(part) for part in self.ids)

    def per_chunk(self, chunks: ChunkTable, allowed: set[str] | None) -> "_Chunks":
        if not self.ids:
            empty = np.empty(0)
            return _Chunks(empty.astype(np.int64), empty, empty, chunks, allowed)
        return _Chunks(np.concatenate(self.ids), np.concatenate(self.scores), np.concatenate(self.typed_idf),
                       chunks, allowed)


class _Chunks:
    """Per chunk read: its summed score and typed idf over every term that found it, its
    document, and whether that document may be shown (`keep`)."""

    def __init__(self, ids: np.ndarray, scores: np.ndarray, typed_idf: np.ndarray, chunks: ChunkTable,
                 allowed: set[str] | None):
        self.chunk, where = np.unique(ids, return_inverse=True)
        self.score = np.bincount(where, weights=scores, minlength=len(self.chunk))
        self.typed = np.bincount(where, weights=typed_idf, minlength=len(self.chunk))
        self.doc = chunks.documents_of(self.chunk)
        self.present, self.doc_row = np.unique(self.doc, return_inverse=True)
        passes = np.array([i >= 0 and (allowed is None or chunks.doc_ids[i] in allowed)
                           for i in self.present.tolist()], bool)
        self.keep = passes[self.doc_row] & (self.score > 0)

    def rescore(self, index: LexicalIndex, weighed: dict[str, tuple[float, float]], title_weight: float) -> None:
        """A chunk found through one term may hold others whose best postings it was not among:
        the RESCORE_CHUNKS best so far are scored over every term, read among them."""
        best = np.argsort(-np.where(self.keep, self.score, -np.inf), kind="stable")[:RESCORE_CHUNKS]
        best = best[self.keep[best]]
        exact = index.postings_within(list(weighed), title_weight, self.chunk[best])
        at = {c: i for i, c in enumerate(self.chunk[best].tolist())}
        full, typed = np.zeros(len(best)), np.zeros(len(best))
        for term, (found, bm25) in exact.items():
            weight, idf = weighed[term]
            rows = np.fromiter((at[c] for c in found.tolist()), np.int64, len(found))
            np.add.at(full, rows, weight * bm25)
            np.add.at(typed, rows, idf)
        self.score[best], self.typed[best] = full, typed
