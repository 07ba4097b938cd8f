"""`kunskap serve` as a real process on a loopback port (hashing embedder): what only the real
server shows – start-up clean-up, uvicorn's handling of proxy headers."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import httpx
import pytest

from .conftest import SAMPLE, start_server, write_case
from .test_files import make_temp

PASSWORD = "ett-langt-losenord"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    corpus, index = root / "corpus", root / "index"
    for name, (title, org, body, meta) in SAMPLE.items():
        write_case(corpus, name, title, org, body, **meta)
    env = {**os.environ, "KUNSKAP_CORPUS": str(corpus), "KUNSKAP_INDEX": str(index), "KUNSKAP_MODEL": "hashing"}
    subprocess.run([sys.executable, "-m", "kunskap", "ingest", "--quiet"], env=env, check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "kunskap", "user", "add", "anna"], env=env, input=PASSWORD + "\n",
                   text=True, check=True, capture_output=True)
    stale = [make_temp(corpus, ".lund-cykel.md.q1w2e3r4.tmp", 3600), make_temp(index, ".manifest.json.zzzz_123.tmp", 3600)]
    fresh = make_temp(corpus, ".umea-laddning.md.q1w2e3r4.tmp", 1)
    process, base = start_server(env)
    yield {"base": base, "stale": stale, "fresh": fresh, "env": env}
    process.terminate()
    process.wait(timeout=30)


def test_serve_removes_stale_temp_files_at_start(served):
    assert not any(p.exists() for p in served["stale"]) and served["fresh"].exists()
