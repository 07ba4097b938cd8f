"""Data integrity under concurrent writers and crashes (issue 14 §3): no lost index updates, no
half-finished saves, readers that never fail in the window between a commit and an index swap."""

from __future__ import annotations

import numpy as np
import pytest

from kunskap.curation import Curator
from kunskap.ingest import ingest
from kunskap.knowledgebase import KnowledgeBase
from kunskap.search import Searcher, SearchRequest
from kunskap.vectors import VectorIndex, read_manifest

from .conftest import write_case
from .test_curation import BODY, NEW


def staff_token(kb) -> dict:
    """A staff account and the Authorization header of its API token."""
    from kunskap.accounts import Accounts

    accounts = Accounts(kb.store)
    accounts.add_user("anna", "ett långt lösenord 123")
    return {"Authorization": f"Bearer {accounts.create_token('anna', 't')}"}


def app_client(kb):
    from fastapi.testclient import TestClient

    from kunskap.web.app import create_app

    return TestClient(create_app(kb.settings, knowledge_base=kb))


def saved_index_ids(kb: KnowledgeBase) -> list[int]:
    """The chunk ids in the FAISS file on disk (what the next process to start will load)."""
    manifest = read_manifest(kb.index_dir)
    loaded = VectorIndex.load(kb.index_dir, manifest.model_id, manifest.dimension, manifest.chunker_version)
    return sorted(loaded.ids().tolist())


def test_a_save_after_another_process_ingested_keeps_that_ingest(corpus, make_settings):
    """The README's workflow: `kunskap ingest` while the service runs, then a curation save in the
    service before it has reloaded. The save must apply to the newest index, not to its old copy."""
    settings = make_settings(corpus)
    service = KnowledgeBase(settings)
    ingest(service, corpus)
    service.open_vectors()

    # Another process (its own KnowledgeBase on the same folder) ingests an edited file.
    write_case(corpus, "lund-cykel.md", "Cykelvägar och cykelpendling i Lund", "Lunds kommun",
               "## Bakgrund\nLund byggde snabbcykelvägar till sjukhuset och universitetet.\n",
               themes="[cykel]", county="Skåne län", year=2019, organisation_type="kommun")
    other = KnowledgeBase(settings)
    ingest(other, corpus)
    assert sorted(other.vectors.ids().tolist()) == sorted(other.store.chunk_ids())

    # The service has not noticed yet and saves a new case study.
    Curator(service).save_case_study(NEW, BODY, "anna")

    chunk_ids = sorted(service.store.chunk_ids())
    assert saved_index_ids(service) == chunk_ids          # nothing stale on disk, nothing missing
    assert sorted(service.vectors.ids().tolist()) == chunk_ids
    lund = [c.id for c in service.store.chunks_of("lund-cykel")]
    assert lund and set(lund) <= set(saved_index_ids(service))
    other.store.close()
    service.store.close()


def test_ready_reports_vectors_out_of_step_with_the_database(corpus, make_settings):
    settings = make_settings(corpus)
    kb = KnowledgeBase(settings)
    ingest(kb, corpus)
    assert kb.consistency() == []
    # A stale copy in memory (as after a lost update): one document's chunks missing.
    stale = kb.vectors.clone()
    stale.remove([c.id for c in kb.store.chunks_of("lund-cykel")])
    kb.vectors = stale
    problems = kb.consistency(max_age=0)
    assert problems and "saknar 1 av databasens 5 avsnitt" in problems[0]

    from fastapi.testclient import TestClient

    from kunskap.web.app import create_app

    kb._consistency_at = float("-inf")
    with TestClient(create_app(settings, knowledge_base=kb)) as client:
        kb.vectors = stale     # start-up repaired it; a stale copy again
        kb._consistency_at = float("-inf")
        answer = client.get("/ready")
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "index_inconsistent"
    kb.store.close()


