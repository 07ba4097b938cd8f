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
