"""Moving a knowledge base from SQLite into PostgreSQL (`kunskap migrate-to`).

Everything the SQLite file holds is copied in one PostgreSQL transaction: documents, chunks
(with their ids, so nothing that names a chunk changes), the lexical rows as FTS5 holds them
(counted into postings the way the PostgreSQL store counts them), the embedding cache,
vocabulary, the decompounding lexicon, accounts, sessions, API tokens, login attempts, the revision history with any
pending save, and the search insights' log. The target must be empty; a failure leaves it as it was. The vectors are then
rebuilt from the copied embedding cache by the knowledge base (no text is embedded again).
"""

from __future__ import annotations

from ..errors import KunskapError
from .postgres import JSONB_COLUMNS, PostgresStore
from .sqlite import SQLiteStore

# (table, columns, identity column or None), in an order that satisfies the foreign keys.
TABLES = [
    ("documents", ("id", "title", "organisation", "organisation_type", "county", "kind", "themes", "tags", "year",
                   "published", "summary", "source_url", "contact", "language", "status", "body", "extra",
                   "source_path", "content_hash", "chunker_version", "curation_notes", "ingested_at", "updated_at"),
     None),
    ("chunks", ("id", "doc_id", "ord", "text", "heading", "page", "embed_text", "embed_hash"), "id"),
    ("embeddings", ("model_id", "text_hash", "vector", "created_at"), None),
    ("vocabulary", ("word", "count"), None),
    ("lexicon", ("word",), None),
    ("users", ("id", "username", "display_name", "password_hash", "active", "created_at", "updated_at"), "id"),
    ("sessions", ("token_hash", "user_id", "csrf_token", "created_at", "expires_at"), None),
    ("api_tokens", ("id", "token_hash", "name", "user_id", "created_at", "last_used_at", "revoked"), "id"),
    ("login_attempts", ("key", "at"), None),
    ("revisions", ("id", "doc_id", "path", "action", "username", "created_at", "previous_content",
                   "previous_sidecar", "content", "sidecar", "note", "state", "target", "error", "idempotency_key"),
     "id"),
    ("pending_files", ("revision_id", "path", "previous", "new_sha256"), None),
    ("search_log", ("id", "day", "query", "filters", "hits", "shown", "source", "theme"), None),
    ("search_clicks", ("search_id", "position", "doc_id", "day"), None),
]
JSON_TEXT = {("documents", c) for c in JSONB_COLUMNS} | {("search_log", "filters")}   # JSON text -> jsonb


class MigrationError(KunskapError):
    code = "migration_refused"


def copy_sqlite_to_postgres(source: SQLiteStore, target: PostgresStore, batch: int = 2000) -> dict[str, int]:
    """Copy every row of `source` into the empty `target`; returns the rows copied per table."""
    counts: dict[str, int] = {}
    with target.transaction(), target._conn() as conn:
        held = [t for t in ("documents", "users", "revisions", "embeddings")
                if conn.execute(f"SELECT EXISTS (SELECT 1 FROM {t})").fetchone()[0]]
        if held:
            raise MigrationError(f"Databasen {target.shown_url} är inte tom (den har redan {', '.join(held)}): "
                                 "flytta till en tom databas eller ett tomt schema. Ingenting har ändrats.")
        for table, columns, identity in TABLES:
            values = ", ".join("%s::jsonb" if (table, c) in JSON_TEXT else "%s" for c in columns)
            overriding = " OVERRIDING SYSTEM VALUE" if identity else ""
            insert = f"INSERT INTO {table} ({', '.join(columns)}){overriding} VALUES ({values})"
            cursor = source.db.conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid")
            counts[table] = 0
            with conn.cursor() as writer:
                while rows := cursor.fetchmany(batch):
                    writer.executemany(insert, rows)
                    counts[table] += len(rows)
            if identity:   # new rows continue after the copied ids, which are never reused
                conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{identity}'), "
                             f"greatest((SELECT max({identity}) FROM {table}), 1), "
                             f"(SELECT max({identity}) FROM {table}) IS NOT NULL)")
        lexical = source.db.conn.execute("SELECT rowid, title, body FROM chunks_fts ORDER BY rowid").fetchall()
        target._insert_lexical(conn, lexical)
        counts["lexical_rows"] = len(lexical)
        target._changed(conn)
    return counts
