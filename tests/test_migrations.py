"""Schema migrations: an index folder written by a release at an older migration level, with real
rows, is opened by today's Store. The data survives, the newer tables are there and work, the
saved FAISS index still matches (chunk rowids kept) and nothing has to be embedded again."""

from __future__ import annotations

import shutil
import sqlite3

import sqlite_utils

from kunskap import migrations
from kunskap.accounts import Accounts
from kunskap.config import Settings
from kunskap.curation import Curator
from kunskap.ingest import ingest
from kunskap.knowledgebase import KnowledgeBase
from kunskap.search import SearchRequest, Searcher
from kunskap.vectors import INDEX_FILE, MANIFEST_FILE

from .test_ingest import consistent

# What m001_initial created; later migrations must find these (and their rows) as they were.
M001_TABLES = ("documents", "chunks", "chunks_fts", "embeddings", "vocabulary")
# What m002_curation adds.
M002_TABLES = {"users", "sessions", "api_tokens", "login_attempts", "revisions"}
OLD_APPLIED_AT = "2024-11-01T09:00:00+00:00"


def columns(db: sqlite_utils.Database, table: str) -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA table_info([{table}])").fetchall()]


def write_m001_database(path, source_path) -> None:
    """A kunskap.db as the first release left it: only m001_initial applied, holding the rows of
    a real ingest (copied column by column from `source_path`, chunk ids and FTS rowids kept)."""
    db = sqlite_utils.Database(sqlite3.connect(str(path)))
    db["_migrations"].create({"name": str, "applied_at": str}, pk="name")
    migrations.m001_initial(db)
    db["_migrations"].insert({"name": "m001_initial", "applied_at": OLD_APPLIED_AT})
    db.execute("ATTACH DATABASE ? AS source", [str(source_path)])
    for table in M001_TABLES:
        names = ["rowid", "title", "body"] if table == "chunks_fts" else columns(db, table)
        listed = ", ".join(f"[{n}]" for n in names)
        db.execute(f"INSERT INTO main.[{table}] ({listed}) SELECT {listed} FROM source.[{table}]")
    db.conn.commit()
    db.execute("DETACH DATABASE source")
    db.conn.close()


def rows(db, table: str, names: list[str]) -> list[tuple]:
    listed = ", ".join(f"[{n}]" for n in names)
    return db.execute(f"SELECT {listed} FROM [{table}] ORDER BY rowid").fetchall()


def test_a_database_from_the_first_release_is_upgraded_with_its_data(corpus, kb_factory, counting_embedder, tmp_path):
    current = kb_factory(corpus, embedder=counting_embedder)
    ingest(current, corpus)
    embedded = len(counting_embedder.passages)
    source = current.store

    # An index folder as the first release wrote it: m001 database + the FAISS index it built.
    old_index = tmp_path / "gammalt-index"
    old_index.mkdir()
    write_m001_database(old_index / current.settings.database_path.name, current.settings.database_path)
    for name in (INDEX_FILE, MANIFEST_FILE):
        shutil.copy2(current.index_dir / name, old_index / name)
    old = sqlite_utils.Database(sqlite3.connect(str(old_index / current.settings.database_path.name)))
    assert [r["name"] for r in old["_migrations"].rows] == ["m001_initial"]
    assert not M002_TABLES & set(old.table_names())
    old_columns = {table: ["rowid", "title", "body"] if table == "chunks_fts" else columns(old, table)
                   for table in M001_TABLES}
    expected = {table: rows(source.db, table, names) for table, names in old_columns.items()}
    assert len(expected["documents"]) == 5 and len(expected["chunks"]) >= 5
    assert len(expected["chunks_fts"]) == len(expected["chunks"]) and expected["embeddings"] and expected["vocabulary"]
    old.conn.close()
    index_bytes = (old_index / INDEX_FILE).read_bytes()

    kb = KnowledgeBase(Settings(corpus=corpus, index=old_index, model="hashing"), embedder=counting_embedder)
    store = kb.store                                             # opening applies the missing migrations
    applied = {r["name"]: r["applied_at"] for r in store.db["_migrations"].rows}
    assert list(applied) == [fn.__name__ for fn in migrations.MIGRATIONS]
    assert applied["m001_initial"] == OLD_APPLIED_AT             # not applied a second time
    assert M002_TABLES <= set(store.db.table_names())

    # Every old row survived, column for column, in the same order (chunk ids = FAISS ids).
    for table, before in expected.items():
        assert rows(store.db, table, old_columns[table]) == before, table
    assert store.get_document("malmo-energi")["themes"] == ["rattvis-omstallning"]

    # The saved FAISS index still matches the database: used as it is, not rebuilt.
    kb.open_vectors()
    consistent(kb)
    assert (old_index / INDEX_FILE).read_bytes() == index_bytes
    assert [h.doc_id for h in Searcher(kb).search(SearchRequest("cyklar", mode="lexical")).hits] == ["lund-cykel"]

    # An ingest finds every document unchanged and embeds nothing: the embedding cache survived.
    report = ingest(kb, corpus)
    assert len(report.unchanged) == 5 and not report.added and not report.updated
    assert len(counting_embedder.passages) == embedded

    # The new schema works: accounts, and a curation save with its revision.
    accounts = Accounts(store)
    accounts.add_user("anna", "ett-langt-losenord", "Anna Andersson")
    assert accounts.authenticate("anna", "ett-langt-losenord").display_name == "Anna Andersson"
    assert accounts.token_user(accounts.create_token("anna", "test")).username == "anna"
    curator = Curator(kb)
    values, body = curator.form_values("lund-cykel")
    curator.save_case_study({**values, "title": "Cykelpendling i Lund"}, body, "anna", doc_id="lund-cykel")
    assert [r["action"] for r in curator.revisions("lund-cykel")] == ["update"]
    assert store.get_document("lund-cykel")["title"] == "Cykelpendling i Lund"
    consistent(kb)
    store.close()


def test_migrations_are_applied_once(tmp_path):
    from kunskap.store import Store

    path = tmp_path / "kunskap.db"
    Store(path).close()
    first = {r["name"]: r["applied_at"] for r in sqlite_utils.Database(path)["_migrations"].rows}
    again = Store(path)
    assert {r["name"]: r["applied_at"] for r in again.db["_migrations"].rows} == first
    assert list(first) == [fn.__name__ for fn in migrations.MIGRATIONS] and len(first) >= 2
    again.close()
