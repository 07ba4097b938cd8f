"""A knowledge base on PostgreSQL + pgvector (issue 10 §3): the same searches as on SQLite + FAISS,
one writer at a time across servers, changes seen by the other servers, the command line with
--database-url, and clear Swedish errors for a database that is unreachable, wrong or newer.
Everything runs on a real PostgreSQL (pgserver)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import psycopg
import pytest

from kunskap.config import Settings
from kunskap.errors import SchemaVersionError, StorageUnavailableError
from kunskap.ingest import ingest
from kunskap.knowledgebase import KnowledgeBase
from kunskap.search import Filters, Searcher, SearchRequest
from kunskap.storage.postgres import PostgresStore

from .conftest import REPO, write_case
from .test_first_start import GatedEmbedder

QUERIES = ["cykel", "elbussar i Växjö", "rättvis omställning", "matsvinn i skolköken", "laddinfrastruktur",
           "energirådgivning för hushåll", "biogas", "klimatpåverkan från offentliga inköp"]


@pytest.fixture
def pg_factory(postgres_url, tmp_path):
    """Knowledge bases on this test's database (each one stands for a server process)."""
    opened = []

    def make(corpus, **extra) -> KnowledgeBase:
        settings = Settings(corpus=corpus, index=tmp_path / f"index-pg-{len(opened)}", model="hashing",
                            database_url=postgres_url, **extra)
        kb = KnowledgeBase(settings)
        opened.append(kb)
        return kb

    yield make
    for kb in opened:
        kb.store.close()


def results(kb: KnowledgeBase, **filters) -> list:
    searcher = Searcher(kb)
    out = []
    for q in QUERIES:
        for mode in ("hybrid", "lexical", "dense"):
            result = searcher.search(SearchRequest(q=q, mode=mode, filters=Filters(**filters)))
            out.append((q, mode, [(h.doc_id, h.chunk_id is not None, round(h.score, 3)) for h in result.hits],
                        result.total, result.facets))
    return out


def test_postgres_searches_exactly_as_sqlite_does(corpus, kb_factory, pg_factory):
    sqlite_kb, pg_kb = kb_factory(corpus), pg_factory(corpus)
    ingest(sqlite_kb, corpus)
    ingest(pg_kb, corpus)
    assert pg_kb.store.count_chunks() == sqlite_kb.store.count_chunks() > 0
    assert sorted(pg_kb.vectors.ids().tolist()) == pg_kb.store.chunk_ids()
    expected = results(sqlite_kb)
    assert any(hits for _, _, hits, _, _ in expected)
    assert results(pg_kb) == expected
    assert results(pg_kb, county=["Skåne län"]) == results(sqlite_kb, county=["Skåne län"])
    assert pg_kb.consistency() == []


def test_edits_and_removals_keep_vectors_and_chunks_in_step(corpus, pg_factory):
    kb = pg_factory(corpus)
    ingest(kb, corpus)
    write_case(corpus, "lund-cykel.md", "Cykelvägar i Lund", "Lunds kommun",
               "## Bakgrund\nLund byggde snabbcykelvägar till sjukhuset.\n", themes="[cykel]", county="Skåne län",
               year=2019, organisation_type="kommun")
    (corpus / "skane-mat.md").unlink()
    report = ingest(kb, corpus, prune=True)
    assert report.updated == ["lund-cykel"] and report.removed == ["skane-mat"]
    assert sorted(kb.vectors.ids().tolist()) == kb.store.chunk_ids()
    assert kb.store.get_document("skane-mat") is None
    hits = Searcher(kb).search(SearchRequest(q="snabbcykelvägar sjukhuset", mode="lexical")).hits
    assert [h.doc_id for h in hits] == ["lund-cykel"]
    ingest(kb, corpus, rebuild=True)
    assert sorted(kb.vectors.ids().tolist()) == kb.store.chunk_ids() and kb.consistency() == []


def test_one_writer_at_a_time_across_servers(corpus, pg_factory):
    first, second = pg_factory(corpus), pg_factory(corpus)
    ingest(first, corpus)
    entered, release = threading.Event(), threading.Event()

    def hold():
        with first.writing():
            entered.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert entered.wait(10)
    waited = {}

    def write():
        started = time.monotonic()
        with second.writing():
            waited["seconds"] = time.monotonic() - started

    writer = threading.Thread(target=write)
    writer.start()
    time.sleep(0.5)
    assert "seconds" not in waited                 # blocked on the advisory lock
    assert second.consistency(max_age=0) is not None
    release.set()
    holder.join(10)
    writer.join(10)
    assert waited["seconds"] >= 0.5


