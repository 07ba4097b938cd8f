"""Ingest: incremental by content hash, pruning, rebuilds from the cache, rejections that lose
nothing, manifest checks, and recovery of a damaged index. Real SQLite and FAISS throughout."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from kunskap.errors import IndexMismatchError
from kunskap.ingest import ingest
from kunskap.knowledgebase import KnowledgeBase
from kunskap.storage.base import analysed_postings, impact_key
from kunskap.vectors import INDEX_FILE, MANIFEST_FILE

from .conftest import write_case


def consistent(kb: KnowledgeBase) -> None:
    """SQLite rows, FTS rows and FAISS ids agree."""
    chunk_ids = sorted(kb.store.chunk_ids())
    assert chunk_ids, "no chunks: an empty index would agree trivially"
    assert sorted(kb.vectors.ids().tolist()) == chunk_ids
    fts = sorted(r[0] for r in kb.store.db.execute("SELECT rowid FROM chunks_fts").fetchall())
    assert fts == chunk_ids
    postings_agree(kb.store.db)


def postings_agree(db) -> None:
    """The impact-ordered postings, the terms' document frequencies and the totals are exactly
    what the FTS rows give."""
    expected, df, rows, tokens = set(), Counter(), 0, 0
    for chunk_id, title, body in db.execute("SELECT rowid, title, body FROM chunks_fts").fetchall():
        length, terms = analysed_postings(title or "", body or "")
        rows, tokens = rows + 1, tokens + length
        for term, title_tf, body_tf in terms:
            expected.add((term, impact_key(title_tf, body_tf, length), chunk_id, title_tf, body_tf, length))
            df[term] += 1
    assert set(db.execute("SELECT term, impact, chunk_id, title_tf, body_tf, length FROM lexical_postings")
               .fetchall()) == expected
    assert dict(db.execute("SELECT term, df FROM lexical_terms").fetchall()) == dict(df)
    assert db.execute("SELECT rows, tokens FROM lexical_totals").fetchone() == (rows, tokens)


def test_first_ingest_then_unchanged_does_no_work(corpus, kb_factory, counting_embedder):
    kb = kb_factory(corpus, embedder=counting_embedder)
    report = ingest(kb, corpus)
    assert sorted(report.added) == ["lund-cykel", "malmo-energi", "skane-mat", "umea-laddning", "vaxjo-buss"]
    embedded = len(counting_embedder.passages)
    assert embedded == report.chunks_embedded > 0
    consistent(kb)

    again = ingest(kb, corpus)
    assert len(again.unchanged) == 5 and not again.added and not again.updated
    assert len(counting_embedder.passages) == embedded          # nothing embedded twice


def test_changed_file_reembeds_only_changed_chunks(corpus, kb_factory, counting_embedder):
    kb = kb_factory(corpus, embedder=counting_embedder)
    ingest(kb, corpus)
    before = len(counting_embedder.passages)
    path = corpus / "lund-cykel.md"
    path.write_text(path.read_text("utf-8").replace("lånecyklar för nyinflyttade", "lånecyklar och lastcyklar"),
                    encoding="utf-8")
    report = ingest(kb, corpus)
    assert report.updated == ["lund-cykel"] and len(report.unchanged) == 4
    new_passages = counting_embedder.passages[before:]
    assert len(new_passages) == report.chunks_embedded == 1
    assert "lastcyklar" in new_passages[0]
    consistent(kb)


def test_prune_removes_documents_whose_files_are_gone(corpus, kb_factory):
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    (corpus / "umea-laddning.md").unlink()
    kept = ingest(kb, corpus)
    assert kept.removed == [] and kb.store.get_document("umea-laddning") is not None
    pruned = ingest(kb, corpus, prune=True)
    assert pruned.removed == ["umea-laddning"]
    assert kb.store.get_document("umea-laddning") is None
    consistent(kb)


def test_rejected_file_keeps_its_stored_version(corpus, kb_factory):
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    (corpus / "vaxjo-buss.md").write_text("---\ntitle: [trasig\n---\n", encoding="utf-8")
    report = ingest(kb, corpus, prune=True)
    assert [e.path for e in report.rejected] == ["vaxjo-buss.md"]
    assert "ogiltig YAML" in report.rejected[0].reason
    stored = kb.store.get_document("vaxjo-buss")
    assert stored is not None and stored["title"] == "Fossilfri kollektivtrafik i Växjö"
    consistent(kb)


def test_rebuild_uses_the_embedding_cache(corpus, kb_factory, counting_embedder):
    kb = kb_factory(corpus, embedder=counting_embedder)
    ingest(kb, corpus)
    embedded = len(counting_embedder.passages)
    report = ingest(kb, corpus, rebuild=True)
    assert len(report.added) == 5 and report.chunks_embedded == 0 and report.chunks_cached > 0
    assert len(counting_embedder.passages) == embedded
    consistent(kb)


def test_manifest_records_model_and_refuses_another(corpus, kb_factory, make_settings):
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    manifest = json.loads((kb.index_dir / MANIFEST_FILE).read_text())
    assert manifest["model_id"] == "hashing-64" and manifest["vector_count"] == kb.store.count_chunks()
    assert manifest["chunker_version"] >= 1 and manifest["package_version"]
    other = KnowledgeBase(make_settings(corpus, model="hashing:32"))
    with pytest.raises(IndexMismatchError, match="kunskap ingest --rebuild"):
        other.open_vectors()


def test_damaged_or_missing_index_is_rebuilt_without_reembedding(corpus, kb_factory, counting_embedder, make_settings):
    kb = kb_factory(corpus, embedder=counting_embedder)
    ingest(kb, corpus)
    embedded = len(counting_embedder.passages)
    ids = sorted(kb.vectors.ids().tolist())
    query = kb.vectors.reconstruct(ids[0])

    index_file = kb.index_dir / INDEX_FILE
    data = bytearray(index_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    index_file.write_bytes(bytes(data))
    fresh = KnowledgeBase(make_settings(corpus), embedder=counting_embedder)
    vectors = fresh.open_vectors()
    assert sorted(vectors.ids().tolist()) == ids
    assert vectors.search(query, 1)[0][0] == ids[0]
    assert len(counting_embedder.passages) == embedded

    index_file.unlink()
    again = KnowledgeBase(make_settings(corpus), embedder=counting_embedder).open_vectors()
    assert sorted(again.ids().tolist()) == ids and index_file.exists()


def test_index_out_of_step_with_database_is_repaired(corpus, kb_factory, make_settings):
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    lost = kb.store.chunk_ids()[0]
    kb.vectors.remove([lost])
    kb.vectors.save(kb.index_dir)            # simulates a crash between the DB and FAISS writes
    assert lost not in kb.vectors.ids().tolist()
    fresh = KnowledgeBase(make_settings(corpus))
    fresh.open_vectors()
    consistent(fresh)
    assert lost in fresh.vectors.ids().tolist()


def test_changed_id_in_same_file_replaces_old_document(corpus, kb_factory):
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    write_case(corpus, "lund-cykel.md", "Cykel i Lund", "Lunds kommun", "Cyklar och cykelvägar.", id="lund-cykling")
    report = ingest(kb, corpus)
    assert "lund-cykel" in report.removed and report.added == ["lund-cykling"]
    assert kb.store.get_document("lund-cykel") is None
    consistent(kb)


def test_vectors_are_normalised_and_ids_are_chunk_rowids(corpus, kb_factory):
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    chunk_ids = kb.store.chunk_ids()
    assert len(chunk_ids) >= 5                 # at least one chunk per sample document
    for chunk_id in chunk_ids:
        assert np.isclose(np.linalg.norm(kb.vectors.reconstruct(chunk_id)), 1.0, atol=1e-5)


def test_running_service_picks_up_an_ingest_from_another_process(corpus, kb_factory, make_settings):
    from kunskap.search import SearchRequest, Searcher

    from .conftest import write_case

    served = kb_factory(corpus)
    ingest(served, corpus)
    searcher = Searcher(served)
    before = [h.doc_id for h in searcher.search(SearchRequest("lastcyklar hemtjänst")).hits]
    assert len(before) == 5 and "lastcyklar" not in before
    write_case(corpus, "lastcyklar.md", "Lastcyklar i hemtjänsten", "Växjö kommun", "Hemtjänsten cyklar lastcyklar.")
    other = KnowledgeBase(make_settings(corpus))      # as a separate `kunskap ingest` would
    ingest(other, corpus)
    served._checked_at = served._peeked_at = 0.0       # skip the 2-second check interval
    assert searcher.cached(SearchRequest("lastcyklar hemtjänst")) is None     # cached result is stale now
    hits = searcher.search(SearchRequest("lastcyklar hemtjänst")).hits
    assert hits[0].doc_id == "lastcyklar"
    consistent(served)


def test_rebuild_keeps_the_stored_version_of_a_now_broken_file(corpus, kb_factory, make_settings):
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    (corpus / "skane-mat.md").write_text("---\ntitle: [trasig\n---\n", encoding="utf-8")
    report = ingest(kb, corpus, rebuild=True)
    assert [e.path for e in report.rejected] == ["skane-mat.md"]
    assert kb.store.get_document("skane-mat")["title"] == "Skolmåltider med mer växtbaserat i Region Skåne"
    consistent(kb)
    assert len(kb.store.chunks_of("skane-mat")) > 0


def test_faiss_runs_single_threaded_in_worker_threads_too(corpus, kb_factory):
    """omp_set_num_threads is per thread: a server's worker threads must not start FAISS's
    OpenMP team (one spinning thread per core, ~7 ms of wasted CPU per search measured)."""
    import os
    import threading

    kb = kb_factory(corpus)
    ingest(kb, corpus)
    query = kb.vectors.reconstruct(kb.store.chunk_ids()[0])
    counts = {}

    def search_in_a_new_thread():
        counts["before"] = len(os.listdir("/proc/self/task"))
        for _ in range(3):
            ids, _scores = kb.vectors.search(query, 5)
            assert len(ids) > 0
        counts["after"] = len(os.listdir("/proc/self/task"))

    worker = threading.Thread(target=search_in_a_new_thread)
    worker.start()
    worker.join()
    assert counts["after"] == counts["before"]


def test_a_writer_trusts_a_manifest_saved_at_the_current_store_generation(corpus, kb_factory, make_settings):
    """The catch-up of every write compares no chunk ids when the last save recorded the store's
    generation and nothing was committed since; when something was (a writer that died between
    its commit and saving the index), the ids are compared and the index repaired."""
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    manifest = json.loads((kb.index_dir / MANIFEST_FILE).read_text())
    assert manifest["complete"] is True and manifest["store_generation"] == kb.store.change_generation()
    fresh = KnowledgeBase(make_settings(corpus))
    opened = fresh.open_vectors()
    # Proof that no id is compared: with the embedding cache emptied behind its back (which
    # changes no generation), a comparison would find the index out of step and rebuild it empty.
    kb.store.db.execute("CREATE TEMP TABLE kept AS SELECT * FROM embeddings")
    with kb.store.transaction():
        kb.store.db.execute("DELETE FROM embeddings")
    with fresh.writing():
        assert fresh.vectors is opened and fresh.vectors.count > 0    # in step: nothing rebuilt
    assert fresh.vectors_complete
    with kb.store.transaction():
        kb.store.db.execute("INSERT INTO embeddings SELECT * FROM kept")
    # A commit after the save, with no index saved for it: the chunks of one document are gone.
    gone = kb.store.chunk_ids_for_documents(["lund-cykel"]).tolist()
    kb.store.delete_document("lund-cykel")
    with fresh.writing():
        assert fresh.vectors is not opened
    assert not set(gone) & set(fresh.vectors.ids().tolist())
    consistent(fresh)
    fresh.store.close()


class DyingEmbedder:
    """An embedder whose process 'dies' (raises) after `batches` calls, as a kill would stop it."""

    def __init__(self, inner, batches: int):
        self.inner, self.left = inner, batches
        self.model_id, self.dimension = inner.model_id, inner.dimension

    def encode_passages(self, texts):
        if self.left == 0:
            raise KeyboardInterrupt("killed")
        self.left -= 1
        return self.inner.encode_passages(texts)

    def encode_queries(self, texts):
        return self.inner.encode_queries(texts)


def test_an_interrupted_ingest_resumes_without_embedding_anything_twice(tmp_path, kb_factory, counting_embedder,
                                                                       monkeypatch):
    """Streaming in batches (STREAM_BATCH lowered to 3 documents here), an ingest stopped half-way
    through embedding has committed what it embedded; the next one embeds only the rest, and the
    knowledge base ends up complete and consistent, nothing written by the stopped one."""
    import kunskap.ingest as ingest_module

    monkeypatch.setattr(ingest_module, "STREAM_BATCH", 3)
    corpus = tmp_path / "many"
    for n in range(12):
        write_case(corpus, f"dok-{n:02d}.md", f"Åtgärd {n} i Älvdalen", "Älvdalens kommun",
                   f"## Del\n\nKommunen bygger {n} solcellsparker och {n * 3} laddstolpar vid älven.")
    dying = kb_factory(corpus, embedder=DyingEmbedder(counting_embedder, batches=2))
    with pytest.raises(KeyboardInterrupt):
        ingest(dying, corpus)
    assert dying.store.count_documents() == 0                     # the writing pass never began
    first = len(counting_embedder.passages)
    assert 0 < first < 12
    kb = kb_factory(corpus, embedder=counting_embedder)
    report = ingest(kb, corpus)
    assert len(report.added) == 12 and report.chunks_embedded == 12 - first
    assert len(counting_embedder.passages) == 12                  # each passage embedded once in all
    consistent(kb)
    assert kb.vectors_complete


def test_a_live_save_moves_the_vocabulary_by_its_own_words_only(corpus, kb_factory):
    """A live save adds the words of the document it writes and takes away those of the version
    it replaces (or the document it removes), instead of recounting every chunk of the corpus:
    after adding and then removing a document the vocabulary is what it was."""
    from kunskap.ingest import ingest_files

    # A document of several chunks: a recount over chunks would count its title once per chunk.
    long_body = "\n\n".join(f"Skogen kring Kiruna gallras del {n}. Virket blir fjärrvärme och byggnader, "
                              "och ungskogen planteras om med tall och gran för framtida skogsbruk." for n in range(14))
    write_case(corpus, "kiruna-skog.md", "Skogsbruk kring Kiruna", "Kiruna kommun", long_body)
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    assert len(kb.store.chunks_of("kiruna-skog")) >= 2
    before = kb.store.vocabulary()
    path = write_case(corpus, "alvdalen-vatgas.md", "Vätgasbussar i Älvdalen", "Älvdalens kommun",
                      "## Bakgrund\n\nÄlvdalen provar vätgasbussar. Vätgasbussar laddas vid älven.")
    ingest_files(kb, corpus, [path])
    after = kb.store.vocabulary()
    assert after["vätgasbussar"] == 3 and after["älvdalen"] >= 2          # title once, body twice
    changed = {w for w in set(before) | set(after) if before.get(w) != after.get(w)}
    assert changed <= set(kb.count_words(["Vätgasbussar i Älvdalen\nÄlvdalen provar vätgasbussar. "
                                          "Vätgasbussar laddas vid älven."]))
    path.unlink()
    ingest_files(kb, corpus, [], remove_ids=["alvdalen-vatgas"])
    assert kb.store.vocabulary() == before
