"""The SQLite store: documents, chunks, FTS5 over analysed text, embedding cache, vocabulary.

All of this backend's SQL lives here (the interface is `base.Store`). The store does not rank; it
answers the questions the search pipeline asks (lexical candidates, documents by id, filtered id
sets, facet rows), compiling the search's `Filters` into SQL itself.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np
import sqlite_utils

from . import _sql
from .base import (
    JSON_COLUMNS,
    PUBLIC,
    REVISION_COLUMNS,
    ChunkRow,
    LEXICAL_BATCH,
    analysed_postings,
    batched,
    decode_row,
    impact_key,
    best_first,
    score_postings,
    single_terms,
    encode_record,
    lexical_tokens,
    click_positions as _positions,
    lexical_tokens,
)
from .base import now_iso as _now
from .sqlite_migrations import apply_migrations

if TYPE_CHECKING:   # a value object of the search package; imported for the annotation only
    from ..search.request import Filters

__all__ = ["JSON_COLUMNS", "PUBLIC", "ChunkRow", "SQLiteStore"]


def _placeholders(values) -> str:
    return ",".join("?" * len(values))


SQLITE_FILTERS = _sql.FilterDialect(
    placeholder="?", true="1", false="0",
    any_of=lambda column, values: (f"{column} IN ({_placeholders(values)})", list(values)),
    # themes is a JSON array of slugs: any of the wanted ones among them
    any_theme=lambda slugs: (f"EXISTS (SELECT 1 FROM json_each(documents.themes) WHERE value IN "
                             f"({_placeholders(slugs)}))", list(slugs)),
)


class SQLiteStore:
    """One SQLite database. Open one Store per thread (sqlite3 connections are per thread)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False)
        self.db = sqlite_utils.Database(conn)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        apply_migrations(self.db)

    def close(self) -> None:
        self.db.conn.close()

    @contextmanager
    def transaction(self):
        """One atomic write: BEGIN IMMEDIATE … COMMIT (ROLLBACK on error). sqlite-utils commits
        each write statement on its own unless a transaction is open, so writers open one here."""
        conn = self.db.conn
        if conn.in_transaction:
            yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def snapshot(self):
        """Reads inside see one consistent database state (a WAL read transaction)."""
        conn = self.db.conn
        if conn.in_transaction:
            yield
            return
        conn.execute("BEGIN")
        try:
            yield
        finally:
            conn.execute("COMMIT")

    # -- documents -------------------------------------------------------------------------
    _decode = staticmethod(decode_row)

    def document_states(self) -> dict[str, dict]:
        """id -> {content_hash, source_path, chunker_version} for change detection."""
        return {
            row["id"]: row
            for row in self.db.query("SELECT id, content_hash, source_path, chunker_version FROM documents")
        }

    def get_document(self, doc_id: str) -> dict | None:
        rows = list(self.db.query("SELECT * FROM documents WHERE id = ?", [doc_id]))
        return self._decode(rows[0]) if rows else None

    def get_documents(self, doc_ids: Sequence[str]) -> dict[str, dict]:
        if not doc_ids:
            return {}
        marks = ",".join("?" * len(doc_ids))
        return {
            row["id"]: self._decode(row)
            for row in self.db.query(f"SELECT * FROM documents WHERE id IN ({marks})", list(doc_ids))
        }

    def count_documents(self, public_only: bool = False) -> int:
        where = f" WHERE status = '{PUBLIC}'" if public_only else ""
        return self.db.execute(f"SELECT count(*) FROM documents{where}").fetchone()[0]

    def count_chunks(self) -> int:
        return self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]

    def replace_document(
        self,
        record: dict,
        chunks: Sequence[dict],
        fts_rows: Sequence[tuple[str, str]],
    ) -> tuple[list[int], list[int]]:
        """Insert or replace a document with its chunks, in one transaction.

        Returns (removed chunk ids, new chunk ids) so the caller can update the vector index."""
        record = encode_record(record)
        now = _now()
        with self.transaction():
            existing = self.db.execute("SELECT ingested_at FROM documents WHERE id = ?", [record["id"]]).fetchone()
            record["ingested_at"] = existing[0] if existing else now
            record["updated_at"] = now
            removed = self._delete_chunks(record["id"])
            # Plain SQL: sqlite-utils' upsert commits on its own, which would expose a document
            # without chunks to concurrent readers.
            columns = list(record)
            self.db.execute(
                f"INSERT INTO documents ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
                f"ON CONFLICT(id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in columns if c != 'id')}",
                [record[c] for c in columns],
            )
            new_ids = []
            for chunk, (fts_title, fts_body) in zip(chunks, fts_rows):
                cursor = self.db.execute(
                    "INSERT INTO chunks (doc_id, ord, text, heading, page, embed_text, embed_hash) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [record["id"], chunk["ord"], chunk["text"], chunk["heading"], chunk["page"],
                     chunk["embed_text"], chunk["embed_hash"]],
                )
                new_ids.append(cursor.lastrowid)
            self._insert_lexical([(cid, title, body) for cid, (title, body) in zip(new_ids, fts_rows)])
            self._bump_generation()
        return removed, new_ids

    def _delete_chunks(self, doc_id: str) -> list[int]:
        ids = [r[0] for r in self.db.execute("SELECT id FROM chunks WHERE doc_id = ?", [doc_id]).fetchall()]
        if ids:
            self._delete_lexical(ids)
            self.db.execute("DELETE FROM chunks WHERE doc_id = ?", [doc_id])
        return ids

    # -- lexical rows: the FTS5 row and its impact-ordered postings, written together ---------
    def _insert_lexical(self, rows: Sequence[tuple[int, str, str]]) -> None:
        """Lexical rows (chunk id, analysed title, analysed body): the FTS5 row, its postings, the
        terms' document frequencies and the totals. Inside the caller's transaction."""
        if not rows:
            return
        self.db.conn.executemany("INSERT INTO chunks_fts (rowid, title, body) VALUES (?, ?, ?)", rows)
        self._change_postings(rows, +1)

    def _delete_lexical(self, chunk_ids: Sequence[int]) -> None:
        rows = []
        for start in range(0, len(chunk_ids), 500):
            part = list(chunk_ids[start : start + 500])
            rows += self.db.execute(f"SELECT rowid, title, body FROM chunks_fts WHERE rowid IN ({_placeholders(part)})",
                                    part).fetchall()
            self.db.execute(f"DELETE FROM chunks_fts WHERE rowid IN ({_placeholders(part)})", part)
        self._change_postings(rows, -1)

    def _change_postings(self, rows: Sequence[tuple[int, str, str]], sign: int) -> None:
        postings, df, tokens = [], Counter(), 0
        for chunk_id, title, body in rows:
            length, terms = analysed_postings(title or "", body or "")
            tokens += length
            for term, title_tf, body_tf in terms:
                postings.append((term, impact_key(title_tf, body_tf, length), chunk_id, title_tf, body_tf, length))
                df[term] += 1
        conn = self.db.conn
        if sign > 0:
            conn.executemany("INSERT INTO lexical_postings VALUES (?, ?, ?, ?, ?, ?)", postings)
            conn.executemany("INSERT INTO lexical_terms (term, df) VALUES (?, ?) "
                             "ON CONFLICT(term) DO UPDATE SET df = df + excluded.df", df.items())
        else:
            conn.executemany("DELETE FROM lexical_postings WHERE term = ? AND impact = ? AND chunk_id = ?",
                             [p[:3] for p in postings])
            conn.executemany("UPDATE lexical_terms SET df = df - ? WHERE term = ?", [(n, t) for t, n in df.items()])
            conn.executemany("DELETE FROM lexical_terms WHERE term = ? AND df <= 0", [(t,) for t in df])
        conn.execute("UPDATE lexical_totals SET rows = rows + ?, tokens = tokens + ? WHERE id = 1",
                     [sign * len(rows), sign * tokens])

    def delete_document(self, doc_id: str) -> list[int]:
        with self.transaction():
            removed = self._delete_chunks(doc_id)
            self.db.execute("DELETE FROM documents WHERE id = ?", [doc_id])
            self._bump_generation()
        return removed

    def set_status(self, doc_id: str, status: str) -> None:
        with self.transaction():
            self.db.execute("UPDATE documents SET status = ?, updated_at = ? WHERE id = ?", [status, _now(), doc_id])
            self._bump_generation()

    # -- chunks ----------------------------------------------------------------------------
    def get_chunks(self, chunk_ids: Iterable[int]) -> dict[int, ChunkRow]:
        ids = list(chunk_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(
            f"SELECT id, doc_id, ord, text, heading, page FROM chunks WHERE id IN ({marks})", ids
        ).fetchall()
        return {r[0]: ChunkRow(*r) for r in rows}

    def chunks_of(self, doc_id: str) -> list[ChunkRow]:
        rows = self.db.execute(
            "SELECT id, doc_id, ord, text, heading, page FROM chunks WHERE doc_id = ? ORDER BY ord", [doc_id]
        ).fetchall()
        return [ChunkRow(*r) for r in rows]

    def embed_texts(self, chunk_ids: Sequence[int]) -> list[tuple[str, str]]:
        """(embed_hash, embed_text) of the given chunks."""
        out = []
        for start in range(0, len(chunk_ids), 500):
            part = list(chunk_ids[start : start + 500])
            marks = ",".join("?" * len(part))
            out.extend(self.db.execute(f"SELECT embed_hash, embed_text FROM chunks WHERE id IN ({marks})", part))
        return out

    def chunk_ids(self) -> list[int]:
        return [r[0] for r in self.db.execute("SELECT id FROM chunks ORDER BY id").fetchall()]

    def chunk_fingerprint(self) -> tuple[int, int, int]:
        """The same fingerprint as vectors.id_fingerprint, over the chunk ids in the database."""
        count, total, mixed = self.db.execute(
            "SELECT count(*), coalesce(sum(id), 0), coalesce(sum((id % 1000003) * (id % 999983)), 0) FROM chunks"
        ).fetchone()
        return int(count), int(total), int(mixed)

    def cached_chunk_fingerprint(self, model_id: str) -> tuple[int, int, int]:
        """The fingerprint of the chunks whose embedding is cached: what a complete vector index
        over the cache holds (chunks not yet embedded are left out while they are embedded)."""
        count, total, mixed = self.db.execute(
            "SELECT count(*), coalesce(sum(c.id), 0), coalesce(sum((c.id % 1000003) * (c.id % 999983)), 0) "
            "FROM chunks c JOIN embeddings e ON e.model_id = ? AND e.text_hash = c.embed_hash", [model_id]
        ).fetchone()
        return int(count), int(total), int(mixed)

    def chunk_doc_map(self) -> dict[int, str]:
        return dict(self.db.execute("SELECT id, doc_id FROM chunks").fetchall())

    # -- embedding cache -------------------------------------------------------------------
    def cached_vectors(self, model_id: str, hashes: Sequence[str], dimension: int) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), 500):
            part = unique[start : start + 500]
            marks = ",".join("?" * len(part))
            for text_hash, blob in self.db.execute(
                f"SELECT text_hash, vector FROM embeddings WHERE model_id = ? AND text_hash IN ({marks})",
                [model_id, *part],
            ):
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape[0] == dimension:
                    found[text_hash] = vector
        return found

    def put_vectors(self, model_id: str, vectors: dict[str, np.ndarray]) -> None:
        now = _now()
        with self.transaction():
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO embeddings (model_id, text_hash, vector, created_at) VALUES (?, ?, ?, ?)",
                [(model_id, h, np.asarray(v, dtype=np.float32).tobytes(), now) for h, v in vectors.items()],
            )

    def chunk_vectors(self, model_id: str, dimension: int, doc_id: str | None = None
                      ) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """(chunk ids, vectors) of every chunk (of one document, if given) whose embedding is
        cached, plus the ids of those that are not."""
        sql, params = _sql.chunk_vectors_query("?", model_id, doc_id)
        return _sql.split_cached(self.db.execute(sql, params).fetchall(), dimension)

    def unembedded_chunk_ids(self, model_id: str) -> list[int]:
        """Chunks whose embedding is not cached: ids only, no vector is read."""
        return [r[0] for r in self.db.execute(_sql.unembedded_query("?"), [model_id]).fetchall()]

    # -- revisions (what curation saved) ---------------------------------------------------
    def last_revision_id(self) -> int:
        return self.db.execute("SELECT coalesce(max(id), 0) FROM revisions").fetchone()[0]

    def revision_paths_since(self, revision_id: int) -> list[str]:
        """Corpus paths that curation saves touched after `revision_id`, oldest first."""
        rows = self.db.execute("SELECT path FROM revisions WHERE id > ? ORDER BY id", [revision_id]).fetchall()
        return list(dict.fromkeys(r[0] for r in rows))

    # -- the save journal ----------------------------------------------------------------
    REVISION_COLUMNS = REVISION_COLUMNS

    def begin_revision(self, row: dict, files: Sequence[tuple[str, bytes | None, str | None]]) -> int:
        """A pending revision and the files it is about to change: (path, previous content, sha256
        of the new content or None for a removal). Committed before any file is touched."""
        columns = [c for c in self.REVISION_COLUMNS if c in row]
        with self.transaction():
            cursor = self.db.execute(
                f"INSERT INTO revisions ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                [row[c] for c in columns])
            revision_id = cursor.lastrowid
            self.db.conn.executemany(
                "INSERT INTO pending_files (revision_id, path, previous, new_sha256) VALUES (?, ?, ?, ?)",
                [(revision_id, path, previous, new_sha) for path, previous, new_sha in files])
        return revision_id

    def end_revision(self, revision_id: int, state: str, error: str | None = None, note: str | None = None) -> None:
        """'done' (the save is in the index) or 'aborted' (it never took effect; kept for the record)."""
        with self.transaction():
            self.db.execute("UPDATE revisions SET state = ?, error = coalesce(?, error), note = coalesce(?, note) "
                            "WHERE id = ?", [state, error, note, revision_id])
            self.db.execute("DELETE FROM pending_files WHERE revision_id = ?", [revision_id])

    def pending_revisions(self) -> list[dict]:
        rows = list(self.db.query("SELECT id, doc_id, action, target, username FROM revisions "
                                  "WHERE state = 'pending' ORDER BY id"))
        for row in rows:
            row["files"] = [
                {"path": path, "previous": previous, "new_sha256": new_sha}
                for path, previous, new_sha in self.db.execute(
                    "SELECT path, previous, new_sha256 FROM pending_files WHERE revision_id = ? ORDER BY path",
                    [row["id"]])]
        return rows

    def revision_for_key(self, username: str, key: str) -> dict | None:
        rows = list(self.db.query("SELECT id, doc_id, state, error, action FROM revisions WHERE username = ? "
                                  "AND idempotency_key = ? AND state != 'aborted'", [username, key]))
        return rows[0] if rows else None

    def revision_state(self, revision_id: int) -> dict | None:
        rows = list(self.db.query("SELECT id, doc_id, state, error, action, created_at FROM revisions WHERE id = ?",
                                  [revision_id]))
        return rows[0] if rows else None

    # -- curation's reads: document list, titles, revision history ---------------------------
    def curation_documents(self, status: str | None = None) -> list[dict]:
        """Every document (or those with `status`) as curation lists them, last changed first."""
        where, params = ("status = ?", [status]) if status else ("1", [])
        return [self._decode(row) for row in self.db.query(
            "SELECT id, title, organisation, kind, status, year, themes, curation_notes, updated_at, source_path "
            f"FROM documents WHERE {where} ORDER BY updated_at DESC, id", params)]

    def document_titles(self) -> list[dict]:
        """{id, title, organisation} of every document, by id (what the duplicate checks compare)."""
        return list(self.db.query("SELECT id, title, organisation FROM documents ORDER BY id"))

    def revisions_of(self, doc_id: str) -> list[dict]:
        """A document's history, newest first; aborted saves never took effect and are left out."""
        return list(self.db.query(
            "SELECT id, doc_id, path, action, username, created_at, note, state FROM revisions WHERE doc_id = ? "
            "AND state != 'aborted' ORDER BY id DESC", [doc_id]))

    def get_revision(self, revision_id: int) -> dict | None:
        """One revision with the file contents it recorded (before and after)."""
        rows = list(self.db.query("SELECT * FROM revisions WHERE id = ?", [revision_id]))
        return rows[0] if rows else None

    def deletions_not_undone(self) -> list[dict]:
        """Completed deletes with no later revision of the same document (other than an aborted
        one), newest first: the candidates for undo."""
        return list(self.db.query(
            "SELECT r.id, r.doc_id, r.path, r.username, r.created_at FROM revisions r WHERE r.action = 'delete' "
            "AND r.state = 'done' AND NOT EXISTS (SELECT 1 FROM revisions later WHERE later.doc_id = r.doc_id "
            "AND later.id > r.id AND later.state != 'aborted') "
            "ORDER BY r.id DESC"))

    # -- vocabulary (decompounding lexicon, typo correction) -------------------------------
    def replace_vocabulary(self, counts: Counter) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM vocabulary")
            self.db.conn.executemany("INSERT INTO vocabulary (word, count) VALUES (?, ?)", counts.items())
            self._bump_generation()

    def adjust_vocabulary(self, delta: Counter) -> None:
        """Move the counts of the words in `delta` by it (a word at zero or below is dropped):
        what a live save changes, in O(its words) where replace_vocabulary rewrote every word."""
        changes = [(w, int(c)) for w, c in delta.items() if c]
        if not changes:
            return
        with self.transaction():
            self.db.conn.executemany(
                "INSERT INTO vocabulary (word, count) VALUES (?, ?) "
                "ON CONFLICT (word) DO UPDATE SET count = count + excluded.count", changes)
            self.db.conn.executemany("DELETE FROM vocabulary WHERE word = ? AND count <= 0",
                                     [(w,) for w, _ in changes])
            self._bump_generation()

    def vocabulary(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT word, count FROM vocabulary").fetchall())

    def vocabulary_counts(self, words: Sequence[str]) -> dict[str, int]:
        """The counts of these words (those not in the vocabulary left out)."""
        found: dict[str, int] = {}
        unique = list(dict.fromkeys(words))
        for start in range(0, len(unique), 500):
            part = unique[start : start + 500]
            found.update(self.db.execute(
                f"SELECT word, count FROM vocabulary WHERE word IN ({','.join('?' * len(part))})", part).fetchall())
        return found

    def replace_lexicon(self, words: Iterable[str]) -> None:
        """The decompounding lexicon the FTS rows are derived with (changed by full ingests only)."""
        with self.transaction():
            self.db.execute("DELETE FROM lexicon")
            self.db.conn.executemany("INSERT INTO lexicon (word) VALUES (?)", [(w,) for w in words])
            self._bump_generation()   # queries are analysed with it

    def lexicon(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT word FROM lexicon").fetchall()}

    def all_chunk_texts(self) -> Iterable[tuple[str, str]]:
        yield from self.db.execute(
            "SELECT d.title, c.text FROM chunks c JOIN documents d ON d.id = c.doc_id"
        ).fetchall()

    # -- lexical ---------------------------------------------------------------------------
    def fts_term(self, term: str, title_weight: float, limit: int) -> list[tuple[int, float]]:
        """At most `limit` chunks matching one analysed term, best first, with FTS5's BM25 (higher is
        better)."""
        return best_first(*self.term_postings(term, title_weight, limit))

    def term_postings(self, term: str, title_weight: float, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, BM25) of at most `limit` chunks matching one analysed term, read from the
        impact-ordered postings: the cost follows `limit`, not how many chunks hold the term."""
        tokens = lexical_tokens(term)
        postings, df, rows, total = [], 0, 0, 0
        if len(tokens) == 1:   # the analysis makes every term one token (FTS5 would read several as a phrase)
            with self.snapshot():
                df = self.term_document_frequency(tokens[0])
                if df:
                    rows, total = self.db.execute("SELECT rows, tokens FROM lexical_totals WHERE id = 1").fetchone()
                    postings = self.db.execute(
                        "SELECT chunk_id, title_tf, body_tf, length FROM lexical_postings WHERE term = ? "
                        "ORDER BY impact DESC, chunk_id LIMIT ?", [tokens[0], limit]).fetchall()
        return score_postings(postings, df, rows, total, title_weight)

    def postings_within(self, terms: Sequence[str], title_weight: float,
                        chunk_ids: Sequence[int]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """(chunk ids, BM25) of each term among the given chunks only, every one of them: what a
        selective filter reads instead of each term's best postings. From the chunks' analysed
        rows, so the cost follows the number of chunks, not the terms' posting lists."""
        wanted = single_terms(terms)
        found: dict[str, list] = {token: [] for token in wanted.values()}
        ids = [int(i) for i in chunk_ids]
        with self.snapshot():
            rows, total = self.db.execute("SELECT rows, tokens FROM lexical_totals WHERE id = 1").fetchone()
            df = {token: self.term_document_frequency(token) for token in found}
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                for chunk_id, title, body in self.db.execute(
                        f"SELECT rowid, title, body FROM chunks_fts WHERE rowid IN ({_placeholders(part)})", part):
                    title_tokens, body_tokens = lexical_tokens(title or ""), lexical_tokens(body or "")
                    length = len(title_tokens) + len(body_tokens)
                    for token, postings in found.items():
                        title_tf, body_tf = title_tokens.count(token), body_tokens.count(token)
                        if title_tf or body_tf:
                            postings.append((chunk_id, title_tf, body_tf, length))
        return {term: score_postings(found[token], df[token], rows, total, title_weight)
                for term, token in wanted.items()}

    def term_document_frequency(self, term: str) -> int:
        row = self.db.execute("SELECT df FROM lexical_terms WHERE term = ?", [term]).fetchone()
        return row[0] if row else 0

    def term_document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """Chunks matching each analysed term (term_document_frequency of many)."""
        return {term: self.term_document_frequency(term) for term in dict.fromkeys(terms)}

    def chunk_term_counts(self, chunk_ids: Sequence[int]) -> dict[int, Counter]:
        """The analysed terms of the given chunks' bodies (heading and text, not the title) with
        their counts, as FTS5 tokenises them; chunks without a lexical row are left out."""
        out: dict[int, Counter] = {}
        ids = [int(i) for i in chunk_ids]
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            for chunk_id, body in self.db.execute(f"SELECT rowid, body FROM chunks_fts WHERE rowid IN ({marks})", part):
                out[chunk_id] = Counter(lexical_tokens(body or ""))
        return out

    # -- filters and facets ----------------------------------------------------------------
    def filtered_document_ids(self, filters: Filters, public_only: bool = True) -> list[str]:
        where, params = _sql.filter_where(filters, public_only, SQLITE_FILTERS)
        return [r[0] for r in self.db.execute(_sql.FILTERED_IDS.format(where=where), params).fetchall()]

    def document_facet_rows(self, filters: Filters, public_only: bool = True) -> list[dict]:
        """The facet columns of the documents passing `filters`, themes decoded, with the dates
        that order a feed or an export (published, updated_at)."""
        where, params = _sql.filter_where(filters, public_only, SQLITE_FILTERS)
        return [self._decode(row) for row in self.db.query(_sql.FACET_ROWS.format(where=where), params)]

    def chunk_ids_for_documents(self, doc_ids: Sequence[str]) -> np.ndarray:
        ids: list[int] = []
        for start in range(0, len(doc_ids), 500):
            part = list(doc_ids[start : start + 500])
            marks = ",".join("?" * len(part))
            ids.extend(r[0] for r in self.db.execute(f"SELECT id FROM chunks WHERE doc_id IN ({marks})", part))
        return np.asarray(ids, dtype=np.int64)

    # -- lexical rows re-derived (a changed decompounding lexicon) -------------------------
    def lexical_sources(self) -> list[tuple[int, str | None, str, str, str]]:
        """(chunk id, heading, text, document title, organisation) of every chunk: what its
        FTS row is analysed from."""
        return self.db.execute(
            "SELECT c.id, c.heading, c.text, d.title, d.organisation FROM chunks c JOIN documents d ON d.id = c.doc_id"
        ).fetchall()

    def replace_lexical_rows(self, rows: Iterable[tuple[int, str, str]]) -> None:
        """Every FTS row replaced by (chunk id, analysed title, analysed body), in one transaction."""
        with self.transaction():
            self.db.execute("DELETE FROM chunks_fts")
            self.db.execute("DELETE FROM lexical_postings")
            self.db.execute("DELETE FROM lexical_terms")
            self.db.execute("UPDATE lexical_totals SET rows = 0, tokens = 0 WHERE id = 1")
            for batch in batched(rows, LEXICAL_BATCH):   # postings of a million rows do not fit in memory at once
                self._insert_lexical(batch)
            self._bump_generation()

    # -- change generation -----------------------------------------------------------------
    def change_generation(self) -> int:
        """A counter raised by every write to what searches read (documents, chunks, lexical
        rows, vocabulary): equal values mean the same searchable contents."""
        return self.db.execute("SELECT generation FROM change_generation WHERE id = 1").fetchone()[0]

    def _bump_generation(self) -> None:
        self.db.execute("UPDATE change_generation SET generation = generation + 1 WHERE id = 1")

    # -- accounts, sessions, API tokens, login attempts -------------------------------------
    def insert_user(self, username: str, display_name: str, password_hash: str, now: str) -> None:
        with self.transaction():
            self.db.execute("INSERT INTO users (username, display_name, password_hash, active, created_at, updated_at) "
                            "VALUES (?, ?, ?, 1, ?, ?)", [username, display_name, password_hash, now, now])

    def user_row(self, username: str) -> dict | None:
        rows = list(self.db.query("SELECT * FROM users WHERE username = ?", [username]))
        return rows[0] if rows else None

    def user_rows(self) -> list[dict]:
        return list(self.db.query("SELECT * FROM users ORDER BY username"))

    def set_user_active(self, user_id: int, active: bool, now: str) -> None:
        with self.transaction():
            self.db.execute("UPDATE users SET active = ?, updated_at = ? WHERE id = ?", [int(active), now, user_id])

    def set_password_hash(self, user_id: int, password_hash: str, now: str) -> None:
        with self.transaction():
            self.db.execute("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?",
                            [password_hash, now, user_id])

    def count_login_attempts(self, key: str, since: float) -> int:
        return self.db.execute("SELECT count(*) FROM login_attempts WHERE key = ? AND at > ?", [key, since]).fetchone()[0]

    def add_login_attempt(self, key: str, at: float) -> None:
        with self.transaction():
            self.db.execute("INSERT INTO login_attempts (key, at) VALUES (?, ?)", [key, at])

    def clear_login_attempts(self, key: str) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM login_attempts WHERE key = ?", [key])

    def insert_session(self, token_hash: str, user_id: int, csrf_token: str, created_at: str, expires_at: str) -> None:
        with self.transaction():
            self.db.execute("INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) "
                            "VALUES (?, ?, ?, ?, ?)", [token_hash, user_id, csrf_token, created_at, expires_at])

    def session_row(self, token_hash: str) -> dict | None:
        """The session's user row with `csrf_token` and `expires_at`."""
        rows = list(self.db.query(
            "SELECT u.*, s.csrf_token, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id "
            "WHERE s.token_hash = ?", [token_hash]))
        return rows[0] if rows else None

    def delete_session(self, token_hash: str) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM sessions WHERE token_hash = ?", [token_hash])

    def delete_sessions_of(self, user_id: int) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM sessions WHERE user_id = ?", [user_id])

    def delete_expired_sessions(self, now: str) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM sessions WHERE expires_at < ?", [now])

    def insert_token(self, token_hash: str, name: str, user_id: int, created_at: str) -> None:
        with self.transaction():
            self.db.execute("INSERT INTO api_tokens (token_hash, name, user_id, created_at, revoked) "
                            "VALUES (?, ?, ?, ?, 0)", [token_hash, name, user_id, created_at])

    def token_rows(self) -> list[dict]:
        return list(self.db.query(
            "SELECT t.id, t.name, u.username, t.created_at, t.last_used_at, t.revoked "
            "FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id"))

    def token_row(self, token_hash: str) -> dict | None:
        """The user row of an unrevoked token, with `token_id`."""
        rows = list(self.db.query(
            "SELECT u.*, t.id AS token_id FROM api_tokens t JOIN users u ON u.id = t.user_id "
            "WHERE t.token_hash = ? AND t.revoked = 0", [token_hash]))
        return rows[0] if rows else None

    def revoke_token(self, token_id: int) -> bool:
        """False when there is no such token."""
        with self.transaction():
            return self.db.execute("UPDATE api_tokens SET revoked = 1 WHERE id = ?", [token_id]).rowcount > 0

    def revoke_tokens_of(self, user_id: int) -> None:
        with self.transaction():
            self.db.execute("UPDATE api_tokens SET revoked = 1 WHERE user_id = ?", [user_id])

    def touch_token(self, token_id: int, now: str) -> None:
        with self.transaction():
            self.db.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", [now, token_id])

    # -- search insights: the search log (kunskap/insights.py) --------------------------------
    # Every aggregate is computed here, bounded by the period and a LIMIT: the log is never read
    # whole into Python. Days are ISO dates (text), so they compare as dates.
    _QUERY_ORDER = {"searches": "count(*)", "zero": "sum(s.hits = 0)", "few": "sum(s.hits BETWEEN 1 AND :few)"}

    def record_searches(self, rows: Sequence[dict]) -> None:
        """Searches (id, day, query, filters JSON, hits, shown, source, theme) added to the log."""
        with self.transaction():
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO search_log (id, day, query, filters, hits, shown, source, theme) "
                "VALUES (:id, :day, :query, :filters, :hits, :shown, :source, :theme)", rows)

    def record_clicks(self, rows: Sequence[dict]) -> None:
        """Clicks (search_id, position, doc_id, day); one whose search is not in the log, or whose
        position that search never showed, is ignored (a tampered link), as is a repeated one."""
        with self.transaction():
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO search_clicks (search_id, position, doc_id, day) "
                "SELECT :search_id, :position, :doc_id, :day WHERE EXISTS "
                "(SELECT 1 FROM search_log WHERE id = :search_id AND shown >= :position)", rows)

    def prune_search_log(self, before: dt.date) -> tuple[int, int]:
        """Searches and clicks of days before `before` deleted: (searches, clicks) removed."""
        day = before.isoformat()
        with self.transaction():
            clicks = self.db.execute("DELETE FROM search_clicks WHERE day < ? OR search_id IN "
                                     "(SELECT id FROM search_log WHERE day < ?)", [day, day]).rowcount
            searches = self.db.execute("DELETE FROM search_log WHERE day < ?", [day]).rowcount
        return searches, clicks

    def search_log_totals(self, since: dt.date, few_hits: int) -> dict:
        """Searches since `since`: how many, with no hits, with 1..few_hits, with a click; per source."""
        day = since.isoformat()
        searches, zero, few, clicked = self.db.execute(
            "SELECT count(*), coalesce(sum(hits = 0), 0), coalesce(sum(hits BETWEEN 1 AND ?), 0), "
            "coalesce(sum(EXISTS (SELECT 1 FROM search_clicks c WHERE c.search_id = s.id)), 0) "
            "FROM search_log s WHERE day >= ?", [few_hits, day]).fetchone()
        sources = dict(self.db.execute("SELECT source, count(*) FROM search_log WHERE day >= ? GROUP BY source "
                                       "ORDER BY source LIMIT 10", [day]).fetchall())
        return {"searches": searches, "zero": zero, "few": few, "clicked": clicked, "sources": sources}

    def search_queries(self, since: dt.date, order: str, min_searches: int, min_days: int, few_hits: int,
                       limit: int) -> list[dict]:
        """Queries searched at least `min_searches` times on at least `min_days` days since
        `since`, with their counts, most first by `order` (searches, zero or few; only queries
        with some), at most `limit`."""
        key = self._QUERY_ORDER[order]
        return list(self.db.query(
            "SELECT s.query, count(*) AS searches, count(DISTINCT s.day) AS days, sum(s.hits = 0) AS zero, "
            "sum(s.hits BETWEEN 1 AND :few) AS few, round(avg(s.hits), 1) AS mean_hits, "
            "sum(EXISTS (SELECT 1 FROM search_clicks c WHERE c.search_id = s.id)) AS clicked "
            "FROM search_log s WHERE s.day >= :since GROUP BY s.query "
            f"HAVING count(*) >= :min_searches AND count(DISTINCT s.day) >= :min_days AND {key} > 0 "
            f"ORDER BY {key} DESC, s.query LIMIT :limit",
            {"few": few_hits, "since": since.isoformat(), "min_searches": min_searches, "min_days": min_days,
             "limit": limit}))

    def rare_search_queries(self, since: dt.date, min_searches: int, min_days: int, few_hits: int) -> dict:
        """Counts only, over the queries below the threshold of `search_queries`: how many
        queries, their searches, and of these with no hits and with 1..few_hits."""
        row = self.db.execute(
            "SELECT count(*), coalesce(sum(n), 0), coalesce(sum(z), 0), coalesce(sum(f), 0) FROM ("
            "SELECT count(*) AS n, count(DISTINCT day) AS d, sum(hits = 0) AS z, sum(hits BETWEEN 1 AND ?) AS f "
            "FROM search_log WHERE day >= ? GROUP BY query) WHERE NOT (n >= ? AND d >= ?)",
            [few_hits, since.isoformat(), min_searches, min_days]).fetchone()
        return dict(zip(("queries", "searches", "zero", "few"), row))

    def search_themes(self, since: dt.date, limit: int) -> list[dict]:
        """Per theme: searches filtered by it (and of these with no hits), and searches whose
        hits were mostly of it."""
        day = since.isoformat()
        return list(self.db.query(
            "SELECT theme, sum(filtered) AS filtered, sum(filtered_zero) AS filtered_zero, sum(in_hits) AS in_hits "
            "FROM (SELECT j.value AS theme, 1 AS filtered, s.hits = 0 AS filtered_zero, 0 AS in_hits "
            "      FROM search_log s, json_each(s.filters, '$.theme') j WHERE s.day >= ? "
            "      UNION ALL SELECT theme, 0, 0, 1 FROM search_log WHERE day >= ? AND theme IS NOT NULL) "
            "GROUP BY theme ORDER BY sum(filtered) + sum(in_hits) DESC, theme LIMIT ?", [day, day, limit]))

    def search_weeks(self, since: dt.date, few_hits: int) -> list[dict]:
        """Per week (its Monday, ISO date) since `since`: searches, with no hits, with 1..few_hits."""
        return list(self.db.query(
            "SELECT date(day, 'weekday 0', '-6 days') AS week, count(*) AS searches, sum(hits = 0) AS zero, "
            "sum(hits BETWEEN 1 AND ?) AS few FROM search_log WHERE day >= ? GROUP BY week ORDER BY week LIMIT 600",
            [few_hits, since.isoformat()]))

    def search_click_positions(self, since: dt.date, max_position: int) -> list[dict]:
        """For positions 1..max_position: searches that showed a result there, and those whose
        result there was clicked."""
        day = since.isoformat()
        by_shown = self.db.execute("SELECT shown, count(*) FROM search_log WHERE day >= ? GROUP BY shown LIMIT 1000",
                                   [day]).fetchall()
        clicked = dict(self.db.execute(
            "SELECT c.position, count(*) FROM search_clicks c JOIN search_log s ON s.id = c.search_id "
            "WHERE s.day >= ? AND c.position <= ? GROUP BY c.position", [day, max_position]).fetchall())
        return _positions(by_shown, clicked, max_position)



Store = SQLiteStore   # the name before there was a second backend
