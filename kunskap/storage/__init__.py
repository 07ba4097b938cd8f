"""Where a knowledge base keeps its data, behind one interface (`base.Store`).

- `sqlite` — the embedded default: one SQLite file (FTS5 for the lexical search) next to a
  FAISS index (`kunskap.vectors`); `sqlite_migrations` its schema.
- `postgres`, `pgvector` — PostgreSQL with pgvector, for several servers on one database
  (`KUNSKAP_DATABASE_URL`); `postgres_migrations` its schema.
- `embedding_cache` — embedding passages once per model and text, whichever backend keeps them.
"""

from __future__ import annotations

from typing import Callable

from .base import JSON_COLUMNS, PUBLIC, ChunkRow, Store, mask_url
from .sqlite import SQLiteStore

__all__ = ["JSON_COLUMNS", "PUBLIC", "ChunkRow", "SQLiteStore", "Store", "describe", "mask_url", "open_store",
           "store_opener", "vector_home"]


def store_opener(settings) -> Callable[[], Store]:
    """What gives a thread its store: a new SQLite connection for each thread, or the one
    PostgreSQL store (a connection pool) that all threads share, connected now — so a wrong or
    unreachable database is reported here (StorageUnavailableError names it, password masked)."""
    if settings.database_url:
        from .postgres import PostgresStore

        shared = PostgresStore(settings.database_url, pool_size=settings.request_threads + 4)
        return lambda: shared
    return lambda: SQLiteStore(settings.database_path)


def open_store(settings) -> Store:
    """A store for one caller (a CLI command): SQLite in the index folder, or PostgreSQL."""
    return store_opener(settings)()


def vector_home(settings, store: Store):
    """Where the vectors live: the FAISS folder next to the SQLite file, or pgvector tables."""
    if settings.database_url:
        from .pgvector import PgVectorHome

        return PgVectorHome(store)
    from ..vectors import FaissFolder

    return FaissFolder(settings.index, settings.database_path, settings.exact_vectors_below)


def describe(settings) -> str:
    """The knowledge base's place, for messages: the index folder or the database (masked)."""
    return f"databasen {mask_url(settings.database_url)}" if settings.database_url else str(settings.index)
