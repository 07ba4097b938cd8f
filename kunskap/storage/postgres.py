"""The PostgreSQL store: the same interface as the SQLite store (`base.Store`), for a knowledge
base that several servers share. Vectors live beside it in pgvector (`pgvector.PgVectorIndex`).

- Connections come from a psycopg 3 pool and are used one statement at a time, except inside
  `transaction()` and `snapshot()`, which hold one connection for the calling thread; so one
  store object serves every thread of a process.
- Lexical search is SQLite's: the same Swedish analysis (done in Python by the caller), the
  analysed text counted into per-term postings as FTS5's unicode61 tokenizer counts it, and
  FTS5's BM25 computed in SQL with the same formula, parameters and column weights.
- Every write to searchable contents raises the change generation in `store_state` and sends
  a NOTIFY, so other servers see the change (`GenerationWatcher`).
- The cross-process writer lock, and the lock of the background semantic build, are session
  advisory locks keyed by the schema.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import Counter
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from ..errors import StorageUnavailableError
from . import _sql
from .base import (
    PUBLIC,
    REVISION_COLUMNS,
    ChunkRow,
    LEXICAL_BATCH,
    analysed_postings,
    batched,
    click_positions as _positions,
    decode_row,
    encode_record,
    impact_key,
    lexical_tokens,
    mask_url,
    best_first,
    score_postings,
    single_terms,
)
from .base import now_iso as _now
from .postgres_migrations import apply_migrations, ensure_vector_extension

if TYPE_CHECKING:
    from ..search.request import Filters

log = logging.getLogger("kunskap")

WRITE_LOCK = 0x6B756E02       # advisory lock namespace "kun\x02": writers (second key: the schema)
SEMANTIC_BUILD_LOCK = 0x6B756E03   # "kun\x03": the one background semantic build of a knowledge base
CHANGES_CHANNEL = "kunskap_changes"
CONNECT_TIMEOUT = 5           # seconds: start-up fails fast with a clear message
POOL_TIMEOUT = 3
DOCUMENT_COLUMNS = ("id", "title", "organisation", "organisation_type", "county", "kind", "themes", "tags", "year",
                    "published", "summary", "source_url", "contact", "language", "status", "body", "extra",
                    "source_path", "content_hash", "chunker_version", "curation_notes", "ingested_at", "updated_at")
JSONB_COLUMNS = ("themes", "tags", "extra", "curation_notes")


POSTGRES_FILTERS = _sql.FilterDialect(
    placeholder="%s", true="true", false="false",
    any_of=lambda column, values: (f"{column} = ANY(%s)", [list(values)]),
    any_theme=lambda slugs: ("themes ?| %s", [list(slugs)]),   # any of the slugs in the jsonb array
)


def _reason(exc: Exception) -> str:
    """The server's or libpq's own words (first line), without any connection string in them."""
    text = getattr(getattr(exc, "diag", None), "message_primary", None) or str(exc).strip() or type(exc).__name__
    return mask_url(text.splitlines()[0])


def connect_error(url: str, exc: Exception) -> StorageUnavailableError:
    return StorageUnavailableError(f"Kan inte ansluta till databasen {mask_url(url)}: {_reason(exc)}")


def _row(cursor, values) -> dict:
    return {d.name: v for d, v in zip(cursor.description, values)}


class PostgresStore:
    """One knowledge base in one PostgreSQL schema. Thread-safe: share one per process."""

    def __init__(self, url: str, pool_size: int = 8):
        import psycopg
        from psycopg_pool import ConnectionPool

        self.url = url
        self.shown_url = mask_url(url)
        try:   # one direct connection first: its error says why (refused, password, no database)
            with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as conn:
                ensure_vector_extension(conn, self.shown_url)
                applied = apply_migrations(conn, self.shown_url)
                self.schema = conn.execute("SELECT current_schema()").fetchone()[0]
        except psycopg.Error as exc:
            raise connect_error(url, exc) from None
        if self.schema is None:
            raise StorageUnavailableError(f"Databasen {self.shown_url} har inget schema att skapa tabellerna i "
                                          "(search_path pekar på scheman som inte finns).")
        if applied:
            log.info("kunskap: databasens schema uppgraderat: %s", ", ".join(applied))
        # A request waits at most POOL_TIMEOUT for a connection: a lost database answers 503 soon.
        self._pool = ConnectionPool(url, min_size=1, max_size=pool_size, open=False, timeout=POOL_TIMEOUT,
                                    kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT},
                                    configure=self._configure, name="kunskap")
        try:
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT * 2)
        except Exception as exc:   # PoolTimeout: the server went away in between
            self._pool.close()
            raise connect_error(url, exc) from None
        self._local = threading.local()
        self.closed = False

    @staticmethod
    def _configure(conn) -> None:
        from pgvector.psycopg import register_vector

        register_vector(conn)   # numpy arrays as pgvector values (so id lists are passed as lists)

    def close(self) -> None:
        self.closed = True     # also ends the generation watcher of this store, if any
        self._pool.close()

    # -- connections, transactions, snapshots --------------------------------------------------
    @contextmanager
    def _conn(self):
        """The calling thread's connection inside a transaction or snapshot, else one from the pool."""
        import psycopg
        from psycopg_pool import PoolTimeout

        current = getattr(self._local, "conn", None)
        if current is not None:
            yield current
            return
        try:
            with self._pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: Exception) -> StorageUnavailableError:
        return StorageUnavailableError(f"Databasen {self.shown_url} svarar inte: {_reason(exc)}")

    @contextmanager
    def _held(self, read_only: bool):
        import psycopg
        from psycopg_pool import PoolTimeout

        try:
            with self._pool.connection() as conn:
                self._local.conn = conn
                try:
                    with conn.transaction():
                        if read_only:
                            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                        yield conn
                finally:
                    self._local.conn = None
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise self._unavailable(exc) from exc

    @contextmanager
    def transaction(self):
        """One atomic write (commit, or rollback on error); joins an open one."""
        if getattr(self._local, "conn", None) is not None:
            yield
            return
        with self._held(read_only=False):
            yield

    @contextmanager
    def snapshot(self):
        """Reads inside see one consistent database state (a REPEATABLE READ transaction)."""
        if getattr(self._local, "conn", None) is not None:
            yield
            return
        with self._held(read_only=True):
            yield

    def _all(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self._conn() as conn:
            return conn.execute(sql, params).fetchall()

    def _one(self, sql: str, params: Sequence = ()):
        with self._conn() as conn:
            return conn.execute(sql, params).fetchone()

    def _dicts(self, sql: str, params: Sequence = ()) -> list[dict]:
        with self._conn() as conn:
            cursor = conn.execute(sql, params)
            return [_row(cursor, values) for values in cursor.fetchall()]

    def _run(self, sql: str, params: Sequence = ()) -> int:
        """One write statement in the open transaction (or its own); returns the rows it touched."""
        with self.transaction(), self._conn() as conn:
            return conn.execute(sql, params).rowcount

    @contextmanager
    def writer_lock(self):
        """The exclusive lock every writer of this knowledge base takes, on any server: a session
        advisory lock on a connection of its own (released if this process dies)."""
        with self.advisory_lock(WRITE_LOCK):
            yield

    @contextmanager
    def advisory_lock(self, key: int, wait: bool = True):
        """A session advisory lock on (`key`, this schema), held on a connection of its own while
        inside; yields whether it was taken (always, unless `wait` is False and another session,
        on any server, holds it). Released if this process dies."""
        import psycopg

        try:
            with self._pool.connection() as conn:
                if wait:
                    conn.execute("SELECT pg_advisory_lock(%s, hashtext(current_schema()))", [key])
                elif not conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(current_schema()))",
                                      [key]).fetchone()[0]:
                    yield False
                    return
                try:
                    yield True
                finally:
                    try:
                        conn.execute("SELECT pg_advisory_unlock(%s, hashtext(current_schema()))", [key])
                    except psycopg.Error:
                        conn.close()   # never hand a connection still holding the lock back to the pool
        except psycopg.OperationalError as exc:
            raise self._unavailable(exc) from exc

    @contextmanager
    def advisory_lock_free(self, key: int):
        """True inside while no session holds the advisory lock (`key`, this schema) exclusively:
        taken shared for the check and held until the end, so no one takes it meanwhile."""
        with self._conn() as conn:
            free = conn.execute("SELECT pg_try_advisory_lock_shared(%s, hashtext(current_schema()))",
                                [key]).fetchone()[0]
            try:
                yield free
            finally:
                if free:
                    conn.execute("SELECT pg_advisory_unlock_shared(%s, hashtext(current_schema()))", [key])

    def touch(self) -> None:
        """Raise the change generation (and NOTIFY) without changing any row: for vectors
        rebuilt from the embedding cache, which other servers must pick up too."""
        with self.transaction(), self._conn() as conn:
            self._changed(conn)

    # -- documents -------------------------------------------------------------------------------
    _decode = staticmethod(decode_row)

    def document_states(self) -> dict[str, dict]:
        return {row["id"]: row for row in self._dicts(
            "SELECT id, content_hash, source_path, chunker_version FROM documents")}

    def get_document(self, doc_id: str) -> dict | None:
        rows = self._dicts("SELECT * FROM documents WHERE id = %s", [doc_id])
        return self._decode(rows[0]) if rows else None

    def get_documents(self, doc_ids: Sequence[str]) -> dict[str, dict]:
        if not doc_ids:
            return {}
        return {row["id"]: self._decode(row)
                for row in self._dicts("SELECT * FROM documents WHERE id = ANY(%s)", [list(doc_ids)])}

    def count_documents(self, public_only: bool = False) -> int:
        if public_only:
            return self._one("SELECT count(*) FROM documents WHERE status = %s", [PUBLIC])[0]
        return self._one("SELECT count(*) FROM documents")[0]

    def count_chunks(self) -> int:
        return self._one("SELECT count(*) FROM chunks")[0]

    def replace_document(self, record: dict, chunks: Sequence[dict],
                         fts_rows: Sequence[tuple[str, str]]) -> tuple[list[int], list[int]]:
        """Insert or replace a document with its chunks and lexical rows, in one transaction.
        Returns (removed chunk ids, new chunk ids) so the caller can update the vector index."""
        record = encode_record(record)
        now = _now()
        with self.transaction(), self._conn() as conn:
            existing = conn.execute("SELECT ingested_at FROM documents WHERE id = %s", [record["id"]]).fetchone()
            record["ingested_at"] = existing[0] if existing else now
            record["updated_at"] = now
            removed = self._delete_chunks(conn, record["id"])
            columns = [c for c in DOCUMENT_COLUMNS if c in record]
            values = ", ".join("%s::jsonb" if c in JSONB_COLUMNS else "%s" for c in columns)
            conn.execute(
                f"INSERT INTO documents ({', '.join(columns)}) VALUES ({values}) ON CONFLICT (id) DO UPDATE SET "
                + ", ".join(f"{c} = excluded.{c}" for c in columns if c != "id"),
                [record[c] for c in columns])
            new_ids = []
            for chunk in chunks:
                new_ids.append(conn.execute(
                    "INSERT INTO chunks (doc_id, ord, text, heading, page, embed_text, embed_hash) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                    [record["id"], chunk["ord"], chunk["text"], chunk["heading"], chunk["page"],
                     chunk["embed_text"], chunk["embed_hash"]]).fetchone()[0])
            self._insert_lexical(conn, [(cid, title, body) for cid, (title, body) in zip(new_ids, fts_rows)])
            self._changed(conn)
        return removed, new_ids

    @staticmethod
    def _delete_chunks(conn, doc_id: str) -> list[int]:
        """Its chunks, and with them (ON DELETE CASCADE) their lexical rows and vectors; the terms'
        document frequencies and the totals follow."""
        of_doc = "chunk_id IN (SELECT id FROM chunks WHERE doc_id = %s)"
        terms = conn.execute(f"SELECT term, count(*) FROM lexical_postings WHERE {of_doc} GROUP BY term ORDER BY term",
                             [doc_id]).fetchall()
        rows, tokens = conn.execute(f"SELECT count(*), coalesce(sum(length), 0) FROM lexical_rows WHERE {of_doc}",
                                    [doc_id]).fetchone()
        ids = [r[0] for r in conn.execute("DELETE FROM chunks WHERE doc_id = %s RETURNING id", [doc_id])]
        PostgresStore._count_terms(conn, terms, -1)
        conn.execute("UPDATE store_state SET lexical_rows = lexical_rows - %s, lexical_tokens = lexical_tokens - %s "
                     "WHERE id = 1", [rows, tokens])
        return sorted(ids)

    @staticmethod
    def _count_terms(conn, counts: Sequence[tuple[str, int]], sign: int) -> None:
        """Document frequencies raised (sign 1) or lowered (−1) by `counts` [(term, chunks)]."""
        if not counts:
            return
        terms, numbers = [t for t, _ in counts], [sign * int(n) for _, n in counts]
        conn.execute("INSERT INTO lexical_terms (term, df) SELECT * FROM unnest(%s::text[], %s::int[]) "
                     "ON CONFLICT (term) DO UPDATE SET df = lexical_terms.df + excluded.df", [terms, numbers])
        if sign < 0:
            conn.execute("DELETE FROM lexical_terms WHERE term = ANY(%s) AND df <= 0", [terms])

    def delete_document(self, doc_id: str) -> list[int]:
        with self.transaction(), self._conn() as conn:
            removed = self._delete_chunks(conn, doc_id)
            conn.execute("DELETE FROM documents WHERE id = %s", [doc_id])
            self._changed(conn)
        return removed

    def set_status(self, doc_id: str, status: str) -> None:
        with self.transaction(), self._conn() as conn:
            conn.execute("UPDATE documents SET status = %s, updated_at = %s WHERE id = %s", [status, _now(), doc_id])
            self._changed(conn)

    # -- chunks ----------------------------------------------------------------------------------
    _CHUNK = "SELECT id, doc_id, ord, text, heading, page FROM chunks"

    def get_chunks(self, chunk_ids: Iterable[int]) -> dict[int, ChunkRow]:
        ids = [int(i) for i in chunk_ids]
        if not ids:
            return {}
        return {r[0]: ChunkRow(*r) for r in self._all(f"{self._CHUNK} WHERE id = ANY(%s)", [ids])}

    def chunks_of(self, doc_id: str) -> list[ChunkRow]:
        return [ChunkRow(*r) for r in self._all(f"{self._CHUNK} WHERE doc_id = %s ORDER BY ord", [doc_id])]

    def embed_texts(self, chunk_ids: Sequence[int]) -> list[tuple[str, str]]:
        """(embed_hash, embed_text) of the given chunks, in their order."""
        ids = [int(i) for i in chunk_ids]
        rows = dict((r[0], (r[1], r[2])) for r in self._all(
            "SELECT id, embed_hash, embed_text FROM chunks WHERE id = ANY(%s)", [ids]))
        return [rows[i] for i in ids if i in rows]

    def chunk_ids(self) -> list[int]:
        return [r[0] for r in self._all("SELECT id FROM chunks ORDER BY id")]

    def chunk_fingerprint(self) -> tuple[int, int, int]:
        """The same fingerprint as vectors.id_fingerprint, over the chunk ids in the database."""
        count, total, mixed = self._one(
            "SELECT count(*), coalesce(sum(id), 0), coalesce(sum((id %% 1000003) * (id %% 999983)), 0) FROM chunks")
        return int(count), int(total), int(mixed)

    def cached_chunk_fingerprint(self, model_id: str) -> tuple[int, int, int]:
        """The fingerprint of the chunks whose embedding is cached: what a complete vector index
        over the cache holds (chunks not yet embedded are left out while they are embedded)."""
        count, total, mixed = self._one(
            "SELECT count(*), coalesce(sum(c.id), 0), coalesce(sum((c.id %% 1000003) * (c.id %% 999983)), 0) "
            "FROM chunks c JOIN embeddings e ON e.model_id = %s AND e.text_hash = c.embed_hash", [model_id])
        return int(count), int(total), int(mixed)

    def chunk_doc_map(self) -> dict[int, str]:
        return dict(self._all("SELECT id, doc_id FROM chunks"))

    def chunk_ids_for_documents(self, doc_ids: Sequence[str]) -> np.ndarray:
        rows = self._all("SELECT id FROM chunks WHERE doc_id = ANY(%s)", [list(doc_ids)]) if len(doc_ids) else []
        return np.asarray([r[0] for r in rows], dtype=np.int64)

    def all_chunk_texts(self) -> Iterable[tuple[str, str]]:
        return self._all("SELECT d.title, c.text FROM chunks c JOIN documents d ON d.id = c.doc_id")

    # -- embedding cache -------------------------------------------------------------------------
    def cached_vectors(self, model_id: str, hashes: Sequence[str], dimension: int) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(hashes))
        if not unique:
            return found
        for text_hash, blob in self._all(
                "SELECT text_hash, vector FROM embeddings WHERE model_id = %s AND text_hash = ANY(%s)",
                [model_id, unique]):
            vector = np.frombuffer(bytes(blob), dtype=np.float32)
            if vector.shape[0] == dimension:
                found[text_hash] = vector
        return found

    def put_vectors(self, model_id: str, vectors: dict[str, np.ndarray]) -> None:
        if not vectors:
            return
        now = _now()
        with self.transaction(), self._conn() as conn:
            with conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO embeddings (model_id, text_hash, vector, created_at) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (model_id, text_hash) DO UPDATE SET vector = excluded.vector, "
                    "created_at = excluded.created_at",
                    [(model_id, h, np.asarray(v, dtype=np.float32).tobytes(), now) for h, v in vectors.items()])

    def chunk_vectors(self, model_id: str, dimension: int, doc_id: str | None = None
                      ) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """(chunk ids, vectors) of every chunk (of one document, if given) whose embedding is
        cached, plus the ids of those that are not."""
        sql, params = _sql.chunk_vectors_query("%s", model_id, doc_id)
        return _sql.split_cached(self._all(sql, params), dimension)

    def unembedded_chunk_ids(self, model_id: str) -> list[int]:
        """Chunks whose embedding is not cached: ids only, no vector is read."""
        return [r[0] for r in self._all(_sql.unembedded_query("%s"), [model_id])]

    # -- revisions and the save journal ----------------------------------------------------------
    REVISION_COLUMNS = REVISION_COLUMNS

    def last_revision_id(self) -> int:
        return self._one("SELECT coalesce(max(id), 0) FROM revisions")[0]

    def revision_paths_since(self, revision_id: int) -> list[str]:
        rows = self._all("SELECT path FROM revisions WHERE id > %s ORDER BY id", [revision_id])
        return list(dict.fromkeys(r[0] for r in rows))

    def begin_revision(self, row: dict, files: Sequence[tuple[str, bytes | None, str | None]]) -> int:
        """A pending revision and the files it is about to change: (path, previous content, sha256
        of the new content or None for a removal). Committed before any file is touched."""
        columns = [c for c in self.REVISION_COLUMNS if c in row]
        with self.transaction(), self._conn() as conn:
            revision_id = conn.execute(
                f"INSERT INTO revisions ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) RETURNING id",
                [row[c] for c in columns]).fetchone()[0]
            if files:
                with conn.cursor() as cursor:
                    cursor.executemany(
                        "INSERT INTO pending_files (revision_id, path, previous, new_sha256) VALUES (%s, %s, %s, %s)",
                        [(revision_id, path, previous, new_sha) for path, previous, new_sha in files])
        return revision_id

    def end_revision(self, revision_id: int, state: str, error: str | None = None, note: str | None = None) -> None:
        with self.transaction(), self._conn() as conn:
            conn.execute("UPDATE revisions SET state = %s, error = coalesce(%s, error), note = coalesce(%s, note) "
                         "WHERE id = %s", [state, error, note, revision_id])
            conn.execute("DELETE FROM pending_files WHERE revision_id = %s", [revision_id])

    def pending_revisions(self) -> list[dict]:
        rows = self._dicts("SELECT id, doc_id, action, target, username FROM revisions "
                           "WHERE state = 'pending' ORDER BY id")
        for row in rows:
            row["files"] = [
                {"path": path, "previous": None if previous is None else bytes(previous), "new_sha256": new_sha}
                for path, previous, new_sha in self._all(
                    "SELECT path, previous, new_sha256 FROM pending_files WHERE revision_id = %s ORDER BY path",
                    [row["id"]])]
        return rows

    def revision_for_key(self, username: str, key: str) -> dict | None:
        rows = self._dicts("SELECT id, doc_id, state, error, action FROM revisions WHERE username = %s "
                           "AND idempotency_key = %s AND state != 'aborted'", [username, key])
        return rows[0] if rows else None

    def revision_state(self, revision_id: int) -> dict | None:
        rows = self._dicts("SELECT id, doc_id, state, error, action, created_at FROM revisions WHERE id = %s",
                           [revision_id])
        return rows[0] if rows else None

    # -- curation's reads: document list, titles, revision history ------------------------------
    def curation_documents(self, status: str | None = None) -> list[dict]:
        """Every document (or those with `status`) as curation lists them, last changed first."""
        where, params = ("status = %s", [status]) if status else ("true", [])
        return [self._decode(row) for row in self._dicts(
            "SELECT id, title, organisation, kind, status, year, themes, curation_notes, updated_at, source_path "
            f"FROM documents WHERE {where} ORDER BY updated_at DESC, id", params)]

    def document_titles(self) -> list[dict]:
        """{id, title, organisation} of every document, by id (what the duplicate checks compare)."""
        return self._dicts("SELECT id, title, organisation FROM documents ORDER BY id")

    def revisions_of(self, doc_id: str) -> list[dict]:
        """A document's history, newest first; aborted saves never took effect and are left out."""
        return self._dicts(
            "SELECT id, doc_id, path, action, username, created_at, note, state FROM revisions WHERE doc_id = %s "
            "AND state != 'aborted' ORDER BY id DESC", [doc_id])

    def get_revision(self, revision_id: int) -> dict | None:
        """One revision with the file contents it recorded (before and after)."""
        rows = self._dicts("SELECT * FROM revisions WHERE id = %s", [revision_id])
        return rows[0] if rows else None

    def deletions_not_undone(self) -> list[dict]:
        """Completed deletes with no later revision of the same document (other than an aborted
        one), newest first: the candidates for undo."""
        return self._dicts(
            "SELECT r.id, r.doc_id, r.path, r.username, r.created_at FROM revisions r WHERE r.action = 'delete' "
            "AND r.state = 'done' AND NOT EXISTS (SELECT 1 FROM revisions later WHERE later.doc_id = r.doc_id "
            "AND later.id > r.id AND later.state != 'aborted') ORDER BY r.id DESC")

    # -- vocabulary ------------------------------------------------------------------------------
    def replace_vocabulary(self, counts: Counter) -> None:
        with self.transaction(), self._conn() as conn:
            conn.execute("DELETE FROM vocabulary")
            with conn.cursor() as cursor, cursor.copy("COPY vocabulary (word, count) FROM STDIN") as copy:
                for word, count in counts.items():
                    copy.write_row((word, count))
            self._changed(conn)

    def adjust_vocabulary(self, delta: Counter) -> None:
        """As SQLite's: the counts of the words in `delta` moved by it, those at zero dropped."""
        changes = [(w, int(c)) for w, c in delta.items() if c]
        if not changes:
            return
        words, counts = [w for w, _ in changes], [c for _, c in changes]
        with self.transaction(), self._conn() as conn:
            conn.execute("INSERT INTO vocabulary (word, count) SELECT * FROM unnest(%s::text[], %s::int[]) "
                         "ON CONFLICT (word) DO UPDATE SET count = vocabulary.count + excluded.count",
                         [words, counts])
            conn.execute("DELETE FROM vocabulary WHERE word = ANY(%s) AND count <= 0", [words])
            self._changed(conn)

    def vocabulary(self) -> dict[str, int]:
        return dict(self._all("SELECT word, count FROM vocabulary"))

    def vocabulary_counts(self, words: Sequence[str]) -> dict[str, int]:
        """The counts of these words (those not in the vocabulary left out)."""
        if not words:
            return {}
        return dict(self._all("SELECT word, count FROM vocabulary WHERE word = ANY(%s)", [list(set(words))]))

    def replace_lexicon(self, words: Iterable[str]) -> None:
        """The decompounding lexicon the lexical rows are derived with (changed by full ingests
        only). Queries are analysed with it, so other servers must see the change."""
        with self.transaction(), self._conn() as conn:
            conn.execute("DELETE FROM lexicon")
            with conn.cursor() as cursor, cursor.copy("COPY lexicon (word) FROM STDIN") as copy:
                for word in words:
                    copy.write_row((word,))
            self._changed(conn)

    def lexicon(self) -> set[str]:
        return {r[0] for r in self._all("SELECT word FROM lexicon")}

    # -- lexical ---------------------------------------------------------------------------------
    @staticmethod
    def _insert_lexical(conn, rows: Sequence[tuple[int, str, str]]) -> None:
        """Lexical rows (chunk id, analysed title, analysed body) counted as FTS5 counts them."""
        if not rows:
            return
        lengths, postings, df = [], [], Counter()
        for chunk_id, title, body in rows:
            length, terms = analysed_postings(title or "", body or "")
            lengths.append((chunk_id, length))
            for term, title_tf, body_tf in terms:
                postings.append((term, chunk_id, title_tf, body_tf, length, impact_key(title_tf, body_tf, length)))
                df[term] += 1
        with conn.cursor() as cursor:
            with cursor.copy("COPY lexical_rows (chunk_id, length) FROM STDIN") as copy:
                for row in lengths:
                    copy.write_row(row)
            with cursor.copy("COPY lexical_postings (term, chunk_id, title_tf, body_tf, length, impact) "
                             "FROM STDIN") as copy:
                for row in postings:
                    copy.write_row(row)
        PostgresStore._count_terms(conn, sorted(df.items()), +1)
        conn.execute("UPDATE store_state SET lexical_rows = lexical_rows + %s, lexical_tokens = lexical_tokens + %s "
                     "WHERE id = 1", [len(lengths), sum(n for _, n in lengths)])

    @staticmethod
    def _changed(conn) -> None:
        """After a write to searchable contents: the generation, a NOTIFY (sent at commit;
        identical ones in one transaction are delivered once). BM25's totals are kept by the
        writes to the lexical rows themselves."""
        conn.execute("UPDATE store_state SET generation = generation + 1 WHERE id = 1")
        conn.execute("SELECT pg_notify(%s, current_schema())", [CHANGES_CHANNEL])

    def fts_term(self, term: str, title_weight: float, limit: int) -> list[tuple[int, float]]:
        """At most `limit` chunks matching one analysed term, best first, with FTS5's BM25."""
        return best_first(*self.term_postings(term, title_weight, limit))

    def term_postings(self, term: str, title_weight: float, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, BM25) of at most `limit` chunks matching one analysed term, read in impact
        order by an index: the cost follows `limit`, not the term's posting list."""
        tokens = lexical_tokens(term)
        postings, df, rows, total = [], 0, 0, 0
        # The analysis makes every term one token; FTS5 would read several as a phrase, which
        # needs positions that these postings do not keep.
        if len(tokens) == 1:
            with self.snapshot(), self._conn() as conn:
                found = conn.execute("SELECT df FROM lexical_terms WHERE term = %s", [tokens[0]]).fetchone()
                if found:
                    df = found[0]
                    rows, total = conn.execute(
                        "SELECT lexical_rows, lexical_tokens FROM store_state WHERE id = 1").fetchone()
                    postings = conn.execute(
                        "SELECT chunk_id, title_tf, body_tf, length FROM lexical_postings WHERE term = %s "
                        "ORDER BY impact DESC, chunk_id LIMIT %s", [tokens[0], int(limit)]).fetchall()
        return score_postings(postings, df, rows, total, title_weight)

    def postings_within(self, terms: Sequence[str], title_weight: float,
                        chunk_ids: Sequence[int]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """(chunk ids, BM25) of each term among the given chunks only, every one of them (by the
        postings' chunk index): what a selective filter reads instead of each term's best postings."""
        wanted = single_terms(terms)
        tokens = sorted(set(wanted.values()))
        found: dict[str, list] = {token: [] for token in tokens}
        with self.snapshot(), self._conn() as conn:
            rows, total = conn.execute("SELECT lexical_rows, lexical_tokens FROM store_state WHERE id = 1").fetchone()
            df = dict(conn.execute("SELECT term, df FROM lexical_terms WHERE term = ANY(%s)", [tokens]).fetchall())
            for token, chunk_id, title_tf, body_tf, length in conn.execute(
                    "SELECT term, chunk_id, title_tf, body_tf, length FROM lexical_postings "
                    "WHERE chunk_id = ANY(%s) AND term = ANY(%s)", [[int(i) for i in chunk_ids], tokens]):
                found[token].append((chunk_id, title_tf, body_tf, length))
        return {term: score_postings(found[token], df.get(token, 0), rows, total, title_weight)
                for term, token in wanted.items()}

    def term_document_frequency(self, term: str) -> int:
        tokens = lexical_tokens(term)
        if len(tokens) != 1:
            return 0
        row = self._one("SELECT df FROM lexical_terms WHERE term = %s", [tokens[0]])
        return row[0] if row else 0

    def term_document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """Chunks matching each analysed term, in one query."""
        tokens = {term: lexical_tokens(term) for term in dict.fromkeys(terms)}
        single = sorted({t[0] for t in tokens.values() if len(t) == 1})
        counts = dict(self._all("SELECT term, df FROM lexical_terms WHERE term = ANY(%s)", [single])) if single else {}
        return {term: int(counts.get(t[0], 0)) if len(t) == 1 else 0 for term, t in tokens.items()}

    def chunk_term_counts(self, chunk_ids: Sequence[int]) -> dict[int, Counter]:
        """The analysed terms of the given chunks' bodies (heading and text, not the title) with
        their counts, as FTS5 tokenises them; chunks without a lexical row are left out."""
        ids = [int(i) for i in chunk_ids]
        if not ids:
            return {}
        out: dict[int, Counter] = {int(r[0]): Counter() for r in self._all(
            "SELECT chunk_id FROM lexical_rows WHERE chunk_id = ANY(%s)", [ids])}
        for chunk_id, term, body_tf in self._all(
                "SELECT chunk_id, term, body_tf FROM lexical_postings WHERE chunk_id = ANY(%s) AND body_tf > 0", [ids]):
            out[int(chunk_id)][term] = int(body_tf)
        return out

    def lexical_sources(self) -> list[tuple[int, str | None, str, str, str]]:
        return self._all(
            "SELECT c.id, c.heading, c.text, d.title, d.organisation FROM chunks c JOIN documents d ON d.id = c.doc_id")

    def replace_lexical_rows(self, rows: Iterable[tuple[int, str, str]]) -> None:
        with self.transaction(), self._conn() as conn:
            conn.execute("DELETE FROM lexical_rows")   # and, by cascade, every posting
            conn.execute("DELETE FROM lexical_terms")
            conn.execute("UPDATE store_state SET lexical_rows = 0, lexical_tokens = 0 WHERE id = 1")
            for batch in batched(rows, LEXICAL_BATCH):
                self._insert_lexical(conn, batch)
            self._changed(conn)

    # -- filters and facets ----------------------------------------------------------------------
    def filtered_document_ids(self, filters: Filters, public_only: bool = True) -> list[str]:
        where, params = _sql.filter_where(filters, public_only, POSTGRES_FILTERS)
        return [r[0] for r in self._all(_sql.FILTERED_IDS.format(where=where), params)]

    def document_facet_rows(self, filters: Filters, public_only: bool = True) -> list[dict]:
        """The facet columns of the documents passing `filters`, themes decoded, with the dates
        that order a feed or an export (published, updated_at)."""
        where, params = _sql.filter_where(filters, public_only, POSTGRES_FILTERS)
        return [self._decode(row) for row in self._dicts(_sql.FACET_ROWS.format(where=where), params)]

    # -- change generation -----------------------------------------------------------------------
    def change_generation(self) -> int:
        return self._one("SELECT generation FROM store_state WHERE id = 1")[0]

    # -- accounts, sessions, API tokens, login attempts ------------------------------------------
    def insert_user(self, username: str, display_name: str, password_hash: str, now: str) -> None:
        self._run("INSERT INTO users (username, display_name, password_hash, active, created_at, updated_at) "
                  "VALUES (%s, %s, %s, 1, %s, %s)", [username, display_name, password_hash, now, now])

    def user_row(self, username: str) -> dict | None:
        rows = self._dicts("SELECT * FROM users WHERE username = %s", [username])
        return rows[0] if rows else None

    def user_rows(self) -> list[dict]:
        return self._dicts("SELECT * FROM users ORDER BY username")

    def set_user_active(self, user_id: int, active: bool, now: str) -> None:
        self._run("UPDATE users SET active = %s, updated_at = %s WHERE id = %s", [int(active), now, user_id])

    def set_password_hash(self, user_id: int, password_hash: str, now: str) -> None:
        self._run("UPDATE users SET password_hash = %s, updated_at = %s WHERE id = %s", [password_hash, now, user_id])

    def count_login_attempts(self, key: str, since: float) -> int:
        return self._one("SELECT count(*) FROM login_attempts WHERE key = %s AND at > %s", [key, since])[0]

    def add_login_attempt(self, key: str, at: float) -> None:
        self._run("INSERT INTO login_attempts (key, at) VALUES (%s, %s)", [key, at])

    def clear_login_attempts(self, key: str) -> None:
        self._run("DELETE FROM login_attempts WHERE key = %s", [key])

    def insert_session(self, token_hash: str, user_id: int, csrf_token: str, created_at: str, expires_at: str) -> None:
        self._run("INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) "
                  "VALUES (%s, %s, %s, %s, %s)", [token_hash, user_id, csrf_token, created_at, expires_at])

    def session_row(self, token_hash: str) -> dict | None:
        rows = self._dicts("SELECT u.*, s.csrf_token, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id "
                           "WHERE s.token_hash = %s", [token_hash])
        return rows[0] if rows else None

    def delete_session(self, token_hash: str) -> None:
        self._run("DELETE FROM sessions WHERE token_hash = %s", [token_hash])

    def delete_sessions_of(self, user_id: int) -> None:
        self._run("DELETE FROM sessions WHERE user_id = %s", [user_id])

    def delete_expired_sessions(self, now: str) -> None:
        self._run("DELETE FROM sessions WHERE expires_at < %s", [now])

    def insert_token(self, token_hash: str, name: str, user_id: int, created_at: str) -> None:
        self._run("INSERT INTO api_tokens (token_hash, name, user_id, created_at, revoked) VALUES (%s, %s, %s, %s, 0)",
                  [token_hash, name, user_id, created_at])

    def token_rows(self) -> list[dict]:
        return self._dicts("SELECT t.id, t.name, u.username, t.created_at, t.last_used_at, t.revoked "
                           "FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id")

    def token_row(self, token_hash: str) -> dict | None:
        rows = self._dicts("SELECT u.*, t.id AS token_id FROM api_tokens t JOIN users u ON u.id = t.user_id "
                           "WHERE t.token_hash = %s AND t.revoked = 0", [token_hash])
        return rows[0] if rows else None

    def revoke_token(self, token_id: int) -> bool:
        return self._run("UPDATE api_tokens SET revoked = 1 WHERE id = %s", [token_id]) > 0

    def revoke_tokens_of(self, user_id: int) -> None:
        self._run("UPDATE api_tokens SET revoked = 1 WHERE user_id = %s", [user_id])

    def touch_token(self, token_id: int, now: str) -> None:
        self._run("UPDATE api_tokens SET last_used_at = %s WHERE id = %s", [now, token_id])

    # -- search insights: the search log (kunskap/insights.py) ------------------------------------
    # As SQLite's: every aggregate in SQL, bounded by the period and a LIMIT.
    _QUERY_ORDER = {"searches": "count(*)", "zero": "count(*) FILTER (WHERE s.hits = 0)",
                    "few": "count(*) FILTER (WHERE s.hits BETWEEN 1 AND %(few)s)"}

    def record_searches(self, rows: Sequence[dict]) -> None:
        if not rows:
            return
        with self.transaction(), self._conn() as conn, conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO search_log (id, day, query, filters, hits, shown, source, theme) VALUES "
                "(%(id)s, %(day)s::date, %(query)s, %(filters)s::jsonb, %(hits)s, %(shown)s, %(source)s, %(theme)s) "
                "ON CONFLICT (id) DO NOTHING", rows)

    def record_clicks(self, rows: Sequence[dict]) -> None:
        """Clicks; one of a search not in the log, at a position it never showed, or repeated, is ignored."""
        if not rows:
            return
        with self.transaction(), self._conn() as conn, conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO search_clicks (search_id, position, doc_id, day) "
                "SELECT %(search_id)s, %(position)s, %(doc_id)s, %(day)s::date WHERE EXISTS "
                "(SELECT 1 FROM search_log WHERE id = %(search_id)s AND shown >= %(position)s) "
                "ON CONFLICT (search_id, position) DO NOTHING", rows)

    def prune_search_log(self, before: dt.date) -> tuple[int, int]:
        with self.transaction(), self._conn() as conn:
            clicks = conn.execute("DELETE FROM search_clicks WHERE day < %s OR search_id IN "
                                  "(SELECT id FROM search_log WHERE day < %s)", [before, before]).rowcount
            searches = conn.execute("DELETE FROM search_log WHERE day < %s", [before]).rowcount
        return searches, clicks

    def search_log_totals(self, since: dt.date, few_hits: int) -> dict:
        searches, zero, few, clicked = self._one(
            "SELECT count(*), count(*) FILTER (WHERE hits = 0), count(*) FILTER (WHERE hits BETWEEN 1 AND %s), "
            "count(*) FILTER (WHERE EXISTS (SELECT 1 FROM search_clicks c WHERE c.search_id = s.id)) "
            "FROM search_log s WHERE day >= %s", [few_hits, since])
        sources = dict(self._all("SELECT source, count(*) FROM search_log WHERE day >= %s GROUP BY source "
                                 "ORDER BY source LIMIT 10", [since]))
        return {"searches": searches, "zero": zero, "few": few, "clicked": clicked, "sources": sources}

    def search_queries(self, since: dt.date, order: str, min_searches: int, min_days: int, few_hits: int,
                       limit: int) -> list[dict]:
        key = self._QUERY_ORDER[order]
        rows = self._dicts(
            "SELECT s.query, count(*) AS searches, count(DISTINCT s.day) AS days, "
            "count(*) FILTER (WHERE s.hits = 0) AS zero, count(*) FILTER (WHERE s.hits BETWEEN 1 AND %(few)s) AS few, "
            "round(avg(s.hits), 1)::float8 AS mean_hits, "
            "count(*) FILTER (WHERE EXISTS (SELECT 1 FROM search_clicks c WHERE c.search_id = s.id)) AS clicked "
            "FROM search_log s WHERE s.day >= %(since)s GROUP BY s.query "
            f"HAVING count(*) >= %(min_searches)s AND count(DISTINCT s.day) >= %(min_days)s AND {key} > 0 "
            f"ORDER BY {key} DESC, s.query COLLATE \"C\" LIMIT %(limit)s",
            {"few": few_hits, "since": since, "min_searches": min_searches, "min_days": min_days, "limit": limit})
        return rows

    def rare_search_queries(self, since: dt.date, min_searches: int, min_days: int, few_hits: int) -> dict:
        row = self._one(
            "SELECT count(*), coalesce(sum(n), 0), coalesce(sum(z), 0), coalesce(sum(f), 0) FROM ("
            "SELECT count(*) AS n, count(DISTINCT day) AS d, count(*) FILTER (WHERE hits = 0) AS z, "
            "count(*) FILTER (WHERE hits BETWEEN 1 AND %s) AS f FROM search_log WHERE day >= %s GROUP BY query) q "
            "WHERE NOT (n >= %s AND d >= %s)", [few_hits, since, min_searches, min_days])
        return dict(zip(("queries", "searches", "zero", "few"), (int(v) for v in row)))

    def search_themes(self, since: dt.date, limit: int) -> list[dict]:
        rows = self._dicts(
            "SELECT theme, sum(filtered) AS filtered, sum(filtered_zero) AS filtered_zero, sum(in_hits) AS in_hits "
            "FROM (SELECT j.value AS theme, 1 AS filtered, (s.hits = 0)::int AS filtered_zero, 0 AS in_hits "
            "      FROM search_log s CROSS JOIN LATERAL "
            "      jsonb_array_elements_text(coalesce(s.filters -> 'theme', '[]'::jsonb)) AS j(value) "
            "      WHERE s.day >= %s "
            "      UNION ALL SELECT theme, 0, 0, 1 FROM search_log WHERE day >= %s AND theme IS NOT NULL) t "
            "GROUP BY theme ORDER BY sum(filtered) + sum(in_hits) DESC, theme COLLATE \"C\" LIMIT %s",
            [since, since, limit])
        return [{k: (int(v) if k != "theme" else v) for k, v in row.items()} for row in rows]

    def search_weeks(self, since: dt.date, few_hits: int) -> list[dict]:
        rows = self._dicts(
            "SELECT date_trunc('week', day)::date AS week, count(*) AS searches, "
            "count(*) FILTER (WHERE hits = 0) AS zero, count(*) FILTER (WHERE hits BETWEEN 1 AND %s) AS few "
            "FROM search_log WHERE day >= %s GROUP BY week ORDER BY week LIMIT 600", [few_hits, since])
        return [{**row, "week": row["week"].isoformat()} for row in rows]

    def search_click_positions(self, since: dt.date, max_position: int) -> list[dict]:
        by_shown = self._all("SELECT shown, count(*) FROM search_log WHERE day >= %s GROUP BY shown LIMIT 1000",
                             [since])
        clicked = dict(self._all(
            "SELECT c.position, count(*) FROM search_clicks c JOIN search_log s ON s.id = c.search_id "
            "WHERE s.day >= %s AND c.position <= %s GROUP BY c.position", [since, max_position]))
        return _positions(by_shown, clicked, max_position)
