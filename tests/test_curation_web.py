"""Curation through the web: the real login flow with CSRF, throttling, permissions on every
route, the token API, XSS payloads in every field, and live edits while searches run."""

from __future__ import annotations

import re
import threading

import pytest
from bs4 import BeautifulSoup
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from kunskap.accounts import Accounts
from kunskap.errors import ReadOnlyError
from kunskap.ingest import ingest
from kunskap.search import SearchRequest, Searcher
from kunskap.web.app import create_app

from .conftest import STAFF_PASSWORD
from .files import make_pptx

PASSWORD = STAFF_PASSWORD




def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def login(client, password=PASSWORD):
    token = csrf_of(client.get("/logga-in").text)
    return client.post("/logga-in", data={"username": "anna", "password": password, "csrf": token, "next": "/kurera"},
                       follow_redirects=False)


def test_login_flow_sets_a_secure_session_and_logout_needs_csrf(client):
    assert client.get("/kurera", follow_redirects=False).headers["location"] == "/logga-in?next=/kurera"
    forged = client.post("/logga-in", data={"username": "anna", "password": PASSWORD, "csrf": "gissat"},
                         follow_redirects=False)
    assert forged.status_code == 403
    r = login(client)
    assert r.status_code == 303 and r.headers["location"] == "/kurera"
    cookie = r.headers["set-cookie"]
    assert "kunskap_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    page = client.get("/kurera")
    assert page.status_code == 200 and "Inloggad som Anna Andersson" in page.text
    assert client.post("/logga-ut", data={"csrf": "fel"}).status_code == 403
    assert client.post("/logga-ut", data={"csrf": csrf_of(page.text)}, follow_redirects=False).status_code == 303
    assert client.get("/kurera", follow_redirects=False).status_code == 303


def test_cookie_is_secure_behind_https(client):
    token = csrf_of(client.get("/logga-in").text)
    r = client.post("/logga-in", data={"username": "anna", "password": PASSWORD, "csrf": token},
                    headers={"X-Forwarded-Proto": "https"}, follow_redirects=False)
    assert "Secure" in r.headers["set-cookie"]


def test_login_is_throttled_after_repeated_failures(client):
    for _ in range(5):
        assert login(client, "fel-losenord").status_code == 401
    r = login(client)
    assert r.status_code == 429 and "För många misslyckade inloggningar" in r.text


def route_objects(routes, prefix=""):
    """Every route of the app with its full path, also inside included routers (newer FastAPI
    includes them lazily)."""
    for route in routes:
        nested = getattr(route, "original_router", None)
        if nested is not None:
            yield from route_objects(nested.routes, prefix + route.include_context.prefix)
        elif isinstance(route, APIRoute):
            yield prefix + route.path, route


def test_no_write_route_answers_without_staff_credentials(app_kb, client):
    app, _, token = app_kb
    writes = [(m, path) for path, route in route_objects(app.routes)
              for m in route.methods if m in ("POST", "PUT", "PATCH", "DELETE")]
    assert len(writes) >= 15
    for method, path in writes:
        url = re.sub(r"\{[^}]+\}", "1", path)
        if path == "/logga-in":
            continue   # signing in is the one anonymous POST; it needs the login CSRF cookie
        r = client.request(method, url, data={"csrf": "x"}, follow_redirects=False)
        assert r.status_code in (401, 403) or (r.status_code == 303 and "/logga-in" in r.headers["location"]), (method, url)
        if url.startswith("/api/"):
            assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
            bad = client.request(method, url, headers={"Authorization": "Bearer kk_fel"})
            assert bad.status_code == 401
    # A signed-in session does not open the token API, and pages still need the CSRF token.
    login(client)
    assert client.post("/api/v1/documents", json={"title": "x", "organisation": "Lunds kommun"}).status_code == 401
    assert client.post("/kurera/dokument/lund-cykel/radera", data={"csrf": "fel"}).status_code == 403
    for path in ("/kurera", "/kurera/granska", "/kurera/ny", "/kurera/papperskorg", "/kurera/ladda-upp",
                 "/kurera/dokument/lund-cykel", "/kurera/dokument/lund-cykel/versioner"):
        anonymous = TestClient(app).get(path, follow_redirects=False)
        assert anonymous.status_code == 303