def test_another_server_sees_a_change_within_two_seconds(corpus, pg_factory):
    writer, reader = pg_factory(corpus), pg_factory(corpus)
    ingest(writer, corpus)
    reader.open_vectors()
    searcher = Searcher(reader)
    request = SearchRequest(q="Gävle", mode="lexical", correct_typos=False)
    assert searcher.search(request).hits == []
    before = searcher.cached(request)
    assert before is not None                     # cached, until the knowledge base changes

    write_case(corpus, "gavle-vatgas.md", "Vätgas i Gävle", "Gävle kommun",
               "## Bakgrund\nGävle byggde en tankstation för vätgas.\n", themes="[fossilfria-fordon]",
               county="Gävleborgs län", year=2023, organisation_type="kommun")
    ingest(writer, corpus)
    saved = time.monotonic()
    while time.monotonic() - saved < 2.0:
        if searcher.cached(request) is None and searcher.search(request).hits:
            break
        time.sleep(0.05)
    seen = time.monotonic() - saved
    assert [h.doc_id for h in searcher.search(request).hits] == ["gavle-vatgas"]
    assert seen < 2.0


def test_a_database_at_a_newer_schema_is_refused(postgres_url):
    PostgresStore(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES ('m999_from_the_future', '2030-01-01')")
        before = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]
    with pytest.raises(SchemaVersionError) as raised:
        PostgresStore(postgres_url)
    assert "nyare version av kunskap" in raised.value.message and "m999_from_the_future" in raised.value.message
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == before


def test_an_unreachable_database_is_named_with_its_password_masked():
    url = "postgresql://kunskap:hemligt@127.0.0.1:1/kunskap"
    with pytest.raises(StorageUnavailableError) as raised:
        PostgresStore(url)
    assert "postgresql://kunskap:***@127.0.0.1:1/kunskap" in raised.value.message
    assert "hemligt" not in raised.value.message and raised.value.message.startswith("Kan inte ansluta")


def kunskap(*args, env=None, input=None):
    import os

    return subprocess.run([sys.executable, "-m", "kunskap", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})}, input=input, timeout=300)


@pytest.mark.parametrize("command", [["search", "cykel"], ["status"], ["ingest", "--quiet"], ["user", "list"],
                                     ["token", "list"], ["serve", "--port", "1"]])
def test_every_command_names_an_unreachable_database_and_fails(command, tmp_path):
    url = "postgresql://kunskap:hemligt@127.0.0.1:1/kunskap"
    done = kunskap(*command, "--database-url", url, env={"KUNSKAP_INDEX": str(tmp_path / "index"),
                                                           "KUNSKAP_CORPUS": str(tmp_path)})
    assert done.returncode != 0
    assert "Kan inte ansluta till databasen postgresql://kunskap:***@127.0.0.1:1/kunskap" in done.stderr
    assert "hemligt" not in done.stderr + done.stdout and "Traceback" not in done.stderr


def test_the_command_line_works_on_postgres(corpus, postgres_url, tmp_path):
    env = {"KUNSKAP_MODEL": "hashing", "KUNSKAP_INDEX": str(tmp_path / "unused-index")}
    ingested = kunskap("ingest", str(corpus), "--quiet", "--database-url", postgres_url, env=env)
    assert ingested.returncode == 0, ingested.stderr
    assert "5 nya" in ingested.stdout
    found = kunskap("search", "elbussar", "--database-url", postgres_url, env=env)
    assert found.returncode == 0 and "Fossilfri kollektivtrafik i Växjö" in found.stdout
    status = kunskap("status", env={**env, "KUNSKAP_DATABASE_URL": postgres_url})
    assert status.returncode == 0 and "Avsnitt: 5, vektorer: 5" in status.stdout and "Problem" not in status.stderr
    added = kunskap("user", "add", "åsa", "--database-url", postgres_url, input="ett långt lösenord\n", env=env)
    assert added.returncode == 0, added.stderr
    listed = kunskap("user", "list", env={**env, "KUNSKAP_DATABASE_URL": postgres_url})
    assert listed.stdout.startswith("åsa\t")
    key = kunskap("token", "create", "--user", "åsa", "--name", "webbplatsen", "--database-url", postgres_url, env=env)
    assert key.returncode == 0 and key.stdout.startswith("kk_")
    assert not (tmp_path / "unused-index").exists()       # nothing of it went to the SQLite folder