def test_similar_and_document_vector_survive_the_window_before_the_index_swap(corpus, kb_factory):
    """Between the database commit and the swap of the vector index, a document's chunks are
    new in SQLite and absent from FAISS: /similar must still answer."""
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    searcher = Searcher(kb)
    old_vectors = kb.vectors
    write_case(corpus, "lund-cykel.md", "Cykelvägar och cykelpendling i Lund", "Lunds kommun",
               "## Bakgrund\nLund byggde cykelbanor och cykelgarage vid stationen.\n",
               themes="[cykel]", county="Skåne län", year=2019, organisation_type="kommun")
    ingest(kb, corpus)
    kb.vectors = old_vectors                 # the reader's view: new rows, old vectors
    vector = kb.document_vector("lund-cykel")
    assert vector is not None and np.isclose(np.linalg.norm(vector), 1.0)
    hits = searcher.similar("lund-cykel")
    assert hits and all(h.doc_id != "lund-cykel" for h in hits)
    result = searcher.search(SearchRequest("cykelgarage stationen"))
    assert result.hits and result.hits[0].doc_id == "lund-cykel"


def test_status_reports_a_stale_index_and_writes_nothing(corpus, make_settings):
    from click.testing import CliRunner

    from kunskap.cli import cli

    settings = make_settings(corpus)
    kb = KnowledgeBase(settings)
    ingest(kb, corpus)
    stale = kb.vectors.clone()
    stale.remove([c.id for c in kb.store.chunks_of("lund-cykel")])
    stale.save(kb.index_dir)                     # as a lost update left it on disk
    kb.store.close()
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in settings.index.iterdir()}

    result = CliRunner().invoke(cli, ["status", "--index", str(settings.index), "--corpus", str(corpus),
                                      "--model", "hashing"])
    assert result.exit_code == 0, result.output
    assert "Dokument: 5" in result.output
    assert "Vektorindexet stämmer inte med databasen" in result.output
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in settings.index.iterdir()
             if not p.name.endswith(("-wal", "-shm"))}
    assert after == {k: v for k, v in before.items() if not k.endswith(("-wal", "-shm"))}


def test_a_search_never_repairs_or_writes_the_index(corpus, make_settings):
    settings = make_settings(corpus)
    kb = KnowledgeBase(settings)
    ingest(kb, corpus)
    stale = kb.vectors.clone()
    stale.remove([c.id for c in kb.store.chunks_of("lund-cykel")])
    stale.save(kb.index_dir)
    saved = (kb.index_dir / "vectors.faiss").read_bytes()
    reader = KnowledgeBase(settings.model_copy(update={"read_only": True}))
    reader.open_vectors()
    result = Searcher(reader).search(SearchRequest("cykelpendling"))
    assert result.hits                                     # lexical still finds it
    assert (kb.index_dir / "vectors.faiss").read_bytes() == saved
    assert reader.consistency(max_age=0)                   # and readiness says so
    # The next writer repairs it.
    writer = KnowledgeBase(settings)
    writer.open_vectors()
    assert sorted(writer.vectors.ids().tolist()) == sorted(writer.store.chunk_ids())
    assert (kb.index_dir / "vectors.faiss").read_bytes() != saved


# -- §3.2 uploads honour their status ------------------------------------------------------------
def test_an_upload_without_metadata_is_a_draft_and_cannot_be_published(corpus, kb_factory, tmp_path):
    from kunskap.errors import FormError

    from .files import make_pdf

    kb = kb_factory(corpus)
    ingest(kb, corpus)
    curator = Curator(kb)
    pdf = make_pdf(tmp_path / "x.pdf", ["Solceller på förskolans tak", "Egen el i Lund"]).read_bytes()
    draft = curator.upload("solceller.pdf", pdf, {"status": "draft"}, "anna")
    assert kb.store.get_document(draft.doc_id)["status"] == "draft"
    assert draft.doc_id not in [h.doc_id for h in Searcher(kb).search(SearchRequest("solceller förskolans tak")).hits]
    with pytest.raises(FormError) as info:
        curator.upload("solceller2.pdf", pdf, {"status": "published"}, "anna")
    assert "bara sparas som utkast" in info.value.errors["status"]
    assert not (corpus / "presentationer" / "solceller2.pdf").exists()
    with_meta = curator.upload("sol.pdf", pdf, {"title": "Solceller på förskolor", "organisation": "Lunds kommun",
                                                "status": "draft"}, "anna")
    assert kb.store.get_document(with_meta.doc_id)["status"] == "draft"


