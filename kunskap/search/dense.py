"""Dense candidates: the query embedding (an LRU by text, since it does not depend on the
index), FAISS over the allowed chunks only (exact filters), the best chunk per document."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Sequence

import numpy as np

from .ranking import BestChunks, Scores

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


def allowed_chunk_ids(store, allowed: set[str] | None, filtered: bool) -> np.ndarray | None:
    """The chunk ids FAISS may return, or None when nothing is excluded (no selector needed)."""
    if allowed is None or (not filtered and len(allowed) == store.count_documents()):
        return None
    return store.chunk_ids_for_documents(sorted(allowed))


def best_per_document(ids: np.ndarray, scores: np.ndarray, chunk_docs: dict[int, str]) -> BestChunks:
    """FAISS chunk hits -> doc id -> (best chunk id, its score)."""
    best: BestChunks = {}
    for chunk_id, score in zip(ids.tolist(), scores.tolist()):
        doc_id = chunk_docs.get(chunk_id)
        if doc_id is not None and (doc_id not in best or score > best[doc_id][1]):
            best[doc_id] = (chunk_id, score)
    return best


def dense_candidates(vectors, embed: Callable[[str], np.ndarray], text: str, allowed_chunks: np.ndarray | None,
                     chunk_docs: dict[int, str]) -> tuple[Scores, BestChunks]:
    """Per document: the cosine of its best chunk among the DENSE_CHUNKS nearest allowed ones.
    The query is embedded only when there are vectors to search."""
    if vectors is None or vectors.count == 0:
        return {}, {}
    ids, scores = vectors.search(embed(text), DENSE_CHUNKS, allowed_ids=allowed_chunks)
    best = best_per_document(ids, scores, chunk_docs)
    return {d: score for d, (_, score) in best.items()}, best
