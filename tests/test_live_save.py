"""Live saves in O(change) (issue 14 §1): the vector journal (base + fsynced records, replayed by
other processes, torn tails and damage), changes applied in place without a half-applied state
for searches, lookups patched from the changed documents on both backends, and the
incrementally updated corpus hash."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from kunskap.errors import IndexMissingError
from kunskap.ingest import corpus_hash, ingest, ingest_files
from kunskap.knowledgebase import KnowledgeBase
from kunskap.search import Searcher
from kunskap.search.request import Filters, SearchRequest
from kunskap.vectors import INDEX_FILE, JOURNAL_SHARE, VectorIndex, read_manifest

from .conftest import write_case

DIM = 16


def unit(rows: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((rows, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def saved_index(folder, rows=200, seed=1) -> VectorIndex:
    index = VectorIndex(DIM, "test", 2)
    index.add(np.arange(1, rows + 1), unit(rows, seed))
    index.save(folder)
    return index


def live_save(index: VectorIndex, folder, removed, added_ids, vectors, documents=("dok",)):
    changes = index.changes()
    changes.remove(removed)
    changes.add(added_ids, vectors)
    arrays = changes.arrays()
    index.apply(*arrays)
    return index.save_changes(folder, *arrays, documents=documents)


def contents(index: VectorIndex) -> dict[int, np.ndarray]:
    return {i: index.reconstruct(i) for i in sorted(index.ids().tolist())}


def same(a: VectorIndex, b: VectorIndex) -> bool:
    left, right = contents(a), contents(b)
    return left.keys() == right.keys() and all(np.array_equal(left[i], right[i]) for i in left)


# -- the journal ------------------------------------------------------------------------------
def test_a_live_save_appends_a_record_and_leaves_the_base_alone(tmp_path):
    index = saved_index(tmp_path)
    base = (tmp_path / INDEX_FILE).read_bytes()
    manifest = live_save(index, tmp_path, [3, 4, 5], [201, 202], unit(2, 7))
    assert (tmp_path / INDEX_FILE).read_bytes() == base
    assert manifest.journal_records == 1 and manifest.journal_bytes > 0
    assert (tmp_path / manifest.journal_file).stat().st_size == manifest.journal_bytes
    assert manifest.vector_count == 199
    loaded = VectorIndex.load(tmp_path, "test", DIM, 2)
    assert same(loaded, index)
    assert 3 not in set(loaded.ids().tolist()) and {201, 202} <= set(loaded.ids().tolist())


def test_another_process_replays_only_the_new_records(tmp_path):
    writer = saved_index(tmp_path)
    reader = VectorIndex.load(tmp_path, "test", DIM, 2)
    live_save(writer, tmp_path, [1], [301], unit(1, 2), documents=("a",))
    live_save(writer, tmp_path, [301, 2], [302, 303], unit(2, 3), documents=("b", "c"))
    manifest = read_manifest(tmp_path)
    assert reader.catch_up(tmp_path, manifest) == ({"a", "b", "c"}, set())
    assert same(reader, writer) and reader.persisted.version == manifest.version
    assert reader.catch_up(tmp_path, manifest) == (set(), set())          # nothing new
    # another base (a full save) cannot be replayed: the caller loads the whole index
    writer.save(tmp_path)
    assert reader.catch_up(tmp_path, read_manifest(tmp_path)) is None


def test_bytes_past_the_manifest_are_ignored_and_dropped_by_the_next_save(tmp_path):
    """A writer killed after appending its record but before renaming its manifest."""
    index = saved_index(tmp_path)
    manifest = live_save(index, tmp_path, [1], [201], unit(1, 4))
    with open(tmp_path / manifest.journal_file, "ab") as journal:
        journal.write(b"KVJ1 half a record of a writer that died")
    loaded = VectorIndex.load(tmp_path, "test", DIM, 2)
    assert same(loaded, index)
    after = live_save(loaded, tmp_path, [2], [202], unit(1, 5))
    assert (tmp_path / after.journal_file).stat().st_size == after.journal_bytes
    assert same(VectorIndex.load(tmp_path, "test", DIM, 2), loaded)


def test_a_damaged_or_short_journal_is_refused(tmp_path):
    index = saved_index(tmp_path)
    manifest = live_save(index, tmp_path, [1], [201], unit(1, 4))
    path = tmp_path / manifest.journal_file
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IndexMissingError):
        VectorIndex.load(tmp_path, "test", DIM, 2)
    path.write_bytes(bytes(data[:-10]))
    with pytest.raises(IndexMissingError):
        VectorIndex.load(tmp_path, "test", DIM, 2)


def test_the_base_is_rewritten_when_the_journal_outgrows_its_share(tmp_path):
    index = saved_index(tmp_path, rows=100)
    base_size = (tmp_path / INDEX_FILE).stat().st_size
    journals, next_id = [], 1000
    for round_ in range(40):
        manifest = live_save(index, tmp_path, [], list(range(next_id, next_id + 3)), unit(3, round_))
        next_id += 3
        journals.append(manifest.journal_bytes)
        assert manifest.journal_bytes <= JOURNAL_SHARE * (tmp_path / INDEX_FILE).stat().st_size
    assert 0 in journals                           # compacted at least once: a full save
    assert (tmp_path / INDEX_FILE).stat().st_size > base_size
    assert len(list(tmp_path.glob("vectors-*.journal"))) <= 1
    assert same(VectorIndex.load(tmp_path, "test", DIM, 2), index)


def test_a_change_of_kind_is_saved_in_full(tmp_path):
    index = VectorIndex(DIM, "test", 2, exact_below=300)
    index.add(np.arange(1, 281), unit(280, 1))
    index.save(tmp_path)
    manifest = live_save(index, tmp_path, [], np.arange(1000, 1030), unit(30, 2))   # 310 >= 300: IVF
    assert index.kind == "ivf" and manifest.index_kind == "ivf" and manifest.journal_bytes == 0
    loaded = VectorIndex.load(tmp_path, "test", DIM, 2, exact_below=300)
    assert loaded.kind == "ivf" and sorted(loaded.ids().tolist()) == sorted(index.ids().tolist())


def test_changes_collected_are_applied_only_when_published(tmp_path):
    index = saved_index(tmp_path)
    before = contents(index)
    changes = index.changes()
    changes.remove([1, 2])
    changes.add([500], unit(1, 9))
    changes.remove([500])                      # added, then removed again in the same save
    changes.add([501], unit(1, 10))
    assert contents(index).keys() == before.keys()       # a failed transaction leaves it alone
    index.apply(*changes.arrays())
    assert set(index.ids().tolist()) == (set(before) - {1, 2}) | {501}


def test_searches_see_the_index_before_or_after_a_change_never_half_of_it():
    """A change removes a document's old chunks and adds its new ones: a search running meanwhile
    must find either set, never neither (the read-write lock)."""
    index = VectorIndex(DIM, "test", 2)
    others = unit(2000, 1)
    index.add(np.arange(1, 2001), others)
    document = unit(1, 2)[0]
    index.add([5000], document[None, :])
    stop, seen, failures = threading.Event(), [], []

    def search():
        while not stop.is_set():
            try:
                ids, _ = index.search(document, 1)
                seen.append(int(ids[0]))
            except Exception as exc:   # noqa: BLE001 - the failure is the finding
                failures.append(exc)

    threads = [threading.Thread(target=search) for _ in range(2)]
    for thread in threads:
        thread.start()
    current = 5000
    for n in range(1, 150):
        index.apply(np.asarray([current]), np.asarray([5000 + n]), document[None, :])
        current = 5000 + n
    stop.set()
    for thread in threads:
        thread.join()
    assert not failures
    assert seen and all(s >= 5000 for s in seen)        # the document was always there, old or new
    assert len(set(seen)) > 1


# -- the knowledge base: live saves through ingest_files -------------------------------------
def test_live_saves_go_to_the_journal_and_a_second_process_replays_them(corpus, make_settings, monkeypatch):
    monkeypatch.setattr("kunskap.vectors.JOURNAL_SHARE", 100.0)   # a tiny base: keep every record
    settings = make_settings(corpus)
    writer = KnowledgeBase(settings)
    ingest(writer, corpus)
    reader = KnowledgeBase(settings)
    reader.open_vectors(repair=False)
    reader.reload_if_changed(every_seconds=0)
    base = (settings.index / INDEX_FILE).read_bytes()
    identity = id(writer.vectors)

    path = write_case(corpus, "kiruna.md", "Cykelvägar i Kiruna", "Kiruna kommun", "Cykel året om i snön.",
                      themes="[cykel]", year=2023)
    ingest_files(writer, corpus, [path])
    manifest = read_manifest(settings.index)
    assert manifest.journal_records == 1 and (settings.index / INDEX_FILE).read_bytes() == base
    assert id(writer.vectors) == identity                 # applied in place: no copy of the index
    assert sorted(writer.vectors.ids().tolist()) == sorted(writer.store.chunk_ids())
    assert writer.changed_documents(writer.generation - 1) == {"kiruna"}

    generation = reader.generation
    assert reader.reload_if_changed(every_seconds=0)
    assert reader.changed_documents(generation) == {"kiruna"}       # learnt from the journal
    assert {"snön", "kiruna"} <= reader.changed_words(generation)
    assert sorted(reader.vectors.ids().tolist()) == sorted(writer.store.chunk_ids())
    assert reader.consistency(max_age=0) == []
    hits = Searcher(reader).search(SearchRequest("cykel snön kiruna")).hits
    assert hits and hits[0].doc_id == "kiruna"

    # A third process opening the folder reads base + journal.
    third = KnowledgeBase(settings)
    third.open_vectors(repair=False)
    assert sorted(third.vectors.ids().tolist()) == sorted(writer.store.chunk_ids())
    for kb in (writer, reader, third):
        kb.store.close()


def test_a_writer_applies_its_save_to_the_latest_index_after_another_process_saved(corpus, make_settings,
                                                                                   monkeypatch):
    """The lost update of issue 14 §3.1, through the journal: each writer catches up with the
    other's record before it applies its own."""
    monkeypatch.setattr("kunskap.vectors.JOURNAL_SHARE", 100.0)   # a tiny base: keep every record
    settings = make_settings(corpus)
    first = KnowledgeBase(settings)
    ingest(first, corpus)
    second = KnowledgeBase(settings)
    second.open_vectors()
    a = write_case(corpus, "kiruna.md", "Cykelvägar i Kiruna", "Kiruna kommun", "Cykel året om i snön.")
    b = write_case(corpus, "gavle.md", "Solceller i Gävle", "Gävle kommun", "Solceller på skolornas tak.")
    ingest_files(first, corpus, [a])
    ingest_files(second, corpus, [b])
    ingest_files(first, corpus, [a])      # unchanged file: rewritten, after second's record
    stored = sorted(first.store.chunk_ids())
    for kb in (first, second):
        with kb.writing():
            assert sorted(kb.vectors.ids().tolist()) == stored
    assert read_manifest(settings.index).journal_records == 3
    assert sorted(VectorIndex.load(settings.index, first.embedder.model_id, first.embedder.dimension,
                                   2).ids().tolist()) == stored
    first.store.close()
    second.store.close()