def test_api_upload_with_status_draft_answers_draft(corpus, kb_factory, tmp_path):
    from .files import make_pdf

    kb = kb_factory(corpus)
    ingest(kb, corpus)
    auth = staff_token(kb)
    pdf = make_pdf(tmp_path / "x.pdf", ["Solceller på förskolans tak", "Egen el"]).read_bytes()
    with app_client(kb) as client:
        answer = client.post("/api/v1/uploads", headers=auth, data={"status": "draft"},
                             files={"file": ("sol.pdf", pdf, "application/pdf")})
        assert answer.status_code == 201 and answer.json()["status"] == "draft"
        assert client.get(f"/api/v1/documents/{answer.json()['id']}").status_code == 404   # not public
        refused = client.post("/api/v1/uploads", headers=auth, data={"status": "published"},
                              files={"file": ("sol2.pdf", pdf, "application/pdf")})
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_document"


# -- §3.3 a crash during a save is finished or undone at the next start -----------------------------
def crashed_save(kb, corpus, *, action, doc_id, path, previous, new, write_file):
    """The state a kill -9 leaves between the journal entry and the end of a save: the pending
    revision is committed; the new file written or not; the database and index untouched."""
    import hashlib

    rel = path.relative_to(corpus).as_posix()
    revision_id = kb.store.begin_revision(
        {"doc_id": doc_id, "action": action, "username": "anna", "created_at": "2026-12-01T00:00:00+00:00",
         "path": rel, "target": rel, "previous_content": previous, "content": new, "state": "pending"},
        [(rel, previous, hashlib.sha256(new).hexdigest())])
    if write_file:
        path.write_bytes(new)
    return revision_id


def test_recover_rolls_forward_an_edit_whose_file_was_written(corpus, kb_factory):
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    path = corpus / "malmo-energi.md"
    previous = path.read_bytes()
    new = previous.replace(b"energir\xc3\xa5dgivning", b"v\xc3\xa4rmepumpsr\xc3\xa5dgivning")
    assert new != previous
    revision = crashed_save(kb, corpus, action="update", doc_id="malmo-energi", path=path, previous=previous,
                            new=new, write_file=True)
    curator = Curator(kb)
    assert curator.recover() == [f"version {revision} (malmo-energi): slutförd"]
    assert "värmepumpsrådgivning" in kb.store.get_document("malmo-energi")["body"]
    assert curator.save_state(revision)["state"] == "done"
    assert [r["id"] for r in curator.revisions("malmo-energi")] == [revision]
    assert sorted(kb.vectors.ids().tolist()) == sorted(kb.store.chunk_ids())
    assert curator.recover() == []                         # nothing left pending


def test_recover_undoes_a_save_that_never_wrote_its_file(corpus, kb_factory):
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    path = corpus / "fallstudier" / "lund-ny.md"
    revision = crashed_save(kb, corpus, action="create", doc_id="lund-ny", path=path, previous=None,
                            new=b"---\ntitle: X\norganisation: Lunds kommun\n---\n\nText.\n", write_file=False)
    curator = Curator(kb)
    assert curator.recover() == [f"version {revision} (lund-ny): avbruten, inget ändrades"]
    assert not path.exists() and kb.store.get_document("lund-ny") is None
    assert curator.revisions("lund-ny") == []              # an aborted save is no revision


