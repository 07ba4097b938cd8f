"""Where a knowledge base keeps its data, behind one interface (`base.Store`).

- `sqlite` — the embedded default: one SQLite file (FTS5 for the lexical search) next to a
  FAISS index (`kunskap.vectors`); `sqlite_migrations` its schema.
- `embedding_cache` — embedding passages once per model and text, whichever backend keeps them.
"""

from .base import JSON_COLUMNS, PUBLIC, ChunkRow, Store
from .sqlite import SQLiteStore

__all__ = ["JSON_COLUMNS", "PUBLIC", "ChunkRow", "SQLiteStore", "Store", "open_store"]


def open_store(settings) -> Store:
    """The store of a knowledge base's settings (one per thread for SQLite)."""
    return SQLiteStore(settings.database_path)