def test_two_servers_on_one_database_see_each_others_saves(corpus, postgres_url, tmp_path):
    """Two `kunskap serve` processes on one PostgreSQL: a curation save through one is found by
    searches on the other within 2 s, and searches on it during saves all succeed."""
    import os

    import httpx

    from kunskap.accounts import Accounts

    from .conftest import start_server

    setup = KnowledgeBase(Settings(corpus=corpus, index=tmp_path / "index-setup", model="hashing",
                                   database_url=postgres_url))
    ingest(setup, corpus)
    accounts = Accounts(setup.store)
    accounts.add_user("asa", "ett långt lösenord")
    key = accounts.create_token("asa", "test")
    setup.store.close()

    env = {**os.environ, "PYTHONPATH": str(REPO), "KUNSKAP_CORPUS": str(corpus), "KUNSKAP_MODEL": "hashing",
           "KUNSKAP_DATABASE_URL": postgres_url}
    first, first_url = start_server({**env, "KUNSKAP_INDEX": str(tmp_path / "index-a")})
    second, second_url = start_server({**env, "KUNSKAP_INDEX": str(tmp_path / "index-b")})
    try:
        search = {"q": "snabbcykelvägar", "mode": "lexical"}
        assert httpx.get(f"{second_url}/api/v1/search", params=search).json()["results"] == []   # now cached there

        failures, answered, stop = [], [0], threading.Event()

        def hammer():   # searches on the second server while the first one saves
            with httpx.Client(base_url=second_url, timeout=10) as client:
                while not stop.is_set():
                    response = client.get("/api/v1/search", params={"q": "cykel", "mode": "hybrid"})
                    answered[0] += 1
                    if response.status_code != 200:
                        failures.append(response.status_code)

        load = threading.Thread(target=hammer)
        load.start()
        headers = {"Authorization": f"Bearer {key}"}
        for n in range(3):
            saved = httpx.patch(f"{first_url}/api/v1/documents/lund-cykel", headers=headers, timeout=30,
                                json={"body": f"## Bakgrund\nLund byggde snabbcykelvägar, etapp {n}.\n"})
            assert saved.status_code == 200, saved.text
        done = time.monotonic()
        seen = None
        while time.monotonic() - done < 5:
            hits = httpx.get(f"{second_url}/api/v1/search", params=search).json()["results"]
            if hits and "etapp 2" in hits[0]["snippet"]:
                seen = time.monotonic() - done
                break
            time.sleep(0.05)
        stop.set()
        load.join(10)
        print(f"second server saw the save after {seen:.3f} s; {answered[0]} searches during the saves")
        assert seen is not None and seen < 2.0, seen
        assert hits[0]["id"] == "lund-cykel"
        assert answered[0] > 0 and failures == []
        ready = httpx.get(f"{second_url}/ready").json()
        assert ready["status"] == "ready" and ready["chunks"] == ready["vectors"]
    finally:
        for process in (first, second):
            process.terminate()
            process.wait(20)


