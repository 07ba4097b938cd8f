"""Deprecated location of the SQLite migrations: `kunskap.storage.sqlite_migrations` now. Kept as
a thin re-export for code (and tests) written against `kunskap.migrations`."""

from ..storage.sqlite_migrations import *  # noqa: F401,F403
from ..storage.sqlite_migrations import MIGRATIONS, apply_migrations, migration  # noqa: F401
