"""Follow and reuse: the Atom feed of a search or theme (parsed by feedparser), CSV and JSON exports
of result lists and stats, the network meetings (/traffar) and "Nytt i kunskapsbanken" — through
the app factory with real SQLite and FAISS (hashing embedder)."""

from __future__ import annotations

import csv
import io
import json
import time
from urllib.parse import parse_qs, urlparse

import feedparser
import pytest
from fastapi.testclient import TestClient

from kunskap import exports
from kunskap.exports import RESULT_COLUMNS, neutralise, result_list, to_csv
from kunskap.ingest import ingest
from kunskap.search import SearchRequest
from kunskap.search.request import Filters
from kunskap.web.app import create_app

from .conftest import corpus_with, soup_of

BASE = "http://127.0.0.1:8000"   # the settings' public address (host and port alone)
WEBBFIKA = "{kind: webbfika, title: Webbfika om cykelpendling, date: 2023-03-09}"
EXTRA = {
    "lomma-cykel.md": ("Säkra skolvägar för cykel i Lomma", "Lomma kommun", "Fler barn cyklar till skolan.",
                       {"themes": "[cykel]", "county": "Skåne län", "year": 2021, "organisation_type": "kommun"}),
    "lund-presentation.md": ("Cykelstaden Lund – presentation", "Lunds kommun", "Bilder om cykelpendling.",
                             {"themes": "[cykel]", "county": "Skåne län", "year": 2023, "kind": "presentation",
                              "organisation_type": "kommun", "event": WEBBFIKA}),
    "vaxjo-presentation.md": ("Cykelpendling i Växjö – presentation", "Växjö kommun", "Cykelpendling i Växjö.",
                              {"themes": "[cykel]", "county": "Kronobergs län", "year": 2022, "kind": "presentation",
                               "organisation_type": "kommun", "event": WEBBFIKA}),
    "umea-traff.md": ("Laddplatser i Umeå – presentation", "Umeå kommun", "Laddplatser för elbilar.",
                      {"themes": "[fossilfria-fordon]", "county": "Västerbottens län", "year": 2020,
                       "kind": "presentation", "organisation_type": "kommun",
                       "event": "{kind: nätverksträff, title: Nätverksträff om laddinfrastruktur, "
                                "date: 2021-11-04}"}),
    "formel.md": ("=HYPERLINK(\"https://example.com\";\"klicka\")", "Lomma kommun",
                  "En rubrik som ser ut som en formel.",
                  {"themes": "[konsumtion]", "county": "Skåne län", "year": 2020, "organisation_type": "kommun",
                   "summary": "'+46 70 000 00 00 och @kommunen'"}),
}


@pytest.fixture
def corpus_kb(corpus, kb_factory):
    return corpus, corpus_with(corpus, kb_factory, EXTRA)


@pytest.fixture
def client(corpus_kb):
    _, kb = corpus_kb
    with TestClient(create_app(kb.settings, knowledge_base=kb)) as test_client:
        yield test_client


def read_csv(response) -> list[list[str]]:
    assert response.content.startswith(b"\xef\xbb\xbf")   # UTF-8 with BOM: Excel reads å/ä/ö right
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))


# -- the feed -------------------------------------------------------------------------------------
def test_the_feed_of_a_search_is_valid_atom_newest_first(corpus_kb, client):
    corpus, kb = corpus_kb
    time.sleep(1.1)   # updated_at has whole seconds: the edit below is then the newest change
    path = corpus / "vaxjo-presentation.md"
    path.write_text(path.read_text("utf-8") + "\nNu också cykelbibliotek vid stationen.\n", encoding="utf-8")
    ingest(kb, corpus)

    response = client.get("/flode?q=cykelpendling&mode=lexical&limit=1&page=1")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title == "Kunskapsbanken: ”cykelpendling”"
    own = f"{BASE}/flode?q=cykelpendling&mode=lexical"
    assert feed.feed.id == own      # the page and limit are not part of the list
    links = {link.rel: link.href for link in feed.feed.links}
    assert links == {"self": own, "alternate": f"{BASE}/sok?q=cykelpendling&mode=lexical"}

    entries = feed.entries
    ids = [e.id for e in entries]
    # Every hit, not one page (the search ranks Lund's case study first); the edited document first.
    assert ids[0] == f"{BASE}/dokument/vaxjo-presentation"
    assert sorted(ids) == [f"{BASE}/dokument/{d}" for d in ("lund-cykel", "lund-presentation", "vaxjo-presentation")]
    updated = [e.updated_parsed for e in entries]
    assert updated == sorted(updated, reverse=True) and updated[0] > updated[-1]
    assert feed.feed.updated_parsed == updated[0]       # the feed changed when its newest entry did
    for entry in entries:
        assert entry.link == entry.id and entry.title and entry.author
    presentation = next(e for e in entries if e.id.endswith("/lund-presentation"))
    assert "Presenterad på webbfika 2023-03-09: Webbfika om cykelpendling." in presentation.summary
    assert [t.term for t in presentation.tags] == ["cykel"]


