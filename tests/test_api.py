"""The JSON API and pages through the app factory (real index, hashing embedder)."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from kunskap.ingest import ingest
from kunskap.web.app import create_app


@pytest.fixture
def client(corpus, kb_factory):
    kb = kb_factory(corpus, cors_origins=["https://klimatkommunerna.se"])
    ingest(kb, corpus)
    with TestClient(create_app(kb.settings, knowledge_base=kb)) as test_client:
        yield test_client


def test_search_json_shape(client):
    r = client.get("/api/v1/search", params={"q": "cyklar", "limit": 3})
    assert r.status_code == 200
    body = r.json()
    assert body["results"][0]["id"] == "lund-cykel"
    first = body["results"][0]
    assert {"id", "title", "organisation", "county", "year", "themes", "kind", "snippet", "score", "page"} <= set(first)
    assert first["themes"] == [{"slug": "cykel", "label": "Cykel"}]
    assert set(body["facets"]) == {"theme", "organisation", "organisation_type", "county", "kind", "year"}
    from kunskap.web.api import SearchResponse

    SearchResponse.model_validate(body)   # the documented OpenAPI shape


def test_document_similar_facets_themes_organisations(client):
    doc = client.get("/api/v1/documents/malmo-energi").json()
    assert doc["organisation"] == "Malmö stad" and "<h2>Bakgrund</h2>" in doc["html"] and doc["member"] is True
    assert [t["slug"] for t in doc["themes"]] == ["rattvis-omstallning"]
    similar = client.get("/api/v1/documents/malmo-energi/similar").json()["results"]
    assert similar and all(s["organisation"] != "Malmö stad" for s in similar)
    facets = client.get("/api/v1/facets").json()
    assert {"value": "Skåne län", "label": "Skåne län", "count": 3} in facets["county"]
    assert len(client.get("/api/v1/themes").json()) == 18
    orgs = {o["name"]: o for o in client.get("/api/v1/organisations").json()}
    assert orgs["Växjö kommun"]["county"] == "Kronobergs län"


@pytest.mark.parametrize("params, field", [
    ({"q": "x" * 2001}, "q"), ({"q": "cykel", "limit": 0}, "limit"), ({"q": "cykel", "limit": 101}, "limit"),
    ({"q": "cykel", "page": "abc"}, "page"), ({"q": "cykel", "sort": "random"}, "sort"),
    ({"q": "cykel", "year_from": "nittonhundra"}, "year_from"),
])
def test_bad_parameters_are_400_with_the_parameter_named(client, params, field):
    r = client.get("/api/v1/search", params=params)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "invalid_parameter" and error["parameter"] == field and error["message"]


def test_errors_have_one_shape(client):
    r = client.get("/api/v1/documents/finns-inte")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.get("/api/v1/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.post("/api/v1/search")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_unknown_filter_value_is_empty_not_error(client):
    r = client.get("/api/v1/search", params={"q": "cykel", "theme": "finns-inte"})
    assert r.status_code == 200 and r.json()["total"] == 0


def test_health_ready_cors_etag_gzip(client):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["documents"] == 5 and ready["vectors"] == ready["chunks"] > 0
    r = client.get("/api/v1/search", params={"q": "mat"}, headers={"Origin": "https://klimatkommunerna.se",
                                                                   "Accept-Encoding": "gzip"})
    assert r.headers["access-control-allow-origin"] == "https://klimatkommunerna.se"
    assert r.headers.get("content-encoding") == "gzip"
    etag = r.headers["etag"]
    again = client.get("/api/v1/search", params={"q": "mat"}, headers={"If-None-Match": etag})
    assert again.status_code == 304
    other = client.get("/api/v1/search", params={"q": "mat"}, headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_pages_are_swedish_and_structured(client):
    start = BeautifulSoup(client.get("/").text, "html.parser")
    assert start.html["lang"] == "sv"
    assert start.select_one("a.skip-link")["href"] == "#innehall"
    assert start.select_one("form[role=search] label[for=q]")
    results = BeautifulSoup(client.get("/sok", params={"q": "cykel"}).text, "html.parser")
    assert results.select("article.card h3 a")[0]["href"] == "/dokument/lund-cykel"
    assert results.select_one("aside.facets")
    doc = BeautifulSoup(client.get("/dokument/lund-cykel").text, "html.parser")
    assert doc.h1.text == "Cykelvägar och cykelpendling i Lund"
    assert doc.select_one("section.similar h2").text == "Liknande exempel från andra kommuner"
    missing = client.get("/dokument/finns-inte")
    assert missing.status_code == 404 and "Sidan hittades inte" in missing.text


def test_no_input_gives_a_500(client):
    odd = ["", "\x00", "%", "<script>", "' OR 1=1 --", '"', "NEAR(", "a" * 2000, "😀" * 100]
    for q in odd:
        for url in ("/api/v1/search", "/sok"):
            r = client.get(url, params={"q": q})
            assert r.status_code < 500, (url, q)
    for path in ("/api/v1/search?q=%ED%A0%80x", "/sok?q=%FF%FE", "/sok?theme=%FF&year_from=1&page=-1",
                 "/api/v1/documents/%00", "/api/v1/documents/" + "x" * 5000, "/dokument/..%2F..%2Fetc"):
        assert client.get(path).status_code < 500


def test_sort_newest_orders_by_year(client):
    body = client.get("/api/v1/search", params={"q": "kommun region klimat buss cykel mat", "sort": "newest",
                                                "limit": 50}).json()
    years = [r["year"] for r in body["results"]]
    assert years == sorted(years, reverse=True) and len(years) >= 3
    page = BeautifulSoup(client.get("/sok", params={"q": "cykel"}).text, "html.parser")
    assert page.find("a", string="nyast först")["href"].endswith("sort=newest")


def test_api_docs_work_offline(client):
    docs = client.get("/docs").text
    assert "cdn." not in docs and "https://" not in docs.split("openapi.json")[0].lower().replace("http://testserver", "")
    assert client.get("/api/v1/openapi.json").json()["info"]["title"] == "kunskap API"
    assets = BeautifulSoup(docs, "html.parser").select("script[src], link[href]")
    assert any(a.name == "script" for a in assets)          # Swagger UI's own script, served by us
    for url in assets:
        target = url.get("src") or url.get("href")
        assert client.get(target).status_code == 200, target


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory):
    from kunskap.config import Settings
    from kunskap.knowledgebase import KnowledgeBase

    from .conftest import SAMPLE, write_case

    root = tmp_path_factory.mktemp("fuzz")
    for name, (title, org, body, meta) in SAMPLE.items():
        write_case(root / "corpus", name, title, org, body, **meta)
    kb = KnowledgeBase(Settings(corpus=root / "corpus", index=root / "index", model="hashing"))
    ingest(kb, root / "corpus")
    with TestClient(create_app(kb.settings, knowledge_base=kb)) as c:
        yield c


text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=120)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=text, theme=text, county=text, page=st.one_of(st.integers(-5, 2000), text),
       limit=st.one_of(st.integers(-5, 200), text), year=st.one_of(st.integers(-10, 5000), text),
       sort=st.sampled_from(["relevance", "newest", "", "x"]), path=st.sampled_from(["/api/v1/search", "/sok"]))
def test_search_never_answers_500(fuzz_client, q, theme, county, page, limit, year, sort, path):
    r = fuzz_client.get(path, params={"q": q, "theme": theme, "county": county, "page": page, "limit": limit,
                                      "year_from": year, "sort": sort})
    assert r.status_code < 500
    if path.startswith("/api/") and r.status_code >= 400:
        assert set(r.json()["error"]) >= {"code", "message"}


def test_a_flood_of_new_searches_gets_503_at_once_not_a_queue(corpus, kb_factory):
    """Beyond KUNSKAP_MAX_PENDING_SEARCHES waiting for the model, a new query is refused with a
    Swedish 503 and Retry-After; cached results are still served; nothing is lost."""
    import threading

    from kunskap.embeddings import HashingEmbedder

    inside, release = threading.Event(), threading.Event()

    class SlowModel(HashingEmbedder):
        def encode_queries(self, texts):
            if any("blockera" in t for t in texts):
                inside.set()
                release.wait(10)
            return super().encode_queries(texts)

    kb = kb_factory(corpus, embedder=SlowModel(), max_pending_searches=1)
    ingest(kb, corpus)
    with TestClient(create_app(kb.settings, knowledge_base=kb)) as client:
        assert client.get("/api/v1/search", params={"q": "cyklar"}).status_code == 200   # now cached
        first = {}
        waiting = threading.Thread(
            target=lambda: first.update(r=client.get("/api/v1/search", params={"q": "blockera cyklar"})))
        waiting.start()
        try:
            assert inside.wait(10)
            r = client.get("/api/v1/search", params={"q": "energi"})
            assert r.status_code == 503 and r.headers["retry-after"] == "2"
            assert r.json()["error"]["code"] == "overloaded" and "Försök igen" in r.json()["error"]["message"]
            page = client.get("/sok", params={"q": "energi"})
            assert page.status_code == 503 and "Försök igen" in page.text
            assert client.get("/api/v1/search", params={"q": "cyklar"}).status_code == 200
        finally:
            release.set()
            waiting.join(10)
        assert first["r"].status_code == 200 and first["r"].json()["results"]
        assert client.get("/api/v1/search", params={"q": "energi"}).status_code == 200
