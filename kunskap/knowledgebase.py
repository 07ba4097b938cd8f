"""A knowledge base: one index folder holding the SQLite store and the FAISS index, or (with
`database_url`) a PostgreSQL database holding the store and its pgvector vectors.

Opens the parts consistently (same model, same chunker), gives each thread its own SQLite
connection, loads the embedder lazily, and repairs a missing or damaged vector index from the
store's embedding cache without re-embedding anything that is cached.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from contextlib import contextmanager, nullcontext
from pathlib import Path

from .analysis import SwedishAnalyzer, tokenise
from .chunking import CHUNKER_VERSION
from .config import Settings
from .embeddings import Embedder, load_embedder
from .errors import IndexMissingError, ReadOnlyError
from .storage import Store, store_opener, vector_home
from .themes import ThemeVocabulary
from .vectors import VectorChanges, VectorIndex, id_fingerprint, set_faiss_threads

LEXICON_MIN_COUNT = 2
CHANGES_KEPT = 256    # generations whose changed documents are remembered (GenerationCache patches)
SEMANTIC_PROGRESS_FILE = "semantic-progress.json"
log = logging.getLogger("kunskap")


class KnowledgeBase:
    def __init__(self, settings: Settings, embedder: Embedder | None = None):
        self.settings = settings
        self.index_dir = Path(settings.index)
        self._embedder = embedder
        self._embedder_lock = threading.Lock()
        self._local = threading.local()
        self.themes = ThemeVocabulary.load(settings.themes_file)
        self.vectors: VectorIndex | None = None
        # Writers go through `writing()` (this process's write_lock plus a lock file shared with
        # other processes), build a new vector index and swap it in; readers take whatever
        # `vectors` they find (old or new, never half-written). `generation` counts swaps so
        # searchers can refresh their cached lookups.
        self.write_lock = threading.RLock()
        self._writer_depth = 0
        self.generation = 0
        # generation -> the ids of the documents changed on reaching it (None: not known, so
        # everything derived from the documents is recomputed): searchers patch their lookups
        # from it instead of rebuilding them (changed_documents).
        self._changes: dict[int, frozenset[str] | None] = {}
        self._loaded_sha: str | None = None     # the loaded vectors' Manifest.version
        self._consistency: list[str] = []
        self._consistency_at = float("-inf")
        self.vectors_complete = False
        self.semantic_progress: tuple[int, int] | None = None
        self._manifest_stamp: tuple | None = None
        self._checked_at = 0.0
        self._peeked_at = 0.0
        self._changed_seen = False
        set_faiss_threads(settings.faiss_threads)
        self._open_store = store_opener(settings)
        # The FAISS folder, or the pgvector tables: manifest, load, save, writer lock, change stamp.
        self.vector_home = vector_home(settings, self.store)
        self.analyzer = self._make_analyzer()

    # -- parts -----------------------------------------------------------------------------
    @property
    def store(self) -> Store:
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._open_store()
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
        # The lexicon the FTS rows were derived with, so that queries are analysed as the rows were.
        return SwedishAnalyzer(self.store.lexicon())

    @staticmethod
    def lexicon_of(counts: Counter) -> set[str]:
        """The decompounding lexicon of a corpus: its words that occur at least LEXICON_MIN_COUNT times."""
        return {w for w, c in counts.items() if c >= LEXICON_MIN_COUNT}

    def refresh_analyzer(self) -> None:
        self.analyzer = self._make_analyzer()

    @staticmethod
    def count_words(texts) -> Counter:
        counts: Counter = Counter()
        for text in texts:
            counts.update(t.text for t in tokenise(text) if t.text.isalpha())
        return counts

    def exists(self) -> bool:
        return self.vector_home.exists()

    # -- vectors ---------------------------------------------------------------------------
    def new_vector_index(self) -> VectorIndex:
        return self.vector_home.new_index(self.embedder.dimension, self.embedder.model_id, CHUNKER_VERSION)

    @contextmanager
    def writing(self, catch_up: bool = True):
        """The one way to change the knowledge base: serialised across threads (`write_lock`) and
        processes (an exclusive lock on `index/.write.lock`, so `kunskap ingest` and every server
        process take turns), and applied to the newest index: on entry the saved index is loaded
        if another process saved one since ours, and repaired if it is out of step with the
        database (`catch_up=False`: not, for a writer that replaces everything, as --rebuild does).
        Re-entrant within a thread. Raises ReadOnlyError on a read-only knowledge base."""
        if self.settings.read_only:
            raise ReadOnlyError("Tjänsten körs skrivskyddad (--read-only): ändringar görs där indexet byggs.")
        with self.write_lock:
            outer = self._writer_depth == 0
            with self.vector_home.writer_lock() if outer else nullcontext():
                self._writer_depth += 1
                try:
                    if outer and catch_up:
                        self._catch_up()
                    yield
                finally:
                    self._writer_depth -= 1

    def _advance(self, changed) -> None:
        """A new generation, reached by changing `changed` = (document ids, vocabulary words or
        None), or None when not known which."""
        generation = self.generation + 1
        if changed is not None:
            documents, words = changed
            changed = (frozenset(documents), None if words is None else frozenset(words))
        self._changes[generation] = changed
        self._changes.pop(generation - CHANGES_KEPT, None)
        self.generation = generation

    def _changed_since(self, since: int, part: int) -> frozenset[str] | None:
        now = self.generation
        if since > now:
            return None
        changed: set[str] = set()
        for generation in range(since + 1, now + 1):
            entry = self._changes.get(generation)
            if entry is None or entry[part] is None:
                return None
            changed |= entry[part]
        return frozenset(changed)

    def changed_documents(self, since: int) -> frozenset[str] | None:
        """The ids of the documents changed from generation `since` to now, or None when that is
        not known (a full ingest, another process's whole index loaded, too long ago)."""
        return self._changed_since(since, 0)

    def changed_words(self, since: int) -> frozenset[str] | None:
        """The vocabulary words whose counts changed from generation `since` to now, or None."""
        return self._changed_since(since, 1)

    def _replay(self, manifest) -> tuple | None:
        """Bring the loaded vectors to `manifest` by replaying only what was saved since (the
        FAISS folder's journal): (the documents, the vocabulary words) those saves changed, or
        None when that is not possible (the caller loads the whole index)."""
        if manifest is None or self.vectors is None:
            return None
        between = getattr(self.vector_home, "changed_documents", None)
        if between is not None:
            # pgvector: the vectors are the table itself; only what changed is asked
            changed = between(self._loaded_sha, manifest)
        else:
            catch_up = getattr(self.vector_home, "catch_up", None)
            if catch_up is None:
                return None
            try:
                changed = catch_up(self.vectors, manifest)
            except IndexMissingError as exc:
                log.warning("kunskap: journalen kunde inte läsas, hela indexet läses in: %s", exc.message)
                return None
        if changed is not None:
            self._loaded_sha = manifest.version
            self._manifest_stamp = self._stamp()
        return changed

    def _catch_up(self) -> None:
        """Inside the writer lock: make `vectors` the newest saved index, in step with the store."""
        manifest = self._read_manifest_or_none()
        if manifest is None:
            if self.vectors is None:
                self.vectors = self.new_vector_index()
        elif self.vectors is None or manifest.version != self._loaded_sha:
            changed = self._replay(manifest)
            if changed is None:
                try:
                    self.vectors = self._load_saved()
                except IndexMissingError:
                    self.vectors = None
                if self._loaded_sha is not None:   # someone else wrote: their words count too
                    self.refresh_analyzer()
            self._advance(changed)
        if self._in_step(manifest):
            self.vectors_complete = True
            return
        if self.vectors is None or self.vectors_fingerprint() != self._cached_fingerprint():
            # Missing, damaged, left behind by a writer that died between the database commit and
            # saving the index, or behind a background build that has embedded more: rebuilt from
            # the embedding cache. Nothing is embedded here, under the lock: text not yet
            # embedded is the background builder's (`build_semantic`) or `kunskap ingest`'s.
            self.rebuild_vectors()
        else:
            self._note_completeness()

    def _in_step(self, manifest) -> bool:
        """Whether the last save says the index holds every chunk of the store as it is now: it
        was complete then and no write has been committed since (the store's change generation).
        Then no chunk id is compared: a writer's catch-up costs the same at 1M chunks as at 100."""
        return bool(manifest is not None and self.vectors is not None and manifest.complete
                    and manifest.store_generation is not None and manifest.version == self._loaded_sha
                    and manifest.vector_count == self.vectors.count
                    and manifest.store_generation == self.store.change_generation())

    def _read_manifest_or_none(self):
        try:
            return self.vector_home.manifest()
        except IndexMissingError:
            return None

    def _load_saved(self) -> VectorIndex:
        embedder = self.embedder
        manifest = self.vector_home.manifest()
        vectors = self.vector_home.load(embedder.model_id, embedder.dimension, CHUNKER_VERSION)
        # the state loaded (a writer may have saved between the two reads of the manifest)
        persisted = getattr(vectors, "persisted", None)
        self._loaded_sha = (persisted or manifest).version
        self._manifest_stamp = self._stamp()
        return vectors

    def open_vectors(self, repair: bool | None = None) -> VectorIndex:
        """Open the vector index at start-up.

        With `repair` (the default unless read-only) this is a write: under the writer lock, a
        missing, damaged or out-of-step index is rebuilt from the store. Without it nothing is
        written (`kunskap status`, `--read-only`): a missing or damaged index raises
        IndexMissingError. A model or chunker mismatch always raises IndexMismatchError."""
        if repair is None:
            repair = not self.settings.read_only
        if repair:
            with self.writing():
                return self.vectors
        self.vectors = self._load_saved()
        self._note_completeness()
        return self.vectors

    def rebuild_vectors(self) -> VectorIndex:
        """A fresh FAISS index from the chunks in the store whose embeddings are cached."""
        with self.writing():
            ids, matrix, missing = self.store.chunk_vectors(self.embedder.model_id, self.embedder.dimension)
            vectors = self.new_vector_index()
            vectors.add(ids, matrix)
            del matrix
            self.publish_vectors(vectors, complete=not missing, rebuilt=True)
            return vectors

    def _cached_fingerprint(self) -> tuple[int, int, int]:
        return self.store.cached_chunk_fingerprint(self.embedder.model_id)

    def _note_completeness(self) -> None:
        """Whether every chunk has its vector (then searches are hybrid; until then lexical)."""
        self.vectors_complete = self.vectors is not None and self.vectors.count == self.store.count_chunks()

    # -- semantic search built in the background (a fast first start) --------------------
    def missing_vectors(self) -> list[int]:
        """Chunks whose text has not been embedded yet."""
        return self.store.unembedded_chunk_ids(self.embedder.model_id)

    def build_semantic(self, progress=None) -> int:
        """Embed every chunk not yet embedded and swap in the complete index: what a first start
        runs in the background while lexical search already answers. One process at a time,
        on any server (the vector home's builder lock: a lock file next to FAISS, an advisory
        lock in PostgreSQL); a process that finds it taken returns 0 at once and picks the
        vectors up when the builder publishes them. `progress(done, total)` is called after
        every batch; the figures are also saved for other processes on this machine to show.
        Returns the number of passages embedded."""
        from .files import atomic_write
        from .storage.embedding_cache import embed_texts

        self.index_dir.mkdir(parents=True, exist_ok=True)
        with self.vector_home.builder_lock() as held:
            if not held:
                return 0
            missing = self.missing_vectors()
            total, done = len(missing), 0

            def on_batch(count: int) -> None:
                nonlocal done
                done += count
                self.semantic_progress = (done, total)
                atomic_write(self.index_dir / SEMANTIC_PROGRESS_FILE, json.dumps({"done": done, "total": total}).encode())
                if progress:
                    progress(done, total)

            self.semantic_progress = (0, total)
            if missing:
                embed_texts(self.store, self.embedder, self.store.embed_texts(missing), self.settings.batch_size,
                            on_batch=on_batch)
            with self.writing():   # catch-up rebuilds from the now complete cache and saves
                pass
            (self.index_dir / SEMANTIC_PROGRESS_FILE).unlink(missing_ok=True)
            return total

    def semantic_status(self) -> dict:
        """For /ready and the pages: {"state": "ready" | "building" | "incomplete", "progress",
        "message"} (Swedish message)."""
        if self.vectors_complete:
            return {"state": "ready", "progress": 1.0, "message": "Semantisk sökning är klar."}
        progress = self.semantic_progress
        try:
            saved = json.loads((self.index_dir / SEMANTIC_PROGRESS_FILE).read_text())
            progress = saved["done"], saved["total"]
        except (OSError, ValueError, KeyError):
            pass
        if not self.vector_home.builder_running():
            return {"state": "incomplete", "progress": None,
                    "message": "Semantisk sökning saknar en del av texten: kör kunskap ingest. "
                               "Under tiden söker vi på orden."}
        if progress is None:   # built by a server elsewhere: how much of the text is embedded
            progress = self.store.cached_chunk_fingerprint(self.embedder.model_id)[0], self.store.count_chunks()
        done, total = progress
        share = done / total if total else 0.0
        return {"state": "building", "progress": round(share, 3),
                "message": f"Semantisk sökning byggs – {int(share * 100)} %. Under tiden söker vi på orden."}

    def publish_vectors(self, vectors: VectorIndex | VectorChanges, save: bool = True, corpus_hash: str = "",
                        complete: bool | None = None, rebuilt: bool = False, documents=None,
                        words=None) -> None:
        """Swap in a new vector index (atomic for readers) and persist it, or apply a live save's
        `VectorChanges` to the index in place (readers see it before or after, never half) and
        persist them as a journal record: O(change), not O(index). Writers only, after their
        database transaction has committed. `complete`: whether every chunk has its vector, when
        the writer knows (a live save of a few documents into a complete index); otherwise the
        chunks are counted. `rebuilt`: from the embedding cache, with no chunk changed (other
        servers are told). `documents`: the ids of the documents the write changed, when it
        knows them (searchers then patch their lookups instead of rebuilding them), and `words`
        the vocabulary words whose counts it changed (None: not known)."""
        with self.writing():
            changes = None
            if isinstance(vectors, VectorChanges):
                changes = vectors.arrays()
                documents = set(documents or ()) | vectors.documents
                vectors.documents = documents
                index = self.vectors if self.vectors is not None else vectors.index
                index.apply(*changes)
                vectors = index
            self.vectors = vectors
            self._advance(None if documents is None else (documents, words))
            if complete is None:
                self._note_completeness()
            else:
                self.vectors_complete = bool(complete)
            if save:
                generation = self.store.change_generation()
                if changes is not None and hasattr(self.vector_home, "save_changes"):
                    manifest = self.vector_home.save_changes(vectors, changes, documents, corpus_hash,
                                                             store_generation=generation,
                                                             complete=self.vectors_complete, words=words)
                else:
                    manifest = self.vector_home.save(vectors, corpus_hash, rebuilt=rebuilt,
                                                     store_generation=generation, complete=self.vectors_complete)
                self._loaded_sha = manifest.version
                self._manifest_stamp = self._stamp()

    def saved_corpus_hash(self) -> str | None:
        """The corpus hash of the saved state the loaded vectors are, where the vector home
        records one (a live save updates it from the documents it changed); else None."""
        if not getattr(self.vector_home, "records_corpus_hash", False):
            return None
        persisted = getattr(self.vectors, "persisted", None)
        return persisted.corpus_hash if persisted is not None and persisted.version == self._loaded_sha else None

    def vectors_fingerprint(self, vectors: VectorIndex | None = None) -> tuple[int, int, int]:
        vectors = vectors if vectors is not None else self.vectors
        return id_fingerprint(vectors.ids() if vectors is not None else [])

    def consistency(self, max_age: float = 2.0) -> list[str]:
        """Problems a readiness check should report (Swedish), e.g. vectors out of step with the
        chunks in the database. Checked at most every `max_age` seconds, and only while no writer
        is between its database commit and its index swap (then the last answer stands)."""
        now = time.monotonic()
        if now - self._consistency_at < max_age:
            return self._consistency
        if not self.write_lock.acquire(blocking=False):
            return self._consistency
        try:
            with self.vector_home.no_writer() as free:
                if not free:       # another process is writing
                    return self._consistency
                self.reload_if_changed(every_seconds=0)
                self._consistency = self._problems()
                self._consistency_at = now
        finally:
            self.write_lock.release()
        return self._consistency

    def _problems(self) -> list[str]:
        if self.vectors is None:
            return ["Vektorindexet är inte inläst."]
        if self.vectors_fingerprint() in (self.store.chunk_fingerprint(), self._cached_fingerprint()):
            return []   # complete, or complete over what is embedded so far
        stored = set(self.store.chunk_ids())
        indexed = set(self.vectors.ids().tolist())
        stale, missing = indexed - stored, stored - indexed
        if not stale and self.vector_home.builder_running():
            return []   # a background build is adding the missing ones
        return [f"Vektorindexet stämmer inte med databasen: det saknar {len(missing)} av databasens "
                f"{len(stored)} avsnitt och har {len(stale)} inaktuella vektorer. "
                f"Kör kunskap ingest för att reparera."]

    def _stamp(self) -> tuple | None:
        return self.vector_home.stamp()

    def index_changed(self, every_seconds: float = 2.0) -> bool:
        """Cheap check (a stat call at most every `every_seconds`): has another process saved a
        new index since ours was loaded?"""
        now = time.monotonic()
        if now - self._peeked_at < every_seconds and not self.vector_home.stamp_is_free:
            return self._changed_seen
        self._peeked_at = now
        stamp = self._stamp()
        self._changed_seen = stamp is not None and self._manifest_stamp is not None and stamp != self._manifest_stamp
        return self._changed_seen

    def reload_if_changed(self, every_seconds: float = 2.0) -> bool:
        """Pick up an index that another process has saved since we loaded ours. A read: nothing
        is repaired or written here (that is for writers and start-up). Checked at most every
        `every_seconds` (one stat call); returns True when it reloaded."""
        now = time.monotonic()
        if now - self._checked_at < every_seconds and not self.vector_home.stamp_is_free:
            return False
        self._checked_at = now
        stamp = self._stamp()
        if stamp is None or stamp == self._manifest_stamp:
            return False
        with self.write_lock:
            if self._manifest_stamp is None:   # first check after opening: remember, don't reload
                self._manifest_stamp = stamp
                return False
            # Another process's live saves: only the journal's new records, applied in place
            # (their documents are known, and they never change the analysis lexicon).
            changed = self._replay(self._read_manifest_or_none())
            if changed is None:
                try:
                    vectors = self._load_saved()
                except IndexMissingError as exc:
                    # Caught mid-rename or damaged: keep serving what we have, try again next time.
                    log.warning("kunskap: nytt index kunde inte läsas in: %s", exc.message)
                    return False
                self.vectors = vectors
                self.refresh_analyzer()
            self._changed_seen = False
            self._note_completeness()
            self._advance(changed)
        return True

    def document_vector(self, doc_id: str):
        """The normalised mean of a document's chunk vectors, or None when it has none.

        Read from the store's embedding cache, in the same database state as the chunks, not from
        FAISS: between a save's commit and its index swap the two differ, and a reader must not
        fail then."""
        import numpy as np

        embedder = self.embedder
        _, matrix, _ = self.store.chunk_vectors(embedder.model_id, embedder.dimension, doc_id)
        if len(matrix) == 0:
            return None
        centroid = matrix.mean(axis=0)
        return centroid / max(float(np.linalg.norm(centroid)), 1e-9)

    def manifest(self):
        return self.vector_home.manifest()
