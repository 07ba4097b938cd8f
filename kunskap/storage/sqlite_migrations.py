"""Schema migrations for the SQLite store, applied in order when the store opens.

Each migration is a function `mNNN_name(db)`; applied names are recorded in `_migrations`
(the pattern of simonw/llm's embeddings_migrations.py). Never edit an applied migration:
add a new one.
"""

from __future__ import annotations

import datetime as dt

import sqlite_utils

MIGRATIONS = []


def migration(fn):
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_initial(db: sqlite_utils.Database):
    db["documents"].create(
        {
            "id": str, "title": str, "organisation": str, "organisation_type": str, "county": str,
            "kind": str, "themes": str, "tags": str, "year": int, "published": str, "summary": str,
            "source_url": str, "contact": str, "language": str, "status": str, "body": str,
            "extra": str, "source_path": str, "content_hash": str, "chunker_version": int,
            "curation_notes": str, "ingested_at": str, "updated_at": str,
        },
        pk="id",
    )
    db.execute(
        """CREATE TABLE chunks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,  -- = FAISS id; never reused
            doc_id TEXT NOT NULL REFERENCES documents(id),
            ord INTEGER NOT NULL,
            text TEXT NOT NULL,
            heading TEXT,
            page INTEGER,
            embed_text TEXT NOT NULL,
            embed_hash TEXT NOT NULL
        )"""
    )
    db["chunks"].create_index(["doc_id"])
    # Analysed text (stems + compound parts); å/ä/ö are letters, not accents.
    db.execute(
        "CREATE VIRTUAL TABLE chunks_fts USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 0')"
    )
    db["embeddings"].create(
        {"model_id": str, "text_hash": str, "vector": bytes, "created_at": str},
        pk=("model_id", "text_hash"),
    )
    db["vocabulary"].create({"word": str, "count": int}, pk="word")
    for column in ("organisation", "county", "kind", "year", "status"):
        db["documents"].create_index([column])


def apply_migrations(db: sqlite_utils.Database) -> None:
    if "_migrations" not in db.table_names():
        db["_migrations"].create({"name": str, "applied_at": str}, pk="name")
    applied = {row["name"] for row in db["_migrations"].rows}
    for fn in MIGRATIONS:
        if fn.__name__ in applied:
            continue
        db.conn.execute("BEGIN IMMEDIATE")   # all of a migration, or none of it
        try:
            fn(db)
            db["_migrations"].insert({"name": fn.__name__, "applied_at": dt.datetime.now(dt.UTC).isoformat()})
        except BaseException:
            db.conn.execute("ROLLBACK")
            raise
        db.conn.execute("COMMIT")


@migration
def m002_curation(db: sqlite_utils.Database):
    db["users"].create(
        {"id": int, "username": str, "display_name": str, "password_hash": str, "active": int,
         "created_at": str, "updated_at": str},
        pk="id", not_null={"username", "password_hash"},
    )
    db["users"].create_index(["username"], unique=True)
    db["sessions"].create(
        {"token_hash": str, "user_id": int, "csrf_token": str, "created_at": str, "expires_at": str},
        pk="token_hash", foreign_keys=[("user_id", "users", "id")],
    )
    db["api_tokens"].create(
        {"id": int, "token_hash": str, "name": str, "user_id": int, "created_at": str,
         "last_used_at": str, "revoked": int},
        pk="id", foreign_keys=[("user_id", "users", "id")],
    )
    db["api_tokens"].create_index(["token_hash"], unique=True)
    db["login_attempts"].create({"key": str, "at": float})
    db["login_attempts"].create_index(["key", "at"])
    # One row per save: who, when, what, and the full previous and new versions of the file(s).
    db["revisions"].create(
        {"id": int, "doc_id": str, "path": str, "action": str, "username": str, "created_at": str,
         "previous_content": bytes, "previous_sidecar": bytes, "content": bytes, "sidecar": bytes,
         "note": str},
        pk="id",
    )
    db["revisions"].create_index(["doc_id", "id"])


@migration
def m003_save_journal(db: sqlite_utils.Database):
    """Curation saves are journalled: the revision row is written first as 'pending', with the
    files it is about to change and their previous contents, and marked 'done' once the index
    has it. A crash in between is rolled forward or back at the next start (Curator.recover)."""
    db.execute("ALTER TABLE revisions ADD COLUMN state TEXT NOT NULL DEFAULT 'done'")
    db.execute("ALTER TABLE revisions ADD COLUMN target TEXT")          # the document file to ingest
    db.execute("ALTER TABLE revisions ADD COLUMN error TEXT")
    db.execute("ALTER TABLE revisions ADD COLUMN idempotency_key TEXT")
    db.execute("CREATE INDEX revisions_state ON revisions(state) WHERE state != 'done'")
    db.execute("CREATE UNIQUE INDEX revisions_idempotency ON revisions(username, idempotency_key) "
               "WHERE idempotency_key IS NOT NULL AND state != 'aborted'")
    db.execute(
        """CREATE TABLE pending_files (
            revision_id INTEGER NOT NULL REFERENCES revisions(id),
            path TEXT NOT NULL,               -- relative to the corpus
            previous BLOB,                    -- the content before the save (NULL: there was none)
            new_sha256 TEXT,                  -- the content after it (NULL: the file is removed)
            PRIMARY KEY (revision_id, path)
        )"""
    )


