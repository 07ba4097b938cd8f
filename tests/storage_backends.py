"""The storage backends the contract suite runs against, and how a test opens one."""

from __future__ import annotations

from kunskap.storage import SQLiteStore

BACKENDS = ["sqlite"]


def open_stores(request, tmp_path):
    """Another store on this test's database: one SQLite file per test."""
    if request.param == "sqlite":
        return SQLiteStore(tmp_path / "contract.db")
    raise ValueError(request.param)