def test_a_damaged_journal_is_repaired_by_the_next_writer_and_refused_by_readers(corpus, make_settings,
                                                                                 monkeypatch):
    monkeypatch.setattr("kunskap.vectors.JOURNAL_SHARE", 100.0)
    settings = make_settings(corpus)
    kb = KnowledgeBase(settings)
    ingest(kb, corpus)
    path = write_case(corpus, "kiruna.md", "Cykelvägar i Kiruna", "Kiruna kommun", "Cykel året om i snön.")
    ingest_files(kb, corpus, [path])
    manifest = read_manifest(settings.index)
    assert manifest.journal_bytes
    journal = settings.index / manifest.journal_file
    data = bytearray(journal.read_bytes())
    data[40] ^= 0xFF
    journal.write_bytes(bytes(data))
    kb.store.close()
    reader = KnowledgeBase(settings.model_copy(update={"read_only": True}))
    with pytest.raises(IndexMissingError):
        reader.open_vectors()
    writer = KnowledgeBase(settings)
    writer.open_vectors()                  # rebuilt from the embedding cache, saved in full
    assert sorted(writer.vectors.ids().tolist()) == sorted(writer.store.chunk_ids())
    assert read_manifest(settings.index).journal_bytes == 0 and not journal.exists()
    reader.store.close()
    writer.store.close()