def guards_of(dependant) -> set:
    """Every dependency a route runs, sub-dependencies included."""
    found = set()
    for sub in dependant.dependencies:
        found.add(sub.call)
        found |= guards_of(sub)
    return found


PUBLIC_API = {("GET", p) for p in ("/api/v1/search", "/api/v1/documents/{doc_id}", "/api/v1/documents/{doc_id}/similar",
                                    "/api/v1/facets", "/api/v1/themes", "/api/v1/organisations",
                                    "/api/v1/organisations/{org_id}/similar-municipalities", "/api/v1/stats")}


def test_every_staff_route_is_guarded_by_a_dependency(app_kb):
    """The guards are declared, not called by hand: a new route cannot forget them unnoticed."""
    from kunskap.web.auth import bearer_user, check_login_csrf, csrf_checked, staff_session

    app = app_kb[0]
    checked = 0
    for path, route in route_objects(app.routes):
        guards = guards_of(route.dependant)
        for method in route.methods:
            if path == "/logga-in":
                assert (check_login_csrf in guards) == (method == "POST"), (method, path)
                assert staff_session not in guards
            elif path.startswith("/kurera") or path == "/logga-ut":
                assert staff_session in guards, (method, path)
                assert (csrf_checked in guards) == (method == "POST"), (method, path)
            elif path.startswith("/api/") and (method, path) not in PUBLIC_API:
                assert bearer_user in guards, (method, path)
            else:
                assert not guards & {bearer_user, staff_session, csrf_checked}, (method, path)
            checked += 1
    assert checked >= 35
    # Guards run before the route's own parameters are validated, on the pages as on the API.
    with TestClient(app) as anonymous:
        assert anonymous.get(f"/api/v1/revisions/{HUGE}").status_code == 401
        r = anonymous.get(f"/kurera/versioner/{HUGE}", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/logga-in?next=")
        login(anonymous)
        assert anonymous.post(f"/kurera/versioner/{HUGE}/aterstall", data={"csrf": "fel"}).status_code == 403


def test_curator_and_accounts_are_built_once_and_each_thread_gets_its_own_connection(app_kb):
    app, kb, _ = app_kb
    with TestClient(app) as c:
        curator, accounts = app.state.curator, app.state.accounts
        assert login(c).status_code == 303 and c.get("/kurera").status_code == 200
        assert app.state.curator is curator and app.state.accounts is accounts
        other = []
        thread = threading.Thread(target=lambda: other.append(accounts.store))
        thread.start()
        thread.join()
        # sqlite3 connections are per thread: the shared Accounts asks for the calling thread's.
        assert accounts.store is kb.store and other[0] is not kb.store
        assert other[0].path == kb.store.path


def test_token_api_create_publish_update_delete_restore(client, app_kb):
    _, kb, token = app_kb
    auth = {"Authorization": f"Bearer {token}"}
    doc = {"title": "Solceller på förskolor i Lund", "organisation": "Lunds kommun", "themes": ["fornybar-energi"],
           "year": 2024, "body": "## Bakgrund\nFörskolornas tak fick solceller.", "status": "draft"}
    created = client.post("/api/v1/documents", json=doc, headers=auth)
    assert created.status_code == 201
    doc_id = created.json()["id"]
    def public():
        ids = [r["id"] for r in client.get("/api/v1/search", params={"q": "solceller förskolor"}).json()["results"]]
        assert ids            # never empty on the sample corpus, so "doc_id not in public()" means something
        return ids

    energy_facet = lambda: {f["value"]: f["count"] for f in client.get("/api/v1/facets").json()["theme"]}.get("fornybar-energi", 0)  # noqa: E731
    energy_before = energy_facet()
    assert doc_id not in public()
    assert client.post(f"/api/v1/documents/{doc_id}/publish", headers=auth).json()["status"] == "published"
    assert public()[0] == doc_id
    assert energy_facet() == energy_before + 1
    dup = client.post("/api/v1/documents", json={**doc, "title": "Solceller på förskolor i Lunds kommun"}, headers=auth)
    assert dup.status_code == 409 and dup.json()["error"]["duplicates"][0]["doc_id"] == doc_id
    bad = client.post("/api/v1/documents", json={**doc, "organisation": "Narnia"}, headers=auth)
    assert bad.status_code == 400 and "organisation" in bad.json()["error"]["fields"]
    updated = client.put(f"/api/v1/documents/{doc_id}", json={**doc, "title": "Solel på förskolor i Lund",
                                                               "status": "published"}, headers=auth)
    assert updated.json()["title"] == "Solel på förskolor i Lund"
    revisions = client.get(f"/api/v1/documents/{doc_id}/revisions", headers=auth).json()
    assert [r["action"] for r in revisions] == ["update", "publish", "create"]
    assert "+title: Solel på förskolor i Lund" in client.get(f"/api/v1/revisions/{revisions[0]['id']}", headers=auth).json()["diff"]
    assert client.post(f"/api/v1/documents/{doc_id}/unpublish", headers=auth).status_code == 200
    assert doc_id not in public()
    assert energy_facet() == energy_before                     # unpublished: out of the facets again
    assert client.get(f"/api/v1/documents/{doc_id}").status_code == 404
    deleted = client.delete(f"/api/v1/documents/{doc_id}", headers=auth).json()
    assert kb.store.get_document(doc_id) is None
    client.post(f"/api/v1/revisions/{deleted['revision']}/restore", headers=auth)
    assert kb.store.get_document(doc_id)["title"] == "Solel på förskolor i Lund"


def test_token_api_upload(client, app_kb, tmp_path):
    _, kb, token = app_kb
    pptx = make_pptx(tmp_path / "d.pptx", [("Vätgas i Mariestad", "Tankstation för vätgas", "notis")])
    r = client.post("/api/v1/uploads", headers={"Authorization": f"Bearer {token}"},
                    files={"file": ("vatgas.pptx", pptx.read_bytes())},
                    data={"title": "Vätgas", "organisation": "Mariestads kommun", "status": "published"})
    assert r.status_code == 201
    assert kb.store.get_document(r.json()["id"])["county"] == "Västra Götalands län"
    bad = client.post("/api/v1/uploads", headers={"Authorization": f"Bearer {token}"},
                      files={"file": ("x.pdf", b"inte en pdf")})
    assert bad.status_code == 400 and "PDF" in bad.json()["error"]["fields"]["file"]


XSS = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "javascript:alert(1)",
       "<svg/onload=alert(1)>", "[klick](javascript:alert(1))", "<a href='javascript:alert(1)'>x</a>"]