def test_the_feed_of_a_theme_lists_the_theme_newest_first(client):
    feed = feedparser.parse(client.get("/flode?theme=cykel").content)
    assert feed.bozo == 0
    assert feed.feed.title == "Kunskapsbanken: Cykel"
    assert {link.rel: link.href for link in feed.feed.links}["alternate"] == f"{BASE}/tema/cykel"
    ids = [e.id.rsplit("/", 1)[1] for e in feed.entries]
    assert sorted(ids) == ["lomma-cykel", "lund-cykel", "lund-presentation", "vaxjo-presentation"]
    # Newest change first; documents changed in the same second: newest year first.
    years = {d: client.get(f"/api/v1/documents/{d}").json()["year"] for d in ids}
    changed = [e.updated_parsed for e in feed.entries]
    expected = sorted(ids, key=lambda d: (changed[ids.index(d)], years[d]), reverse=True)
    assert ids == expected
    if len(set(changed)) == 1:      # the usual case: ingested within one second
        assert ids == ["lund-presentation", "vaxjo-presentation", "lomma-cykel", "lund-cykel"]


def test_a_bad_feed_parameter_is_a_swedish_400(client):
    response = client.get("/flode?year_from=tusen")
    assert response.status_code == 400
    assert "year_from" in response.text


def test_results_and_theme_pages_link_their_feed_and_exports(client):
    page = soup_of(client, "/sok?q=cykel&county=Sk%C3%A5ne+l%C3%A4n&page=1")
    alternate = page.select_one("head link[rel=alternate]")
    assert alternate["type"] == "application/atom+xml"
    assert parse_qs(urlparse(alternate["href"]).query) == {"q": ["cykel"], "county": ["Skåne län"]}
    links = {a.get_text(strip=True): a["href"] for a in page.select("ul.follow-links a")}
    assert urlparse(links["Följ som flöde (Atom)"]).path == "/flode"
    csv_link = next(href for text, href in links.items() if text.endswith("som CSV (Excel)"))
    assert urlparse(csv_link).path == "/export.csv"
    assert parse_qs(urlparse(csv_link).query) == {"q": ["cykel"], "county": ["Skåne län"]}
    assert urlparse(links["Ladda ner som JSON"]).path == "/export.json"

    theme = soup_of(client, "/tema/cykel")
    assert theme.select_one("head link[rel=alternate]")["href"] == "/flode?theme=cykel"
    hrefs = [a["href"] for a in theme.select("ul.follow-links a")]
    assert hrefs == ["/flode?theme=cykel", "/export.csv?theme=cykel", "/export.json?theme=cykel",
                     "/export/statistik.csv?theme=cykel"]
    assert soup_of(client, "/").select_one("head link[rel=alternate]")["href"] == "/flode"


# -- exports ------------------------------------------------------------------------------------
def test_the_csv_export_has_every_hit_swedish_columns_and_the_filters(client):
    response = client.get("/export.csv?theme=cykel&county=Sk%C3%A5ne+l%C3%A4n&limit=1")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="exempel-cykel-skane-lan-') and disposition.endswith('.csv"')
    rows = read_csv(response)
    header = rows[0]
    assert header == [name for _, name in RESULT_COLUMNS]
    assert header[:3] == ["Id", "Rubrik", "Kommun eller region"] and "Län" in header
    table = [dict(zip(header, row)) for row in rows[1:]]
    # limit=1 is ignored: every hit; Växjö is left out by the county filter.
    assert [r["Id"] for r in table] == ["lund-presentation", "lomma-cykel", "lund-cykel"]
    lund = table[0]
    assert lund["Län"] == "Skåne län" and lund["Teman"] == "Cykel" and lund["Typ"] == "Presentation"
    assert lund["Presenterad på"] == "webbfika 2023-03-09: Webbfika om cykelpendling"
    assert lund["Kommungrupp"] == "B3" and lund["Adress i kunskapsbanken"] == f"{BASE}/dokument/lund-presentation"