@migration
def m004_fts_lexicon(db: sqlite_utils.Database):
    """The decompounding lexicon the FTS rows were derived with, kept apart from the vocabulary:
    live saves update the vocabulary (typo correction must know their words) but analyse with
    this lexicon, and the next full ingest re-derives the FTS rows when the corpus's lexicon
    differs from it. Seeded with the words the analyzer used so far (vocabulary count >= 2)."""
    db["lexicon"].create({"word": str}, pk="word")
    db.execute("INSERT INTO lexicon (word) SELECT word FROM vocabulary WHERE count >= 2")


@migration
def m005_change_generation(db: sqlite_utils.Database):
    """A counter raised by every write to the searchable contents (`Store.change_generation`).
    IF NOT EXISTS: development databases of the storage branch have it as m004_change_generation."""
    db.execute("CREATE TABLE IF NOT EXISTS change_generation "
               "(id INTEGER PRIMARY KEY CHECK (id = 1), generation INTEGER NOT NULL)")
    db.execute("INSERT OR IGNORE INTO change_generation (id, generation) VALUES (1, 0)")


@migration
def m006_search_log(db: sqlite_utils.Database):
    """The search insights' log (kunskap/insights.py): one row per search, one per click on a
    result. Nothing that identifies a person: the day only (no time, which would link a search
    to a person's visit), the normalised query, never an address, cookie or user agent. `id` is
    random per search and serves only to tie a click to its search."""
    db.execute(
        """CREATE TABLE search_log (
            id TEXT PRIMARY KEY,           -- random, per search
            day TEXT NOT NULL,             -- YYYY-MM-DD
            query TEXT NOT NULL,           -- normalised: lower case, whitespace collapsed
            filters TEXT NOT NULL,         -- canonical JSON, {} without filters
            hits INTEGER NOT NULL,         -- the hit set's size (results.total)
            shown INTEGER NOT NULL,        -- results on the first page
            source TEXT NOT NULL,          -- api | page | embed
            theme TEXT                     -- the theme most of the hits have, if any
        )"""
    )
    db.execute("CREATE INDEX search_log_day ON search_log (day)")
    db.execute("CREATE INDEX search_log_query ON search_log (query, day)")
    db.execute(
        """CREATE TABLE search_clicks (
            search_id TEXT NOT NULL REFERENCES search_log(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,     -- 1 = the first result
            doc_id TEXT NOT NULL,
            day TEXT NOT NULL,
            PRIMARY KEY (search_id, position)
        )"""
    )
    db.execute("CREATE INDEX search_clicks_day ON search_clicks (day)")


@migration
def m007_lexical_postings(db: sqlite_utils.Database):
    """Impact-ordered postings beside the FTS5 table, so that a search reads a common term's best
    rows without scoring every row that holds it (FTS5's `ORDER BY bm25() LIMIT n` computes BM25
    for all of them: its cost followed the corpus). Per term and chunk the term frequencies in
    the title and body and the row's length, in the order of `base.impact_key`; per term its
    document frequency, and the totals BM25 needs. Derived from the FTS rows already stored."""
    from .base import analysed_postings, impact_key

    db.execute(
        """CREATE TABLE lexical_postings (
            term TEXT NOT NULL,
            impact REAL NOT NULL,          -- base.impact_key: the order within the term
            chunk_id INTEGER NOT NULL,
            title_tf INTEGER NOT NULL,
            body_tf INTEGER NOT NULL,
            length INTEGER NOT NULL,       -- the row's length in tokens (title and body)
            PRIMARY KEY (term, impact DESC, chunk_id)
        ) WITHOUT ROWID"""
    )
    db.execute("CREATE TABLE lexical_terms (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID")
    db.execute("CREATE TABLE lexical_totals (id INTEGER PRIMARY KEY CHECK (id = 1), "
               "rows INTEGER NOT NULL, tokens INTEGER NOT NULL)")
    rows = tokens = 0
    df: dict[str, int] = {}
    cursor = db.conn.execute("SELECT rowid, title, body FROM chunks_fts")
    while batch := cursor.fetchmany(2000):   # a million rows' postings do not fit in memory at once
        postings = []
        for chunk_id, title, body in batch:
            length, terms = analysed_postings(title or "", body or "")
            rows, tokens = rows + 1, tokens + length
            for term, title_tf, body_tf in terms:
                postings.append((term, impact_key(title_tf, body_tf, length), chunk_id, title_tf, body_tf, length))
                df[term] = df.get(term, 0) + 1
        db.conn.executemany("INSERT INTO lexical_postings VALUES (?, ?, ?, ?, ?, ?)", postings)
    db.conn.executemany("INSERT INTO lexical_terms VALUES (?, ?)", df.items())
    db.execute("INSERT INTO lexical_totals VALUES (1, ?, ?)", [rows, tokens])
