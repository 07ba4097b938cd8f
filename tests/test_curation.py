"""Curation in the library: files written atomically and kept as the source of truth, revisions,
restore, undoable delete, uploads with every bad-file case, live search updates."""

from __future__ import annotations

import errno
import os

import frontmatter
import pytest

from kunskap.curation import Curator, DocumentFiles
from kunskap.errors import FormError
from kunskap.ingest import ingest
from kunskap.search import SearchRequest, Searcher

from .files import make_docx, make_pdf, make_pptx, make_zip

NEW = {"title": "Lastcyklar i hemtjänsten i Växjö", "organisation": "Växjö kommun", "themes": ["cykel", "tjansteresor"],
       "year": "2023", "summary": "Hemtjänsten bytte bilar mot lastcyklar.", "source_url": "https://vaxjo.se/x",
       "status": "published"}
BODY = "## Bakgrund\nHemtjänstens personal körde bil korta sträckor.\n\n## Vad gjordes\nKommunen köpte elassisterade lastcyklar."


@pytest.fixture
def curator(corpus, kb_factory):
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    return Curator(kb)


def public_ids(curator, q):
    ids = [h.doc_id for h in Searcher(curator.kb).search(SearchRequest(q, limit=50)).hits]
    # Hybrid search on the sample corpus always returns documents, so "x not in public_ids(...)"
    # cannot pass just because the search came back empty.
    assert ids, q
    return ids


def test_create_writes_the_file_records_a_revision_and_is_searchable(curator, corpus):
    result = curator.save_case_study(NEW, BODY, "anna")
    assert result.saved and result.doc_id == "vaxjo-lastcyklar-i-hemtjansten-i-vaxjo"
    path = corpus / "fallstudier" / f"{result.doc_id}.md"
    post = frontmatter.loads(path.read_text("utf-8"))
    assert post["organisation"] == "Växjö kommun" and post["county"] == "Kronobergs län"
    assert post["themes"] == ["cykel", "tjansteresor"] and post["status"] == "published"
    assert "elassisterade lastcyklar" in post.content
    assert public_ids(curator, "lastcyklar hemtjänst")[0] == result.doc_id     # live, no restart
    [revision] = curator.revisions(result.doc_id)
    assert revision["action"] == "create" and revision["username"] == "anna"


def test_validation_errors_name_each_field_and_write_nothing(curator, corpus):
    before = sorted(p.name for p in corpus.rglob("*"))
    with pytest.raises(FormError) as info:
        curator.save_case_study({"title": "", "organisation": "Atlantis kommun", "year": "20x3",
                                 "source_url": "javascript:alert(1)", "themes": ["hemligt"],
                                 "published": "igår"}, "", "anna")
    errors = info.value.errors
    assert set(errors) == {"title", "organisation", "year", "source_url", "themes", "published", "body"}
    assert errors["organisation"] == "Välj en kommun eller region ur listan."
    assert sorted(p.name for p in corpus.rglob("*")) == before


def test_edit_keeps_unknown_keys_and_revisions_can_be_compared_and_restored(curator, corpus):
    values, body = curator.form_values("lund-cykel")
    assert values["kontaktperson_roll"] == "cykelsamordnare"
    original = (corpus / "lund-cykel.md").read_text("utf-8")
    curator.save_case_study({**values, "title": "Cykelpendling i Lund – ny rubrik", "status": "published"},
                            body, "bertil", doc_id="lund-cykel")
    post = frontmatter.loads((corpus / "lund-cykel.md").read_text("utf-8"))
    assert post["title"] == "Cykelpendling i Lund – ny rubrik" and post["kontaktperson_roll"] == "cykelsamordnare"
    [revision] = curator.revisions("lund-cykel")
    assert revision["action"] == "update"
    diff = curator.diff(revision["id"])
    assert "-title: Cykelvägar och cykelpendling i Lund" in diff and "+title: Cykelpendling i Lund – ny rubrik" in diff
    assert curator.revision(revision["id"])["previous_content"].decode() == original

    curator.restore(revision["id"], "bertil")            # the version before that change
    assert (corpus / "lund-cykel.md").read_text("utf-8") == original
    assert curator.kb.store.get_document("lund-cykel")["title"] == "Cykelvägar och cykelpendling i Lund"
    curator.restore(revision["id"], "bertil", version="after")
    assert curator.kb.store.get_document("lund-cykel")["title"] == "Cykelpendling i Lund – ny rubrik"
    assert [r["action"] for r in curator.revisions("lund-cykel")] == ["restore", "restore", "update"]