def test_migrate_to_moves_an_sqlite_knowledge_base_into_postgres(corpus, kb_factory, postgres_url, tmp_path):
    from kunskap.accounts import Accounts
    from kunskap.curation import Curator

    sqlite_kb = kb_factory(corpus)
    ingest(sqlite_kb, corpus)
    accounts = Accounts(sqlite_kb.store)
    accounts.add_user("åsa", "ett långt lösenord", "Åsa Öberg")
    key = accounts.create_token("åsa", "webbplatsen")
    Curator(sqlite_kb).delete("skane-mat", "åsa")           # a revision with the file's old content
    sqlite_kb.store.record_searches([{"id": "0123456789abcdef", "day": "2026-11-30", "query": "solceller på tak",
                                      "filters": '{"theme":["solenergi"]}', "hits": 0, "shown": 3, "source": "page",
                                      "theme": None}])
    sqlite_kb.store.record_clicks([{"search_id": "0123456789abcdef", "position": 2, "doc_id": "lund-cykel",
                                    "day": "2026-11-30"}])
    expected = results(sqlite_kb)
    chunk_ids = sqlite_kb.store.chunk_ids()
    index = sqlite_kb.settings.index
    sqlite_kb.store.close()

    moved = kunskap("migrate-to", "--index", str(index), "--corpus", str(corpus), "--database-url", postgres_url,
                    env={"KUNSKAP_MODEL": "hashing"})
    assert moved.returncode == 0, moved.stderr
    assert "4 dokument" in moved.stdout and "1 konton" in moved.stdout and "Problem" not in moved.stderr

    kb = KnowledgeBase(Settings(corpus=corpus, index=tmp_path / "unused", model="hashing", database_url=postgres_url))
    try:
        kb.open_vectors(repair=False)
        assert kb.store.chunk_ids() == chunk_ids                    # ids kept
        assert sorted(kb.vectors.ids().tolist()) == chunk_ids
        assert results(kb) == expected                              # same ranking, same lexical scores
        assert Accounts(kb.store).token_user(key).username == "åsa"
        assert Accounts(kb.store).authenticate("åsa", "ett långt lösenord").display_name == "Åsa Öberg"
        (deleted,) = kb.store.deletions_not_undone()             # the history came along
        assert deleted["doc_id"] == "skane-mat" and kb.store.get_revision(deleted["id"])["previous_content"]
        import datetime as dt

        since = dt.date(2026, 11, 1)                                # the search insights came along
        assert kb.store.search_log_totals(since, 2) == {"searches": 1, "zero": 1, "few": 0, "clicked": 1,
                                                        "sources": {"page": 1}}
        assert kb.store.search_themes(since, 5)[0]["theme"] == "solenergi"
        new_ids = kb.store.replace_document({"id": "ny", "status": "published"}, [
            {"ord": 0, "text": "ny", "heading": None, "page": None, "embed_text": "ny", "embed_hash": "ny"}],
            [("", "ny")])[1]
        assert new_ids[0] > max(chunk_ids)                          # the identity continues after them
    finally:
        kb.store.close()
    again = kunskap("migrate-to", "--index", str(index), "--database-url", postgres_url, env={"KUNSKAP_MODEL": "hashing"})
    assert again.returncode != 0 and "inte tom" in again.stderr


