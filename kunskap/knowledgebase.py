"""A knowledge base on disk: one index folder holding the SQLite store and the FAISS index.

Opens the parts consistently (same model, same chunker), gives each thread its own SQLite
connection, loads the embedder lazily, and repairs a missing or damaged vector index from the
store's embedding cache without re-embedding anything that is cached.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from .analysis import SwedishAnalyzer, tokenise
from .chunking import CHUNKER_VERSION
from .config import Settings
from .embeddings import Embedder, load_embedder
from .errors import IndexMissingError
from .store import Store
from .themes import ThemeVocabulary
from .vectors import (
    MANIFEST_FILE,
    VectorIndex,
    ids_hash,
    read_manifest,
    set_faiss_threads,
)

LEXICON_MIN_COUNT = 2


class KnowledgeBase:
    def __init__(self, settings: Settings, embedder: Embedder | None = None):
        self.settings = settings
        self.index_dir = Path(settings.index)
        self._embedder = embedder
        self._embedder_lock = threading.Lock()
        self._local = threading.local()
        self.themes = ThemeVocabulary.load(settings.themes_file)
        self.vectors: VectorIndex | None = None
        # Writers serialise on write_lock, build a new vector index and swap it in; readers take
        # whatever `vectors` they find (old or new, never half-written). `generation` counts swaps
        # so searchers can refresh their cached lookups.
        self.write_lock = threading.RLock()
        self.generation = 0
        self._manifest_stamp: tuple | None = None
        self._checked_at = 0.0
        self._peeked_at = 0.0
        self._changed_seen = False
        set_faiss_threads(settings.faiss_threads)
        self.analyzer = self._make_analyzer()

    # -- parts -----------------------------------------------------------------------------
    @property
    def store(self) -> Store:
        store = getattr(self._local, "store", None)
        if store is None:
            store = Store(self.settings.database_path)
            self._local.store = store
        return store

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            with self._embedder_lock:
                if self._embedder is None:
                    self._embedder = load_embedder(self.settings.model, self.settings.embed_threads,
                                                   self.settings.embed_instances)
        return self._embedder

    def _make_analyzer(self) -> SwedishAnalyzer:
        vocabulary = self.store.vocabulary()
        return SwedishAnalyzer(w for w, c in vocabulary.items() if c >= LEXICON_MIN_COUNT)

    def refresh_analyzer(self) -> None:
        self.analyzer = self._make_analyzer()

    @staticmethod
    def count_words(texts) -> Counter:
        counts: Counter = Counter()
        for text in texts:
            counts.update(t.text for t in tokenise(text) if t.text.isalpha())
        return counts

    def exists(self) -> bool:
        return (self.index_dir / MANIFEST_FILE).exists() and self.settings.database_path.exists()

    # -- vectors ---------------------------------------------------------------------------
    def new_vector_index(self) -> VectorIndex:
        return VectorIndex(self.embedder.dimension, self.embedder.model_id, CHUNKER_VERSION)

    def open_vectors(self) -> VectorIndex:
        """Load the saved index; rebuild it from the store when missing, damaged or out of step.

        A model or chunker mismatch is not repaired silently: IndexMismatchError propagates."""
        embedder = self.embedder
        try:
            vectors = VectorIndex.load(self.index_dir, embedder.model_id, embedder.dimension, CHUNKER_VERSION)
            if ids_hash(vectors.ids()) != ids_hash(self.store.chunk_ids()):
                raise IndexMissingError("Indexet stämmer inte med databasen")
        except IndexMissingError:
            vectors = self.rebuild_vectors()
        self.vectors = vectors
        self._manifest_stamp = self._stamp()
        return vectors

    def rebuild_vectors(self) -> VectorIndex:
        """A fresh FAISS index from the chunks in the store, embedding only uncached text."""
        from .ingest import embed_missing

        store = self.store
        ids, matrix, missing = store.chunk_vectors(self.embedder.model_id, self.embedder.dimension)
        if missing:
            embed_missing(self, missing)
            ids, matrix, missing = store.chunk_vectors(self.embedder.model_id, self.embedder.dimension)
        vectors = self.new_vector_index()
        vectors.add(ids, matrix)
        vectors.save(self.index_dir)
        self.vectors = vectors
        return vectors

    def publish_vectors(self, vectors: VectorIndex, save: bool = True, corpus_hash: str = "") -> None:
        """Swap in a new vector index (atomic for readers) and persist it."""
        with self.write_lock:
            self.vectors = vectors
            self.generation += 1
            if save:
                vectors.save(self.index_dir, corpus_hash)
                self._manifest_stamp = self._stamp()

    def _stamp(self) -> tuple | None:
        try:
            stat = (self.index_dir / MANIFEST_FILE).stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def index_changed(self, every_seconds: float = 2.0) -> bool:
        """Cheap check (a stat call at most every `every_seconds`): has another process saved a
        new index since ours was loaded?"""
        import time

        now = time.monotonic()
        if now - self._peeked_at < every_seconds:
            return self._changed_seen
        self._peeked_at = now
        stamp = self._stamp()
        self._changed_seen = stamp is not None and self._manifest_stamp is not None and stamp != self._manifest_stamp
        return self._changed_seen

    def reload_if_changed(self, every_seconds: float = 2.0) -> bool:
        """Pick up an index that another process (`kunskap ingest`) has saved since we loaded ours.
        Checked at most every `every_seconds` (one stat call); returns True when it reloaded."""
        import time

        now = time.monotonic()
        if now - self._checked_at < every_seconds:
            return False
        self._checked_at = now
        stamp = self._stamp()
        if stamp is None or stamp == self._manifest_stamp:
            return False
        with self.write_lock:
            if self._manifest_stamp is None:   # first check after opening: remember, don't reload
                self._manifest_stamp = stamp
                return False
            self._manifest_stamp = stamp
            self._changed_seen = False
            self.refresh_analyzer()
            self.open_vectors()
            self.generation += 1
        return True

    def document_vector(self, doc_id: str):
        """The normalised mean of a document's chunk vectors, or None when it has none indexed."""
        import numpy as np

        chunks = self.store.chunks_of(doc_id)
        vectors = self.vectors
        if not chunks or vectors is None:
            return None
        centroid = np.vstack([vectors.reconstruct(c.id) for c in chunks]).mean(axis=0)
        return centroid / max(float(np.linalg.norm(centroid)), 1e-9)

    def manifest(self):
        return read_manifest(self.index_dir)