def test_publish_unpublish_controls_public_visibility(curator):
    draft = curator.save_case_study({**NEW, "status": "draft"}, BODY, "anna").doc_id
    assert draft not in public_ids(curator, "lastcyklar")
    curator.set_status(draft, "published", "anna")
    assert draft in public_ids(curator, "lastcyklar")
    curator.set_status(draft, "unpublished", "anna")
    assert draft not in public_ids(curator, "lastcyklar")
    assert [r["action"] for r in curator.revisions(draft)] == ["unpublish", "publish", "create"]


def test_delete_can_be_undone(curator, corpus):
    revision = curator.delete("umea-laddning", "anna")
    assert not (corpus / "umea-laddning.md").exists()
    assert "umea-laddning" not in public_ids(curator, "laddinfrastruktur")
    assert [d["doc_id"] for d in curator.deleted()] == ["umea-laddning"]
    curator.undo_delete(revision, "anna")
    assert (corpus / "umea-laddning.md").exists()
    assert public_ids(curator, "laddinfrastruktur")[0] == "umea-laddning"
    assert curator.deleted() == []


def test_failed_save_leaves_the_previous_version_intact(curator, corpus, monkeypatch):
    path = corpus / "malmo-energi.md"
    before = path.read_bytes()
    values, body = curator.form_values("malmo-energi")

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError):
        curator.save_case_study({**values, "title": "Ny rubrik"}, body, "anna", doc_id="malmo-energi")
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert not [p for p in corpus.rglob(".*") if p.is_file()]           # no temp files left behind
    assert curator.kb.store.get_document("malmo-energi")["title"] == "Energifattigdom och rättvis omställning i Malmö"
    assert curator.revisions("malmo-energi") == []


def test_duplicate_guard_warns_before_saving(curator):
    first = curator.save_case_study(NEW, BODY, "anna")
    again = curator.save_case_study({**NEW, "title": "Lastcyklar i hemtjänsten i Växjö kommun"}, BODY, "anna")
    assert not again.saved and again.duplicates[0].doc_id == first.doc_id
    forced = curator.save_case_study({**NEW, "title": "Lastcyklar i hemtjänsten i Växjö kommun"}, BODY, "anna",
                                     confirm_duplicates=True)
    assert forced.saved and forced.doc_id != first.doc_id


def test_uploads_real_files(curator, tmp_path, corpus):
    pdf = make_pdf(tmp_path / "x.pdf", ["Solceller på skolans tak i Lund", "Resultat: mer egen el"]).read_bytes()
    pptx = make_pptx(tmp_path / "x.pptx", [("Biogasbussar i Växjö", "Bussar på biogas", "Notis")]).read_bytes()
    docx = make_docx(tmp_path / "x.docx", [("Klimatanpassning", "Skyfall och dagvatten")]).read_bytes()
    with_meta = curator.upload("Solceller Lund.pdf", pdf, {"title": "Solceller på skolor", "organisation": "Lunds kommun",
                                                           "themes": ["fornybar-energi"], "status": "published"},
                               "anna").doc_id
    assert (corpus / "presentationer" / f"{with_meta}.pdf").exists()
    assert (corpus / "presentationer" / f"{with_meta}.pdf.yml").exists()
    assert with_meta in public_ids(curator, "solceller skolans tak")
    assert [r["action"] for r in curator.revisions(with_meta)] == ["upload"]
    bare = curator.upload("biogas.pptx", pptx, None, "anna").doc_id
    assert bare == "biogas" and (corpus / "presentationer" / "biogas.pptx").read_bytes() == pptx
    stored = curator.kb.store.get_document(bare)
    assert stored["kind"] == "presentation" and stored["title"] == "Biogasbussar i Växjö"   # the slide's title
    assert stored["status"] == "draft"                      # never public without review
    assert "organisation saknas" in stored["curation_notes"]
    report = curator.upload("rapport.docx", docx, None, "anna").doc_id
    assert report == "rapport" and (corpus / "presentationer" / "rapport.docx").read_bytes() == docx
    sidecar = (corpus / "presentationer" / "rapport.docx.yml").read_text("utf-8")
    assert "status: draft" in sidecar and "id: rapport" in sidecar
    stored = curator.kb.store.get_document(report)
    assert stored["kind"] == "report" and stored["title"] == "Klimatanpassning"          # the first heading
    assert stored["status"] == "draft" and "organisation saknas" in stored["curation_notes"]
    assert [c.text for c in curator.kb.store.chunks_of(report)] == ["Skyfall och dagvatten"]
    assert report not in public_ids(curator, "skyfall dagvatten")         # a draft is not searchable
    assert {bare, report} <= {q["id"] for q in curator.review_queue()}
    assert [r["action"] for r in curator.revisions(report)] == ["upload"]


