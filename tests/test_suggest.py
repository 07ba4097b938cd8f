"""Suggested themes: from the theme vocabulary and the documents already tagged, shown pre-ticked
on the form for a new document and answered by the API; nothing is saved by asking."""

from __future__ import annotations

from fastapi.testclient import TestClient

from kunskap.curation import Curator
from kunskap.ingest import ingest

from .test_curation_web import csrf_of, login

CYCLING = ("Fler cyklar till jobbet", "Nya cykelbanor och cykelparkering",
           "## Bakgrund\nKommunen byggde cykelvägar, cykelstråk och säkra cykelparkeringar vid stationen. "
           "Lånecyklar och elcyklar för cykelpendling.")


def test_suggestions_rank_the_theme_the_text_is_about(corpus, kb_factory):
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    curator = Curator(kb)
    suggested = curator.suggest_themes(*CYCLING)
    assert len(suggested) == 3
    assert suggested[0].slug == "cykel"
    assert suggested[0].score > suggested[1].score
    assert curator.suggest_themes("", "", "") == []


def test_tagged_centroids_follow_the_generation_and_leave_one_out(corpus, kb_factory):
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    curator = Curator(kb)
    before = curator.suggester.tagged_vectors()
    assert before["members"]["cykel"] == ["lund-cykel"]
    result = curator.save_case_study({"title": "Cykelgarage i Växjö", "organisation": "Växjö kommun",
                                      "themes": ["cykel"], "status": "draft"},
                                     "## Bakgrund\nEtt cykelgarage med laddning för elcyklar.", "anna")
    after = curator.suggester.tagged_vectors()
    assert sorted(after["members"]["cykel"]) == sorted(["lund-cykel", result.doc_id])
    # Left out, the only cycling document no longer votes for its own tag: only the description counts.
    text = "Cykelvägar och cykelpendling i Lund"
    with_self = {s.slug: s.score for s in curator.suggester.suggest(text, k=20)}
    without = {s.slug: s.score for s in curator.suggester.suggest(text, k=20, exclude="lund-cykel")}
    assert with_self["cykel"] != without["cykel"]
    assert with_self["mat"] == without["mat"]


def test_new_form_pre_ticks_suggestions_and_saves_nothing(client, app_kb):  # noqa: F811
    kb = app_kb[1]
    login(client)
    csrf = csrf_of(client.get("/kurera/ny").text)
    count = kb.store.count_documents()
    title, summary, body = CYCLING
    page = client.post("/kurera/ny", data={"csrf": csrf, "title": title, "summary": summary, "body": body,
                                           "organisation": "Lunds kommun", "action": "suggest"})
    assert page.status_code == 200
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page.text, "html.parser")
    ticked = [i["value"] for i in soup.select("input[name=themes][checked]")]
    assert len(ticked) == 3 and "cykel" in ticked
    assert len(soup.select("input[name=themes][data-suggested]")) == 3
    assert "förslag" in soup.select_one("#f-themes").text
    assert soup.select_one("#f-body").text.strip().startswith("## Bakgrund")   # what was typed stays
    assert kb.store.count_documents() == count
    # The editor's own choice wins: with a theme ticked, a preview does not re-suggest.
    page = client.post("/kurera/ny", data={"csrf": csrf, "title": title, "body": body, "themes": ["mat"],
                                           "organisation": "Lunds kommun", "action": "preview"})
    ticked = [i["value"] for i in BeautifulSoup(page.text, "html.parser").select("input[name=themes][checked]")]
    assert ticked == ["mat"]


def test_suggest_api(client, app_kb):  # noqa: F811
    token = app_kb[2]
    auth = {"Authorization": f"Bearer {token}"}
    r = client.get("/api/v1/themes/suggest", params={"text": " ".join(CYCLING)}, headers=auth)
    assert r.status_code == 200
    themes = r.json()["themes"]
    assert len(themes) == 3 and themes[0]["slug"] == "cykel" and themes[0]["label"] == "Cykel"
    assert client.get("/api/v1/themes/suggest", params={"text": "cykel"}).status_code == 401
    r = client.get("/api/v1/themes/suggest", params={"text": ""}, headers=auth)
    assert r.status_code == 400 and r.json()["error"]["parameter"] == "text"
