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


def failed_login(base, username, headers):
    with httpx.Client(base_url=base) as client:
        page = client.get("/logga-in")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        return client.post("/logga-in", data={"username": username, "password": "fel-losenord", "csrf": csrf},
                           headers=headers).status_code


def test_login_throttling_ignores_x_forwarded_for_from_an_untrusted_peer(served):
    """No trusted proxies are configured: uvicorn must not take the client address from
    X-Forwarded-For (its default trusts any loopback peer), so a rotating header does not
    escape the per-client throttle."""
    statuses = [failed_login(served["base"], f"gissning{i}", {"X-Forwarded-For": f"203.0.113.{i}"})
                for i in range(6)]
    assert statuses == [401] * 5 + [429]
