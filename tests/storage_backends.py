"""The storage backends the contract suite runs against, and how a test opens one."""

from __future__ import annotations

from kunskap.storage import SQLiteStore

BACKENDS = ["sqlite", "postgres"]


def open_stores(request, tmp_path):
    """Another store on this test's database: one SQLite file, or one PostgreSQL schema, per test."""
    if request.param == "sqlite":
        return SQLiteStore(tmp_path / "contract.db")
    if request.param == "postgres":
        from kunskap.storage.postgres import PostgresStore

        return PostgresStore(request.getfixturevalue("postgres_url"), pool_size=4)
    raise ValueError(request.param)
