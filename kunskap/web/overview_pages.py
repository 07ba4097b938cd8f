"""Swedish overview pages: a theme (`/tema/{slug}`), a member (`/medlem/{slug}`), with charts and
the county map drawn server-side (charts.py, templates/_charts.html), and the network meetings
(`/traffar`). Every figure links to the filtered search that gives the same number."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from ..overview import Overview, StatsFilter
from ..reference import organisation_slug
from .charts import bar_chart, county_map
from .deps import KnowledgeBaseDep, OverviewDep

router = APIRouter(include_in_schema=False)


def search_link(**params) -> str:
    """/sok with the given filters (a list value repeats the parameter)."""
    pairs = []
    for name, value in params.items():
        for v in value if isinstance(value, (list, tuple)) else [value]:
            if v not in (None, ""):
                pairs.append((name, str(v)))
    return "/sok?" + urlencode(pairs)


def member_link(name: str) -> str:
    return f"/medlem/{organisation_slug(name)}"


def years_chart(per_year, title: str, **filters) -> dict:
    return bar_chart(per_year, lambda y: search_link(**filters, year_from=y, year_to=y), title, "År", "Antal exempel")


def map_for(overview: Overview, title: str, **filters) -> dict:
    flt = StatsFilter(theme=tuple(filters.get("theme", ())))
    counts = dict(overview.stats(flt).per_county)
    return county_map(counts, lambda county: search_link(**filters, county=county), title)


def _render(request: Request, name: str, context: dict) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, name, context)


def theme_context(kb, overview: Overview, slug: str) -> dict:
    data = overview.theme(slug)
    stats = data["stats"]
    return {
        "theme": data, "stats": stats, "search": search_link(theme=slug),
        "years": years_chart(stats.per_year, f"Exempel per år inom {data['label']}", theme=[slug]),
        "map": map_for(overview, f"Exempel per län inom {data['label']}", theme=[slug]),
        "members": [(name, count, member_link(name), search_link(theme=slug, organisation=name))
                    for name, count in stats.per_organisation],
        "related": [(s, kb.themes.label(s), n, search_link(theme=[slug, s])) for s, n in data["related"]],
        "label": kb.themes.label, "member_link": member_link,
        "follow": {"feed": f"/flode?theme={slug}", "csv": f"/export.csv?theme={slug}",
                   "json": f"/export.json?theme={slug}", "stats": f"/export/statistik.csv?theme={slug}"},
    }


@router.get("/tema/{slug}", response_class=HTMLResponse)
async def theme_page(request: Request, slug: str, kb: KnowledgeBaseDep, overview: OverviewDep):
    context = await run_in_threadpool(theme_context, kb, overview, slug)
    return _render(request, "theme.html", context)


def member_context(kb, overview: Overview, slug: str) -> dict:
    name = overview.organisation_for_slug(slug)
    data = overview.member(name)
    stats = data["stats"]
    similar = data["similar"]
    return {
        "m": data, "stats": stats, "search": search_link(organisation=name),
        "years": years_chart(stats.per_year, f"Exempel per år från {name}", organisation=[name]),
        "themes": [(s, kb.themes.label(s), n, search_link(organisation=name, theme=s)) for s, n in stats.per_theme],
        "similar": similar, "label": kb.themes.label, "member_link": member_link,
        "theme_search": lambda org, s: search_link(organisation=org, theme=s),
    }


@router.get("/medlem/{slug}", response_class=HTMLResponse)
async def member_page(request: Request, slug: str, kb: KnowledgeBaseDep, overview: OverviewDep):
    context = await run_in_threadpool(member_context, kb, overview, slug)
    return _render(request, "member.html", context)


def meetings_context(kb, overview: Overview) -> dict:
    meetings = overview.events()
    return {"meetings": meetings, "label": kb.themes.label,
            "presentations": sum(len(m["documents"]) for m in meetings)}


@router.get("/traffar", response_class=HTMLResponse)
async def meetings_page(request: Request, kb: KnowledgeBaseDep, overview: OverviewDep):
    """The network meetings (nätverksträffar, webbfika, tematräffar) with their presentations."""
    context = await run_in_threadpool(meetings_context, kb, overview)
    return _render(request, "traffar.html", context)
