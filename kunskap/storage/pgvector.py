"""Vectors in PostgreSQL (pgvector), for a knowledge base on the PostgreSQL store.

- `PgVectorIndex` has the methods of `vectors.VectorIndex` that search, ingest and the knowledge
  base use (count, ids, add, remove, clone, search with `allowed_ids`, reconstruct). Its rows are
  written in the writer's database transaction, next to the chunks they belong to (a foreign
  key with ON DELETE CASCADE), so readers on any server never see the two out of step, and
  `clone()` needs no copy.
- `PgVectorHome` plays the part of the FAISS folder for the knowledge base: the manifest (which
  model and chunker the vectors are from), loading with the same refusals, the writer lock and
  the background semantic build's lock (advisory locks) and the change stamp (the store's
  generation, kept by `GenerationWatcher`).

Search is exact whenever the result could otherwise fall short: HNSW (pgvector 0.6) filters
after the index scan and returns at most `hnsw.ef_search` rows, so a selective filter could
get fewer results than exist. See `search` and bench/pgvector_exact.py for the thresholds.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from contextlib import contextmanager

import numpy as np

from .. import __version__
from ..errors import IndexMismatchError, IndexMissingError
from ..vectors import REBUILD_HINT, Manifest
from .postgres import CHANGES_CHANNEL, SEMANTIC_BUILD_LOCK, WRITE_LOCK, PostgresStore

log = logging.getLogger("kunskap")

# Measured with bench/pgvector_exact.py (384 dimensions, k = 200, PostgreSQL 16 + pgvector 0.6
# from pgserver, 2 cores shared with other work, load average 9–11): an exact scan of all took
# 11 ms at 3k, 23 ms at 10k, 93 ms at 30k and 108 ms at 60k vectors; HNSW with ef_search 1000
# took 21, 83, 125 and 64 ms (recall@200 on random vectors, its worst case: 1.0, 0.99, 0.87,
# 0.70). Up to EXACT_MAX_VECTORS every search scans exactly, and no HNSW index is kept (keeping
# one while a corpus loads cost ~9 ms per inserted vector; building it afterwards took 13 s for
# 10k and 4 min for 60k). Above it, HNSW answers unfiltered and weakly filtered searches.
EXACT_MAX_VECTORS = 50_000
# HNSW with a filter keeps only the allowed rows among its ef_search candidates: used only when
# most rows are allowed, and the result is checked (fewer than asked -> exact scan).
HNSW_MIN_ALLOWED_SHARE = 0.5
HNSW_EF_SEARCH_FACTOR = 5     # ef_search = 5 * k, at most pgvector's 1000 (k is 200: 1000)
# An exact scan of an allowed subset looks its vectors up by primary key (~3.5 µs each) while
# they are fewer than this share of all; beyond, one full scan (~0.8 µs each) is cheaper.
EXACT_LOOKUP_MAX_SHARE = 0.3


class PgVectorIndex:
    """The chunk vectors of one model, in the `chunk_vectors` table."""

    def __init__(self, store: PostgresStore, dimension: int, model_id: str, chunker_version: int):
        self.store = store
        self.dimension = dimension
        self.model_id = model_id
        self.chunker_version = chunker_version
        self.exact_max_vectors = EXACT_MAX_VECTORS     # per index, so a test can reach the HNSW paths

    # -- contents --------------------------------------------------------------------------------
    @property
    def count(self) -> int:
        return self.store._one("SELECT count(*) FROM chunk_vectors")[0]

    def ids(self) -> np.ndarray:
        return np.asarray([r[0] for r in self.store._all("SELECT chunk_id FROM chunk_vectors ORDER BY chunk_id")],
                          dtype=np.int64)

    def add(self, ids, vectors: np.ndarray) -> None:
        """Vectors of stored chunks (replacing any they had), in the open transaction if any."""
        ids = [int(i) for i in np.asarray(ids, dtype=np.int64)]
        if not ids:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(ids), self.dimension):
            raise ValueError(f"vectors of shape {vectors.shape}, expected ({len(ids)}, {self.dimension})")
        with self.store.transaction(), self.store._conn() as conn:
            conn.execute("DELETE FROM chunk_vectors WHERE chunk_id = ANY(%s)", [ids])
            with conn.cursor() as cursor, cursor.copy(
                    "COPY chunk_vectors (chunk_id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "vector"])
                for chunk_id, vector in zip(ids, vectors):
                    copy.write_row((chunk_id, vector))

    def remove(self, ids) -> int:
        ids = [int(i) for i in ids]
        if not ids:
            return 0
        with self.store.transaction(), self.store._conn() as conn:
            return conn.execute("DELETE FROM chunk_vectors WHERE chunk_id = ANY(%s)", [ids]).rowcount

    def clone(self) -> "PgVectorIndex":
        """The same table: a writer's changes are private to its transaction until it commits."""
        return self

    def changes(self) -> "PgVectorIndex":
        """The same table, as `clone`: a live save's changes are its transaction's."""
        return self

    def reconstruct(self, chunk_id: int) -> np.ndarray:
        row = self.store._one("SELECT embedding FROM chunk_vectors WHERE chunk_id = %s", [int(chunk_id)])
        if row is None:
            raise KeyError(chunk_id)
        return row[0].to_numpy().astype(np.float32)

    # -- search ----------------------------------------------------------------------------------
    def search(self, query: np.ndarray, k: int, allowed_ids: np.ndarray | None = None):
        """Top-k (ids, inner products) for one query vector; `allowed_ids` restricts it exactly."""
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
        allowed = None if allowed_ids is None else [int(i) for i in allowed_ids]
        if allowed is not None and not allowed:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        total = self.count
        candidates = total if allowed is None else min(len(allowed), total)
        k = min(k, candidates)
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        rows = None
        if candidates > self.exact_max_vectors and (allowed is None or len(allowed) >= HNSW_MIN_ALLOWED_SHARE * total):
            rows = self._approximate(query, k, None if allowed is None else set(allowed))
            if len(rows) < k:      # the filter left fewer than asked among HNSW's candidates
                rows = None
        if rows is None:
            rows = self._exact(query, k, allowed, total)
        ids = np.asarray([r[0] for r in rows], dtype=np.int64)
        scores = np.asarray([-r[1] for r in rows], dtype=np.float32)   # <#> is the negative inner product
        return ids, scores

    def _exact(self, query: np.ndarray, k: int, allowed: list[int] | None, total: int | None = None) -> list[tuple]:
        """The best k of every allowed vector, scored and sorted (MATERIALIZED keeps the planner
        from answering the ORDER BY from the HNSW index). A small allowed set is looked up by
        primary key; a large one is served by a full scan of the best k + |excluded| rows, among
        which at least k are allowed."""
        sql = ("WITH scored AS MATERIALIZED (SELECT chunk_id, embedding <#> %(q)s AS distance FROM chunk_vectors {where}) "
               "SELECT chunk_id, distance FROM scored ORDER BY distance, chunk_id LIMIT %(n)s")
        if allowed is None:
            return self.store._all(sql.format(where=""), {"q": query, "n": k})
        total = self.count if total is None else total
        if len(allowed) <= EXACT_LOOKUP_MAX_SHARE * total:
            return self.store._all(sql.format(where="WHERE chunk_id = ANY(%(ids)s)"),
                                   {"q": query, "ids": allowed, "n": k})
        wanted = set(allowed)
        limit = k + max(total - len(wanted), 0)
        rows = self.store._all(sql.format(where=""), {"q": query, "n": limit})
        kept = [r for r in rows if r[0] in wanted][:k]
        if len(kept) < k and len(rows) == limit:   # allowed ids without vectors made the margin short
            return self.store._all(sql.format(where="WHERE chunk_id = ANY(%(ids)s)"),
                                   {"q": query, "ids": allowed, "n": k})
        return kept

    def _approximate(self, query: np.ndarray, k: int, allowed: set[int] | None) -> list[tuple]:
        """HNSW's nearest ef_search vectors, the allowed ones of them, best k. Fewer than k when a
        filter excluded too many: the caller then scans exactly."""
        ef_search = min(1000, max(40, HNSW_EF_SEARCH_FACTOR * k))
        with self.store.snapshot(), self.store._conn() as conn:
            conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", [str(ef_search)])
            rows = conn.execute("SELECT chunk_id, embedding <#> %(q)s FROM chunk_vectors "
                                "ORDER BY embedding <#> %(q)s LIMIT %(n)s", {"q": query, "n": ef_search}).fetchall()
        if allowed is not None:
            rows = [r for r in rows if r[0] in allowed]
        return rows[:k]

    def ensure_ann_index(self) -> None:
        """The HNSW index, once there are more vectors than an exact scan handles well. Built
        after the fact (CREATE INDEX CONCURRENTLY: readers and writers go on), because keeping
        it while a corpus is loaded costs milliseconds per inserted vector; once built, pgvector
        keeps it up to date with every insert."""
        if getattr(self.store._local, "conn", None) is not None or self.count <= self.exact_max_vectors:
            return   # inside a transaction (the next save builds it), or not needed yet
        with self.store._conn() as conn:   # autocommit: CONCURRENTLY cannot run in a transaction
            state = conn.execute("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                                 "WHERE c.relname = 'chunk_vectors_hnsw' AND c.relnamespace = current_schema()::regnamespace"
                                 ).fetchone()
            if state is not None and state[0]:
                return
            if state is not None:        # an interrupted build leaves an invalid index behind
                conn.execute("DROP INDEX CONCURRENTLY chunk_vectors_hnsw")
            started = time.perf_counter()
            conn.execute("CREATE INDEX CONCURRENTLY chunk_vectors_hnsw ON chunk_vectors "
                         "USING hnsw (embedding vector_ip_ops)")
        log.info("kunskap: HNSW-index över %d vektorer byggt på %.1f s", self.count, time.perf_counter() - started)


