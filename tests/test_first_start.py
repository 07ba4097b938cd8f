"""A fast first start (issue 14 §2): documents are searchable by their words at once, semantic
search is built in the background with progress shown, and searches switch to hybrid without a
restart when it is done."""

from __future__ import annotations

import threading
import time

from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from kunskap.embeddings import HashingEmbedder
from kunskap.ingest import ingest
from kunskap.search import Searcher, SearchRequest
from kunskap.web.app import create_app


class GatedEmbedder:
    """The hashing embedder behind a gate: passages wait until the test opens it (the embedder
    boundary; queries pass at once)."""

    def __init__(self):
        self.inner = HashingEmbedder()
        self.model_id, self.dimension = self.inner.model_id, self.inner.dimension
        self.gate = threading.Event()
        self.passages = 0

    def encode_passages(self, texts):
        self.gate.wait(30)
        self.passages += len(texts)
        return self.inner.encode_passages(texts)

    def encode_queries(self, texts):
        return self.inner.encode_queries(texts)


def test_words_first_then_hybrid_without_a_restart(corpus, kb_factory):
    embedder = GatedEmbedder()
    kb = kb_factory(corpus, embedder=embedder)
    report = ingest(kb, corpus, embed=False)
    assert len(report.added) == 5 and embedder.passages == 0
    assert not kb.vectors_complete and len(kb.missing_vectors()) == kb.store.count_chunks() > 0

    with TestClient(create_app(kb.settings, knowledge_base=kb)) as client:
        ready = client.get("/ready")
        assert ready.status_code == 200, ready.text               # serving already
        assert ready.json()["semantic"]["state"] == "building"
        assert ready.json()["semantic"]["message"].startswith("Semantisk sökning byggs – 0 %")
        answer = client.get("/api/v1/search", params={"q": "cykelpendling"}).json()
        assert answer["results"][0]["id"] == "lund-cykel"
        assert answer["semantic_notice"].startswith("Semantisk sökning byggs")
        page = BeautifulSoup(client.get("/sok", params={"q": "biogasbussar"}).text, "html.parser")
        assert "Semantisk sökning byggs" in page.select_one("p.notice").text

        embedder.gate.set()
        deadline = time.time() + 30
        while client.get("/ready").json()["semantic"]["state"] != "ready" and time.time() < deadline:
            time.sleep(0.05)
        assert client.get("/ready").json()["semantic"]["state"] == "ready"
        answer = client.get("/api/v1/search", params={"q": "cykelpendling"}).json()
        assert answer["semantic_notice"] is None and answer["results"][0]["id"] == "lund-cykel"
    assert embedder.passages == kb.store.count_chunks()
    assert sorted(kb.vectors.ids().tolist()) == sorted(kb.store.chunk_ids())
    assert kb.consistency(max_age=0) == [] and kb.missing_vectors() == []


def test_an_ingest_completes_what_a_background_build_left_unembedded(corpus, kb_factory, counting_embedder):
    kb = kb_factory(corpus, embedder=counting_embedder)
    ingest(kb, corpus, embed=False)                # then the server stopped before the build
    assert Searcher(kb).search(SearchRequest("cykelpendling")).semantic_notice
    report = ingest(kb, corpus)
    assert report.chunks_embedded == kb.store.count_chunks() and kb.vectors_complete
    assert Searcher(kb).search(SearchRequest("cykelpendling")).semantic_notice is None
