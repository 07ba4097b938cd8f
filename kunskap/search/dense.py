"""Dense candidates: the query embedding (an LRU by text, since it does not depend on the
index), FAISS over the allowed chunks only (exact filters), the best chunk per document, and
pseudo-relevance feedback (the query moved towards the mean vectors of its best documents and
searched again; RankingParams.dense, eval/README.md "Generalising ranking")."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Sequence

import numpy as np

from .ranking import BestChunks, DenseWeights, Scores

DENSE_CHUNKS = 200        # chunk candidates from FAISS


class QueryVectors:
    """Query embeddings by text, the `size` most recently used kept."""

    def __init__(self, encode: Callable[[Sequence[str]], np.ndarray], size: int = 1024):
        self._encode = encode
        self._size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, text: str) -> np.ndarray:
        with self._lock:
            vector = self._vectors.get(text)
            if vector is not None:
                self._vectors.move_to_end(text)
                return vector
        vector = self._encode([text])[0]   # outside the lock: other queries embed meanwhile
        with self._lock:
            self._vectors[text] = vector
            if len(self._vectors) > self._size:
                self._vectors.popitem(last=False)
        return vector


class ChunkTable:
    """Chunk ids and the document of each as arrays: the chunks of a set of documents are found
    by one vectorised pass (~ms at 1M chunks) instead of an SQL query per 500 documents."""

    def __init__(self, chunk_docs: dict[int, str]):
        self.doc_ids = sorted(set(chunk_docs.values()))
        self.index = {d: i for i, d in enumerate(self.doc_ids)}
        self.chunk_ids = np.fromiter(chunk_docs.keys(), np.int64, len(chunk_docs))
        self.doc_of = np.fromiter((self.index[d] for d in chunk_docs.values()), np.int32, len(chunk_docs))
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None   # by chunk id, built on first use

    def documents_of(self, chunk_ids: np.ndarray) -> np.ndarray:
        """The row in `doc_ids` of each chunk's document (−1 for a chunk not in the table)."""
        if self._sorted is None:
            order = np.argsort(self.chunk_ids, kind="stable")
            self._sorted = (self.chunk_ids[order], self.doc_of[order])
        ids, docs = self._sorted
        at = np.minimum(np.searchsorted(ids, chunk_ids), max(len(ids) - 1, 0))
        if not len(ids):
            return np.full(len(chunk_ids), -1, np.int64)
        return np.where(ids[at] == chunk_ids, docs[at], -1)

    def patched(self, changed, chunks_now: dict[str, list[int]]) -> "ChunkTable":
        """A new table with the chunks of the `changed` documents replaced by `chunks_now`
        (document -> its chunk ids now; a document absent has none): vectorised, O(n) in numpy
        only. This table is left as it is (searches of the older generation may read it)."""
        table = ChunkTable.__new__(ChunkTable)
        table.doc_ids, table.index = list(self.doc_ids), dict(self.index)
        rows = [self.index[d] for d in changed if d in self.index]
        keep = ~np.isin(self.doc_of, np.asarray(rows, np.int32)) if rows else slice(None)
        new_ids, new_rows = [], []
        for doc_id, chunk_ids in chunks_now.items():
            if not chunk_ids:
                continue
            if doc_id not in table.index:     # the list of ids need not stay sorted
                table.index[doc_id] = len(table.doc_ids)
                table.doc_ids.append(doc_id)
            new_ids.extend(chunk_ids)
            new_rows.extend([table.index[doc_id]] * len(chunk_ids))
        table.chunk_ids = np.concatenate([self.chunk_ids[keep], np.asarray(new_ids, np.int64)])
        table.doc_of = np.concatenate([self.doc_of[keep], np.asarray(new_rows, np.int32)])
        table._sorted = None
        if self._sorted is not None:   # kept sorted by merging the new ids in: no sort of them all
            ids, docs = self._sorted
            kept = ~np.isin(docs, np.asarray(rows, np.int32)) if rows else slice(None)
            added, added_rows = np.asarray(new_ids, np.int64), np.asarray(new_rows, np.int32)
            order = np.argsort(added, kind="stable")
            at = np.searchsorted(ids[kept], added[order])
            table._sorted = (np.insert(ids[kept], at, added[order]), np.insert(docs[kept], at, added_rows[order]))
        return table

    def chunks_of(self, doc_ids) -> np.ndarray:
        wanted = np.zeros(len(self.doc_ids), bool)
        rows = [self.index[d] for d in doc_ids if d in self.index]
        wanted[rows] = True
        return np.sort(self.chunk_ids[wanted[self.doc_of]])


def best_per_document(ids: np.ndarray, scores: np.ndarray, chunk_docs: dict[int, str]) -> BestChunks:
    """FAISS chunk hits -> doc id -> (best chunk id, its score)."""
    best: BestChunks = {}
    for chunk_id, score in zip(ids.tolist(), scores.tolist()):
        doc_id = chunk_docs.get(chunk_id)
        if doc_id is not None and (doc_id not in best or score > best[doc_id][1]):
            best[doc_id] = (chunk_id, score)
    return best


def summary_text(document: dict) -> str | None:
    """What a document-level vector embeds: title and organisation, then the summary (None when
    the document has no summary)."""
    summary = (document.get("summary") or "").strip()
    if not summary:
        return None
    head = " – ".join(p for p in (document.get("title"), document.get("organisation")) if p)
    return f"{head}\n{summary}" if head else summary


