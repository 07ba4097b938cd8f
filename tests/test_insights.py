"""Search insights (issue 13 §1): searches of the API, the pages and the embed recorded without
personal data, clicks by position through the results page's own links, the staff page and
CSV and the token API with the k-anonymity threshold, retention, and recording that never
costs a search. Real SQLite, a real app (TestClient), the hashing embedder."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import re
import time

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner
from fastapi.testclient import TestClient

from kunskap.cli import cli
from kunskap.ingest import ingest
from kunskap.insights import (
    FEW_HITS,
    SearchRecorder,
    build_report,
    canonical_filters,
    csv_cell,
    normalise_query,
    parse_click,
    retention_cutoff,
    today,
)
from kunskap.search import Filters
from kunskap.web.app import create_app

from .conftest import STAFF_PASSWORD

PASSWORD = STAFF_PASSWORD


# -- what is recorded, as plain values --------------------------------------------------------
def test_queries_are_normalised_and_filters_canonical():
    assert normalise_query("  Laddstolpar   för\tELBILAR ") == "laddstolpar för elbilar"
    assert normalise_query("Å\u0308") == normalise_query("Å̈")   # NFC: one spelling
    assert len(normalise_query("ord " * 200)) <= 200
    filters = Filters(theme=["mat", "cykel", "mat"], county=["Skåne län"], year_from=2020)
    assert canonical_filters(filters) == '{"county":["Skåne län"],"theme":["cykel","mat"],"year_from":2020}'
    assert canonical_filters(Filters()) == "{}"


@pytest.mark.parametrize("value, expected", [
    ("0123456789abcdef.3", ("0123456789abcdef", 3)),
    ("0123456789abcdef.0", None), ("0123456789abcdef.1000", None), ("0123456789ABCDEF.1", None),
    ("0123456789abcde.1", None), ("'; DROP TABLE search_log;--.1", None), ("", None), (None, None),
])
def test_click_parameters_are_validated(value, expected):
    assert parse_click(value) == expected


def test_retention_counts_calendar_months():
    assert retention_cutoff(13, dt.date(2026, 12, 1)) == dt.date(2025, 11, 1)
    assert retention_cutoff(1, dt.date(2026, 3, 31)) == dt.date(2026, 2, 28)   # clamped to the month's end
    assert retention_cutoff(12, dt.date(2028, 2, 29)) == dt.date(2027, 2, 28)


def test_csv_cells_cannot_start_a_formula():
    assert csv_cell("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert [csv_cell(v) for v in ("+1", "-1", "@a", "\tx", "solceller")] == ["'+1", "'-1", "'@a", "'\tx", "solceller"]


# -- the app -----------------------------------------------------------------------------------


def login(client) -> None:
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/logga-in").text).group(1)
    r = client.post("/logga-in", data={"username": "anna", "password": PASSWORD, "csrf": token, "next": "/kurera"},
                    follow_redirects=False)
    assert r.status_code == 303


def flush(client) -> None:
    client.app.state.insights.flush()


def logged(kb) -> list[dict]:
    return list(kb.store.db.query("SELECT * FROM search_log ORDER BY rowid"))


def seed(kb, query: str, days: list[int], hits: int = 0, shown: int = 0, filters: str = "{}") -> None:
    """Searches of `query`, one per entry of `days` (days before today), written as the recorder would."""
    day = today()
    kb.store.record_searches([
        {"id": hashlib.sha256(f"{query}{i}".encode()).hexdigest()[:16],
         "day": (day - dt.timedelta(days=d)).isoformat(), "query": query, "filters": filters, "hits": hits,
         "shown": shown, "source": "page", "theme": None} for i, d in enumerate(days)])


def test_searches_of_the_pages_the_api_and_the_embed_are_recorded_and_nothing_else(client, app_kb):
    _, kb, _ = app_kb
    assert client.get("/sok", params={"q": "Cykelvägar  i LUND", "theme": "cykel"}).status_code == 200
    assert client.get("/api/v1/search", params={"q": "biogas"}).status_code == 200
    embed = client.get("/api/v1/search", params={"q": "elbilar"}, headers={"Origin": "https://kommun.example"})
    assert embed.status_code == 200
    # Not searches: browsing by filters, an empty query, later pages, the staff's list, facets.
    client.get("/sok", params={"theme": "cykel"})
    client.get("/api/v1/search", params={"q": "  "})
    client.get("/sok", params={"q": "biogas", "page": 2})
    login(client)
    client.get("/kurera", params={"q": "växjö"})
    client.get("/api/v1/facets")
    flush(client)
    rows = logged(kb)
    assert [(r["query"], r["source"]) for r in rows] == [
        ("cykelvägar i lund", "page"), ("biogas", "api"), ("elbilar", "embed")]
    assert rows[0]["filters"] == '{"theme":["cykel"]}' and rows[0]["hits"] >= 1
    assert rows[0]["theme"] == "cykel" and rows[0]["day"] == today().isoformat()
    assert all(re.fullmatch(r"[0-9a-f]{16}", r["id"]) for r in rows) and len({r["id"] for r in rows}) == 3


def test_no_address_user_agent_or_cookie_reaches_the_database(client, app_kb):
    _, kb, _ = app_kb
    marker_agent, marker_address = "Webblasare-XYZZY/1.0", "203.0.113.77"
    client.cookies.set("sparare", "kaka-PLUGH")
    client.get("/sok", params={"q": "energifattigdom"},
               headers={"User-Agent": marker_agent, "X-Forwarded-For": marker_address})
    flush(client)
    assert [r["query"] for r in logged(kb)] == ["energifattigdom"]
    kb.store.db.execute("PRAGMA wal_checkpoint(FULL)")
    stored = kb.settings.database_path.read_bytes()
    assert b"energifattigdom" in stored   # the check below would find them if they were there
    for marker in (marker_agent, marker_address, "kaka-PLUGH", "testclient"):
        assert marker.encode() not in stored


def test_a_click_on_a_result_is_recorded_with_its_position_and_lands_on_the_canonical_page(client, app_kb):
    _, kb, _ = app_kb
    page = BeautifulSoup(client.get("/sok", params={"q": "kommunen"}).text, "html.parser")
    links = [a["href"] for a in page.select("article.card h3 a")]
    assert len(links) >= 2
    search_id = logged_id = None
    for position, href in enumerate(links, start=1):
        match = re.fullmatch(r"/dokument/([^?]+)\?fran=([0-9a-f]{16})\.(\d+)", href)
        assert match and int(match.group(3)) == position
        logged_id = match.group(2)
        search_id = search_id or logged_id
        assert logged_id == search_id          # one search, its positions
    doc_id = re.match(r"/dokument/([^?]+)", links[1]).group(1)
    r = client.get(links[1], follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/dokument/{doc_id}"
    assert "set-cookie" not in r.headers
    assert client.get(r.headers["location"]).status_code == 200
    # Tampered or stale links still land on the document, and record nothing.
    for bad in (f"{search_id}.99", "ffffffffffffffff.1", "nonsens", f"{search_id}.-1"):
        assert client.get(f"/dokument/{doc_id}", params={"fran": bad}, follow_redirects=False).status_code == 303
    client.get(links[1], follow_redirects=False)      # the same click again counts once
    flush(client)
    clicks = list(kb.store.db.query("SELECT * FROM search_clicks"))
    assert [(c["search_id"], c["position"], c["doc_id"]) for c in clicks] == [(search_id, 2, doc_id)]
    positions = build_report(kb.store, 30).positions
    assert positions[1]["clicked"] == 1 and positions[0]["clicked"] == 0 and positions[1]["shown"] == 1


def test_later_pages_and_unrecorded_searches_have_plain_links(client, app_kb):
    page = BeautifulSoup(client.get("/sok", params={"theme": "cykel"}).text, "html.parser")
    assert page.select("article.card h3 a") and all("fran=" not in a["href"] for a in page.select("article.card h3 a"))


def test_insights_are_for_staff_only(client, app_kb):
    _, _, token = app_kb
    assert client.get("/kurera/insikter", follow_redirects=False).headers["location"].startswith("/logga-in")
    assert client.get("/kurera/insikter.csv", follow_redirects=False).status_code == 303
    r = client.get("/api/v1/insights")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    r = client.get("/api/v1/insights", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"


def test_the_threshold_keeps_rare_queries_out_of_the_page_the_csv_and_the_api(client, app_kb):
    _, kb, token = app_kb
    seed(kb, "anna svensson bygglov", [0, 0, 0, 1])     # 4 searches on 2 days: hidden
    seed(kb, "cykelbana", [0, 0, 0, 0, 0])               # 5 on 1 day: hidden
    seed(kb, "solceller på tak", [0, 0, 0, 2, 2])        # 5 on 2 days: shown
    seed(kb, "=hyperlink(\"http://x\")", [0, 1, 2, 3, 4], hits=4, shown=4)   # shown, and made harmless in CSV
    login(client)
    html = client.get("/kurera/insikter", params={"dagar": "30"}).text
    page = BeautifulSoup(html, "html.parser")
    gaps = [th.get_text(strip=True) for th in page.select("#utan-traffar tbody th")]
    assert gaps == ["solceller på tak"]
    assert "anna svensson" not in html and "cykelbana" not in html
    assert "9 sökningar med ovanliga frågor (2 olika)" in page.get_text(" ", strip=True)

    r = client.get("/kurera/insikter.csv", params={"dagar": "30"})
    assert r.headers["content-type"].startswith("text/csv") and r.content.startswith(b"\xef\xbb\xbf")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Fråga", "Sökningar", "Dagar", "Utan träffar", f"1–{FEW_HITS} träffar", "Träffar i snitt",
                       "Sökningar med klick"]
    queries = [row[0] for row in rows[1:]]
    assert queries[:2] == ["'=hyperlink(\"http://x\")", "solceller på tak"]
    assert rows[-1][0].startswith("(ovanliga frågor: 2 st") and rows[-1][1] == "9"
    assert "anna svensson" not in r.content.decode("utf-8-sig")

    body = client.get("/api/v1/insights", params={"days": 30}, headers={"Authorization": f"Bearer {token}"}).json()
    assert [q["query"] for q in body["zero_hits"]] == ["solceller på tak"]
    assert {q["query"] for q in body["popular"]} == {"solceller på tak", "=hyperlink(\"http://x\")"}
    assert body["rare"] == {"queries": 2, "searches": 9, "zero": 9, "few": 0}
    assert body["threshold"] == {"min_searches": 5, "min_days": 2, "few_hits": 2}
    assert body["totals"]["searches"] == 19 and body["period"]["days"] == 30
    assert "anna svensson" not in str(body)


def test_the_page_shows_themes_weeks_and_click_positions_as_charts_with_tables(client, app_kb):
    _, kb, _ = app_kb
    seed(kb, "buss", [0, 8], filters='{"theme":["kollektivtrafik"]}')
    login(client)
    page = BeautifulSoup(client.get("/kurera/insikter", params={"dagar": "90"}).text, "html.parser")
    assert page.select_one('a[aria-current="page"]').get_text(strip=True) == "Senaste 90 dagar"
    charts = page.select("figure.chart svg[role=img]")
    assert len(charts) == 2
    for svg in charts:
        assert svg.find("title").get_text(strip=True) and svg.select("text.axis-label")
    weeks = page.select("details.chart-data tbody tr")
    assert 13 <= len(weeks) <= 14 and sum(int(tr.select("td")[0].get_text()) for tr in weeks) == 2
    assert len(page.select("#klick-tabell tbody tr")) == 10
    themes = {tr.th.get_text(strip=True): [td.get_text() for td in tr.select("td")]
              for tr in page.select("#teman ~ .table-scroll tbody tr")}
    assert themes[kb.themes.label("kollektivtrafik")] == ["2", "2", "0"]
    assert "Ingen IP-adress" in page.get_text()


def test_an_unknown_period_is_the_default_and_the_api_refuses_one(client, app_kb):
    _, _, token = app_kb
    login(client)
    page = BeautifulSoup(client.get("/kurera/insikter", params={"dagar": "7"}).text, "html.parser")
    assert page.select_one('a[aria-current="page"]').get_text(strip=True) == "Senaste 90 dagar"
    r = client.get("/api/v1/insights", params={"days": 7}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 400 and r.json()["error"]["parameter"] == "days"


def test_a_failing_log_never_fails_a_search(client, app_kb, caplog):
    _, kb, _ = app_kb
    kb.store.db.execute("DROP TABLE search_clicks")
    kb.store.db.execute("DROP TABLE search_log")
    assert client.get("/api/v1/search", params={"q": "biogas"}).status_code == 200
    assert client.get("/sok", params={"q": "biogas"}).status_code == 200
    with caplog.at_level(logging.WARNING, logger="kunskap"):
        assert client.app.state.insights.flush() == 0
    assert "sökinsikter kunde inte sparas (2 sökningar" in caplog.text


@pytest.mark.parametrize("setting", [{"insights": False}, {"read_only": True}])
def test_recording_is_off_when_turned_off_and_on_a_read_only_server(corpus, kb_factory, setting):
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    app = create_app(kb.settings.model_copy(update=setting), knowledge_base=kb)
    with TestClient(app) as c:
        assert c.app.state.insights is None
        page = BeautifulSoup(c.get("/sok", params={"q": "biogas"}).text, "html.parser")
        assert page.select("article.card h3 a") and "fran=" not in str(page.select("article.card h3 a"))
        assert c.get("/api/v1/search", params={"q": "biogas"}).status_code == 200
    assert logged(kb) == []


def test_the_setting_comes_from_the_environment(monkeypatch):
    from kunskap.config import Settings

    monkeypatch.setenv("KUNSKAP_INSIGHTS", "false")
    monkeypatch.setenv("KUNSKAP_INSIGHTS_RETENTION_MONTHS", "6")
    monkeypatch.setenv("KUNSKAP_INTAKE_ALLOW_PRIVATE", "true")
    settings = Settings()
    assert (settings.insights, settings.insights_retention_months, settings.intake_allow_private) == (False, 6, True)
    assert Settings(_env_file=None).insights is False
    monkeypatch.delenv("KUNSKAP_INSIGHTS")
    monkeypatch.delenv("KUNSKAP_INTAKE_ALLOW_PRIVATE")
    assert (Settings().insights, Settings().insights_retention_months, Settings().intake_allow_private) == (
        True, 6, False)


def test_old_searches_are_deleted_at_start_and_by_the_command(corpus, kb_factory, tmp_path):
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    seed(kb, "gammal", [500, 420])
    seed(kb, "ny", [3])
    with TestClient(create_app(kb.settings, knowledge_base=kb)):
        pass
    assert [r["query"] for r in logged(kb)] == ["ny"]
    seed(kb, "äldre", [40, 50])
    env = {"KUNSKAP_INDEX": str(kb.settings.index), "KUNSKAP_INSIGHTS_RETENTION_MONTHS": "1"}
    result = CliRunner().invoke(cli, ["insights", "prune"], env=env)
    assert result.exit_code == 0, result.output
    assert "Borttaget: 2 sökningar och 0 klick äldre än 1 månader" in result.output
    assert [r["query"] for r in logged(kb)] == ["ny"]


def test_the_command_line_summary_keeps_the_threshold(corpus, kb_factory):
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    seed(kb, "solceller", [0, 0, 0, 1, 1])
    seed(kb, "sällsynt namn", [0])
    result = CliRunner().invoke(cli, ["insights", "--days", "30"], env={"KUNSKAP_INDEX": str(kb.settings.index)})
    assert result.exit_code == 0, result.output
    assert "6 (6 utan träffar" in result.output and "solceller" in result.output
    assert "sällsynt" not in result.output and "1 frågor, 1 sökningar" in result.output


def test_the_recorder_flushes_in_the_background_and_drops_beyond_its_queue(corpus, kb_factory):
    from kunskap.search import SearchRequest
    from kunskap.search.results import SearchResult

    kb = kb_factory(corpus)
    recorder = SearchRecorder(lambda: kb.store, interval=0.05, max_pending=3)
    result = SearchResult("q", None, [], 0, 1, 10, {"theme": []})
    ids = [recorder.search(SearchRequest(q=f"fråga {i}"), result, "page") for i in range(5)]
    assert all(ids[:3]) and ids[3:] == [None, None]
    deadline = dt.datetime.now() + dt.timedelta(seconds=10)
    while len(logged(kb)) < 3 and dt.datetime.now() < deadline:
        time.sleep(0.02)
    recorder.close()
    assert sorted(r["query"] for r in logged(kb)) == ["fråga 0", "fråga 1", "fråga 2"]
