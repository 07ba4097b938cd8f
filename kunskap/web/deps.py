"""FastAPI dependencies: the knowledge base, searcher and admission control held on app.state,
the parsing of search parameters, and the one way the API and the pages run a search."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request
from fastapi.concurrency import run_in_threadpool

from ..errors import ValidationError
from ..knowledgebase import KnowledgeBase
from ..search import Filters, Searcher, SearchRequest, SearchResult


# SQLite integers are signed 64-bit: a larger id cannot name a row, and binding it raises
# OverflowError (a 500). Declared on the route, so it is a 400 and part of the OpenAPI document.
SQLITE_MAX_INTEGER = 2**63 - 1
RowId = Annotated[int, Path(ge=1, le=SQLITE_MAX_INTEGER, description="Versionens nummer")]
YEAR_MIN, YEAR_MAX = 1900, 2100


def get_kb(request: Request) -> KnowledgeBase:
    return request.app.state.kb


def get_searcher(request: Request) -> Searcher:
    return request.app.state.searcher


# As dependencies: async, so FastAPI does not hop to its thread pool just to read app.state.
async def kb_dependency(request: Request) -> KnowledgeBase:
    return request.app.state.kb


async def searcher_dependency(request: Request) -> Searcher:
    return request.app.state.searcher


def _int(value: str | None, name: str, low: int, high: int) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise ValidationError(name, f"Parametern '{name}' ska vara ett heltal.") from None
    if not low <= number <= high:
        raise ValidationError(name, f"Parametern '{name}' ska vara mellan {low} och {high}.")
    return number


def _many(request: Request, name: str) -> list[str]:
    """A repeatable filter: `theme=a&theme=b`, or comma-separated `theme=a,b` (not for
    organisation names, which are taken whole)."""
    values: list[str] = []
    for raw in request.query_params.getlist(name):
        parts = [raw] if name == "organisation" else raw.split(",")
        values.extend(p.strip() for p in parts)
    return [v[:200] for v in values if v][:50]


def search_request(request: Request, default_limit: int = 10) -> SearchRequest:
    params = request.query_params
    filters = Filters(
        organisation=_many(request, "organisation"),
        organisation_type=_many(request, "organisation_type"),
        county=_many(request, "county"),
        theme=_many(request, "theme"),
        kind=_many(request, "kind"),
        year_from=_int(params.get("year_from"), "year_from", YEAR_MIN, YEAR_MAX),
        year_to=_int(params.get("year_to"), "year_to", YEAR_MIN, YEAR_MAX),
    )
    return SearchRequest(
        q=params.get("q", ""),
        filters=filters,
        page=_int(params.get("page"), "page", 1, 1000) or 1,
        limit=_int(params.get("limit"), "limit", 1, 100) or default_limit,
        sort=params.get("sort") or "relevance",
        mode=params.get("mode") or "hybrid",
    )


async def run_search(request: Request, parsed: SearchRequest) -> SearchResult:
    """A repeated request from the result cache on the event loop; a new one admitted (503 at
    once rather than an unbounded queue) and run in the thread pool, where it may embed."""
    searcher: Searcher = request.app.state.searcher
    result = searcher.cached(parsed)
    if result is None:
        with request.app.state.admission.admit():
            result = await run_in_threadpool(searcher.search, parsed)
    return result
