"""The FAISS index kind chosen by size (flat below `exact_vectors_below`, IVF above), recorded in
the manifest, loaded back, exact under selective filters, and switched back when the index
shrinks. Real FAISS; the knowledge-base tests use the `hashing` embedder and a real corpus."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kunskap.ingest import ingest
from kunskap.search import Searcher
from kunskap.search.request import Filters, SearchRequest
from kunskap.vectors import FLAT, IVF, MANIFEST_FILE, VectorIndex, read_manifest

from .conftest import write_case

DIM = 32


def clustered(rows: int, seed: int, centres: int = 40) -> np.ndarray:
    """Unit vectors around a few centres, as text embeddings bunch by topic."""
    rng = np.random.default_rng(seed)
    middle = rng.standard_normal((centres, DIM))
    vectors = middle[rng.integers(0, centres, rows)] + 0.35 * rng.standard_normal((rows, DIM))
    vectors = vectors.astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def exact(ids, vectors, query, k, allowed=None):
    keep = np.array([allowed is None or i in allowed for i in ids])
    sub_ids, scores = np.asarray(ids)[keep], vectors[keep] @ query
    return sub_ids[np.argsort(-scores, kind="stable")[:k]].tolist()


def test_the_kind_follows_the_size_and_ivf_recall_is_high():
    index = VectorIndex(DIM, "test", 2, exact_below=3000)
    ids, vectors = list(range(1, 4001)), clustered(4000, 1)
    index.add(ids[:2000], vectors[:2000])
    assert index.kind == FLAT
    index.add(ids[2000:], vectors[2000:])
    assert index.kind == IVF and index.count == 4000
    assert sorted(index.ids().tolist()) == ids
    assert index.describe()["lists"] == 64 and index.describe()["probes"] >= 8
    assert np.allclose(index.reconstruct(1234), vectors[1233])
    recalls = []
    for query in clustered(20, 2):
        found, _ = index.search(query, 10)
        recalls.append(len(set(found.tolist()) & set(exact(ids, vectors, query, 10))) / 10)
    assert np.mean(recalls) >= 0.95
    # Shrinking below half the threshold goes back to exact search.
    assert index.remove(ids[:2600]) == 2600
    assert index.kind == FLAT and sorted(index.ids().tolist()) == ids[2600:]
    found, _ = index.search(vectors[3999], 5)
    assert found.tolist() == exact(ids[2600:], vectors[2600:], vectors[3999], 5)


def test_a_selective_filter_on_ivf_is_exact():
    index = VectorIndex(DIM, "test", 2, exact_below=1000)
    ids, vectors = list(range(1, 5001)), clustered(5000, 3)
    index.add(ids, vectors)
    assert index.kind == IVF
    allowed = set(np.random.default_rng(4).choice(ids, 300, replace=False).tolist())
    for query in clustered(10, 5):
        found, _ = index.search(query, 200, allowed_ids=np.asarray(sorted(allowed)))
        assert found.tolist() == exact(ids, vectors, query, 200, allowed)


def test_clone_remove_and_add_on_ivf_leave_the_original_alone():
    index = VectorIndex(DIM, "test", 2, exact_below=1000)
    ids, vectors = list(range(1, 3001)), clustered(3000, 6)
    index.add(ids, vectors)
    copy = index.clone()
    assert copy.kind == IVF and copy.describe() == index.describe()
    copy.remove([1, 2, 3])
    copy.add([5000], clustered(1, 7))
    assert index.count == 3000 and copy.count == 2998
    assert 1 in set(index.ids().tolist()) and 1 not in set(copy.ids().tolist()) and 5000 in set(copy.ids().tolist())
    found, _ = copy.search(copy.reconstruct(5000), 1)
    assert found.tolist() == [5000]


def test_ivf_is_saved_with_its_kind_and_loaded_back(tmp_path):
    index = VectorIndex(DIM, "test", 2, exact_below=1000)
    ids, vectors = list(range(1, 2501)), clustered(2500, 8)
    index.add(ids, vectors)
    manifest = index.save(tmp_path)
    assert manifest.index_kind == IVF and manifest.index_params["lists"] == index.describe()["lists"]
    loaded = VectorIndex.load(tmp_path, "test", DIM, 2, exact_below=1000)
    assert loaded.kind == IVF and loaded.describe() == index.describe()
    query = clustered(1, 9)[0]
    assert loaded.search(query, 10)[0].tolist() == index.search(query, 10)[0].tolist()
    loaded.remove([7])          # removal by chunk id needs the direct map restored on load
    assert loaded.count == 2499


def test_an_older_manifest_without_a_kind_loads_as_flat(tmp_path):
    index = VectorIndex(DIM, "test", 2)
    index.add([1, 2, 3], clustered(3, 10))
    index.save(tmp_path)
    path = tmp_path / MANIFEST_FILE
    data = json.loads(path.read_text())
    for key in ("index_kind", "index_params", "store_generation", "complete"):
        data.pop(key)
    path.write_text(json.dumps(data))
    assert read_manifest(tmp_path).index_kind == FLAT
    loaded = VectorIndex.load(tmp_path, "test", DIM, 2)
    assert loaded.kind == FLAT and sorted(loaded.ids().tolist()) == [1, 2, 3]


@pytest.fixture
def wide_corpus(tmp_path):
    """60 documents from three municipalities, enough chunks to pass a low IVF threshold."""
    folder = tmp_path / "corpus"
    places = [("Älvdalens kommun", "Dalarnas län"), ("Växjö kommun", "Kronobergs län"), ("Luleå kommun", "Norrbottens län")]
    for n in range(60):
        organisation, county = places[n % 3]
        body = "\n\n".join(f"## Del {p}\n\nKommunen arbetar med klimat och energi, steg {n}-{p}. "
                           f"Solceller, cyklar och matsvinn nummer {n * 7 + p} beskrivs här." for p in range(4))
        write_case(folder, f"dok-{n:02d}.md", f"Åtgärd {n} i {organisation}", organisation, body,
                   county=county, year=2010 + n % 12)
    return folder


@pytest.mark.parametrize("threshold,kind", [(1_000_000, FLAT), (40, IVF)])
def test_the_knowledge_base_records_the_kind_and_a_selective_filter_finds_every_document(
        kb_factory, wide_corpus, threshold, kind):
    kb = kb_factory(wide_corpus, exact_vectors_below=threshold)
    ingest(kb, wide_corpus)
    manifest = read_manifest(kb.index_dir)
    assert manifest.index_kind == kind and kb.vectors.kind == kind
    assert manifest.complete is True and manifest.store_generation == kb.store.change_generation()
    searcher = Searcher(kb)
    filters = Filters(organisation=["Luleå kommun"], year_from=2012, year_to=2013)
    matching = set(kb.store.filtered_document_ids(filters))
    assert len(matching) == 5
    # Dense candidates under the filter: every matching document, nothing else.
    found = searcher.candidates(SearchRequest(q="klimat och energi", mode="dense", filters=filters))
    assert set(found.dense) == matching
    result = searcher.search(SearchRequest(q="solceller", filters=filters, limit=50))
    assert {h.doc_id for h in result.hits} == matching
    # A new process loads the same kind.
    again = kb_factory(wide_corpus, exact_vectors_below=threshold)
    assert again.open_vectors().kind == kind


@pytest.mark.parametrize("kind_below", [10**9, 1000])
def test_a_large_filter_as_a_bitmap_selects_exactly_the_allowed_ids(monkeypatch, kind_below):
    """Beyond vectors.BITMAP_FROM allowed ids the selector is a bitmap: same results as the hash
    set, ids at the bitmap's edges (the largest allowed id, one past it) included."""
    import kunskap.vectors as vectors_module

    index = VectorIndex(DIM, "test", 2, exact_below=kind_below)
    ids, vectors = list(range(1, 3001)), clustered(3000, 11)
    index.add(ids, vectors)
    allowed = sorted(set(np.random.default_rng(12).choice(ids[:-1], 250, replace=False).tolist()) | {2999})
    query = vectors[2998]                        # id 2999, the largest allowed; 3000 is not allowed
    hashed = index.search(query, 200, allowed_ids=np.asarray(allowed))
    monkeypatch.setattr(vectors_module, "BITMAP_FROM", 10)
    mapped = index.search(query, 200, allowed_ids=np.asarray(allowed))
    assert mapped[0].tolist() == hashed[0].tolist() == exact(ids, vectors, query, 200, set(allowed))
    assert mapped[0][0] == 2999 and 3000 not in mapped[0].tolist()
