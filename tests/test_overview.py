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

from .conftest import write_case

EXTRA = {
    "lomma-cykel.md": ("Säkra skolvägar för cykel i Lomma", "Lomma kommun", "Fler barn cyklar till skolan.",
                       {"themes": "[cykel, transporteffektivt-samhalle]", "county": "Skåne län", "year": 2021,
                        "organisation_type": "kommun"}),
    "lund-presentation.md": ("Cykelstaden Lund – presentation på nätverksträff", "Lunds kommun",
                             "Bilder om cykelpendling.",
                             {"themes": "[cykel]", "county": "Skåne län", "year": 2023, "kind": "presentation",
                              "organisation_type": "kommun"}),
}


@pytest.fixture
def client(corpus, kb_factory):
    for name, (title, org, body, meta) in EXTRA.items():
        write_case(corpus, name, title, org, body, **meta)
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    with TestClient(create_app(kb.settings, knowledge_base=kb)) as test_client:
        yield test_client


def soup_of(client, path: str) -> BeautifulSoup:
    response = client.get(path)
    assert response.status_code == 200, (path, response.text[:500])
    return BeautifulSoup(response.text, "html.parser")


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
    presentations = page.select("section[aria-labelledby=presentationer] li a")
    assert [a["href"] for a in presentations] == ["/dokument/lund-presentation"]

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
