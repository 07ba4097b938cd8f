"""The overviews in the JSON API: similar municipalities and the stats behind the charts and the map
(the same numbers, from kunskap/overview.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool

from ..errors import NotFoundError
from ..overview import Overview, StatsFilter
from ..reference import kommungrupper, municipalities, organisation_slug
from .deps import KnowledgeBaseDep, OverviewDep, _filter_values
from .schemas import SimilarMunicipalities, StatsResponse, errors

router = APIRouter()


def resolve_organisation(overview: Overview, org_id: str) -> str:
    """An organisation named by its slug (as in /medlem/{slug}), its exact name or a municipality's
    four-digit code."""
    org_id = org_id.strip()[:200]
    by_code = {row["code"]: name for name, row in municipalities().items()}
    if org_id in by_code:
        return by_code[org_id]
    if org_id in municipalities():
        return org_id
    try:
        return overview.organisation_for_slug(org_id)
    except NotFoundError:
        raise NotFoundError(f"Organisationen ”{org_id[:80]}” finns inte.") from None


@router.get("/api/v1/organisations/{org_id}/similar-municipalities", tags=["översikt"],
            response_model=SimilarMunicipalities, responses=errors(404, cached=True))
async def similar_municipalities(
    org_id: Annotated[str, Path(description="Adressnamn (som i /medlem/…), namn eller kommunkod")],
    kb: KnowledgeBaseDep, overview: OverviewDep,
):
    """Kommuner som liknar en kommun: samma kommungrupp (SKR) och samma eller närliggande
    folkmängdsintervall, med de teman de har exempel inom som den här kommunen saknar."""
    def run():
        name = resolve_organisation(overview, org_id)
        data = overview.similar_municipalities(name)
        theme = lambda s: {"slug": s, "label": kb.themes.label(s)}   # noqa: E731
        return {
            "organisation": name, "id": organisation_slug(name), "kommungrupp": data["kommungrupp"],
            "kommungrupp_name": data["kommungrupp_name"], "population": data["population"],
            "population_year": data["population_year"], "population_bands": data["bands"],
            "municipalities": [
                {**{k: m[k] for k in ("organisation", "county", "population", "population_year", "kommungrupp",
                                      "documents", "member")},
                 "id": m["slug"], "themes": [theme(s) for s in m["themes"]],
                 "themes_not_here": [theme(s) for s in m["themes_not_here"]]}
                for m in data["municipalities"]],
        }
    return await run_in_threadpool(run)


def stats_dict(kb, overview: Overview, flt: StatsFilter) -> dict:
    stats = overview.stats(flt)
    groups = kommungrupper()
    return {
        "filters": {"theme": list(flt.theme), "county": list(flt.county), "kommungrupp": list(flt.kommungrupp)},
        "total": stats.total, "organisations": stats.organisations,
        "per_year": [{"year": y, "count": n} for y, n in stats.per_year],
        "per_theme": [{"value": s, "label": kb.themes.label(s), "count": n} for s, n in stats.per_theme],
        "per_county": [{"value": c, "label": c, "count": n} for c, n in stats.per_county],
        "per_kommungrupp": [{"value": g, "label": f"{g} {groups[g]['name']}" if g in groups else g, "count": n}
                            for g, n in stats.per_kommungrupp],
    }


@router.get("/api/v1/stats", tags=["översikt"], response_model=StatsResponse, responses=errors(cached=True))
async def stats(
    kb: KnowledgeBaseDep, overview: OverviewDep,
    theme: Annotated[list[str], Query(description="Tema (slug), kan upprepas eller kommaseparerade")] = [],
    county: Annotated[list[str], Query(description="Län, kan upprepas eller kommaseparerade")] = [],
    kommungrupp: Annotated[list[str], Query(description="SKR:s kommungrupp (A1–C9), kan upprepas")] = [],
):
    """Antal publicerade exempel per år, tema, län och kommungrupp – samma siffror som diagrammen
    och kartan på tema- och startsidan. Okända filtervärden ger noll, inte ett fel."""
    flt = StatsFilter(theme=tuple(_filter_values(theme)), county=tuple(_filter_values(county)),
                      kommungrupp=tuple(v.upper() for v in _filter_values(kommungrupp)))
    return await run_in_threadpool(stats_dict, kb, overview, flt)
