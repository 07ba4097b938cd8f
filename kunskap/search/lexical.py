"""Lexical candidates: one quoted FTS5 query per analysed term, weighted BM25 summed per chunk,
the best chunk per document, and the lexical evidence (how much of what was typed the best
matching chunk contains)."""

from __future__ import annotations

import math
from typing import Callable, Protocol

from .planner import QueryPlan
from .ranking import BestChunks, Scores

TERM_CHUNKS = 5000   # chunks read per term, best BM25 first (the idf counts these)


class LexicalIndex(Protocol):
    def fts_term(self, term: str, title_weight: float, limit: int) -> list[tuple[int, float]]: ...


def lexical_candidates(index: LexicalIndex, plan: QueryPlan, chunk_docs: dict[int, str],
                       allowed: set[str] | None, title_weight: float,
                       doc_evidence: Scores | None = None,
                       feedback: Callable[[float], dict[str, float]] | None = None,
                       matched: set[str] | None = None) -> tuple[Scores, BestChunks, float]:
    """Per document: summed weighted BM25 of its best chunk; and the evidence in [0, 1], the idf
    share of the typed terms that the best chunk holds. `doc_evidence`, if given, is filled with
    the same share per document (its best chunk by that share): how much of what was typed, not
    of its expansions, the document holds. `feedback`, if given, is called with the evidence and
    returns more terms with their weights (expansions from the dense side, feedback.py): they add
    to the BM25 sums and never to the evidence. `matched`, if given, is filled with the documents
    that match the query's own terms (typed, compound parts, synonyms), not only its feedback."""
    chunk_scores: dict[int, float] = {}
    chunk_terms: dict[int, float] = {}
    n_chunks = max(len(chunk_docs), 1)
    idf_total = 0.0
    for term, weight in plan.terms.items():
        rows = index.fts_term(term, title_weight, limit=TERM_CHUNKS)
        df = len(rows)
        idf = math.log(1 + (n_chunks - df + 0.5) / (df + 0.5))
        # A typed word that no document uses but that is a theme synonym is carried by its
        # expansion: it does not count against the lexical evidence.
        # Generic words ("göra", "enkel") say how, not what: they are never evidence.
        typed = weight >= 1.0 and term not in plan.generic
        if typed and not (df == 0 and term in plan.expanded):
            idf_total += idf
        for chunk_id, score in rows:
            chunk_scores[chunk_id] = chunk_scores.get(chunk_id, 0.0) + weight * score
            if typed:
                chunk_terms[chunk_id] = chunk_terms.get(chunk_id, 0.0) + idf

    def visible(chunk_id: int) -> str | None:
        doc_id = chunk_docs.get(chunk_id)
        return None if doc_id is None or (allowed is not None and doc_id not in allowed) else doc_id

    best_evidence = max((v for c, v in chunk_terms.items() if visible(c) is not None), default=0.0)
    evidence = min(best_evidence / idf_total, 1.0) if idf_total > 0 else 0.0
    if matched is not None:
        matched.update(d for d in map(visible, chunk_scores) if d is not None)
    if feedback is not None:
        for term, weight in feedback(evidence).items():
            if term in plan.terms:
                continue
            for chunk_id, score in index.fts_term(term, title_weight, limit=TERM_CHUNKS):
                chunk_scores[chunk_id] = chunk_scores.get(chunk_id, 0.0) + weight * score
    doc_scores: Scores = {}
    best_chunk: BestChunks = {}
    for chunk_id, score in chunk_scores.items():
        doc_id = visible(chunk_id)
        if doc_id is None:
            continue
        if score > doc_scores.get(doc_id, 0.0):
            doc_scores[doc_id] = score
            best_chunk[doc_id] = (chunk_id, score)
        if doc_evidence is not None and idf_total > 0:
            typed = chunk_terms.get(chunk_id, 0.0)
            doc_evidence[doc_id] = max(doc_evidence.get(doc_id, 0.0), min(typed / idf_total, 1.0))
    return doc_scores, best_chunk, evidence