def test_a_server_that_loses_its_database_answers_503_and_recovers(corpus, tmp_path):
    """The database crashes under a running server: /ready, the API and the pages answer 503 with
    the error shape (no traceback); when the database is back, so is the server, untouched."""
    import os
    import shutil
    import tempfile
    from pathlib import Path

    import httpx
    import pgserver
    from pgserver._commands import pg_ctl

    from .conftest import start_server

    # A server of its own, to crash; not under pytest's tmp_path (see conftest.postgres_server).
    pgdata = Path(tempfile.mkdtemp(prefix="kunskap-pg-"))
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    process = None
    try:
        server.psql("CREATE EXTENSION IF NOT EXISTS vector;")
        url = server.get_uri()
        setup = KnowledgeBase(Settings(corpus=corpus, index=tmp_path / "index", model="hashing", database_url=url))
        ingest(setup, corpus)
        setup.store.close()
        env = {**os.environ, "PYTHONPATH": str(REPO), "KUNSKAP_CORPUS": str(corpus), "KUNSKAP_MODEL": "hashing",
               "KUNSKAP_DATABASE_URL": url, "KUNSKAP_INDEX": str(tmp_path / "index")}
        process, base = start_server(env)
        assert httpx.get(f"{base}/ready").status_code == 200

        pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=pgdata, user=server.system_user)   # a crash
        ready = httpx.get(f"{base}/ready", timeout=30)
        assert ready.status_code == 503 and ready.json()["error"]["code"] == "storage_unavailable"
        assert "Databasen postgresql://" in ready.json()["error"]["message"]
        found = httpx.get(f"{base}/api/v1/search", params={"q": "cykelpendling i Lund"}, timeout=30)
        assert found.status_code == 503 and found.json()["error"]["code"] == "storage_unavailable"
        page = httpx.get(f"{base}/sok", params={"q": "laddstolpar i Umeå"}, timeout=30)
        assert page.status_code == 503 and "Traceback" not in page.text

        socket_dir = url.split("host=")[1]
        pg_ctl(["-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(pgdata / "log"), "start"], pgdata=pgdata,
               user=server.system_user)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and httpx.get(f"{base}/ready", timeout=30).status_code != 200:
            time.sleep(0.2)
        assert httpx.get(f"{base}/ready").json()["status"] == "ready"
        again = httpx.get(f"{base}/api/v1/search", params={"q": "cykelpendling i Lund"}, timeout=30)
        assert again.status_code == 200 and again.json()["results"][0]["id"] == "lund-cykel"
    finally:
        if process is not None:
            process.terminate()
            process.wait(20)
        server.cleanup()
        shutil.rmtree(pgdata, ignore_errors=True)


def test_a_database_at_an_older_schema_is_upgraded_keeping_its_rows(postgres_url):
    """A database as the first PostgreSQL release left it (m001 only) gets the later migrations
    when a server opens it; its rows stay, and the lexicon is seeded from the vocabulary."""
    from collections import Counter

    from .test_storage_contract import put

    store = PostgresStore(postgres_url)
    store.replace_vocabulary(Counter({"älv": 3, "å": 1}))
    put(store, "a", ["Älven"], fts=[("älv", "älv vall")])
    put(store, "b", ["Vallen"], fts=[("", "vall vall å")])
    before = {term: store.fts_term(term, 2.0, 10) for term in ("älv", "vall", "å")}
    store.close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:   # back to m001's schema
        conn.execute("DROP TABLE lexical_terms")
        conn.execute("ALTER TABLE lexical_postings DROP COLUMN impact")   # and its index
        conn.execute("DROP TABLE lexicon")
        conn.execute("DROP TABLE search_clicks")
        conn.execute("DROP TABLE search_log")
        conn.execute("DROP TABLE document_changes")
        conn.execute("DELETE FROM schema_migrations WHERE name != 'm001_initial'")
    store = PostgresStore(postgres_url)
    try:
        assert store.vocabulary() == {"älv": 3, "å": 1}
        assert store.lexicon() == {"älv"}
        # the postings get their impact order and the terms their document frequencies
        assert {term: store.fts_term(term, 2.0, 10) for term in before} == before
        assert len(before["vall"]) == 2 and store.term_document_frequency("vall") == 2
        with psycopg.connect(postgres_url) as conn:
            names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
        from kunskap.storage.postgres_migrations import MIGRATIONS
        assert names == [fn.__name__ for fn in MIGRATIONS] and len(names) >= 3
        assert store.search_log_totals(__import__("datetime").date(2026, 1, 1), 2)["searches"] == 0
    finally:
        store.close()



def test_one_server_builds_semantic_search_and_the_others_pick_it_up(corpus, postgres_url, tmp_path):
    """Two servers (their own index folders, as on two machines) start on a database whose text
    is not embedded yet: one builds semantic search (a PostgreSQL advisory lock), the other
    reports it as being built and switches to hybrid search when the first is done."""
    first_embedder, second_embedder = GatedEmbedder(), GatedEmbedder()
    first, second = (KnowledgeBase(Settings(corpus=corpus, index=tmp_path / name, model="hashing",
                                            database_url=postgres_url), embedder=embedder)
                     for name, embedder in (("index-a", first_embedder), ("index-b", second_embedder)))
    try:
        ingest(first, corpus, embed=False)
        second.open_vectors()
        assert not second.vectors_complete and second.missing_vectors()
        built = {}
        builder = threading.Thread(target=lambda: built.setdefault("first", first.build_semantic()))
        builder.start()
        deadline = time.monotonic() + 10
        while first.semantic_progress is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert first.semantic_progress is not None          # the first holds the build lock

        assert second.build_semantic() == 0                  # the second does not build too
        assert second_embedder.passages == 0
        status = second.semantic_status()
        assert status["state"] == "building", status
        assert Searcher(second).search(SearchRequest("cykelpendling")).semantic_notice.startswith(
            "Semantisk sökning byggs")

        first_embedder.gate.set()
        builder.join(30)
        assert built["first"] == first.store.count_chunks() > 0
        deadline = time.monotonic() + 5
        while not second.vectors_complete and time.monotonic() < deadline:
            second.reload_if_changed(every_seconds=0)
            time.sleep(0.05)
        assert second.vectors_complete                        # picked up without a restart
        assert Searcher(second).search(SearchRequest("cykelpendling")).semantic_notice is None
        assert second.semantic_status()["state"] == "ready" and second.consistency(max_age=0) == []
        assert second_embedder.passages == 0
    finally:
        first_embedder.gate.set()
        first.store.close()
        second.store.close()