def test_csv_cells_that_look_like_formulas_are_neutralised(client):
    rows = read_csv(client.get("/export.csv?theme=konsumtion"))
    table = [dict(zip(rows[0], row)) for row in rows[1:]]
    [row] = [r for r in table if r["Id"] == "formel"]
    assert row["Rubrik"] == "'=HYPERLINK(\"https://example.com\";\"klicka\")"
    assert row["Sammanfattning"] == "'+46 70 000 00 00 och @kommunen"
    assert [neutralise(v) for v in ("-1+2", "@SUM(A1)", "\tx", "Lund", None, 2021)] == [
        "'-1+2", "'@SUM(A1)", "'\tx", "Lund", "", "2021"]


def test_the_json_export_has_every_hit_and_says_whether_it_is_capped(client):
    response = client.get("/export.json?q=cykelpendling&mode=lexical&limit=1")
    assert response.headers["content-disposition"].startswith('attachment; filename="exempel-cykelpendling-')
    data = response.json()
    assert data["query"] == "cykelpendling" and data["capped"] is False and data["cap"] == exports.EXPORT_CAP
    assert data["total"] == data["count"] == len(data["results"]) == 3
    search = client.get("/api/v1/search", params={"q": "cykelpendling", "mode": "lexical", "limit": 100}).json()
    assert [r["id"] for r in data["results"]] == [r["id"] for r in search["results"]][:search["total"]]
    assert data["results"][0]["id"] == "lund-cykel"


def test_an_export_above_the_cap_is_cut_and_says_so(client, monkeypatch):
    monkeypatch.setattr(exports, "EXPORT_CAP", 2)
    data = client.get("/export.json?theme=cykel").json()
    assert data["capped"] is True and data["cap"] == 2 and data["total"] == 4 and len(data["results"]) == 2
    assert data["note"] == "Listan är avkortad: de första 2 av 4 träffar. Välj fler filter för att få med resten."
    rows = read_csv(client.get("/export.csv?theme=cykel"))
    assert len([r for r in rows[1:] if len(r) > 1]) == 2
    assert rows[-2:] == [[], [data["note"]]]


def test_the_library_export_is_every_hit_in_page_order(corpus_kb):
    from kunskap.search import Searcher

    _, kb = corpus_kb
    searcher = Searcher(kb)
    request = SearchRequest(q="cykelpendling", limit=1, sort="newest", mode="lexical")
    listing = result_list(kb, searcher, request, BASE)
    pages = [h.doc_id for p in (1, 2, 3, 4, 5, 6) for h in searcher.search(
        SearchRequest(q="cykelpendling", limit=1, page=p, sort="newest", mode="lexical")).hits]
    total = searcher.search(request).total
    assert total == 3 and listing.total == total
    assert [r["id"] for r in listing.rows] == pages[:total] == ["lund-presentation", "vaxjo-presentation", "lund-cykel"]
    body = to_csv(RESULT_COLUMNS, listing.rows).decode("utf-8-sig")
    assert body.count("\r\n") == total + 1


def test_the_stats_export_has_the_numbers_of_the_api_with_its_filters(client):
    response = client.get("/export/statistik.csv?theme=cykel")
    assert response.headers["content-disposition"].startswith('attachment; filename="statistik-cykel-')
    rows = read_csv(response)
    assert rows[0] == ["Indelning", "Värde", "Benämning", "Antal exempel"]
    api = client.get("/api/v1/stats?theme=cykel").json()
    years = [(int(r[1]), int(r[3])) for r in rows[1:] if r and r[0] == "År"]
    assert years == [(y["year"], y["count"]) for y in api["per_year"]]
    counties = {r[1]: int(r[3]) for r in rows[1:] if r and r[0] == "Län"}
    assert counties == {c["value"]: c["count"] for c in api["per_county"]} == {"Skåne län": 4 - 1,
                                                                                 "Kronobergs län": 1}
    assert rows[-1] == ["Filter: Cykel"]
    as_json = client.get("/export/statistik.json?theme=cykel")
    assert as_json.headers["content-disposition"].startswith("attachment;")
    assert json.loads(as_json.content) == api


