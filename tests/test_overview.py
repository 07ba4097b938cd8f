"""Theme pages, member pages, the county map, kommungrupp and the stats, through the app factory
(real SQLite and FAISS, hashing embedder), checked by the HTML's structure."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from kunskap.ingest import ingest
from kunskap.reference import kommungrupp_of, municipalities, organisation_slug, organisations
from kunskap.themes import ThemeVocabulary
from kunskap.web.app import create_app
from kunskap.web.charts import MAP_BORDER, MAP_STEPS, contrast, counties_geometry, step_of

from .conftest import corpus_with, soup_of, write_case

EXTRA = {
    "lomma-cykel.md": ("Säkra skolvägar för cykel i Lomma", "Lomma kommun", "Fler barn cyklar till skolan.",
                       {"themes": "[cykel, transporteffektivt-samhalle]", "county": "Skåne län", "year": 2021,
                        "organisation_type": "kommun"}),
    "lund-presentation.md": ("Cykelstaden Lund – presentation på nätverksträff", "Lunds kommun",
                             "Bilder om cykelpendling.",
                             {"themes": "[cykel]", "county": "Skåne län", "year": 2023, "kind": "presentation",
                              "organisation_type": "kommun",
                              "event": "{kind: webbfika, title: Webbfika om cykelpendling, date: 2023-03-09}"}),
}


@pytest.fixture
def client(corpus, kb_factory):
    kb = corpus_with(corpus, kb_factory, EXTRA)
    with TestClient(create_app(kb.settings, knowledge_base=kb)) as test_client:
        yield test_client


def query(href: str) -> dict[str, list[str]]:
    parsed = urlparse(href)
    assert parsed.path == "/sok", href
    return parse_qs(parsed.query)


# -- reference data and themes -----------------------------------------------------------------
def test_every_theme_has_a_one_sentence_description():
    themes = ThemeVocabulary.load().themes
    assert len(themes) == 18
    for theme in themes:
        assert theme.description.endswith(".") and theme.description.count(".") == 1, theme.slug
        assert theme.synonyms, theme.slug   # the new column did not shift the synonyms


def test_organisation_slugs_are_unique_and_readable():
    slugs = [organisation_slug(name) for name in organisations()]
    assert len(set(slugs)) == len(slugs) == 310
    assert organisation_slug("Malmö stad") == "malmo-stad"
    assert organisation_slug("Region Skåne") == "region-skane"
    # Håbo and Habo fold to the same letters: both get their municipality code.
    assert {organisation_slug("Håbo kommun"), organisation_slug("Habo kommun")} == {"habo-kommun-0305",
                                                                                     "habo-kommun-0643"}


def test_municipalities_have_a_kommungrupp_and_population():
    table = municipalities()
    assert len(table) == 290
    assert kommungrupp_of("Malmö stad") == "A1" and kommungrupp_of("Lunds kommun") == "B3"
    assert kommungrupp_of("Region Skåne") is None
    assert table["Lunds kommun"]["population"] == 131590 and table["Lunds kommun"]["population_year"] == "2024"


# -- the map ----------------------------------------------------------------------------------
def test_map_colours_pass_contrast_against_the_borders():
    for low, fill, _ in MAP_STEPS:
        assert contrast(fill, MAP_BORDER) >= 3.0, fill
    assert [step_of(n) for n in (0, 1, 2, 3, 5, 6, 10, 11, 500)] == [0, 1, 1, 2, 2, 3, 3, 4, 4]


def test_start_page_map_links_every_county_to_the_filtered_search(client):
    page = soup_of(client, "/")
    svg = page.select_one("figure.county-map svg.map")
    assert svg.title.text.startswith("Karta över Sveriges län")
    links = svg.find_all("a")
    assert len(links) == 21 == len(counties_geometry()["locations"])
    names = {a["aria-label"]: a for a in links}
    skane = names["Skåne län: 5 exempel"]   # Lund ×2, Malmö, Lomma, Region Skåne
    assert query(skane["href"]) == {"county": ["Skåne län"]}
    assert skane.path["d"] and skane.path["fill"] == MAP_STEPS[2][1]
    assert names["Gotlands län: 0 exempel"].path["fill"] == MAP_STEPS[0][1]
    # The text alternative: the same numbers in a table, in the same order as the links.
    rows = page.select("figure.county-map details table tbody tr")
    assert [(r.th.text, r.td.text.split()[0]) for r in rows][:3] == [
        ("Blekinge län", "0"), ("Dalarnas län", "0"), ("Gotlands län", "0")]
    assert [r.th.text for r in rows] == [a["aria-label"].split(":")[0] for a in links]
    # The figure the table gives is the same as the search it links to.
    results = soup_of(client, skane["href"])
    assert results.select_one(".count-line").text.split()[0] == "5"


# -- theme pages ------------------------------------------------------------------------------
def test_theme_page_shows_counts_chart_map_members_recent_presentations_related(client):
    page = soup_of(client, "/tema/cykel")
    assert page.h1.text == "Cykel"
    assert page.select_one("p.lead").text == ThemeVocabulary.load().by_slug["cykel"].description
    figures = [a.get_text(" ", strip=True) for a in page.select(".key-figures a")]
    assert figures == ["3 exempel", "2 kommuner och regioner", "1 presentation från nätverksträffar"]
    assert query(page.select_one(".key-figures a")["href"]) == {"theme": ["cykel"]}

    chart = page.select_one("section[aria-labelledby=per-ar] figure.chart")
    svg = chart.svg
    assert svg["role"] == "img" and "Exempel per år inom Cykel" in svg.title.text
    assert [t.text for t in svg.select("text.axis-label")] == ["År", "Antal exempel"]
    # 2019–2023, every year on the axis; the bars are the examples per year.
    table = [(r.th.text, r.td.get_text(" ", strip=True).split()[0]) for r in chart.select("table tbody tr")]
    assert table == [("2019", "1"), ("2020", "0"), ("2021", "1"), ("2022", "0"), ("2023", "1")]
    assert len(svg.select("rect")) == 3
    assert query(chart.select_one("table a")["href"]) == {"theme": ["cykel"], "year_from": ["2019"],
                                                          "year_to": ["2019"]}

    map_links = {a["aria-label"]: a["href"] for a in page.select("figure.county-map svg a")}
    assert query(map_links["Skåne län: 3 exempel"]) == {"theme": ["cykel"], "county": ["Skåne län"]}

    members = [(r.th.a.text, r.th.a["href"], r.td.a.text.split()[0])
               for r in page.select("section[aria-labelledby=medlemmar] tbody tr")]
    assert members == [("Lunds kommun", "/medlem/lunds-kommun", "2"), ("Lomma kommun", "/medlem/lomma-kommun", "1")]

    recent = [a.text for a in page.select("section[aria-labelledby=senaste] li > a:first-child")]
    assert recent == ["Cykelstaden Lund – presentation på nätverksträff", "Säkra skolvägar för cykel i Lomma",
                      "Cykelvägar och cykelpendling i Lund"]
    presentations = page.select("section[aria-labelledby=presentationer] li")
    assert [li.a["href"] for li in presentations] == ["/dokument/lund-presentation"]
    # The meeting it was given at, from its `event`, linked to its place on /traffar.
    assert "Presenterad på webbfika 2023-03-09" in presentations[0].get_text(" ", strip=True)
    assert presentations[0].select("a")[-1]["href"] == "/traffar#2023-03-09-webbfika-om-cykelpendling"

    related = page.select("section[aria-labelledby=relaterade] li")
    assert [li.a.text for li in related] == ["Transporteffektivt samhälle"]
    assert related[0].a["href"] == "/tema/transporteffektivt-samhalle"
    assert query(related[0].select("a")[1]["href"]) == {"theme": ["cykel", "transporteffektivt-samhalle"]}


def test_an_unknown_theme_is_a_swedish_404(client):
    response = client.get("/tema/finns-inte")
    assert response.status_code == 404
    page = BeautifulSoup(response.text, "html.parser")
    assert page.h1.text == "Sidan hittades inte" and "finns-inte" in page.select_one("[role=alert]").text


def test_themes_link_to_their_pages_from_the_start_page_cards_and_documents(client):
    start = soup_of(client, "/")
    assert [a["href"] for a in start.select(".theme-list a")][:2] == ["/tema/rattvis-omstallning",
                                                                      "/tema/transporteffektivt-samhalle"]
    results = soup_of(client, "/sok?q=cykel")
    assert "/tema/cykel" in [a["href"] for a in results.select("article.card .tags a")]
    assert "/medlem/lunds-kommun" in [a["href"] for a in results.select("article.card .meta a")]
    document = soup_of(client, "/dokument/lund-cykel")
    assert document.select_one(".doc-meta a[href='/tema/cykel']").text == "Cykel"
    assert document.select_one(".doc-meta a[href='/medlem/lunds-kommun']").text == "Lunds kommun"


def test_the_about_page_attributes_the_map(client):
    about = soup_of(client, "/om").get_text(" ")
    assert "Victor Cazanave" in about and "CC BY 4.0" in about and "@svg-maps/sweden" in about


# -- member pages -----------------------------------------------------------------------------
def test_member_page_shows_facts_examples_by_theme_timeline_and_similar_municipalities(client):
    page = soup_of(client, "/medlem/lunds-kommun")
    assert page.h1.text == "Lunds kommun"
    facts = {dt.text: dt.find_next_sibling("dd").get_text(" ", strip=True) for dt in page.select(".doc-meta dt")}
    assert facts["Typ"] == "Kommun" and facts["Län"] == "Skåne län"
    assert facts["Kommungrupp"].startswith("B3 Större stad")
    assert facts["Invånare"] == "131 590 (SCB, 31 december 2024)"
    assert facts["Exempel"] == "2 exempel"
    assert query(page.select_one(".doc-meta a[href^='/sok?organisation']")["href"]) == {"organisation": ["Lunds kommun"]}

    by_theme = page.select_one("section[aria-labelledby=per-tema]")
    assert [h.a.text for h in by_theme.select("h3")] == ["Cykel"]
    assert len(by_theme.select("ul.examples li")) == 2

    timeline = [li.get_text(" ", strip=True) for li in page.select("ol.timeline li")]
    assert timeline == ["2023 : Cykelstaden Lund – presentation på nätverksträff",
                        "2019 : Cykelvägar och cykelpendling i Lund"]

    similar = page.select("section[aria-labelledby=liknande-kommuner] ul.similar-list > li")
    names = [li.a.text for li in similar]
    assert names == ["Umeå kommun", "Växjö kommun"]   # B3 with examples, closest population first
    umea = similar[0]
    done = [a.text for a in umea.select("a")[1:]]
    assert done == ["Fossilfria fordon och drivmedel"]
    assert query(umea.select("a")[1]["href"]) == {"organisation": ["Umeå kommun"], "theme": ["fossilfria-fordon"]}
    rest = page.select_one("section[aria-labelledby=liknande-kommuner]").get_text(" ")
    assert "Helsingborgs stad" in rest   # same group and band, no examples yet: named, not listed


def test_a_region_has_a_member_page_without_similar_municipalities(client):
    page = soup_of(client, "/medlem/region-skane")
    assert page.h1.text == "Region Skåne"
    assert page.select_one("section[aria-labelledby=liknande-kommuner] ul.similar-list") is None
    assert "ingen kommun" in page.select_one("section[aria-labelledby=liknande-kommuner]").text
    facts = {dt.text for dt in page.select(".doc-meta dt")}
    assert "Kommungrupp" not in facts and "Invånare" not in facts


def test_a_municipality_without_examples_has_a_page_and_an_unknown_slug_is_404(client):
    page = soup_of(client, "/medlem/habo-kommun-0643")
    assert page.h1.text == "Habo kommun"
    assert "inga publicerade exempel" in page.select_one("section[aria-labelledby=per-tema]").text
    assert client.get("/medlem/finns-inte").status_code == 404


def test_the_overview_pages_have_no_inline_script_or_style(client):
    for path in ("/", "/tema/cykel", "/medlem/lunds-kommun", "/medlem/region-skane"):
        page = soup_of(client, path)
        assert [s for s in page.find_all("script") if not s.get("src")] == [], path
        for tag in page.find_all(True):
            assert "style" not in tag.attrs and not any(a.startswith("on") for a in tag.attrs), (path, tag.name)


# -- kommungrupp: filter, facet, similar municipalities ------------------------------------------
def test_the_kommungrupp_filter_and_facet_in_the_api(client):
    # B3 (större stad): Lund ×2, Växjö, Umeå; Malmö is A1, Lomma A2, Region Skåne none.
    body = client.get("/api/v1/search", params={"q": "kommunen", "kommungrupp": "B3", "limit": 20}).json()
    assert {r["organisation"] for r in body["results"]} <= {"Lunds kommun", "Växjö kommun", "Umeå kommun"}
    assert body["results"]
    assert body["facets"]["kommungrupp"] == [{"value": "B3", "label": "B3 Större stad", "count": body["total"]}]
    # Without the filter the facet counts every group over the hit set, in A1..C9 order.
    browse = client.get("/api/v1/facets").json()["kommungrupp"]
    assert [(f["value"], f["count"]) for f in browse] == [("A1", 1), ("A2", 1), ("B3", 4)]
    # Repeated or comma-separated, any case; an unknown group is empty, not an error.
    both = client.get("/api/v1/search", params={"q": "kommunen", "kommungrupp": "a1,b3", "limit": 20}).json()
    assert {r["organisation"] for r in both["results"]} >= {"Malmö stad"}
    unknown = client.get("/api/v1/search", params={"q": "kommunen", "kommungrupp": "Z9"})
    assert unknown.status_code == 200 and unknown.json()["total"] == 0
    organisations_ = {o["name"]: o for o in client.get("/api/v1/organisations").json()}
    assert organisations_["Lunds kommun"]["id"] == "lunds-kommun"
    assert organisations_["Lunds kommun"]["kommungrupp"] == "B3" and organisations_["Region Skåne"]["kommungrupp"] is None


def test_the_kommungrupp_facet_and_filter_on_the_results_page(client):
    page = soup_of(client, "/sok")
    facet = next(s for s in page.select("section.facet") if s.h3.text == "Kommungrupp")
    links = {a.get_text(" ", strip=True): a["href"] for a in facet.select("a")}
    href = links["B3 Större stad (4 exempel )"]
    assert query(href) == {"kommungrupp": ["B3"]}
    filtered = soup_of(client, href)
    assert filtered.select_one(".count-line").text.split()[0] == "4"
    metas = filtered.select("article.card .meta a")
    assert {a.text for a in metas} == {"Lunds kommun", "Växjö kommun", "Umeå kommun"}
    assert "B3 Större stad" in filtered.select_one(".active-filters").text


def test_similar_municipalities_api(client):
    body = client.get("/api/v1/organisations/lunds-kommun/similar-municipalities").json()
    assert body["organisation"] == "Lunds kommun" and body["kommungrupp"] == "B3"
    assert body["population"] == 131590 and body["population_year"] == "2024"
    assert body["population_bands"] == ["50\u00a0000–99\u00a0999 invånare", "100\u00a0000–199\u00a0999 invånare",
                                        "minst 200\u00a0000 invånare"]
    names = [m["organisation"] for m in body["municipalities"]]
    assert names[:2] == ["Umeå kommun", "Växjö kommun"]
    assert "Helsingborgs stad" in names and "Malmö stad" not in names and "Lunds kommun" not in names
    table = municipalities()
    assert all(table[n]["kommungrupp"] == "B3" and table[n]["population"] >= 50_000 for n in names)
    umea = body["municipalities"][0]
    assert umea["themes_not_here"] == [{"slug": "fossilfria-fordon", "label": "Fossilfria fordon och drivmedel"}]
    assert umea["documents"] == 1 and umea["id"] == "umea-kommun"
    # By name or municipality code too; a region or an unknown id is a Swedish 404.
    assert client.get("/api/v1/organisations/1281/similar-municipalities").json()["organisation"] == "Lunds kommun"
    assert client.get("/api/v1/organisations/Lunds kommun/similar-municipalities").json()["id"] == "lunds-kommun"
    region = client.get("/api/v1/organisations/region-skane/similar-municipalities")
    assert region.status_code == 404 and "inte en kommun" in region.json()["error"]["message"]
    missing = client.get("/api/v1/organisations/finns-inte/similar-municipalities")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


# -- stats --------------------------------------------------------------------------------------
def test_stats_api_counts_per_year_theme_county_and_kommungrupp(client):
    body = client.get("/api/v1/stats").json()
    assert body["total"] == 7 and body["organisations"] == 6
    assert body["per_year"] == [{"year": y, "count": n} for y, n in
                                [(2018, 1), (2019, 1), (2020, 1), (2021, 2), (2022, 1), (2023, 1)]]
    assert {"value": "cykel", "label": "Cykel", "count": 3} in body["per_theme"]
    assert body["per_county"][0] == {"value": "Skåne län", "label": "Skåne län", "count": 5}
    assert body["per_kommungrupp"] == [{"value": "A1", "label": "A1 Storstäder", "count": 1},
                                       {"value": "A2", "label": "A2 Pendlingskommun nära storstad", "count": 1},
                                       {"value": "B3", "label": "B3 Större stad", "count": 4}]
    cykel = client.get("/api/v1/stats", params={"theme": "cykel", "county": "Skåne län"}).json()
    assert cykel["filters"] == {"theme": ["cykel"], "county": ["Skåne län"], "kommungrupp": []}
    assert cykel["total"] == 3 and [c["value"] for c in cykel["per_county"]] == ["Skåne län"]
    b3 = client.get("/api/v1/stats", params={"kommungrupp": "b3"}).json()
    assert b3["total"] == 4 and b3["filters"]["kommungrupp"] == ["B3"]
    assert client.get("/api/v1/stats", params={"theme": "finns-inte"}).json()["total"] == 0


def test_stats_are_the_numbers_of_the_charts_and_the_map(client):
    stats = client.get("/api/v1/stats", params={"theme": "cykel"}).json()
    page = soup_of(client, "/tema/cykel")
    chart_rows = page.select("section[aria-labelledby=per-ar] table tbody tr")
    assert [(int(r.th.text), int(r.td.get_text(" ", strip=True).split()[0])) for r in chart_rows] == [
        (y["year"], y["count"]) for y in stats["per_year"]]
    map_counts = {a["aria-label"].split(": ")[0]: int(a["aria-label"].split(": ")[1].split()[0])
                  for a in page.select("figure.county-map svg a")}
    assert {k: v for k, v in map_counts.items() if v} == {c["value"]: c["count"] for c in stats["per_county"]}


def test_overviews_follow_a_change_of_the_knowledge_base(client, corpus):
    before = client.get("/api/v1/stats", params={"theme": "cykel"}).json()["total"]
    assert soup_of(client, "/tema/cykel").select_one(".key-figures a strong").text == str(before)
    write_case(corpus, "vaxjo-cykel.md", "Cykelpendling i Växjö", "Växjö kommun", "Cykelstråk till jobbet.",
               themes="[cykel]", county="Kronobergs län", year=2024, organisation_type="kommun")
    ingest(client.app.state.kb, corpus)
    assert client.get("/api/v1/stats", params={"theme": "cykel"}).json()["total"] == before + 1
    assert soup_of(client, "/tema/cykel").select_one(".key-figures a strong").text == str(before + 1)
    lund = client.get("/api/v1/organisations/lunds-kommun/similar-municipalities").json()
    vaxjo = next(m for m in lund["municipalities"] if m["organisation"] == "Växjö kommun")
    assert vaxjo["documents"] == 2 and [t["slug"] for t in vaxjo["themes_not_here"]] == ["kollektivtrafik"]


def test_a_document_page_shows_examples_from_similar_municipalities(client, corpus):
    # Växjö (B3, like Lund) gets a cycling example: Lund's cycling page lists it, Malmö's (A1) does not.
    write_case(corpus, "vaxjo-cykel.md", "Cykelpendling i Växjö", "Växjö kommun", "Cykelstråk till jobbet.",
               themes="[cykel]", county="Kronobergs län", year=2024, organisation_type="kommun")
    ingest(client.app.state.kb, corpus)
    page = soup_of(client, "/dokument/lund-cykel")
    section = page.select_one("section[aria-labelledby=fran-liknande]")
    assert section.h2.text == "Från kommuner som liknar Lunds kommun"
    assert [a["href"] for a in section.select("li > a:first-child")] == ["/dokument/vaxjo-cykel"]
    assert soup_of(client, "/dokument/malmo-energi").select_one("section[aria-labelledby=fran-liknande]") is None
    assert soup_of(client, "/dokument/skane-mat").select_one("section[aria-labelledby=fran-liknande]") is None


def test_year_labels_thin_out_so_the_larger_phone_text_does_not_overlap():
    from kunskap.web.charts import LABEL_ROOM, LABEL_ROOM_SMALL, bar_chart, label_strides

    assert label_strides(5, 564) == (1, 1)
    wide, small = label_strides(16, 564)
    assert (wide, small) == (1, 2)
    chart = bar_chart([(str(2000 + i), i % 3) for i in range(30)], lambda y: f"/sok?year_from={y}", "T", "År", "Antal")
    wide, small = label_strides(30, chart["plot_w"])
    assert small % wide == 0
    shown = [b for b in chart["bars"] if b["show_label"]]
    kept = [b for b in shown if not b["minor"]]
    # What is drawn leaves room for a year at each font size (viewBox units).
    assert min(b2["cx"] - b1["cx"] for b1, b2 in zip(shown, shown[1:])) >= LABEL_ROOM
    assert min(b2["cx"] - b1["cx"] for b1, b2 in zip(kept, kept[1:])) >= LABEL_ROOM_SMALL
    assert kept[0]["label"] == "2000"


def test_chart_labels_are_marked_for_the_phone_stylesheet(client):
    svg = soup_of(client, "/medlem/lunds-kommun").select_one("svg.bar-chart")
    labels = svg.select("text.x-tick")
    assert [t.text for t in labels] == ["2019", "2020", "2021", "2022", "2023"]
    assert all(t["dominant-baseline"] == "hanging" for t in labels)
    assert not svg.select("text.minor")   # five years fit at the phone's font too
