"""Deprecated location of the SQLite store: it lives in `kunskap.storage.sqlite` now. Kept as a
thin re-export so that code written against `kunskap.store` keeps working for now."""

from ..storage.sqlite import JSON_COLUMNS, PUBLIC, ChunkRow, Store

__all__ = ["JSON_COLUMNS", "PUBLIC", "ChunkRow", "Store"]