def test_the_corpus_hash_of_a_live_save_equals_the_full_one(corpus, make_settings):
    settings = make_settings(corpus)
    kb = KnowledgeBase(settings)
    ingest(kb, corpus)

    def full() -> str:
        return corpus_hash((k, v["content_hash"]) for k, v in kb.store.document_states().items())

    assert read_manifest(settings.index).corpus_hash == full()
    added = write_case(corpus, "kiruna.md", "Cykelvägar i Kiruna", "Kiruna kommun", "Cykel året om.")
    ingest_files(kb, corpus, [added])
    assert read_manifest(settings.index).corpus_hash == full()
    changed = write_case(corpus, "kiruna.md", "Cykelvägar i Kiruna", "Kiruna kommun", "Cykel året om, nu med snö.")
    ingest_files(kb, corpus, [changed], remove_ids=["lund-cykel"])
    (corpus / "lund-cykel.md").unlink()
    assert read_manifest(settings.index).corpus_hash == full()
    assert "lund-cykel" not in kb.store.document_states()
    kb.store.close()


# -- the searcher's lookups patched, on both backends -----------------------------------------
LOOKUPS = ("_chunk_docs", "_document_rows", "_document_themes")


def lookups(searcher: Searcher) -> dict:
    out = {name: getattr(searcher, name)() for name in LOOKUPS}
    out["allowed"] = searcher._allowed_documents(Filters())
    out["allowed_other"] = searcher._allowed_documents(Filters(), exclude_organisation="Lunds kommun")
    table = searcher._chunk_table()
    out["table"] = {d: sorted(table.chunks_of([d]).tolist()) for d in sorted(set(out["_chunk_docs"].values()))}
    out["table_all"] = sorted(table.chunks_of(list(out["_document_rows"])).tolist())
    out["summaries"] = sorted(searcher._document_summaries().vectors)
    vocabulary = searcher._vocabulary()
    out["vocabulary"] = (vocabulary.counts, {n: sorted(ws) for n, ws in vocabulary.by_length.items()})
    return out