class DocumentSummaries:
    """The cached vectors of summary_text per document (documents without one are left out)."""

    def __init__(self, vectors: dict[str, np.ndarray]):
        self.vectors = vectors

    def patched(self, changed, vectors_now: dict[str, np.ndarray]) -> "DocumentSummaries":
        vectors = dict(self.vectors)
        for doc_id in changed:
            vectors.pop(doc_id, None)
        vectors.update(vectors_now)
        return DocumentSummaries(vectors)

    def cosines(self, query: np.ndarray, doc_ids) -> Scores:
        return {d: float(self.vectors[d] @ query) for d in doc_ids if d in self.vectors}


class DocumentMeans:
    """The normalised mean of each document's chunk vectors (for dense feedback and the
    document-level cosine), computed per document when asked (its chunk vectors read from the
    embedding cache by `vectors_of`) and kept: dense feedback needs two documents' means
    per query, and reading every vector (1.5 GB at 1M chunks) per index generation did not scale."""

    def __init__(self, vectors_of: Callable[[str], np.ndarray], size: int = 4096):
        self._vectors_of = vectors_of
        self._size = size
        self._means: OrderedDict[str, np.ndarray | None] = OrderedDict()
        self._lock = threading.Lock()

    def _mean(self, doc_id: str) -> np.ndarray | None:
        with self._lock:
            if doc_id in self._means:
                self._means.move_to_end(doc_id)
                return self._means[doc_id]
        matrix = self._vectors_of(doc_id)
        mean = None
        if len(matrix):
            mean = matrix.mean(axis=0)
            mean = (mean / max(float(np.linalg.norm(mean)), 1e-9)).astype(np.float32)
        with self._lock:
            self._means[doc_id] = mean
            if len(self._means) > self._size:
                self._means.popitem(last=False)
        return mean

    def without(self, changed) -> "DocumentMeans":
        """A copy that has forgotten the means of the `changed` documents."""
        copy = DocumentMeans(self._vectors_of, self._size)
        with self._lock:
            copy._means = OrderedDict((d, m) for d, m in self._means.items() if d not in changed)
        return copy

    def cosines(self, query: np.ndarray, doc_ids) -> Scores:
        means = {d: self._mean(d) for d in doc_ids}
        return {d: float(m @ query) for d, m in means.items() if m is not None}

    def mean_of(self, doc_ids: list[str]) -> np.ndarray | None:
        rows = [m for m in (self._mean(d) for d in doc_ids) if m is not None]
        return np.vstack(rows).mean(axis=0) if rows else None


def document_scores(ids: np.ndarray, scores: np.ndarray, chunk_docs: dict[int, str], second_weight: float
                    ) -> tuple[Scores, BestChunks]:
    """Per document: its best chunk's cosine, blended with its second best (a chunk that was not
    retrieved counts as the lowest retrieved cosine, a bound on it)."""
    best = best_per_document(ids, scores, chunk_docs)
    if not second_weight or len(scores) == 0:
        return {d: score for d, (_, score) in best.items()}, best
    floor = float(scores.min())
    second: dict[str, float] = {}
    for chunk_id, score in zip(ids.tolist(), scores.tolist()):
        doc_id = chunk_docs.get(chunk_id)
        if doc_id is not None and chunk_id != best[doc_id][0]:
            second[doc_id] = max(second.get(doc_id, floor), score)
    return {d: (s + second_weight * second.get(d, floor)) / (1 + second_weight) for d, (_, s) in best.items()}, best


def dense_candidates(vectors, embed: Callable[[str], np.ndarray], text: str, allowed_chunks: np.ndarray | None,
                     chunk_docs: dict[int, str], weights: DenseWeights | None = None,
                     means: Callable[[], DocumentMeans] | None = None,
                     summaries: Callable[[], DocumentSummaries] | None = None) -> tuple[Scores, BestChunks]:
    """Per document: the cosine of its best chunk among the DENSE_CHUNKS nearest allowed ones
    (blended as `weights` say). The query is embedded only when there are vectors to search."""
    if vectors is None or vectors.count == 0:
        return {}, {}
    weights = weights or DenseWeights()
    query = embed(text)
    ids, scores = vectors.search(query, DENSE_CHUNKS, allowed_ids=allowed_chunks)
    doc_scores, best = document_scores(ids, scores, chunk_docs, weights.second_chunk)
    if weights.prf_docs and weights.prf_weight and means is not None and doc_scores:
        # Pseudo-relevance feedback: the query moved towards its nearest documents, searched again.
        top = sorted(doc_scores, key=lambda d: (-doc_scores[d], d))[:weights.prf_docs]
        centre = means().mean_of(top)
        if centre is not None:
            query = query + weights.prf_weight * centre
            query = (query / max(float(np.linalg.norm(query)), 1e-9)).astype(np.float32)
            ids, scores = vectors.search(query, DENSE_CHUNKS, allowed_ids=allowed_chunks)
            doc_scores, best = document_scores(ids, scores, chunk_docs, weights.second_chunk)
    if weights.centroid and means is not None:
        whole = means().cosines(query, doc_scores)
        doc_scores = {d: (1 - weights.centroid) * s + weights.centroid * whole.get(d, s) for d, s in doc_scores.items()}
    if weights.summary and summaries is not None:
        whole = summaries().cosines(query, doc_scores)
        if weights.summary_max:
            doc_scores = {d: max(s, whole.get(d, s)) for d, s in doc_scores.items()}
        else:
            w = weights.summary
            doc_scores = {d: (1 - w) * s + w * whole.get(d, s) for d, s in doc_scores.items()}
    return doc_scores, best