# -- network meetings ---------------------------------------------------------------------------
def test_the_meetings_page_lists_meetings_newest_first_with_their_presentations(client):
    page = soup_of(client, "/traffar")
    assert page.h1.text == "Nätverksträffar"
    meetings = page.select("section.meeting")
    assert [m["id"] for m in meetings] == ["2023-03-09-webbfika-om-cykelpendling",
                                           "2021-11-04-natverkstraff-om-laddinfrastruktur"]
    first = meetings[0]
    assert first.h2.text == "Webbfika om cykelpendling"
    assert first.select_one(".meta").get_text(" ", strip=True) == "Webbfika · 2023-03-09"
    assert first.time["datetime"] == "2023-03-09"
    assert [a["href"] for a in first.select("ul.examples li > a:first-child")] == [
        "/dokument/lund-presentation", "/dokument/vaxjo-presentation"]
    assert [a["href"] for a in first.select(".tags a")] == ["/tema/cykel"]
    assert "2 träffar med 3 presentationer" in " ".join(page.get_text(" ").split())
    assert page.select_one("nav a[href='/traffar']").text == "Nätverksträffar"


def test_search_results_say_where_a_presentation_was_given(client):
    page = soup_of(client, "/sok?q=cykelpendling")
    cards = {c.h3.a["href"].split("?")[0]: c for c in page.select("article.card")}
    event = cards["/dokument/lund-presentation"].select_one("p.event")
    assert event.get_text(" ", strip=True) == "Presenterad på webbfika 2023-03-09: Webbfika om cykelpendling"
    assert event.a["href"] == "/traffar#2023-03-09-webbfika-om-cykelpendling"
    assert cards["/dokument/lund-cykel"].select_one("p.event") is None
    hits = client.get("/api/v1/search?q=cykelpendling").json()["results"]
    assert next(h for h in hits if h["id"] == "lund-presentation")["event"] == {
        "kind": "webbfika", "title": "Webbfika om cykelpendling", "date": "2023-03-09"}


def test_the_theme_page_lists_the_presentations_from_meetings(client):
    page = soup_of(client, "/tema/cykel")
    items = page.select("section[aria-labelledby=presentationer] ul.examples li")
    # Newest meeting first, by organisation within a meeting; Umeå's meeting is about another theme.
    assert [li.a["href"] for li in items] == ["/dokument/lund-presentation", "/dokument/vaxjo-presentation"]
    for li in items:
        assert "Presenterad på webbfika 2023-03-09: Webbfika om cykelpendling" in " ".join(li.get_text(" ").split())
    figures = [a.get_text(" ", strip=True) for a in page.select(".key-figures a")]
    assert figures[-1] == "2 presentationer från nätverksträffar"


# -- what is new --------------------------------------------------------------------------------
def test_the_start_page_shows_what_is_new(corpus_kb, client):
    corpus, kb = corpus_kb
    before = [a["href"] for a in soup_of(client, "/").select("section[aria-labelledby=nytt] li > a:first-child")]
    assert len(before) == 6
    time.sleep(1.1)
    path = corpus / "malmo-energi.md"
    path.write_text(path.read_text("utf-8") + "\nStaden har också öppnat ett energicafé.\n", encoding="utf-8")
    ingest(kb, corpus)
    page = soup_of(client, "/")
    section = page.select_one("section[aria-labelledby=nytt]")
    assert section.h2.text == "Nytt i kunskapsbanken"
    newest = [a["href"] for a in section.select("li > a:first-child")]
    assert newest[0] == "/dokument/malmo-energi" and len(newest) == 6
    assert section.select_one("a[href='/flode']")


def test_hit_ids_of_a_browse_is_every_document_passing_the_filters(corpus_kb):
    from kunskap.search import Searcher

    _, kb = corpus_kb
    ids = Searcher(kb).hit_ids(SearchRequest(q="", filters=Filters(theme=["cykel"]), limit=1))
    assert sorted(ids) == ["lomma-cykel", "lund-cykel", "lund-presentation", "vaxjo-presentation"]


def test_a_list_above_the_cap_says_so_on_the_results_page(client, monkeypatch):
    monkeypatch.setattr(exports, "EXPORT_CAP", 2)
    links = [a.get_text(strip=True) for a in soup_of(client, "/sok?theme=cykel").select("ul.follow-links a")]
    assert "Ladda ner de första 2 som CSV (Excel)" in links
    start = soup_of(client, "/")
    assert start.select_one("a[href='/export/statistik.csv']")["download"] == ""


def test_the_document_page_names_the_meeting(client):
    facts = soup_of(client, "/dokument/lund-presentation").select_one(".doc-meta")
    dt = next(d for d in facts.select("dt") if d.text == "Presenterad på")
    dd = dt.find_next_sibling("dd")
    assert " ".join(dd.get_text().split()) == "webbfika 2023-03-09: Webbfika om cykelpendling"
    assert dd.a["href"] == "/traffar#2023-03-09-webbfika-om-cykelpendling"
