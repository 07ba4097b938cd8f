"""Swedish HTML pages: start, results (with facets), document, about. Work without JavaScript."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from ..insights import parse_click
from ..overview import event_slug
from ..reference import members
from ..search import Filters
from ..serialize import KIND_LABELS, facet_label, facets_to_dict, hit_to_dict
from .api import document_dict
from .charts import counties_geometry
from .deps import KnowledgeBaseDep, OverviewDep, SearcherDep, SearchParams, record_search, run_search
from .follow import follow_links
from .overview_pages import map_for, member_link

router = APIRouter(include_in_schema=False)

FACET_TITLES = [("theme", "Tema"), ("organisation", "Kommun/region"), ("county", "Län"),
                ("kind", "Typ"), ("kommungrupp", "Kommungrupp"), ("year", "År")]
FOCUS_THEMES = ["rattvis-omstallning", "transporteffektivt-samhalle", "livsmedelsforsorjning",
                "fornybar-energi", "fossilfria-fordon", "klimatanpassning"]


def configure_templates(templates: Jinja2Templates) -> None:
    templates.env.globals["kind_label"] = lambda k: KIND_LABELS.get(k, k)
    templates.env.filters["safe_snippet"] = lambda s: Markup(s)  # snippets are escaped by search
    templates.env.globals["member_link"] = member_link
    templates.env.globals["event_slug"] = event_slug


def _render(request: Request, name: str, context: dict, status: int = 200) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, name, context, status_code=status)


@router.get("/", response_class=HTMLResponse)
def start(request: Request, kb: KnowledgeBaseDep, overview: OverviewDep):
    themes = [(t.slug, t.label) for t in kb.themes.themes]
    focus = [(s, kb.themes.label(s)) for s in FOCUS_THEMES if s in kb.themes.by_slug]
    return _render(request, "start.html", {
        "themes": themes, "focus": focus, "count": kb.store.count_documents(public_only=True),
        "map": map_for(overview, "Exempel per län"), "newest": overview.newest(),
    })


@router.get("/sok", response_class=HTMLResponse)
async def results(request: Request, kb: KnowledgeBaseDep, searcher: SearcherDep, req: SearchParams):
    search_id = None
    if req.q.strip():
        result = await run_search(request, req)    # as the API: a Swedish 503 page, not a long queue
        search_id = record_search(request, req, result, "page")
    else:
        result = await run_in_threadpool(searcher.browse, req.filters, req.page, req.limit)
        if not req.filters.active():
            result.hint = "Skriv något i sökrutan eller välj ett tema."
    data = {
        "q": req.q, "result": result, "hits": [hit_to_dict(h, kb) for h in result.hits],
        "facets": facets_to_dict(result.facets, kb), "facet_titles": FACET_TITLES,
        "selected": _selected(req.filters),
        "pages": _pages(request, result.total + result.possible, req.page, req.limit),
        # Where the possible hits begin on this page (None: not on this page).
        "possible_from": _possible_from(result, req.page, req.limit),
        "sort": req.sort, "remove_links": _remove_links(request, req.filters, kb),
        "follow": follow_links(request),
        # Result links say which search and position they come from (the document page notes the
        # click for the insights and redirects to its own address); None when not recorded.
        "search_id": search_id,
    }
    data["facet_link"] = lambda name, value: _toggle_link(request, name, value)
    base = _query_pairs(request, {"page", "sort"})
    data["sort_links"] = {"relevance": "/sok?" + urlencode(base),
                          "newest": "/sok?" + urlencode(base + [("sort", "newest")])}
    return _render(request, "results.html", data)


@router.get("/dokument/{doc_id}", response_class=HTMLResponse)
def document_page(request: Request, doc_id: str, kb: KnowledgeBaseDep, searcher: SearcherDep,
                  overview: OverviewDep, fran: str | None = None):
    if fran is not None:
        # A click on a search result: noted (if the link is one of ours), then the document's own
        # address, so that what is bookmarked or shared carries no search. No cookie, no script.
        click = parse_click(fran)
        recorder = request.app.state.insights
        if click and recorder is not None:
            recorder.click(click[0], click[1], doc_id)
        return RedirectResponse(f"/dokument/{quote(doc_id, safe='')}", status_code=303)
    document = document_dict(kb, doc_id)
    similar = [hit_to_dict(h, kb) for h in searcher.similar(doc_id, limit=5)]
    peers = overview.from_similar_municipalities(document["organisation"], [t["slug"] for t in document["themes"]],
                                                 document["id"])
    return _render(request, "document.html", {"doc": document, "similar": similar, "peers": peers,
                                              "theme_label": kb.themes.label})


@router.get("/om", response_class=HTMLResponse)
def about(request: Request, kb: KnowledgeBaseDep):
    return _render(request, "about.html", {"count": kb.store.count_documents(public_only=True),
                                           "members": len(members()),
                                           "map_attribution": counties_geometry()["attribution"],
                                           "retention": request.app.state.settings.insights_retention_months})


@router.get("/inbaddning", response_class=HTMLResponse)
def embed(request: Request):
    """How to put the search box on another site, with a live example."""
    # The snippet shows the configured public address, never the request's Host header (which
    # any client sets); the live example calls the API on the same origin as the page.
    return _render(request, "embed.html", {"base_url": request.app.state.settings.public_base_url})


def _selected(filters: Filters) -> dict[str, set[str]]:
    return {
        "theme": set(filters.theme), "organisation": set(filters.organisation), "county": set(filters.county),
        "kind": set(filters.kind), "organisation_type": set(filters.organisation_type),
        "kommungrupp": set(filters.kommungrupp),
        "year": {str(filters.year_from)} if filters.year_from is not None and filters.year_from == filters.year_to else set(),
    }


def _query_pairs(request: Request, drop: set[str] = frozenset()) -> list[tuple[str, str]]:
    return [(k, v) for k, v in request.query_params.multi_items() if k not in drop and v != ""]


def _toggle_link(request: Request, name: str, value: str) -> str:
    """The results URL with a facet value added, or removed if it is selected; back to page 1."""
    pairs = _query_pairs(request, {"page"})
    if name == "year":
        pairs = [(k, v) for k, v in pairs if k not in ("year_from", "year_to")]
        if request.query_params.get("year_from") != value:
            pairs += [("year_from", value), ("year_to", value)]
    elif (name, value) in pairs:
        pairs.remove((name, value))
    else:
        pairs.append((name, value))
    return "/sok?" + urlencode(pairs)


def _remove_links(request: Request, filters: Filters, kb) -> list[tuple[str, str]]:
    links = []
    for name in ("theme", "organisation", "county", "kind", "organisation_type", "kommungrupp"):
        for value in getattr(filters, name):
            label = facet_label(name, value, kb)
            links.append((label, _toggle_link(request, name, value)))
    if filters.year_from is not None:
        pairs = [(k, v) for k, v in _query_pairs(request, {"page", "year_from", "year_to"})]
        links.append((f"År {filters.year_from}", "/sok?" + urlencode(pairs)))
    return links


def _possible_from(result, page: int, limit: int) -> int | None:
    """The index on this page of the first "possible" hit, if the hits end on it."""
    first = (page - 1) * limit
    if not result.possible or result.total >= first + len(result.hits):
        return None
    return max(result.total - first, 0)


def _pages(request: Request, total: int, page: int, limit: int) -> dict:
    last = max(1, -(-total // limit))
    pairs = _query_pairs(request, {"page"})

    def link(n):
        return "/sok?" + urlencode(pairs + [("page", str(n))])

    numbers = sorted({1, last, *range(max(1, page - 2), min(last, page + 2) + 1)})
    return {"current": page, "last": last, "prev": link(page - 1) if page > 1 else None,
            "next": link(page + 1) if page < last else None, "numbers": [(n, link(n)) for n in numbers]}
