"""The JSON API under /api/v1 (plus /health and /ready). Thin: parse, call, shape."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from ..errors import NotFoundError
from ..knowledgebase import KnowledgeBase
from ..reference import kommungrupp_of, members, organisation_slug, organisations
from ..render import render_markdown
from ..search import Filters
from ..serialize import facets_to_dict, hit_to_dict, result_to_dict
from ..storage import PUBLIC
from .deps import KnowledgeBaseDep, SearcherDep, SearchParams, record_search, run_search
from .schemas import (
    DocumentResponse,
    FacetValue,
    Health,
    NotReady,
    OrganisationInfo,
    Ready,
    SearchResponse,
    SimilarResponse,
    ThemeInfo,
    errors,
)

router = APIRouter()


@router.get("/health", tags=["drift"], response_model=Health)
def health():
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/ready", tags=["drift"], response_model=Ready,
            responses={503: {"model": NotReady, "description": "Vektorerna stämmer inte med avsnitten"}})
def ready(kb: KnowledgeBaseDep):
    """Readiness: index loaded and in step with the database, with counts and model. 503 with
    the problems (in Swedish) when the vectors do not match the chunks."""
    body = {
        "status": "ready",
        "documents": kb.store.count_documents(public_only=True),
        "chunks": kb.store.count_chunks(),
        "vectors": kb.vectors.count if kb.vectors else 0,
        "model": kb.embedder.model_id,
        "semantic": kb.semantic_status(),
    }
    problems = kb.consistency()
    if problems:
        return JSONResponse({**body, "status": "inconsistent", "problems": problems,
                             "error": {"code": "index_inconsistent", "message": problems[0]}}, status_code=503)
    return body


@router.get("/api/v1/search", response_model=SearchResponse, tags=["sök"], responses=errors(400, 503, cached=True))
async def search(request: Request, kb: KnowledgeBaseDep, params: SearchParams):
    """Sök bland publicerade dokument. Okända filtervärden ger ett tomt resultat, inte ett fel."""
    # A repeated request is answered from the result cache on the event loop; anything that may
    # embed or touch SQLite runs in the thread pool. The dict already has the documented shape
    # (tests check it against the model), so it is not validated again on the hot path.
    result = await run_search(request, params)
    record_search(request, params, result, search_source(request))
    return JSONResponse(result_to_dict(result, kb))


def search_source(request: Request) -> str:
    """'embed' for a browser's request from another site (the embedded search box: fetch sends
    an Origin header across sites), 'api' otherwise. Only counted; the origin is not kept."""
    origin = request.headers.get("origin")
    if origin and origin.split("://", 1)[-1] != request.headers.get("host", ""):
        return "embed"
    return "api"


@router.get("/api/v1/documents/{doc_id}", response_model=DocumentResponse, tags=["dokument"],
            responses=errors(404, cached=True))
def document(doc_id: str, kb: KnowledgeBaseDep):
    return document_dict(kb, doc_id)


def document_dict(kb: KnowledgeBase, doc_id: str) -> dict:
    row = kb.store.get_document(doc_id[:200])
    if row is None or row["status"] != PUBLIC:
        raise NotFoundError(f"Dokumentet '{doc_id[:80]}' finns inte.")
    if row.get("body"):
        body_html = render_markdown(row["body"])
    else:
        body_html = render_markdown("\n\n".join(
            (f"### {'Bild' if row['kind'] == 'presentation' else 'Sida'} {c.page}" + (f": {c.heading}" if c.heading else "") + "\n\n" if c.page else "")
            + c.text for c in kb.store.chunks_of(doc_id)
        ))
    return {
        **{k: row.get(k) for k in ("id", "title", "organisation", "organisation_type", "county", "kind", "year",
                                   "published", "summary", "source_url", "contact", "language", "tags", "extra")},
        "themes": [{"slug": s, "label": kb.themes.label(s)} for s in row["themes"]],
        "html": body_html,
        "member": row["organisation"] in members(),
    }


@router.get("/api/v1/documents/{doc_id}/similar", tags=["dokument"], response_model=SimilarResponse,
            responses=errors(400, 404, cached=True))
def similar(
    doc_id: str,
    kb: KnowledgeBaseDep,
    searcher: SearcherDep,
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
    other_organisations: bool = True,
):
    """Liknande exempel, som standard från andra organisationer."""
    hits = searcher.similar(doc_id[:200], limit=limit, other_organisations=other_organisations)
    return {"id": doc_id, "results": [hit_to_dict(h, kb) for h in hits]}


@router.get("/api/v1/facets", tags=["sök"], response_model=dict[str, list[FacetValue]],
            responses=errors(cached=True))
def facets(kb: KnowledgeBaseDep, searcher: SearcherDep):
    """Antal publicerade dokument per tema, organisation, län, typ och år."""
    return facets_to_dict(searcher.browse(Filters(), limit=1).facets, kb)


@router.get("/api/v1/themes", tags=["sök"], response_model=list[ThemeInfo], responses=errors(cached=True))
def themes(kb: KnowledgeBaseDep):
    return [{"slug": t.slug, "label": t.label, "synonyms": t.synonyms} for t in kb.themes.themes]


@router.get("/api/v1/organisations", tags=["sök"], response_model=list[OrganisationInfo],
            responses=errors(cached=True))
def organisation_list(kb: KnowledgeBaseDep, searcher: SearcherDep):
    """Organisationer med publicerade dokument (antal, län, medlemskap)."""
    counts = dict(searcher.browse(Filters(), limit=1).facets["organisation"])
    known = organisations()
    return [
        {"id": organisation_slug(name), "name": name, "kommungrupp": kommungrupp_of(name),
         "documents": count, "county": known.get(name, {}).get("county"),
         "type": known.get(name, {}).get("type"), "member": name in members()}
        for name, count in sorted(counts.items())
    ]
