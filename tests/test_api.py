"""The JSON API and pages through the app factory (real index, hashing embedder)."""

from __future__ import annotations

import re

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
    assert set(body["facets"]) == {"theme", "organisation", "organisation_type", "county", "kind", "year", "kommungrupp"}
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


QUERY = "kommun region klimat"   # matches every sample document


def _ids(client, path, params):
    r = client.get(path, params={"q": QUERY, "limit": 50, **params})
    assert r.status_code == 200, (path, params, r.text[:200])
    if path.startswith("/api/"):
        return sorted(hit["id"] for hit in r.json()["results"])
    cards = BeautifulSoup(r.text, "html.parser").select("article.card h3 a")
    # Result links carry the search and position (?fran=…, for the staff's insights).
    return sorted(a["href"].removeprefix("/dokument/").split("?fran=")[0] for a in cards)


@pytest.mark.parametrize("path", ["/api/v1/search", "/sok"])
def test_filters_repeat_or_are_comma_separated_the_same_on_the_api_and_the_page(client, path):
    assert _ids(client, path, {"theme": "cykel,kollektivtrafik"}) == ["lund-cykel", "vaxjo-buss"]
    assert _ids(client, path, {"theme": ["cykel", "kollektivtrafik"]}) == ["lund-cykel", "vaxjo-buss"]
    assert _ids(client, path, {"county": "Kronobergs län, Västerbottens län"}) == ["umea-laddning", "vaxjo-buss"]
    # An organisation's name is taken whole: a comma does not split it.
    assert _ids(client, path, {"organisation": ["Lunds kommun", "Växjö kommun"]}) == ["lund-cykel", "vaxjo-buss"]
    assert _ids(client, path, {"organisation": "Lunds kommun,Växjö kommun"}) == []


@pytest.mark.parametrize("path", ["/api/v1/search", "/sok"])
def test_an_empty_parameter_counts_as_left_out(client, path):
    everything = _ids(client, path, {})
    assert len(everything) == 5
    assert _ids(client, path, {"page": "", "limit": "", "year_from": "", "year_to": "", "sort": "",
                               "mode": "", "theme": ""}) == everything


