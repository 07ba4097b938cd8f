"""Follow and reuse: an Atom feed of any search or theme (`/flode?…`), CSV and JSON exports of any
result list (`/export.csv?…`, `/export.json?…`) and of the stats (`/export/statistik.csv?…`),
with the same parameters as the results page and /api/v1/stats."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from ..documents import slugify
from .. import exports
from ..exports import RESULT_COLUMNS, STATS_COLUMNS, result_json, result_list, stats_rows, to_csv
from ..feed import atom_feed, newest_hits
from ..overview import StatsFilter
from ..search import SearchRequest
from .deps import KnowledgeBaseDep, OverviewDep, SearcherDep, SearchParams, _filter_values
from .overview_api import stats_dict

router = APIRouter(include_in_schema=False)

ATOM = "application/atom+xml; charset=utf-8"
CSV = "text/csv; charset=utf-8"
JSON = "application/json; charset=utf-8"


def base_url(request: Request) -> str:
    """The configured public address (never the request's Host header, which any client sets)."""
    return request.app.state.settings.public_base_url.rstrip("/")


def query_string(request: Request, drop: set[str] = frozenset({"page", "limit"})) -> str:
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k not in drop and v != ""]
    return urlencode(pairs)


def follow_links(request: Request) -> dict[str, str]:
    """The feed and the exports of the list a page shows (its query string, without the page)."""
    query = query_string(request)
    suffix = f"?{query}" if query else ""
    return {"feed": f"/flode{suffix}", "csv": f"/export.csv{suffix}", "json": f"/export.json{suffix}",
            "cap": exports.EXPORT_CAP}


def describe(kb, req: SearchRequest) -> str:
    """"cykel · tema Cykel · Skåne län": a search in words, for a feed title and a file name."""
    f = req.filters
    parts = [f"”{req.q.strip()}”"] if req.q.strip() else []
    parts += [kb.themes.label(s) for s in f.theme]
    parts += [*f.organisation, *f.county, *f.kommungrupp, *f.organisation_type, *f.kind]
    if f.year_from is not None or f.year_to is not None:
        parts.append(f"{f.year_from or ''}–{f.year_to or ''}")
    return " · ".join(parts)


def file_name(kb, req: SearchRequest, stem: str, suffix: str) -> str:
    words = slugify(describe(kb, req).replace("·", " "))[:60].strip("-")
    today = dt.date.today().isoformat()
    return f"{stem}{'-' + words if words else ''}-{today}.{suffix}"


def attachment(body: bytes, media_type: str, name: str) -> Response:
    return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def _admitted(request: Request, fn, *args):
    """A whole-list search is admitted like a page of results (a 503 rather than a long queue)."""
    with request.app.state.admission.admit():
        return await run_in_threadpool(fn, *args)


@router.get("/flode")
async def feed(request: Request, kb: KnowledgeBaseDep, searcher: SearcherDep, req: SearchParams):
    """Atom: the newest hits of a search, or with no query the newest examples passing the filters
    (`/flode?theme=cykel` follows a theme)."""
    documents = await _admitted(request, newest_hits, kb, searcher, req)
    base = base_url(request)
    query = query_string(request)
    described = describe(kb, req)
    title = f"Kunskapsbanken: {described}" if described else "Kunskapsbanken: nya exempel"
    page = (f"{base}/tema/{quote(req.filters.theme[0], safe='')}" if not req.q.strip() and req.filters.theme
            and len(req.filters.theme) == 1 and not _other_filters(req) else f"{base}/sok?{query}")
    body = atom_feed(kb, documents, title=title,
                     subtitle="Nya och ändrade exempel på klimatarbete från Klimatkommunernas medlemmar.",
                     feed_url=f"{base}/flode" + (f"?{query}" if query else ""), page_url=page, base_url=base)
    return Response(body, media_type=ATOM)


def _other_filters(req: SearchRequest) -> bool:
    f = req.filters
    return bool(f.organisation or f.organisation_type or f.county or f.kind or f.kommungrupp
                or f.year_from is not None or f.year_to is not None)


@router.get("/export.csv")
async def export_csv(request: Request, kb: KnowledgeBaseDep, searcher: SearcherDep, req: SearchParams):
    listing = await _admitted(request, result_list, kb, searcher, req, base_url(request), exports.EXPORT_CAP)
    notes = [listing.note()] if listing.capped else []
    body = to_csv(RESULT_COLUMNS, listing.rows, notes)
    return attachment(body, CSV, file_name(kb, req, "exempel", "csv"))


@router.get("/export.json")
async def export_json(request: Request, kb: KnowledgeBaseDep, searcher: SearcherDep, req: SearchParams):
    listing = await _admitted(request, result_list, kb, searcher, req, base_url(request), exports.EXPORT_CAP)
    body = json.dumps(result_json(listing, req), ensure_ascii=False, indent=1).encode("utf-8")
    return attachment(body, JSON, file_name(kb, req, "exempel", "json"))


StatsTheme = Annotated[list[str], Query(description="Tema (slug), kan upprepas")]


def _stats_filter(theme, county, kommungrupp) -> StatsFilter:
    return StatsFilter(theme=tuple(_filter_values(theme)), county=tuple(_filter_values(county)),
                       kommungrupp=tuple(v.upper() for v in _filter_values(kommungrupp)))


@router.get("/export/statistik.csv")
async def export_stats_csv(kb: KnowledgeBaseDep, overview: OverviewDep, theme: StatsTheme = [],
                           county: Annotated[list[str], Query()] = [],
                           kommungrupp: Annotated[list[str], Query()] = []):
    """The numbers of /api/v1/stats (the same filters) as one table: per year, theme, county and
    kommungrupp."""
    flt = _stats_filter(theme, county, kommungrupp)
    stats = await run_in_threadpool(overview.stats, flt)
    words = [kb.themes.label(s) for s in flt.theme] + list(flt.county) + list(flt.kommungrupp)
    notes = [f"Filter: {', '.join(words)}"] if words else []
    body = to_csv(STATS_COLUMNS, stats_rows(kb, stats), notes)
    stem = "statistik" + ("-" + slugify(" ".join(words))[:60].strip("-") if words else "")
    return attachment(body, CSV, f"{stem}-{dt.date.today().isoformat()}.csv")


@router.get("/export/statistik.json")
async def export_stats_json(kb: KnowledgeBaseDep, overview: OverviewDep, theme: StatsTheme = [],
                            county: Annotated[list[str], Query()] = [],
                            kommungrupp: Annotated[list[str], Query()] = []):
    flt = _stats_filter(theme, county, kommungrupp)
    data = await run_in_threadpool(stats_dict, kb, overview, flt)
    body = json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")
    return attachment(body, JSON, f"statistik-{dt.date.today().isoformat()}.json")