@pytest.fixture(params=["sqlite", "postgres"])
def live_kb(request, corpus, kb_factory):
    if request.param == "sqlite":
        return kb_factory(corpus)
    return request.getfixturevalue("pg_kb")(corpus)


@pytest.fixture
def pg_kb(postgres_url, tmp_path):
    opened = []

    def make(corpus) -> KnowledgeBase:
        from kunskap.config import Settings

        kb = KnowledgeBase(Settings(corpus=corpus, index=tmp_path / f"index-pg-{len(opened)}", model="hashing",
                                    database_url=postgres_url))
        opened.append(kb)
        return kb

    yield make
    for kb in opened:
        kb.store.close()


def test_lookups_patched_after_live_saves_equal_lookups_computed_afresh(live_kb, corpus, monkeypatch):
    monkeypatch.setattr("kunskap.vectors.JOURNAL_SHARE", 100.0)
    kb = live_kb
    ingest(kb, corpus)
    searcher = Searcher(kb)
    searcher.search(SearchRequest("cykel"))
    lookups(searcher)
    calls = []
    original, whole_vocabulary = kb.store.chunk_doc_map, kb.store.vocabulary

    def counted():
        calls.append(1)
        return original()

    def counted_vocabulary():
        calls.append(1)
        return whole_vocabulary()
    kb.store.chunk_doc_map, kb.store.vocabulary = counted, counted_vocabulary
    saves = [
        ([write_case(corpus, "kiruna.md", "Cykelvägar i Kiruna", "Kiruna kommun", "Cykel året om i snön.",
                     themes="[cykel]", year=2023)], []),
        ([write_case(corpus, "lund-cykel.md", "Cykelvägar i Lund", "Lunds kommun",
                     "## Ny\nLånecyklar och cykelgarage.\n\n## Mer\nCykelpendling ökade.", themes="[mat]")], []),
        ([write_case(corpus, "umea-laddning.md", "Laddinfrastruktur i Umeå", "Umeå kommun", "Utkast.",
                     status="draft")], []),
        ([], ["skane-mat"]),
    ]
    for paths, removed in saves:
        generation = kb.generation
        ingest_files(kb, corpus, paths, remove_ids=removed)
        assert kb.changed_documents(generation) is not None
        before = len(calls)
        patched = lookups(searcher)
        found = searcher.search(SearchRequest("cykel")).hits
        assert len(calls) == before          # patched: every chunk's row was not read again
        fresh = lookups(Searcher(kb))
        assert len(calls) == before + 2
        assert patched == fresh
        assert found == Searcher(kb).search(SearchRequest("cykel")).hits
    assert "kiruna" in patched["_document_rows"] and "skane-mat" not in patched["_document_rows"]
    assert "umea-laddning" not in patched["allowed"]                 # a draft is not public


