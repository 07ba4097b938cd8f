"""Schema migrations for the PostgreSQL store, applied in order when the store opens.

As for SQLite (`sqlite_migrations`): each migration is a function `mNNN_name(conn)`, applied
names are recorded (here in `schema_migrations`), and an applied migration is never edited.
All pending migrations run in one transaction under an advisory lock, so several servers that
start at once apply them once; a database holding a migration this code does not know was
upgraded by a newer release and is refused (`SchemaVersionError`) before anything is changed.

The tables live in the connection's current schema (`search_path`), so one database can hold
several knowledge bases, one per schema.
"""

from __future__ import annotations

import datetime as dt

from ..errors import SchemaVersionError, StorageUnavailableError

MIGRATIONS = []
MIGRATION_LOCK = 0x6B756E01   # advisory lock namespace "kun\x01": schema changes (second key: the schema)


def migration(fn):
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_initial(conn) -> None:
    conn.execute("""
        CREATE TABLE documents (
            id text PRIMARY KEY, title text, organisation text, organisation_type text, county text,
            kind text, themes jsonb, tags jsonb, year integer, published text, summary text,
            source_url text, contact text, language text, status text, body text, extra jsonb,
            source_path text, content_hash text, chunker_version integer, curation_notes jsonb,
            ingested_at text, updated_at text
        )""")
    for column in ("organisation", "county", "kind", "year", "status"):
        conn.execute(f"CREATE INDEX documents_{column} ON documents ({column})")
    conn.execute("CREATE INDEX documents_themes ON documents USING gin (themes)")
    conn.execute("""
        CREATE TABLE chunks (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- = vector id; never reused
            doc_id text NOT NULL REFERENCES documents(id),
            ord integer NOT NULL,
            text text NOT NULL,
            heading text,
            page integer,
            embed_text text NOT NULL,
            embed_hash text NOT NULL
        )""")
    conn.execute("CREATE INDEX chunks_doc_id ON chunks (doc_id)")
    # What SQLite's FTS5 table holds, analysed in Python alike: per chunk its length in tokens
    # (title and body), per term and chunk its frequency in each column. BM25 is computed in SQL.
    conn.execute("""
        CREATE TABLE lexical_rows (
            chunk_id bigint PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
            length integer NOT NULL
        )""")
    conn.execute("""
        CREATE TABLE lexical_postings (
            term text NOT NULL,
            chunk_id bigint NOT NULL REFERENCES lexical_rows(chunk_id) ON DELETE CASCADE,
            title_tf integer NOT NULL,
            body_tf integer NOT NULL,
            length integer NOT NULL,        -- the row's length, here so that scoring needs no join
            PRIMARY KEY (term, chunk_id)
        )""")
    conn.execute("CREATE INDEX lexical_postings_chunk ON lexical_postings (chunk_id)")
    # One row: the change generation (raised by every write to searchable contents) and the
    # totals BM25 needs (rows, tokens), kept with the writes that change them.
    conn.execute("""
        CREATE TABLE store_state (
            id integer PRIMARY KEY CHECK (id = 1),
            generation bigint NOT NULL,
            lexical_rows bigint NOT NULL,
            lexical_tokens bigint NOT NULL
        )""")
    conn.execute("INSERT INTO store_state VALUES (1, 0, 0, 0)")
    conn.execute("""
        CREATE TABLE embeddings (
            model_id text NOT NULL, text_hash text NOT NULL, vector bytea NOT NULL, created_at text,
            PRIMARY KEY (model_id, text_hash)
        )""")
    conn.execute("CREATE TABLE vocabulary (word text PRIMARY KEY, count integer NOT NULL)")
    # The vector index's manifest: which model and chunker the chunk_vectors table holds (that
    # table is created with the model's dimension when the index is first built).
    conn.execute("""
        CREATE TABLE vector_index (
            id integer PRIMARY KEY CHECK (id = 1),
            model_id text NOT NULL, dimension integer NOT NULL, chunker_version integer NOT NULL,
            package_version text NOT NULL, built_at text NOT NULL
        )""")
    conn.execute("""
        CREATE TABLE users (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, username text NOT NULL UNIQUE,
            display_name text, password_hash text NOT NULL, active integer, created_at text, updated_at text
        )""")
    conn.execute("""
        CREATE TABLE sessions (
            token_hash text PRIMARY KEY, user_id bigint REFERENCES users(id), csrf_token text,
            created_at text, expires_at text
        )""")
    conn.execute("""
        CREATE TABLE api_tokens (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, token_hash text UNIQUE, name text,
            user_id bigint REFERENCES users(id), created_at text, last_used_at text, revoked integer
        )""")
    conn.execute("CREATE TABLE login_attempts (key text, at double precision)")
    conn.execute("CREATE INDEX login_attempts_key_at ON login_attempts (key, at)")
    conn.execute("""
        CREATE TABLE revisions (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, doc_id text, path text, action text,
            username text, created_at text, previous_content bytea, previous_sidecar bytea, content bytea,
            sidecar bytea, note text, state text NOT NULL DEFAULT 'done', target text, error text,
            idempotency_key text
        )""")
    conn.execute("CREATE INDEX revisions_doc ON revisions (doc_id, id)")
    conn.execute("CREATE INDEX revisions_state ON revisions (state) WHERE state != 'done'")
    conn.execute("CREATE UNIQUE INDEX revisions_idempotency ON revisions (username, idempotency_key) "
                 "WHERE idempotency_key IS NOT NULL AND state != 'aborted'")
    conn.execute("""
        CREATE TABLE pending_files (
            revision_id bigint NOT NULL REFERENCES revisions(id),
            path text NOT NULL,
            previous bytea,
            new_sha256 text,
            PRIMARY KEY (revision_id, path)
        )""")