def test_a_create_retried_after_a_crash_is_not_duplicated(corpus, kb_factory):
    """The probe: a POST whose file was written when the server died, then the client's retry."""
    from kunskap.curation import render_case_file

    kb = kb_factory(corpus)
    ingest(kb, corpus)
    auth = staff_token(kb)
    payload = {"title": NEW["title"], "organisation": NEW["organisation"], "themes": NEW["themes"], "body": BODY,
               "status": "published"}
    with app_client(kb) as client:
        first = client.post("/api/v1/documents", headers={**auth, "Idempotency-Key": "k-1"}, json=payload)
        assert first.status_code == 201
        again = client.post("/api/v1/documents", headers={**auth, "Idempotency-Key": "k-1"}, json=payload)
        assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
        assert again.headers["Idempotent-Replayed"] == "true"
        assert client.get("/api/v1/saves/%d" % again.json()["revision"], headers=auth).json()["state"] == "done"

    # A crash after the file of another create was written: the next start finishes it ...
    path = corpus / "fallstudier" / "lund-solceller-pa-skolor.md"
    body = "## Bakgrund\nLund satte solceller på skolornas tak.\n"
    content = render_case_file({"id": "lund-solceller-pa-skolor", "title": "Solceller på skolor",
                                "organisation": "Lunds kommun", "status": "published"}, body)
    crashed_save(kb, corpus, action="create", doc_id="lund-solceller-pa-skolor", path=path, previous=None,
                 new=content, write_file=True)
    with app_client(kb) as client:
        assert kb.store.get_document("lund-solceller-pa-skolor")["title"] == "Solceller på skolor"
        # ... and the client's retry without a key meets the duplicate guard, not a "-2" copy.
        retry = client.post("/api/v1/documents", headers=auth, json={
            "title": "Solceller på skolor", "organisation": "Lunds kommun", "body": body, "status": "published"})
        assert retry.status_code == 409 and retry.json()["error"]["code"] == "possible_duplicate"
    assert not (corpus / "fallstudier" / "lund-solceller-pa-skolor-2.md").exists()