def test_a_live_save_that_fails_to_reach_the_disk_is_saved_in_full_by_the_next(tmp_path, monkeypatch):
    index = saved_index(tmp_path)
    live_save(index, tmp_path, [1], [201], unit(1, 4))

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr("kunskap.vectors.write_manifest", full_disk)
    with pytest.raises(OSError):
        live_save(index, tmp_path, [2], [202], unit(1, 5))       # applied in memory, not on disk
    monkeypatch.undo()
    manifest = live_save(index, tmp_path, [3], [203], unit(1, 6))
    assert manifest.journal_bytes == 0                            # the whole index, with 202 in it
    assert same(VectorIndex.load(tmp_path, "test", DIM, 2), index)


def picked_up(kb: KnowledgeBase, generation: int, seconds: float = 10.0) -> bool:
    """Whether `kb` reaches a newer generation (its watcher hears the NOTIFY within a poll)."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        kb.reload_if_changed(every_seconds=0)
        if kb.generation > generation:
            return True
        time.sleep(0.05)
    return False


def test_another_postgresql_server_patches_its_lookups_from_the_documents_a_save_changed(corpus, pg_kb):
    writer = pg_kb(corpus)
    ingest(writer, corpus)
    server = pg_kb(corpus)
    server.open_vectors()
    searcher = Searcher(server)
    searcher.search(SearchRequest("cykel"))
    lookups(searcher)
    calls = []
    original, whole_vocabulary = server.store.chunk_doc_map, server.store.vocabulary
    server.store.chunk_doc_map = lambda: calls.append(1) or original()
    server.store.vocabulary = lambda: calls.append(1) or whole_vocabulary()

    path = write_case(corpus, "kiruna.md", "Cykelvägar i Kiruna", "Kiruna kommun", "Cykel året om i snön.",
                      themes="[cykel]", year=2023)
    ingest_files(writer, corpus, [path], remove_ids=["skane-mat"])
    generation = server.generation
    assert picked_up(server, generation)
    assert server.changed_documents(generation) == {"kiruna", "skane-mat"}
    assert {"snön", "kiruna"} <= server.changed_words(generation)
    patched = lookups(searcher)
    assert not calls                                   # patched, not reread
    assert patched == lookups(Searcher(server))
    assert searcher.search(SearchRequest("cykel snön kiruna")).hits[0].doc_id == "kiruna"

    # A full ingest is not a recorded live save: the other server starts afresh.
    write_case(corpus, "gavle.md", "Solceller i Gävle", "Gävle kommun", "Solceller på skolornas tak.")
    ingest(writer, corpus)
    generation = server.generation
    assert picked_up(server, generation)
    assert server.changed_documents(generation) is None
    assert "gavle" in lookups(searcher)["_document_rows"]