@migration
def m002_lexicon(conn) -> None:
    """The decompounding lexicon the lexical rows were derived with, apart from the vocabulary
    (as SQLite's m004_fts_lexicon, and seeded alike: the words the analyzer used so far)."""
    conn.execute("CREATE TABLE lexicon (word text PRIMARY KEY)")
    conn.execute("INSERT INTO lexicon (word) SELECT word FROM vocabulary WHERE count >= 2")


@migration
def m003_search_log(conn) -> None:
    """The search insights' log, as SQLite's m006_search_log: one row per search (day only, the
    normalised query, no address, cookie or user agent; `id` random per search), one per click."""
    conn.execute("""
        CREATE TABLE search_log (
            id text PRIMARY KEY,
            day date NOT NULL,
            query text NOT NULL,
            filters jsonb NOT NULL,
            hits integer NOT NULL,
            shown integer NOT NULL,
            source text NOT NULL,
            theme text
        )""")
    conn.execute("CREATE INDEX search_log_day ON search_log (day)")
    conn.execute("CREATE INDEX search_log_query ON search_log (query, day)")
    conn.execute("""
        CREATE TABLE search_clicks (
            search_id text NOT NULL REFERENCES search_log(id) ON DELETE CASCADE,
            position integer NOT NULL,
            doc_id text NOT NULL,
            day date NOT NULL,
            PRIMARY KEY (search_id, position)
        )""")
    conn.execute("CREATE INDEX search_clicks_day ON search_clicks (day)")


@migration
def m004_lexical_impacts(conn) -> None:
    """Postings in impact order, as SQLite's m007_lexical_postings: a search reads a common term's
    best rows by an index instead of scoring every row that holds it. `impact` is
    `base.impact_key`; per term its document frequency; the totals kept with each write instead
    of recounted over every row."""
    from .base import BM25_B, BM25_K1, ORDER_AVGDL, ORDER_TITLE_WEIGHT

    conn.execute("ALTER TABLE lexical_postings ADD COLUMN impact double precision")
    conn.execute(
        "UPDATE lexical_postings SET impact = round(((%(w)s * title_tf + body_tf) * (%(k1)s + 1.0) / "
        "((%(w)s * title_tf + body_tf) + %(k1)s * (1.0 - %(b)s + %(b)s * length / %(avgdl)s)))::numeric, 9)::float8",
        {"w": ORDER_TITLE_WEIGHT, "k1": BM25_K1, "b": BM25_B, "avgdl": ORDER_AVGDL})
    conn.execute("ALTER TABLE lexical_postings ALTER COLUMN impact SET NOT NULL")
    conn.execute("CREATE INDEX lexical_postings_impact ON lexical_postings (term, impact DESC, chunk_id) "
                 "INCLUDE (title_tf, body_tf, length)")
    conn.execute("CREATE TABLE lexical_terms (term text PRIMARY KEY, df integer NOT NULL)")
    conn.execute("INSERT INTO lexical_terms SELECT term, count(*) FROM lexical_postings GROUP BY term")
    conn.execute("UPDATE store_state SET lexical_rows = (SELECT count(*) FROM lexical_rows), "
                 "lexical_tokens = (SELECT coalesce(sum(length), 0) FROM lexical_rows) WHERE id = 1")


@migration
def m005_document_changes(conn) -> None:
    """Which documents and vocabulary words each live save changed, by the change generations it
    spanned: another server that sees the generation move patches its searcher's lookups from
    them instead of rebuilding them (PgVectorHome.changed_documents). (m004 is the lexical
    tables'.)"""
    conn.execute("""
        CREATE TABLE document_changes (
            to_generation bigint PRIMARY KEY,
            from_generation bigint NOT NULL,
            doc_ids text[] NOT NULL,
            words text[] NOT NULL
        )""")


def ensure_vector_extension(conn, shown_url: str) -> None:
    """pgvector must be installed in the database; try to, and say what to do if we may not."""
    import psycopg

    if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone():
        return
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except psycopg.Error as exc:
        raise StorageUnavailableError(
            f"Databasen {shown_url} saknar tillägget pgvector, och användaren får inte installera det "
            f"({exc.diag.message_primary or exc}). Be databasens administratör köra: CREATE EXTENSION vector;"
        ) from None


def apply_migrations(conn, shown_url: str) -> list[str]:
    """Apply the pending migrations (names returned); refuse a database at a newer schema."""
    known = [fn.__name__ for fn in MIGRATIONS]
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))", [MIGRATION_LOCK])
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at text NOT NULL)")
        applied = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
        unknown = sorted(applied - set(known))
        if unknown:
            raise SchemaVersionError(
                f"Databasen {shown_url} har uppgraderats av en nyare version av kunskap (schemaändringar som "
                f"den här versionen inte känner till: {', '.join(unknown)}). Uppgradera kunskap innan den "
                "används mot databasen; ingenting har ändrats."
            )
        done = []
        for fn in MIGRATIONS:
            if fn.__name__ in applied:
                continue
            fn(conn)
            conn.execute("INSERT INTO schema_migrations (name, applied_at) VALUES (%s, %s)",
                         [fn.__name__, dt.datetime.now(dt.UTC).isoformat()])
            done.append(fn.__name__)
    return done