class GenerationWatcher:
    """The store's change generation as other servers move it: LISTEN for their NOTIFY, and read
    the counter at least every `poll_seconds` (a missed notification, a reconnect). `generation`
    is a plain attribute, read without any I/O (also on the event loop); `healthy` says whether
    the database answered lately."""

    def __init__(self, store: PostgresStore, poll_seconds: float = 1.0):
        self.store = store
        self.url = store.url
        self.schema = store.schema
        self.poll_seconds = poll_seconds
        self.generation = store.change_generation()
        self.healthy = True
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kunskap-generation", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psycopg

        while not self._stopped():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANGES_CHANNEL}")
                    while not self._stopped():
                        self.generation = conn.execute("SELECT generation FROM store_state WHERE id = 1").fetchone()[0]
                        self.healthy = True
                        for _ in conn.notifies(timeout=self.poll_seconds, stop_after=1):
                            pass   # woken by a change (any schema's); the counter is read again
            except psycopg.Error as exc:
                if self._stopped():
                    return
                if self.healthy:
                    log.warning("kunskap: databasen svarar inte (%s); försöker igen", type(exc).__name__)
                self.healthy = False
                self._stop.wait(self.poll_seconds)

    def _stopped(self) -> bool:
        return self._stop.is_set() or self.store.closed

    def close(self) -> None:
        self._stop.set()