@pytest.mark.parametrize("name, data, message", [
    ("virus.exe", b"MZ...", "PDF-, PPTX- eller DOCX"),
    ("tom.pdf", b"", "tom"),
    ("fejk.pdf", b"<html>", "inte en giltig PDF"),
    ("fejk.pptx", b"%PDF-1.4 inte zip", "inte en giltig Office-fil"),
    ("trasig.docx", b"PK\x03\x04trasig", "skadad"),
])
def test_bad_uploads_are_rejected_and_nothing_is_stored(curator, corpus, name, data, message):
    before = sorted(p.name for p in corpus.rglob("*"))
    with pytest.raises(FormError) as info:
        curator.upload(name, data, None, "anna")
    assert message in info.value.errors["file"]
    assert sorted(p.name for p in corpus.rglob("*")) == before


def test_encrypted_zip_bomb_and_traversal_uploads(curator, corpus, tmp_path):
    encrypted = make_pdf(tmp_path / "e.pdf", ["hemligt"], password="pw").read_bytes()
    bomb = make_zip(tmp_path / "b.docx", {"word/document.xml": b"\0" * 60_000_000}).read_bytes()
    traversal = make_zip(tmp_path / "t.pptx", {"../../x": b"x", "ppt/presentation.xml": b"<p/>"}).read_bytes()
    for name, data, message in (("e.pdf", encrypted, "krypterad"), ("b.docx", bomb, "zip-bomb"),
                                ("t.pptx", traversal, "otillåtna sökvägar")):
        with pytest.raises(FormError, match=message):
            curator.upload(name, data, None, "anna")
    assert not (corpus / "presentationer").exists() or not any((corpus / "presentationer").iterdir())
    with pytest.raises(FormError, match="större än"):
        curator.upload("stor.pdf", b"%PDF-" + b"0" * (21 * 1024 * 1024), None, "anna")


@pytest.mark.parametrize("field, value", [
    ("title", "Rubrik\x00med NUL"), ("title", "Två\nrader"), ("title", "Tabb\ti rubriken"),
    ("summary", "Klocka\x07"), ("contact", "anna@example.se\x1b[31m"), ("source_url", "https://x.se/\x00"),
    ("themes", ["cykel\x00"]), ("other_tags", ["fri\u2028tagg"]), ("language", "sv\x7f"),
    ("title", "C1-tecken\x85mitt i"),
])
def test_control_characters_are_refused_in_metadata_fields(curator, corpus, field, value):
    before = sorted(p.name for p in corpus.rglob("*"))
    with pytest.raises(FormError) as info:
        curator.save_case_study({**NEW, field: value}, BODY, "anna")
    assert "kontrolltecken" in info.value.errors[field]
    assert sorted(p.name for p in corpus.rglob("*")) == before


def test_control_characters_in_the_body_are_refused_but_tab_and_newline_are_fine(curator, corpus):
    with pytest.raises(FormError) as info:
        curator.save_case_study(NEW, BODY + "\x00dolt", "anna")
    assert "kontrolltecken" in info.value.errors["body"]
    saved = curator.save_case_study(NEW, BODY + "\n\n| a\t| b |\r\n", "anna", confirm_duplicates=True)
    assert saved.saved
    assert "\t" in (corpus / "fallstudier" / f"{saved.doc_id}.md").read_text("utf-8")


def test_surrounding_whitespace_is_trimmed_not_refused(curator):
    saved = curator.save_case_study({**NEW, "title": "\tLastcyklar i Växjö\n"}, BODY, "anna")
    assert curator.document(saved.doc_id)["title"] == "Lastcyklar i Växjö"