def test_xss_payloads_in_every_field_are_inert(client, app_kb):
    _, kb, token = app_kb
    auth = {"Authorization": f"Bearer {token}"}
    payload = " ".join(XSS)
    doc = {"title": f"Cykel {XSS[0]}{XSS[1]}", "organisation": "Lunds kommun", "themes": ["cykel"],
           "summary": payload, "contact": XSS[1], "status": "published",
           "body": f"## Rubrik {XSS[0]}\n{payload}\n\n<iframe src='https://evil.example'></iframe>"}
    r = client.post("/api/v1/documents", json={**doc, "confirm_duplicates": True}, headers=auth)
    assert r.status_code == 201
    doc_id = r.json()["id"]
    bad_url = client.post("/api/v1/documents", json={**doc, "source_url": "javascript:alert(1)"}, headers=auth)
    assert bad_url.status_code == 400
    login(client)
    pages = [f"/dokument/{doc_id}", "/sok?q=cykel", f"/kurera/dokument/{doc_id}", "/kurera",
             f"/sok?q={XSS[1]}", "/kurera/granska"]
    for path in pages:
        html = client.get(path).text
        soup = BeautifulSoup(html, "html.parser")
        assert not soup.find_all("script"), path
        assert not soup.find_all("iframe") and not soup.find_all("img") and not soup.find_all("svg"), path
        for tag in soup.find_all(True):
            for name, value in tag.attrs.items():
                assert not name.startswith("on"), (path, tag)
                if name in ("href", "src"):
                    assert "javascript:" not in str(value).lower(), (path, tag)
    api = BeautifulSoup(client.get(f"/api/v1/documents/{doc_id}").json()["html"], "html.parser")
    # The body is rendered (so the checks below look at something), its payloads as inert text.
    assert api.h2.get_text(strip=True) == "Rubrik" and "javascript:alert(1)" in api.p.get_text()
    assert not api.find_all(["script", "img", "svg", "iframe"])
    assert not [a for a in api.find_all("a") if a.get("href", "").lower().startswith("javascript:")]
    assert not [name for tag in api.find_all(True) for name in tag.attrs if name.startswith("on")]
    results = client.get("/api/v1/search", params={"q": "cykel alert"}).json()["results"]
    snippets = {r["id"]: r["snippet"] for r in results}
    assert doc_id in snippets and "<mark>alert</mark>" in snippets[doc_id]
    for result_id, snippet in snippets.items():      # <mark> is the only markup a snippet carries
        tags = {tag.name for tag in BeautifulSoup(snippet, "html.parser").find_all(True)}
        assert tags in (set(), {"mark"}), (result_id, snippet)