class PgVectorHome:
    """Where a PostgreSQL knowledge base keeps its vectors: the `vector_index` row (its manifest)
    and the `chunk_vectors` table, created with the model's dimension."""

    # The watcher thread keeps the stamp: reading it costs nothing, so it is read on every search
    # and a change on another server is seen as soon as its NOTIFY arrives (at most a poll later).
    stamp_is_free = True

    def __init__(self, store: PostgresStore):
        self.store = store
        self._watcher: GenerationWatcher | None = None
        self._watcher_lock = threading.Lock()

    def where(self) -> str:
        return f"databasen {self.store.shown_url}"

    def exists(self) -> bool:
        return self._meta() is not None

    def _meta(self) -> dict | None:
        rows = self.store._dicts("SELECT model_id, dimension, chunker_version, package_version, built_at "
                                 "FROM vector_index WHERE id = 1")
        return rows[0] if rows else None

    def manifest(self) -> Manifest:
        """The vectors' model, dimension and chunker; `index_sha256` carries the change generation,
        which moves with every write here or on another server. IndexMissingError when none."""
        with self.store.snapshot():
            meta = self._meta()
            if meta is None:
                raise IndexMissingError(f"Vektorindexet saknas i {self.where()}")
            count = self.store._one("SELECT count(*) FROM chunk_vectors")[0]
            generation = self.store.change_generation()
        if self._watcher is not None:   # a fresh reading moves the stamp on (the NOTIFY may lag)
            self._watcher.generation = max(self._watcher.generation, generation)
        return Manifest(model_id=meta["model_id"], dimension=meta["dimension"],
                        chunker_version=meta["chunker_version"], package_version=meta["package_version"],
                        vector_count=count, ids_hash="", index_sha256=f"generation:{generation}",
                        built_at=meta["built_at"])

    def load(self, model_id: str, dimension: int, chunker_version: int) -> PgVectorIndex:
        """The vectors, if they are of this model and chunker (else IndexMismatchError, as for FAISS)."""
        meta = self._meta()
        if meta is None:
            raise IndexMissingError(f"Vektorindexet saknas i {self.where()}")
        if meta["model_id"] != model_id or meta["dimension"] != dimension:
            raise IndexMismatchError(
                f"Vektorerna i {self.where()} är från modellen {meta['model_id']} ({meta['dimension']} dim), "
                f"men inställningen är {model_id} ({dimension} dim). {REBUILD_HINT} eller välj samma modell med --model.")
        if meta["chunker_version"] != chunker_version:
            raise IndexMismatchError(
                f"Vektorerna i {self.where()} är byggda med styckningsversion {meta['chunker_version']}, "
                f"programmet använder version {chunker_version}. {REBUILD_HINT}")
        return PgVectorIndex(self.store, dimension, model_id, chunker_version)

    def new_index(self, dimension: int, model_id: str, chunker_version: int) -> PgVectorIndex:
        """The vectors of this model: the existing table if it holds them, else a new, empty one
        (the old model's vectors are dropped, as `kunskap ingest --rebuild` replaces a FAISS file)."""
        with self.store.transaction(), self.store._conn() as conn:
            meta = self._meta()
            if meta is None or (meta["model_id"], meta["dimension"], meta["chunker_version"]) != (
                    model_id, dimension, chunker_version):
                conn.execute("DROP TABLE IF EXISTS chunk_vectors")
                conn.execute(f"""CREATE TABLE chunk_vectors (
                    chunk_id bigint PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
                    embedding vector({int(dimension)}) NOT NULL)""")
                conn.execute(
                    "INSERT INTO vector_index (id, model_id, dimension, chunker_version, package_version, built_at) "
                    "VALUES (1, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET model_id = excluded.model_id, "
                    "dimension = excluded.dimension, chunker_version = excluded.chunker_version, "
                    "package_version = excluded.package_version, built_at = excluded.built_at",
                    [model_id, dimension, chunker_version, __version__,
                     dt.datetime.now(dt.UTC).isoformat(timespec="seconds")])
        return PgVectorIndex(self.store, dimension, model_id, chunker_version)

    def save(self, vectors: PgVectorIndex, corpus_hash: str = "", rebuilt: bool = False, **_stamps) -> Manifest:
        """Nothing to write: the vectors were committed with the chunks. Builds the HNSW index
        when the vectors have grown to need one; returns the manifest as it is now. Vectors
        `rebuilt` from the embedding cache (no chunk changed, so no generation moved) are
        announced to the other servers, which would otherwise go on searching by words alone
        after a background build. (What the FAISS folder records beside its file — store
        generation, completeness — is not needed: vectors and chunks change in one transaction.)"""
        if rebuilt:
            self.store.touch()
        vectors.ensure_ann_index()
        return self.manifest()

    # -- which documents live saves changed (for other servers' lookups) ------------------------
    CHANGES_KEPT = 20_000      # generations of rows kept (a save raises the generation a few times)

    def record_changes(self, since_generation: int, doc_ids, words=()) -> None:
        """Inside a live save's transaction, last: the documents (and vocabulary words) it
        changed from the change generation `since_generation` (read under the writer lock before
        it began) to now."""
        with self.store.transaction(), self.store._conn() as conn:
            until = conn.execute("SELECT generation FROM store_state WHERE id = 1").fetchone()[0]
            if until == since_generation:
                return
            conn.execute("INSERT INTO document_changes (to_generation, from_generation, doc_ids, words) "
                         "VALUES (%s, %s, %s, %s)", [until, since_generation, sorted(set(doc_ids)), sorted(set(words))])
            conn.execute("DELETE FROM document_changes WHERE to_generation < %s", [until - self.CHANGES_KEPT])

    def changed_documents(self, loaded: str | None, manifest: Manifest) -> tuple[set[str], set[str]] | None:
        """(The documents, the vocabulary words) changed from the manifest version `loaded` to
        `manifest`, when every generation between was a recorded live save (else None: something
        else changed, e.g. a full ingest or a new lexicon, and the caller starts afresh)."""
        if not loaded or not loaded.startswith("generation:") or not manifest.version.startswith("generation:"):
            return None
        since, until = int(loaded.split(":", 1)[1]), int(manifest.version.split(":", 1)[1])
        if until < since:
            return None
        rows = self.store._all("SELECT from_generation, to_generation, doc_ids, words FROM document_changes "
                               "WHERE to_generation > %s AND to_generation <= %s ORDER BY to_generation",
                               [since, until])
        cursor, documents, words = since, set(), set()
        for start, end, doc_ids, changed_words in rows:
            if start != cursor:
                return None
            cursor = end
            documents.update(doc_ids)
            words.update(changed_words)
        return (documents, words) if cursor == until else None

    def stamp(self) -> tuple:
        """Changes when anything searchable changed, on any server; no I/O once the watcher runs."""
        if self._watcher is None:
            with self._watcher_lock:
                if self._watcher is None:
                    self._watcher = GenerationWatcher(self.store)
        return ("generation", self._watcher.generation)

    def healthy(self) -> bool:
        return self._watcher is None or self._watcher.healthy

    @contextmanager
    def writer_lock(self):
        with self.store.writer_lock():
            yield

    @contextmanager
    def no_writer(self):
        """True inside while no writer holds the lock (taken shared for the check, then released)."""
        with self.store.advisory_lock_free(WRITE_LOCK) as free:
            yield free

    @contextmanager
    def builder_lock(self):
        """The background semantic build's lock, across servers (an advisory lock, not a file:
        servers on other machines share the database, not the index folder). Yields whether
        it was taken; never waits."""
        with self.store.advisory_lock(SEMANTIC_BUILD_LOCK, wait=False) as held:
            yield held

    def builder_running(self) -> bool:
        """Whether a server (this one or another) is building semantic search now."""
        with self.store.advisory_lock_free(SEMANTIC_BUILD_LOCK) as free:
            return not free

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.close()