def test_a_change_to_an_uploads_metadata_can_be_restored(curator, corpus, tmp_path):
    """Its revision records the sidecar's path; restoring must write that sidecar and ingest the
    upload, not treat the sidecar as the document (which failed: "filtypen '.yml' stöds inte")."""
    pdf = make_pdf(tmp_path / "x.pdf", ["Solceller på skolans tak i Lund", "Resultat: mer egen el"]).read_bytes()
    doc_id = curator.upload("sol.pdf", pdf, {"title": "Solceller på skolor", "organisation": "Lunds kommun",
                                             "status": "published"}, "anna").doc_id
    values, body = curator.form_values(doc_id)
    assert body is None and values["title"] == "Solceller på skolor"
    curator.save_upload_metadata(doc_id, {**values, "title": "Solel på skolor"}, "anna")
    change = curator.revisions(doc_id)[0]
    assert change["action"] == "update" and curator.kb.store.get_document(doc_id)["title"] == "Solel på skolor"

    curator.restore(change["id"], "anna")
    assert curator.kb.store.get_document(doc_id)["title"] == "Solceller på skolor"
    assert curator.form_values(doc_id)[0]["title"] == "Solceller på skolor"
    assert sorted(p.name for p in (corpus / "presentationer").iterdir()) == [f"{doc_id}.pdf", f"{doc_id}.pdf.yml"]
    assert [r["action"] for r in curator.revisions(doc_id)] == ["restore", "update", "upload"]


def test_editing_an_uploads_metadata_keeps_the_meeting_in_its_sidecar(curator, corpus, tmp_path):
    """The form has no field for `event` (or other keys of a sidecar): saving the form kept only
    the form's fields, so the meeting a presentation was given at was lost."""
    pdf = make_pdf(tmp_path / "x.pdf", ["Solceller på skolans tak i Lund", "Resultat: mer egen el"]).read_bytes()
    doc_id = curator.upload("sol.pdf", pdf, {"title": "Solceller på skolor", "organisation": "Lunds kommun",
                                             "status": "published", "kind": "presentation"}, "anna").doc_id
    sidecar = corpus / "presentationer" / f"{doc_id}.pdf.yml"
    event = {"kind": "webbfika", "title": "Webbfika om solel", "date": "2024-02-01"}
    sidecar.write_text(sidecar.read_text("utf-8") + "event: {kind: webbfika, title: Webbfika om solel, "
                       "date: 2024-02-01}\nkontaktperson_roll: energisamordnare\n", encoding="utf-8")
    ingest(curator.kb, corpus)
    assert curator.kb.store.get_document(doc_id)["extra"]["event"] == event
    values, _ = curator.form_values(doc_id)
    curator.save_upload_metadata(doc_id, {**values, "title": "Solel på skolor"}, "anna")
    document = curator.kb.store.get_document(doc_id)
    assert document["title"] == "Solel på skolor"
    assert document["extra"] == {"event": event, "kontaktperson_roll": "energisamordnare"}


def test_a_markdown_file_with_an_upper_case_suffix_is_edited_as_markdown(curator, corpus):
    """The loader reads `.MD` as Markdown; curation took it for an upload with a sidecar."""
    (corpus / "umea-laddning.md").rename(corpus / "Umea-laddning.MD")
    ingest(curator.kb, corpus, prune=True)
    [doc_id] = [d["id"] for d in curator.documents() if d["source_path"] == "Umea-laddning.MD"]
    values, body = curator.form_values(doc_id)
    assert "laddinfrastruktur" in body
    curator.save_case_study({**values, "title": "Laddplatser i Umeå"}, body, "anna", doc_id=doc_id)
    assert "title: Laddplatser i Umeå" in (corpus / "Umea-laddning.MD").read_text("utf-8")
    assert not (corpus / "Umea-laddning.MD.yml").exists()
    assert curator.kb.store.get_document(doc_id)["title"] == "Laddplatser i Umeå"


def test_document_files_decide_markdown_or_upload_with_sidecar(tmp_path):
    case = DocumentFiles.at(tmp_path, "fallstudier/lund-cykel.md")
    assert case.markdown and case.sidecar is None and case.metadata_path == tmp_path / "fallstudier" / "lund-cykel.md"
    assert case.version_columns == ("previous_content", "content")
    assert DocumentFiles.at(tmp_path, "Lund-cykel.MD").markdown
    # A revision of an upload's metadata records the sidecar's path: it is the same document.
    for rel in ("presentationer/sol.pdf", "presentationer/sol.pdf.yml"):
        upload = DocumentFiles.at(tmp_path, rel)
        assert upload.path == tmp_path / "presentationer" / "sol.pdf" and not upload.markdown
        assert upload.sidecar == upload.metadata_path == tmp_path / "presentationer" / "sol.pdf.yml"
        assert upload.version_columns == ("previous_sidecar", "sidecar")
        assert upload.rel() == "presentationer/sol.pdf"
    assert upload.read_metadata() == ({}, None)                  # no sidecar yet: no metadata
    upload.sidecar.parent.mkdir()
    upload.sidecar.write_text("title: Solceller på förskolor\nstatus: draft\n", encoding="utf-8")
    assert upload.read_metadata() == ({"title": "Solceller på förskolor", "status": "draft"}, None)