def test_searches_keep_working_during_live_edits(client, app_kb):
    _, kb, token = app_kb
    auth = {"Authorization": f"Bearer {token}"}
    base = {"organisation": "Lunds kommun", "themes": ["cykel"], "status": "published"}
    versions = [("Alfa cykelplan", "alfaord " * 30), ("Beta cykelplan", "betaord " * 30)]
    doc_id = client.post("/api/v1/documents", json={**base, "title": versions[0][0], "body": versions[0][1]},
                         headers=auth).json()["id"]
    searcher = Searcher(kb)
    errors, mismatches, seen = [], [], set()
    stop = threading.Event()

    def search_loop():
        while not stop.is_set():
            try:
                for hit in searcher.search(SearchRequest("cykelplan alfaord betaord", limit=10)).hits:
                    if hit.doc_id == doc_id:
                        seen.add(hit.document["title"])
                        word = "alfaord" if hit.document["title"].startswith("Alfa") else "betaord"
                        if word not in hit.snippet:
                            mismatches.append((hit.document["title"], hit.snippet[:60]))
            except Exception as exc:  # noqa: BLE001 - any error fails the test
                errors.append(repr(exc))

    threads = [threading.Thread(target=search_loop) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(8):
        title, body = versions[(i + 1) % 2]
        r = client.put(f"/api/v1/documents/{doc_id}", json={**base, "title": title, "body": body}, headers=auth)
        assert r.status_code == 200
    stop.set()
    for t in threads:
        t.join()
    assert errors == [] and mismatches == []
    assert seen == {"Alfa cykelplan", "Beta cykelplan"}
    assert kb.store.get_document(doc_id)["title"] == "Alfa cykelplan"


def test_read_only_service_refuses_writes(corpus, kb_factory):
    ingest(kb_factory(corpus), corpus)          # built elsewhere; the read-only one cannot
    kb = kb_factory(corpus, read_only=True)
    with pytest.raises(ReadOnlyError):
        ingest(kb, corpus)
    accounts = Accounts(kb.store)
    accounts.add_user("anna", PASSWORD)
    token = accounts.create_token("anna", "t")
    with TestClient(create_app(kb.settings, knowledge_base=kb)) as c:
        r = c.post("/api/v1/documents", headers={"Authorization": f"Bearer {token}"},
                   json={"title": "X", "organisation": "Lunds kommun", "body": "text"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "read_only"
        assert c.get("/api/v1/search", params={"q": "cykel"}).status_code == 200


def test_document_list_filters(client):
    login(client)
    page = BeautifulSoup(client.get("/kurera", params={"organisation": "Malmö stad"}).text, "html.parser")
    assert [a.text for a in page.select("table.doc-table tbody td a")] == ["Energifattigdom och rättvis omställning i Malmö"]
    page = BeautifulSoup(client.get("/kurera", params={"q": "cykel"}).text, "html.parser")
    assert [a.text for a in page.select("table.doc-table tbody td a")] == ["Cykelvägar och cykelpendling i Lund"]


def test_concurrent_edits_do_not_overwrite_each_other(client, app_kb):
    _, kb, token = app_kb
    login(client)
    form = BeautifulSoup(client.get("/kurera/dokument/lund-cykel").text, "html.parser")
    fields = {i["name"]: i.get("value", "") for i in form.select("form.curate-form input[type=hidden]")}
    assert fields["version"]
    # Someone else saves through the API in the meantime.
    auth = {"Authorization": f"Bearer {token}"}
    other = client.put("/api/v1/documents/lund-cykel", headers=auth, json={
        "title": "Ändrad av Bertil", "organisation": "Lunds kommun", "body": "Ny text om cyklar.", "status": "published"})
    assert other.status_code == 200
    mine = client.post("/kurera/dokument/lund-cykel", data={
        "csrf": fields["csrf"], "version": fields["version"], "title": "Ändrad av Anna",
        "organisation": "Lunds kommun", "body": "Annas text", "status": "published", "action": "save"})
    assert mine.status_code == 409 and "har ändrats av någon annan" in mine.text
    assert "Annas text" in mine.text                                # what Anna typed is still on screen
    assert kb.store.get_document("lund-cykel")["title"] == "Ändrad av Bertil"
    stale = client.put("/api/v1/documents/lund-cykel", headers=auth, json={
        "title": "X", "organisation": "Lunds kommun", "body": "x", "base_version": fields["version"]})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "edit_conflict"
    current = client.get("/api/v1/documents/lund-cykel/version", headers=auth).json()["version"]
    ok = client.put("/api/v1/documents/lund-cykel", headers=auth, json={
        "title": "Y", "organisation": "Lunds kommun", "body": "y", "base_version": current, "status": "published"})
    assert ok.status_code == 200 and ok.json()["version"] != current


HUGE = "99999999999999999999"   # beyond SQLite's 2^63 - 1


def test_integer_ids_beyond_sqlite_range_are_a_client_error(client, app_kb):
    _, _, token = app_kb
    auth = {"Authorization": f"Bearer {token}"}
    for method, url in (("GET", f"/api/v1/revisions/{HUGE}"), ("POST", f"/api/v1/revisions/{HUGE}/restore"),
                        ("GET", f"/api/v1/revisions/{2**63}"), ("GET", "/api/v1/revisions/0")):
        r = client.request(method, url, headers=auth)
        assert r.status_code == 400, (method, url, r.status_code)
        assert r.json()["error"] == {"code": "invalid_parameter", "parameter": "revision_id",
                                     "message": "Ogiltigt värde för parametern 'revision_id'."}
    assert client.get(f"/api/v1/revisions/{2**63 - 1}", headers=auth).status_code == 404
    login(client)
    page = client.get(f"/kurera/versioner/{HUGE}")
    assert page.status_code == 400 and "revision_id" in page.text
    csrf = csrf_of(client.get("/kurera").text)
    assert client.post(f"/kurera/papperskorg/{HUGE}/aterstall", data={"csrf": csrf}).status_code == 400
    assert client.post(f"/kurera/versioner/{HUGE}/aterstall", data={"csrf": csrf}).status_code == 400


def test_a_nul_in_a_title_is_a_field_error_through_the_api(client, app_kb):
    _, kb, token = app_kb
    r = client.post("/api/v1/documents", headers={"Authorization": f"Bearer {token}"},
                    json={"title": "Cykel\u0000plan", "organisation": "Lunds kommun", "body": "Text om cyklar."})
    assert r.status_code == 400 and "kontrolltecken" in r.json()["error"]["fields"]["title"]
    assert kb.store.count_documents() == 5


def test_staff_pages_can_never_be_framed(client):
    for path in ("/logga-in", "/kurera", "/kurera/ny", "/kurera/finns-inte"):
        r = client.get(path, follow_redirects=False)
        assert r.headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"], path
    login(client)
    page = client.get("/kurera")
    assert page.status_code == 200 and page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "same-origin"


def front_matter(kb, doc_id):
    import frontmatter

    return frontmatter.loads((kb.settings.corpus / kb.store.get_document(doc_id)["source_path"]).read_text("utf-8"))


def test_put_accepts_what_get_returns(client, app_kb):
    _, kb, token = app_kb
    auth = {"Authorization": f"Bearer {token}"}
    document = client.get("/api/v1/documents/malmo-energi").json()
    assert document["themes"] == [{"slug": "rattvis-omstallning", "label": "Rättvis omställning"}]
    tagged = client.put("/api/v1/documents/malmo-energi", headers=auth, json={
        **{k: document[k] for k in ("title", "organisation", "year")}, "themes": ["rattvis-omstallning"],
        "other_tags": ["hyresgäster"], "status": "published", "body": "## Bakgrund\nHushåll i Malmö."})
    assert tagged.status_code == 200, tagged.json()
    before = front_matter(kb, "malmo-energi")
    document = client.get("/api/v1/documents/malmo-energi").json()
    r = client.put("/api/v1/documents/malmo-energi", headers=auth, json={**document, "title": "Energifattigdom i Malmö"})
    assert r.status_code == 200, r.json()
    after = front_matter(kb, "malmo-energi")
    assert after["title"] == "Energifattigdom i Malmö"
    # What GET does not show as editable is kept: the Markdown body, the status, free tags.
    assert after.content == before.content and after["status"] == before.get("status", "published")
    assert after["themes"] == ["rattvis-omstallning", "hyresgäster"]
    assert client.get("/api/v1/documents/malmo-energi").json()["title"] == "Energifattigdom i Malmö"
    slugs = client.put("/api/v1/documents/malmo-energi", headers=auth,
                       json={**document, "themes": ["rattvis-omstallning", {"slug": "fornybar-energi"}]})
    assert slugs.status_code == 200 and front_matter(kb, "malmo-energi")["themes"][:2] == ["rattvis-omstallning",
                                                                                         "fornybar-energi"]
    other = client.put("/api/v1/documents/lund-cykel", headers=auth, json=document)
    assert other.status_code == 400 and other.json()["error"]["parameter"] == "id"
    assert client.put("/api/v1/documents/malmo-energi", headers=auth,
                      json={**document, "themes": [{"label": "utan slug"}]}).status_code == 400


def test_patch_changes_only_the_fields_sent(client, app_kb):
    _, kb, token = app_kb
    auth = {"Authorization": f"Bearer {token}"}
    before = front_matter(kb, "lund-cykel")
    version = client.get("/api/v1/documents/lund-cykel/version", headers=auth).json()["version"]
    r = client.patch("/api/v1/documents/lund-cykel", headers=auth,
                     json={"summary": "Fler cyklar till jobbet.", "base_version": version})
    assert r.status_code == 200 and r.json()["version"] != version
    after = front_matter(kb, "lund-cykel")
    assert after["summary"] == "Fler cyklar till jobbet."
    for key in ("title", "organisation", "themes", "year", "source_url", "kontaktperson_roll"):
        assert after[key] == before[key], key
    assert after.content == before.content and kb.store.get_document("lund-cykel")["status"] == "published"
    stale = client.patch("/api/v1/documents/lund-cykel", headers=auth, json={"summary": "x", "base_version": version})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "edit_conflict"
    body = client.patch("/api/v1/documents/lund-cykel", headers=auth,
                        json={"body": "## Bakgrund\nNy text om lånecyklar.", "themes": [{"slug": "cykel"}],
                              "summary": None})
    assert body.status_code == 200
    after = front_matter(kb, "lund-cykel")
    assert "lånecyklar" in after.content and "summary" not in after.metadata and after["title"] == before["title"]
    cleared = client.patch("/api/v1/documents/lund-cykel", headers=auth, json={"title": None})
    assert cleared.status_code == 400 and "title" in cleared.json()["error"]["fields"]
    assert client.patch("/api/v1/documents/finns-inte", headers=auth, json={"summary": "x"}).status_code == 404
    actions = [r["action"] for r in client.get("/api/v1/documents/lund-cykel/revisions", headers=auth).json()]
    assert actions == ["update", "update"]


def test_patch_changes_an_uploads_sidecar_metadata(client, app_kb, tmp_path):
    _, kb, token = app_kb
    auth = {"Authorization": f"Bearer {token}"}
    pptx = make_pptx(tmp_path / "d.pptx", [("Vätgas i Mariestad", "Tankstation för vätgas", "notis")])
    doc_id = client.post("/api/v1/uploads", headers=auth, files={"file": ("vatgas.pptx", pptx.read_bytes())},
                         data={"title": "Vätgas", "organisation": "Mariestads kommun", "status": "published"}).json()["id"]
    r = client.patch(f"/api/v1/documents/{doc_id}", headers=auth, json={"year": 2021, "themes": [{"slug": "fossilfria-fordon"}]})
    assert r.status_code == 200, r.json()
    row = kb.store.get_document(doc_id)
    assert (row["year"], row["title"], row["organisation"], row["kind"], row["status"]) == \
        (2021, "Vätgas", "Mariestads kommun", "presentation", "published")
    assert row["themes"] == ["fossilfria-fordon"]
    refused = client.patch(f"/api/v1/documents/{doc_id}", headers=auth, json={"body": "text"})
    assert refused.status_code == 400 and refused.json()["error"]["parameter"] == "body"