def test_the_openapi_document_declares_every_search_parameter_with_its_bounds(client):
    from kunskap.search.request import LIMIT_RANGE, MAX_QUERY_CHARS, PAGE_RANGE, YEAR_RANGE

    operation = client.get("/api/v1/openapi.json").json()["paths"]["/api/v1/search"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert list(parameters) == ["q", "organisation", "organisation_type", "county", "theme", "kind", "kommungrupp",
                                "year_from", "year_to", "page", "limit", "sort", "mode"]
    assert all(p["in"] == "query" and p["description"] for p in parameters.values())

    def bounds(name):
        schema = parameters[name]["schema"]
        schema = next((s for s in schema.get("anyOf", []) if s.get("type") == "integer"), schema)
        return schema["minimum"], schema["maximum"]

    assert bounds("limit") == LIMIT_RANGE and bounds("page") == PAGE_RANGE
    assert bounds("year_from") == bounds("year_to") == YEAR_RANGE
    assert parameters["q"]["schema"]["maxLength"] == MAX_QUERY_CHARS
    # Declared means enforced, on the API and on the results page alike.
    for name, (low, high) in (("limit", LIMIT_RANGE), ("page", PAGE_RANGE), ("year_from", YEAR_RANGE)):
        for value in (low - 1, high + 1):
            for path in ("/api/v1/search", "/sok"):
                r = client.get(path, params={"q": "cykel", name: value})
                assert r.status_code == 400 and name in r.text, (path, name, value)
        assert client.get("/api/v1/search", params={"q": "cykel", name: high}).status_code == 200


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
    assert re.fullmatch(r"/dokument/lund-cykel\?fran=[0-9a-f]{16}\.1", results.select("article.card h3 a")[0]["href"])
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
    hits, possible = years[:body["total"]], years[body["total"]:]    # newest first within each group
    assert hits == sorted(hits, reverse=True) and possible == sorted(possible, reverse=True)
    assert len(years) == body["total"] + body["possible"] >= 3
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


def test_control_characters_in_a_path_cannot_forge_access_log_lines(client, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="kunskap.access"):
        client.get("/dokument/x%0AGET%20/kurera%20200%200.1ms%0D%1B[2J%E2%80%A8\\x0a")
    lines = [r.getMessage() for r in caplog.records if r.name == "kunskap.access"]
    assert len(lines) == 1
    assert lines[0] == "GET /dokument/x\\x0aGET /kurera 200 0.1ms\\x0d\\x1b[2J\\u2028\\\\x0a 404 " + lines[0].split()[-1]
    assert "\n" not in lines[0] and "\r" not in lines[0]


def test_the_embed_page_never_reflects_the_host_header(corpus, kb_factory):
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    with TestClient(create_app(kb.settings, knowledge_base=kb)) as default:
        page = default.get("/inbaddning", headers={"Host": "evil.example"})
    assert page.status_code == 200 and "evil.example" not in page.text
    soup = BeautifulSoup(page.text, "html.parser")
    assert 'data-api="http://127.0.0.1:8000"' in soup.select_one("pre code").text   # from KUNSKAP_HOST/PORT
    demo = soup.select_one(".embed-demo[data-kunskap-search]")
    assert demo is not None and not demo.get("data-api")                            # the live example: same origin
    configured = type(kb.settings)(**{**kb.settings.model_dump(), "public_url": "https://kunskap.klimatkommunerna.se/"})
    with TestClient(create_app(configured, knowledge_base=kb)) as public:
        text = BeautifulSoup(public.get("/inbaddning", headers={"Host": "evil.example"}).text,
                             "html.parser").select_one("pre code").text
    assert 'src="https://kunskap.klimatkommunerna.se/static/embed.js"' in text and "evil" not in text


@pytest.mark.parametrize("value", ["javascript:alert(1)", "https://x.se/?q=1", "ftp://x.se", "https://", "x.se"])
def test_a_bad_public_url_is_refused(value):
    from kunskap.config import Settings

    with pytest.raises(ValueError):
        Settings(public_url=value)


def test_the_public_url_is_derived_from_host_and_port_when_not_set():
    from kunskap.config import Settings

    assert Settings().public_base_url == "http://127.0.0.1:8000"
    assert Settings(host="0.0.0.0", port=80).public_base_url == "http://localhost:80"
    assert Settings(host="::1").public_base_url == "http://[::1]:8000"
    assert Settings(public_url="https://kunskap.example/bank/").public_base_url == "https://kunskap.example/bank"


def csp(response) -> dict[str, str]:
    directives = [d.strip().split(None, 1) for d in response.headers["content-security-policy"].split(";")]
    return {d[0]: d[1] if len(d) > 1 else "" for d in directives if d}


def test_security_headers_on_every_response(client):
    responses = {
        "page": client.get("/sok", params={"q": "cykel"}), "start": client.get("/"),
        "error page": client.get("/dokument/finns-inte"),
        "api": client.get("/api/v1/search", params={"q": "cykel"}), "api error": client.get("/api/v1/nope"),
        "static": client.get("/static/embed.js"), "docs": client.get("/docs"),
        "preflight": client.options("/api/v1/search", headers={"Origin": "https://klimatkommunerna.se",
                                                               "Access-Control-Request-Method": "GET"}),
    }
    etag = responses["api"].headers["etag"]
    responses["304"] = client.get("/api/v1/search", params={"q": "cykel"}, headers={"If-None-Match": etag})
    assert responses["304"].status_code == 304
    for name, r in responses.items():
        assert r.headers["x-content-type-options"] == "nosniff", name
        assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin", name
        assert "content-security-policy" in r.headers, name
    for name in ("page", "start", "error page"):
        policy = csp(responses[name])
        assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'", name
        assert policy["object-src"] == "'none'" and policy["base-uri"] == "'none'", name
        # Our own origin and the member sites allowed to embed the search may frame public pages.
        assert policy["frame-ancestors"] == "'self' https://klimatkommunerna.se", name
    for name in ("api", "api error", "static", "304"):
        assert csp(responses[name]) == {"default-src": "'none'", "frame-ancestors": "'none'"}, name
    assert "'unsafe-inline'" not in csp(responses["docs"])["script-src"]
    # The embed script is loaded by other sites: nothing may stop that.
    assert "cross-origin-resource-policy" not in responses["static"].headers


def test_pages_have_no_inline_script_style_or_handlers(client):
    """The CSP allows no inline script or style: no template (or Markdown rendering) may use one."""
    from kunskap.accounts import Accounts

    from .test_curation_web import PASSWORD, login

    Accounts(client.app.state.kb.store).add_user("anna", PASSWORD)
    paths = ["/", "/sok?q=cykel", "/sok", "/dokument/lund-cykel", "/dokument/finns-inte", "/om", "/inbaddning",
             "/docs", "/redoc", "/logga-in"]
    login(client)
    paths += ["/kurera", "/kurera/granska", "/kurera/ny", "/kurera/ladda-upp", "/kurera/papperskorg",
              "/kurera/dokument/lund-cykel", "/kurera/dokument/lund-cykel/versioner"]
    for path in paths:
        soup = BeautifulSoup(client.get(path).text, "html.parser")
        assert soup.find("html"), path
        assert [s for s in soup.find_all("script") if not s.get("src") or s.string] == [], path
        assert soup.find_all("style") == [], path
        for tag in soup.find_all(True):
            assert "style" not in tag.attrs and not any(a.startswith("on") for a in tag.attrs), (path, tag.name)
            for name in ("href", "src", "action"):
                assert not str(tag.get(name, "")).lower().startswith("javascript:"), (path, tag.name)


def test_the_api_is_rate_limited_per_client(corpus, kb_factory):
    kb = kb_factory(corpus, rate_limit=3, cors_origins=["https://klimatkommunerna.se"])
    ingest(kb, corpus)
    app = create_app(kb.settings, knowledge_base=kb)
    origin = {"Origin": "https://klimatkommunerna.se"}
    with TestClient(app, client=("203.0.113.1", 5000)) as client:
        assert [client.get("/api/v1/search", params={"q": "cykel"}).status_code for _ in range(3)] == [200] * 3
        r = client.get("/api/v1/themes", headers=origin)
        assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 20
        assert r.json()["error"]["code"] == "rate_limited" and "Vänta" in r.json()["error"]["message"]
        assert r.headers["access-control-allow-origin"] == "https://klimatkommunerna.se"   # the embed can read it
        assert r.headers["x-content-type-options"] == "nosniff"
        assert client.get("/sok", params={"q": "cykel"}).status_code == 200      # pages and probes: not the API
        assert client.get("/health").status_code == 200
    with TestClient(app, client=("203.0.113.2", 5000)) as other:
        assert other.get("/api/v1/themes").status_code == 200
        # X-Forwarded-For from an untrusted client is no way around the limit.
        statuses = [other.get("/api/v1/themes", headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
                    for i in range(4)]
        assert statuses == [200, 200, 429, 429]


def test_rate_limit_zero_turns_it_off(corpus, kb_factory):
    kb = kb_factory(corpus, rate_limit=0)
    ingest(kb, corpus)
    with TestClient(create_app(kb.settings, knowledge_base=kb)) as client:
        assert {client.get("/api/v1/themes").status_code for _ in range(30)} == {200}


def test_the_rate_limiter_refills_and_forgets_idle_clients():
    from kunskap.web.ratelimit import RateLimiter

    limiter = RateLimiter(per_minute=3, max_clients=2)
    assert [limiter.acquire("a", now=0.0) for _ in range(3)] == [0.0] * 3
    assert limiter.acquire("a", now=0.0) == pytest.approx(20.0)
    assert limiter.acquire("a", now=20.0) == 0.0                    # one token back after 20 s
    limiter.acquire("b", now=21.0)
    limiter.acquire("c", now=22.0)
    assert list(limiter.buckets) == ["b", "c"]                       # at most max_clients remembered
    limiter.acquire("d", now=200.0)
    assert list(limiter.buckets) == ["d"]                            # full buckets need no state


def test_openapi_declares_the_real_responses_with_the_error_schema(client):
    spec = client.get("/api/v1/openapi.json").json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    error_ref = "#/components/schemas/ErrorResponse"
    operations = {(method.upper(), path): op for path, item in spec["paths"].items() for method, op in item.items()}
    assert len(operations) >= 20
    for key, operation in operations.items():
        responses = operation["responses"]
        assert "422" not in responses, key
        assert any(s.startswith("2") for s in responses), key
        if key[1].startswith("/api/"):
            assert "429" in responses, key
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == error_ref or key == ("GET", "/ready"), (key, status)
                assert "error" in spec["components"]["schemas"][ref.rsplit("/", 1)[1]]["required"], (key, status)
    expected = {("GET", "/api/v1/revisions/{revision_id}"): {"200", "400", "401", "404", "429"},
                ("GET", "/api/v1/search"): {"200", "304", "400", "429", "503"},
                ("PUT", "/api/v1/documents/{doc_id}"): {"200", "400", "401", "403", "404", "409", "429"},
                ("PATCH", "/api/v1/documents/{doc_id}"): {"200", "400", "401", "403", "404", "409", "429"},
                ("POST", "/api/v1/documents"): {"201", "400", "401", "403", "409", "429"}}
    for key, statuses in expected.items():
        assert set(operations[key]["responses"]) == statuses, key
    # And the answers have that shape.
    from kunskap.web.schemas import ErrorResponse

    for r in (client.get("/api/v1/search", params={"limit": 0}), client.get("/api/v1/documents/finns-inte"),
              client.get("/api/v1/revisions/1"), client.put("/api/v1/documents/x", json={})):
        assert r.status_code in (400, 401, 404)
        ErrorResponse.model_validate(r.json())
