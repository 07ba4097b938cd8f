"""Intake from a web page, against a real HTTP server on 127.0.0.1 (tests/intake_server.py):
the shapes of page that occur (news article, long page with menus, mostly a PDF link) become
drafts; bad addresses and answers get a Swedish message and store nothing."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from kunskap.curation import Curator
from kunskap.curation.domains import organisation_for_url
from kunskap.curation.fetch import FetchError, fetch, public_addresses
from kunskap.ingest import ingest

from .files import make_pdf
from .intake_server import serve
from .test_curation_web import csrf_of, login


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pdf = make_pdf(tmp_path_factory.mktemp("pdf") / "strategi.pdf",
                   ["Klimatstrategi 2030 för kommunen. Utsläppen från transporter och uppvärmning ska halveras."])
    server = serve(pdf.read_bytes())
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def allow_private(monkeypatch):
    monkeypatch.setenv("KUNSKAP_INTAKE_ALLOW_PRIVATE", "true")


@pytest.fixture
def curator(corpus, kb_factory):
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    return Curator(kb)


def test_news_article_becomes_a_draft_under_our_headings(site, allow_private, curator):
    count = curator.kb.store.count_documents()
    result = curator.intake_page(f"{site}/nyhet.html", "anna", organisation="Växjö kommun")
    assert result.saved is not None and result.saved.saved
    row = curator.document(result.saved.doc_id)
    assert row["status"] == "draft"
    assert row["title"] == "Solceller på skolans tak sänker elräkningen"
    assert row["year"] == 2023 and row["source_url"] == f"{site}/nyhet.html"
    assert row["organisation"] == "Växjö kommun"
    values, body = curator.form_values(result.saved.doc_id)
    headings = [line for line in body.splitlines() if line.startswith("## ")]
    assert headings == ["## Bakgrund", "## Vad gjordes", "## Resultat", "## Lärdomar"]
    assert "upphandlade installationen" in body.split("## Vad gjordes")[1].split("## Resultat")[0]
    assert "Kontakta oss" not in body and "Tillgänglighetsredogörelse" not in body
    assert len(result.suggestions) == 3 and values["themes"] == [s.slug for s in result.suggestions]
    assert curator.kb.store.count_documents() == count + 1


def test_long_page_with_menus_keeps_the_text_not_the_menus(site, allow_private, curator):
    result = curator.intake_page(f"{site}/lang.html", "anna", organisation="Lunds kommun")
    _, body = curator.form_values(result.saved.doc_id)
    assert body.startswith("## Bakgrund")
    assert "Stycke 11" in body and "lånecyklar" in body
    assert "Menypunkt" not in body and "Relaterad länk" not in body and "kakor" not in body
    assert result.suggestions[0].slug == "cykel"


def test_pdf_link_page_offers_the_pdf_and_stores_nothing_until_asked(site, allow_private, curator):
    count = curator.kb.store.count_documents()
    result = curator.intake_page(f"{site}/pdf-sida.html", "anna", organisation="Umeå kommun")
    assert result.saved is None and result.draft.mostly_pdf
    assert result.draft.pdf_links == [f"{site}/filer/klimatstrategi-2030.pdf"]
    assert curator.kb.store.count_documents() == count
    upload = curator.intake_pdf(result.draft.pdf_links[0], "anna", organisation="Umeå kommun")
    row = curator.document(upload.doc_id)
    assert row["status"] == "draft" and row["kind"] in ("report", "presentation")
    assert row["source_url"] == f"{site}/filer/klimatstrategi-2030.pdf"
    assert curator.kb.store.count_documents() == count + 1


@pytest.mark.parametrize("path, message", [
    ("/fel", "fel 500"),
    ("/saknas", "fel 404"),
    ("/slinga", "slinga"),
    ("/kedja/0", "fler än 5 gånger"),
    ("/stor", "större än 5 MB"),
    ("/stor-angiven", "större än 5 MB"),
    ("/bild.png", "ingen webbsida"),
    ("/filer/klimatstrategi-2030.pdf", "PDF-fil"),
])
def test_bad_answers_get_a_swedish_message_and_store_nothing(site, allow_private, curator, path, message):
    count = curator.kb.store.count_documents()
    with pytest.raises(FetchError) as caught:
        curator.intake_page(site + path, "anna", organisation="Växjö kommun")
    assert message in caught.value.message and caught.value.field == "url"
    assert curator.kb.store.count_documents() == count
    assert curator.documents() and not list(curator.corpus.glob("fallstudier/vaxjo-*"))


def test_time_limit_counts_the_whole_fetch(site):
    with pytest.raises(FetchError, match="inom 1 sekunder"):
        fetch(f"{site}/langsam", allow_private=True, max_seconds=1)
    with pytest.raises(FetchError, match="inom 1 sekunder"):
        fetch(f"{site}/droppvis", allow_private=True, max_seconds=1)
    assert fetch(f"{site}/vidare", allow_private=True).url == f"{site}/nyhet.html"


@pytest.mark.parametrize("url", ["ftp://example.se/a", "file:///etc/passwd", "javascript:alert(1)", "", "http://"])
def test_only_http_and_https(url):
    with pytest.raises(FetchError):
        fetch(url)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.10", "169.254.169.254", "::1", "0.0.0.0",
                                     "fd00::1", "100.64.0.1"])
def test_private_addresses_are_refused_unless_allowed(address):
    with pytest.raises(FetchError, match="internt nätverk"):
        public_addresses(address, 80, allow_private=False)
    assert public_addresses(address, 80, allow_private=True) == [address]


def test_own_server_is_refused_without_the_setting(site, monkeypatch, curator):
    monkeypatch.delenv("KUNSKAP_INTAKE_ALLOW_PRIVATE", raising=False)
    with pytest.raises(FetchError, match="internt nätverk"):
        curator.intake_page(f"{site}/nyhet.html", "anna", organisation="Växjö kommun")
    with pytest.raises(FetchError, match="internt nätverk"):
        fetch(f"http://localhost:{site.rsplit(':', 1)[1]}/nyhet.html")


def test_organisation_from_the_domain():
    assert organisation_for_url("https://www.vaxjo.se/klimat") == "Växjö kommun"
    assert organisation_for_url("https://lund.se/") == "Lunds kommun"
    assert organisation_for_url("https://www.regionskane.se/x") == "Region Skåne"
    assert organisation_for_url("https://example.se/a") is None
    # A host existing documents tie to one organisation wins; one shared by several is no evidence.
    assert organisation_for_url("https://klimat.example.org/a", {"klimat.example.org": {"Umeå kommun"}}) == "Umeå kommun"
    assert organisation_for_url("https://example.se/a", {"example.se": {"Umeå kommun", "Lunds kommun"}}) is None


def test_intake_pages_flow(site, allow_private, client, app_kb):  # noqa: F811
    kb = app_kb[1]
    login(client)
    page = client.get("/kurera/hamta")
    assert page.status_code == 200 and BeautifulSoup(page.text, "html.parser").select_one("#f-url")
    csrf = csrf_of(page.text)
    count = kb.store.count_documents()
    # No organisation given and none to guess from 127.0.0.1: the form, filled in; nothing stored.
    r = client.post("/kurera/hamta", data={"csrf": csrf, "url": f"{site}/nyhet.html"})
    soup = BeautifulSoup(r.text, "html.parser")
    assert r.status_code == 200 and soup.select_one("#f-title")["value"] == "Solceller på skolans tak sänker elräkningen"
    assert "välj kommun eller region" in soup.select_one(".form-errors").text
    assert len(soup.select("input[name=themes][data-suggested]")) == 3
    assert kb.store.count_documents() == count
    # With an organisation: saved as a draft, the edit form marks the suggested themes.
    r = client.post("/kurera/hamta", data={"csrf": csrf, "url": f"{site}/nyhet.html", "organisation": "Växjö kommun"},
                    follow_redirects=False)
    assert r.status_code == 303 and "forslag=" in r.headers["location"]
    edit = BeautifulSoup(client.get(r.headers["location"]).text, "html.parser")
    assert "sparad som utkast" in edit.select_one("p.notice").text
    assert len(edit.select("input[name=themes][checked][data-suggested]")) == 3
    assert kb.store.count_documents() == count + 1
    # Bad input: a Swedish message on the page, nothing stored.
    r = client.post("/kurera/hamta", data={"csrf": csrf, "url": f"{site}/fel", "organisation": "Växjö kommun"})
    assert r.status_code == 400 and "fel 500" in BeautifulSoup(r.text, "html.parser").select_one(".form-errors").text
    # A PDF-link page: the offer, then the PDF as a draft upload.
    r = client.post("/kurera/hamta", data={"csrf": csrf, "url": f"{site}/pdf-sida.html", "organisation": "Umeå kommun"})
    offer = BeautifulSoup(r.text, "html.parser").select_one("#pdf-erbjudande form")
    assert offer is not None and offer.select_one("input[name=action]")["value"] == "pdf"
    data = {i["name"]: i["value"] for i in offer.select("input")}
    r = client.post("/kurera/hamta", data=data, follow_redirects=False)
    assert r.status_code == 303 and kb.store.count_documents() == count + 2
    assert client.post("/kurera/hamta", data={"csrf": "fel", "url": f"{site}/nyhet.html"}).status_code == 403


def test_intake_api(site, allow_private, client, app_kb):  # noqa: F811
    kb = app_kb[1]
    auth = {"Authorization": f"Bearer {app_kb[2]}"}
    assert client.post("/api/v1/intake", json={"url": f"{site}/nyhet.html"}).status_code == 401
    r = client.post("/api/v1/intake", json={"url": f"{site}/nyhet.html"}, headers=auth)
    assert r.status_code == 400 and r.json()["error"]["parameter"] == "organisation"
    r = client.post("/api/v1/intake", json={"url": f"{site}/nyhet.html", "organisation": "Växjö kommun"}, headers=auth)
    assert r.status_code == 201
    answer = r.json()
    assert answer["saved"] and answer["status"] == "draft" and answer["id"]
    assert answer["title"] == "Solceller på skolans tak sänker elräkningen" and "## Resultat" in answer["body"]
    assert answer["source_url"] == f"{site}/nyhet.html" and len(answer["themes"]) == 3 and answer["year"] == "2023"
    assert kb.store.get_document(answer["id"])["status"] == "draft"
    # The same page again: the duplicate guard answers 409.
    r = client.post("/api/v1/intake", json={"url": f"{site}/nyhet.html", "organisation": "Växjö kommun"}, headers=auth)
    assert r.status_code == 409 and r.json()["error"]["code"] == "possible_duplicate"
    r = client.post("/api/v1/intake", json={"url": f"{site}/slinga", "organisation": "Växjö kommun"}, headers=auth)
    assert r.status_code == 400 and r.json()["error"]["parameter"] == "url" and "slinga" in r.json()["error"]["message"]
    r = client.post("/api/v1/intake", json={"url": f"{site}/pdf-sida.html", "organisation": "Umeå kommun"}, headers=auth)
    assert r.status_code == 200 and not r.json()["saved"] and r.json()["pdf_links"]
    r = client.post("/api/v1/intake", json={"url": r.json()["pdf_links"][0], "organisation": "Umeå kommun",
                                            "as_upload": True}, headers=auth)
    assert r.status_code == 201 and kb.store.get_document(r.json()["id"])["status"] == "draft"
