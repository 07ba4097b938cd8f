"""Lexical candidates: the best postings of each analysed term (FTS5's BM25, read in impact
order), weighted BM25 summed per chunk, the best chunk per document, and the lexical evidence
(how much of what was typed the best matching chunk contains)."""

from __future__ import annotations

import math
from typing import Protocol

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
                       allowed_chunks: np.ndarray | None = None) -> tuple[Scores, BestChunks, float]:
    """Per document (the LEXICAL_DOCS best): summed weighted BM25 of its best chunk; and the
    evidence in [0, 1], the idf share of the typed terms that the best chunk holds.
    `doc_evidence`, if given, is filled with the same share per kept document (its best chunk by
    that share): how much of what was typed, not of its expansions, the document holds.
    `allowed_chunks` are the chunks of the `allowed` documents when a filter excludes some (see
    FILTER_EXACT_CHUNKS). The work follows the postings read, never the corpus."""
    n_chunks = max(len(chunks.chunk_ids), 1)
    limit, within = TERM_CHUNKS, None
    if allowed_chunks is not None and len(allowed_chunks) <= FILTER_EXACT_CHUNKS:
        within = index.postings_within(list(plan.terms), title_weight, allowed_chunks)
    elif allowed_chunks is not None:
        limit = min(FILTERED_TERM_CHUNKS, int(TERM_CHUNKS * n_chunks / max(len(allowed_chunks), 1)))
    idf_total = 0.0
    ids, scores, typed_idf = [], [], []
    weighed: dict[str, tuple[float, float]] = {}   # term -> (its weight, the idf it adds to the evidence)
    truncated = False
    for term, weight in plan.terms.items():
        if within is not None:
            chunk_ids, bm25 = within.get(term, (np.empty(0, np.int64), np.empty(0)))
            df = index.term_document_frequency(term) if len(chunk_ids) else 0
        else:
            chunk_ids, bm25 = index.term_postings(term, title_weight, limit)
            df = len(chunk_ids) if len(chunk_ids) < limit else index.term_document_frequency(term)
            truncated |= df > len(chunk_ids)
        idf = math.log(1 + (n_chunks - df + 0.5) / (df + 0.5))
        # A typed word that no document uses but that is a theme synonym is carried by its
        # expansion: it does not count against the lexical evidence.
        # Generic words ("göra", "enkel") say how, not what: they are never evidence.
        typed = weight >= 1.0 and term not in plan.generic
        if typed and not (df == 0 and term in plan.expanded):
            idf_total += idf
        ids.append(chunk_ids)
        scores.append(weight * bm25)
        typed_idf.append(np.full(len(chunk_ids), idf if typed else 0.0))
        weighed[term] = (weight, idf if typed else 0.0)
    if not sum(len(part) for part in ids):
        return {}, {}, 0.0
    # Per chunk: its summed score and typed idf over every term that found it, and its document.
    chunk, where = np.unique(np.concatenate(ids), return_inverse=True)
    chunk_score = np.bincount(where, weights=np.concatenate(scores))
    chunk_typed = np.bincount(where, weights=np.concatenate(typed_idf))
    if truncated and RESCORE_CHUNKS:
        best = np.argsort(-chunk_score, kind="stable")[:RESCORE_CHUNKS]
        exact = index.postings_within(list(weighed), title_weight, chunk[best])
        at = {c: i for i, c in enumerate(chunk[best].tolist())}
        full, typed_full = np.zeros(len(best)), np.zeros(len(best))
        for term, (found, bm25) in exact.items():
            weight, idf = weighed[term]
            rows = np.fromiter((at[c] for c in found.tolist()), np.int64, len(found))
            np.add.at(full, rows, weight * bm25)
            np.add.at(typed_full, rows, idf)
        chunk_score[best], chunk_typed[best] = full, typed_full
    doc = chunks.documents_of(chunk)
    present, doc_row = np.unique(doc, return_inverse=True)
    passes = np.array([i >= 0 and (allowed is None or chunks.doc_ids[i] in allowed) for i in present.tolist()], bool)
    keep = passes[doc_row] & (chunk_score > 0)
    if not keep.any():
        return {}, {}, 0.0
    best_evidence = float(chunk_typed[keep].max())
    rows = np.flatnonzero(keep)
    rows = rows[np.lexsort((chunk[rows], -chunk_score[rows]))]          # best chunk first, ties by id
    _, first = np.unique(doc_row[rows], return_index=True)               # each document's best chunk
    best = rows[np.sort(first)[:LEXICAL_DOCS]]                           # the documents, best first
    names = [chunks.doc_ids[i] for i in doc[best].tolist()]
    doc_scores: Scores = dict(zip(names, chunk_score[best].tolist()))
    best_chunk: BestChunks = {d: (c, s) for d, c, s in zip(names, chunk[best].tolist(), chunk_score[best].tolist())}
    if doc_evidence is not None and idf_total > 0:
        # the largest share of the typed words that any chunk of each kept document holds
        most = np.zeros(len(present))
        np.maximum.at(most, doc_row[rows], chunk_typed[rows])
        for name, row in zip(names, doc_row[best].tolist()):
            doc_evidence[name] = min(float(most[row]) / idf_total, 1.0)
    evidence = best_evidence / idf_total if idf_total > 0 else 0.0
    return doc_scores, best_chunk, min(evidence, 1.0)
