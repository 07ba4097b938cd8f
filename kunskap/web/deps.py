"""FastAPI dependencies: what the app's lifespan built and holds on app.state (knowledge base,
searcher, curator, accounts), the parsing of search parameters, and the one way the API and the
pages run a search. The staff guards (session, CSRF, API token) are in web/auth.py."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BeforeValidator
from pydantic_core import PydanticUseDefault

from ..accounts import Accounts
from ..curation import Curator
from ..knowledgebase import KnowledgeBase
from ..overview import Overview
from ..search import Filters, Searcher, SearchRequest, SearchResult
from ..search.request import LIMIT_RANGE, MAX_QUERY_CHARS, PAGE_RANGE, YEAR_RANGE


log = logging.getLogger("kunskap")

# SQLite integers are signed 64-bit: a larger id cannot name a row, and binding it raises
# OverflowError (a 500). Declared on the route, so it is a 400 and part of the OpenAPI document.
SQLITE_MAX_INTEGER = 2**63 - 1
RowId = Annotated[int, Path(ge=1, le=SQLITE_MAX_INTEGER, description="Versionens nummer")]


# Async, so FastAPI does not hop to its thread pool just to read app.state.
async def get_kb(request: Request) -> KnowledgeBase:
    return request.app.state.kb


async def get_searcher(request: Request) -> Searcher:
    return request.app.state.searcher


async def get_overview(request: Request) -> Overview:
    return request.app.state.overview


async def get_curator(request: Request) -> Curator:
    return request.app.state.curator


async def get_accounts(request: Request) -> Accounts:
    return request.app.state.accounts


KnowledgeBaseDep = Annotated[KnowledgeBase, Depends(get_kb)]
SearcherDep = Annotated[Searcher, Depends(get_searcher)]
OverviewDep = Annotated[Overview, Depends(get_overview)]
CuratorDep = Annotated[Curator, Depends(get_curator)]
AccountsDep = Annotated[Accounts, Depends(get_accounts)]


MAX_FILTER_VALUES = 50        # values per filter; more cannot be a real selection
MAX_FILTER_VALUE_CHARS = 200  # longer than any organisation name or slug


def _blank_is_default(value):
    """An empty value (`?page=`, what a form sends for an empty field) counts as left out, as
    it always did on the results page and for the API's text parameters; anything else is
    validated."""
    if value == "":
        raise PydanticUseDefault()
    return value


# After Query(...) in Annotated, so the bounds still appear as minimum/maximum in the OpenAPI.
BlankIsDefault = BeforeValidator(_blank_is_default)


def _filter_values(raw: list[str], split_commas: bool = True) -> list[str]:
    """A repeatable filter: `theme=a&theme=b`, or comma-separated `theme=a,b` (not for
    organisation names, which are taken whole)."""
    values: list[str] = []
    for item in raw:
        parts = item.split(",") if split_commas else [item]
        values.extend(p.strip() for p in parts)
    return [v[:MAX_FILTER_VALUE_CHARS] for v in values if v][:MAX_FILTER_VALUES]


async def search_params(
    q: Annotated[str, Query(max_length=MAX_QUERY_CHARS,
                            description=f"Sökfråga, högst {MAX_QUERY_CHARS} tecken")] = "",
    organisation: Annotated[list[str], Query(
        description="Organisation, kan upprepas (namnet tas helt, även med kommatecken)")] = [],
    organisation_type: Annotated[list[str], Query(
        description="kommun eller region, kan upprepas eller kommaseparerade")] = [],
    county: Annotated[list[str], Query(description="Län, kan upprepas eller kommaseparerade")] = [],
    theme: Annotated[list[str], Query(description="Tema (slug), kan upprepas eller kommaseparerade")] = [],
    kind: Annotated[list[str], Query(
        description="case-study, presentation, report, news; kan upprepas eller kommaseparerade")] = [],
    kommungrupp: Annotated[list[str], Query(
        description="SKR:s kommungrupp (A1–C9), kan upprepas eller kommaseparerade")] = [],
    year_from: Annotated[int | None, Query(ge=YEAR_RANGE[0], le=YEAR_RANGE[1], description="Från och med år"),
                         BlankIsDefault] = None,
    year_to: Annotated[int | None, Query(ge=YEAR_RANGE[0], le=YEAR_RANGE[1], description="Till och med år"),
                       BlankIsDefault] = None,
    page: Annotated[int, Query(ge=PAGE_RANGE[0], le=PAGE_RANGE[1], description="Sida i träfflistan"),
                    BlankIsDefault] = 1,
    limit: Annotated[int, Query(ge=LIMIT_RANGE[0], le=LIMIT_RANGE[1], description="Träffar per sida"),
                     BlankIsDefault] = 10,
    sort: Annotated[str, Query(description="relevance eller newest"), BlankIsDefault] = "relevance",
    mode: Annotated[str, Query(description="Rankning: hybrid (standard), dense eller lexical"),
                    BlankIsDefault] = "hybrid",
) -> SearchRequest:
    """The search parameters of the API and the results page, declared (and so validated and
    documented) once. Bad values are a 400 naming the parameter (web/errors.py); sort, mode and
    year_from <= year_to are checked by the search itself (`validate_request`)."""
    return SearchRequest(
        q=q,
        filters=Filters(
            organisation=_filter_values(organisation, split_commas=False),
            organisation_type=_filter_values(organisation_type),
            county=_filter_values(county),
            theme=_filter_values(theme),
            kind=_filter_values(kind),
            kommungrupp=[v.upper() for v in _filter_values(kommungrupp)],
            year_from=year_from,
            year_to=year_to,
        ),
        page=page,
        limit=limit,
        sort=sort,
        mode=mode,
    )


SearchParams = Annotated[SearchRequest, Depends(search_params)]


def record_search(request: Request, parsed: SearchRequest, result: SearchResult, source: str) -> str | None:
    """The search recorded for the staff's insights (kunskap/insights.py), unless recording is
    off; its id for the result links. Only a queue append: never slows or fails the search."""
    recorder = getattr(request.app.state, "insights", None)
    if recorder is None:
        return None
    try:
        return recorder.search(parsed, result, source)
    except Exception:   # insights must never cost a search
        log.warning("kunskap: sökningen kunde inte noteras för sökinsikterna", exc_info=True)
        return None


async def run_search(request: Request, parsed: SearchRequest) -> SearchResult:
    """A repeated request from the result cache on the event loop; a new one admitted (503 at
    once rather than an unbounded queue) and run in the thread pool, where it may embed."""
    searcher: Searcher = request.app.state.searcher
    result = searcher.cached(parsed)
    if result is None:
        with request.app.state.admission.admit():
            result = await run_in_threadpool(searcher.search, parsed)
    return result