# -- §3.4 bounded extracted text; large uploads indexed outside the request --------------------------
def test_a_docx_with_too_much_text_is_refused_and_nothing_is_stored(corpus, kb_factory, tmp_path):
    from kunskap.errors import FormError
    from kunskap.loaders import MAX_TEXT_CHARS

    from .files import make_docx

    kb = kb_factory(corpus)
    ingest(kb, corpus)
    paragraph = "Kommunen bytte bussarna till biogas och mätte utsläppen varje månad. " * 40
    docx = make_docx(tmp_path / "stor.docx", [(f"Avsnitt {i}", paragraph) for i in range(MAX_TEXT_CHARS // len(paragraph) + 5)])
    assert docx.stat().st_size < 200_000                  # small file, much text
    before = sorted(p.relative_to(corpus).as_posix() for p in corpus.rglob("*"))
    with pytest.raises(FormError) as info:
        Curator(kb).upload("stor.docx", docx.read_bytes(), None, "anna")
    assert "mer än 400 000 tecken" in info.value.errors["file"]
    assert sorted(p.relative_to(corpus).as_posix() for p in corpus.rglob("*")) == before
    assert kb.store.count_documents() == 5


def test_ingest_rejects_an_oversized_file_by_name_and_keeps_the_rest(corpus, kb_factory):
    kb = kb_factory(corpus)
    write_case(corpus, "enorm.md", "Enorm plan", "Lunds kommun", "Cykel och buss. " * 30_000)
    report = ingest(kb, corpus)
    assert [e.path for e in report.rejected] == ["enorm.md"]
    assert "dela upp den" in report.rejected[0].reason
    assert len(report.added) == 5


def test_an_office_file_with_a_huge_xml_part_is_refused_before_parsing(tmp_path):
    from kunskap.errors import DocumentError
    from kunskap.loaders import load_file

    from .files import make_zip

    import os

    # Under the zip-bomb ratio (random text packs ~2:1), over the per-part limit.
    xml = b"<w:document><w:p><w:r><w:t>" + os.urandom(13 * 1024 * 1024).hex().encode() + b"</w:t></w:r></w:p></w:document>"
    assert len(xml) > 24 * 1024 * 1024
    path = make_zip(tmp_path / "bomb.docx", {"[Content_Types].xml": b"<Types/>", "word/document.xml": xml})
    with pytest.raises(DocumentError) as info:
        load_file(path, tmp_path)
    assert "dela upp den" in info.value.reason and "bomb.docx" in str(info.value)


def test_a_large_upload_answers_at_once_and_is_indexed_in_the_background(corpus, kb_factory, tmp_path):
    import time

    from kunskap.curation import INLINE_UPLOAD_CHUNKS

    from .files import make_pdf

    kb = kb_factory(corpus)
    ingest(kb, corpus)
    auth = staff_token(kb)
    page = " ".join(f"Sida om laddinfrastruktur och elbussar i Borås, avsnitt {i}." for i in range(30))
    pdf = make_pdf(tmp_path / "plan.pdf", [page] * (INLINE_UPLOAD_CHUNKS + 20)).read_bytes()
    with app_client(kb) as client:
        answer = client.post("/api/v1/uploads", headers=auth, files={"file": ("plan.pdf", pdf, "application/pdf")},
                             data={"title": "Laddplan för Borås", "organisation": "Borås stad", "status": "published"})
        assert answer.status_code == 202, answer.text
        body = answer.json()
        assert body["state"] == "pending" and body["follow"] == f"/api/v1/saves/{body['revision']}"
        deadline = time.time() + 60
        while (state := client.get(body["follow"], headers=auth).json()["state"]) == "pending" and time.time() < deadline:
            time.sleep(0.1)
        assert state == "done"
        assert client.get(f"/api/v1/documents/{body['id']}").json()["title"] == "Laddplan för Borås"
    assert len(kb.store.chunks_of(body["id"])) > INLINE_UPLOAD_CHUNKS
    assert sorted(kb.vectors.ids().tolist()) == sorted(kb.store.chunk_ids())


# -- the lexical index converges on a clean build ----------------------------------------------------
def fts_rows(kb: KnowledgeBase) -> dict:
    """FTS rows by (document, chunk order): chunk rowids differ between builds."""
    return {(doc_id, order): (title, body) for doc_id, order, title, body in kb.store.db.execute(
        "SELECT c.doc_id, c.ord, f.title, f.body FROM chunks c JOIN chunks_fts f ON f.rowid = c.id").fetchall()}


def test_a_full_ingest_after_live_saves_gives_the_fts_rows_of_a_clean_build(corpus, make_settings, tmp_path):
    """A live save analyses its text with the lexicon of the last full ingest (re-deriving every
    FTS row per save would be too slow), so a word it makes known ("vätgas") does not yet split
    its compounds ("vätgasbussar"). The next full ingest must bring every row in line with that
    word known, as a clean build of the same corpus has them. The crash test found it: after a
    live save the stored vocabulary already knew the word, so the full ingest saw no change in
    the lexicon and left the save's rows as they were."""
    from kunskap.config import Settings

    kb = KnowledgeBase(make_settings(corpus))
    ingest(kb, corpus)
    body = "## Bakgrund\nVätgas från vindkraft. Vätgas i tankarna.\n\n## Vad gjordes\nKommunen köpte vätgasbussar."
    doc_id = Curator(kb).save_case_study({**NEW, "title": "Bussar som körs på vätgas"}, body, "anna").doc_id
    assert "vätgasbuss" in fts_rows(kb)[(doc_id, 0)][1]
    report = ingest(kb, corpus)
    assert report.added == report.updated == [] and doc_id in report.unchanged

    clean = KnowledgeBase(Settings(corpus=corpus, index=tmp_path / "clean", model="hashing"))
    ingest(clean, corpus)
    assert " vätg buss" in fts_rows(clean)[(doc_id, 0)][1]            # the compound is split
    assert fts_rows(kb) == fts_rows(clean)
    assert kb.store.vocabulary() == clean.store.vocabulary()
    # Queries are analysed with the same lexicon as the rows: a new process agrees.
    fresh = KnowledgeBase(make_settings(corpus))
    assert fresh.analyzer.index_text("vätgasbussar") == clean.analyzer.index_text("vätgasbussar")
    for each in (kb, clean, fresh):
        each.store.close()


def test_kunskap_ingest_finishes_a_save_that_a_crash_interrupted(corpus, kb_factory):
    from click.testing import CliRunner

    from kunskap.cli import cli

    kb = kb_factory(corpus)
    ingest(kb, corpus)
    path = corpus / "malmo-energi.md"
    previous = path.read_bytes()
    new = previous.replace(b"energir\xc3\xa5dgivning", b"v\xc3\xa4rmepumpsr\xc3\xa5dgivning")
    revision = crashed_save(kb, corpus, action="update", doc_id="malmo-energi", path=path, previous=previous,
                            new=new, write_file=True)
    result = CliRunner().invoke(cli, ["ingest", str(corpus), "--index", str(kb.settings.index), "--model", "hashing",
                                      "--quiet"])
    assert result.exit_code == 0, result.output
    assert f"Återhämtning: version {revision} (malmo-energi): slutförd" in result.output
    assert kb.store.pending_revisions() == [] and Curator(kb).save_state(revision)["state"] == "done"
