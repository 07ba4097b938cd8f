"""Search insights for staff: the page /kurera/insikter (with its CSV) and GET /api/v1/insights.

Thin: the report is built by kunskap/insights.py from the store's aggregates; the threshold
that keeps rare query strings out is applied there and in the store, never here."""

from __future__ import annotations

from enum import IntEnum
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from ..insights import (
    DEFAULT_PERIOD,
    FEW_HITS,
    K_MIN_DAYS,
    K_MIN_SEARCHES,
    PERIODS,
    SOURCE_LABELS,
    build_report,
    period_days,
    report_csv,
    report_to_dict,
)
from .auth import Staff, TokenUser
from .charts import bar_chart
from .deps import KnowledgeBaseDep
from .schemas import InsightsResponse, errors

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1", tags=["kurering"])
Period = IntEnum("Period", {f"days_{d}": d for d in PERIODS})   # the API's choice of period
PERIOD_LABELS = {30: "30 dagar", 90: "90 dagar", 365: "ett år"}


@router.get("/kurera/insikter", response_class=HTMLResponse)
def insights_page(request: Request, staff: Staff, kb: KnowledgeBaseDep, dagar: str = ""):
    days = period_days(dagar or DEFAULT_PERIOD)
    report = _report(kb, days)
    return request.app.state.templates.TemplateResponse(request, "curate_insights.html", {
        "user": staff.user, "csrf": staff.csrf, "report": report, "days": days,
        "periods": [(d, PERIOD_LABELS[d]) for d in PERIODS], "source_labels": SOURCE_LABELS,
        "k_searches": K_MIN_SEARCHES, "k_days": K_MIN_DAYS, "few_hits": FEW_HITS,
        "recording": request.app.state.insights is not None,
        "retention": request.app.state.settings.insights_retention_months,
        "week_chart": bar_chart([(f"v. {w['number']}", w["searches"]) for w in report.weeks], None,
                                "Sökningar per vecka", "Vecka", "Sökningar", unit="sökningar"),
        "position_chart": bar_chart([(str(p["position"]), round(p["share"] or 0)) for p in report.positions], None,
                                    "Andel sökningar med klick, per plats i träfflistan", "Plats i träfflistan",
                                    "Andel med klick (%)", unit="procent"),
    })


def _report(kb, days: int):
    return build_report(kb.store, days, theme_label=kb.themes.label)


@router.get("/kurera/insikter.csv")
def insights_csv(staff: Staff, kb: KnowledgeBaseDep, dagar: str = ""):
    """The shown queries with their counts, as a spreadsheet (UTF-8 with BOM, ';')."""
    days = period_days(dagar or DEFAULT_PERIOD)
    body = report_csv(kb.store, days)
    return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="sokinsikter-{days}-dagar.csv"'})


@api_router.get("/insights", response_model=InsightsResponse, responses=errors(400, 401))
def insights_api(user: TokenUser, kb: KnowledgeBaseDep,
                 days: Annotated[Period, Query(description="Perioden i dagar, till och med i dag")]
                 = Period(DEFAULT_PERIOD)):
    """Sökinsikter: populära frågor, frågor utan eller med få träffar, teman, veckor och klick per
    plats. En fråga visas först när den sökts minst 5 gånger på minst 2 olika dagar; under det
    finns bara antal (`rare`). Inga personuppgifter sparas: dag, normaliserad fråga, filter,
    antal träffar och klickad plats – aldrig IP-adress, kaka eller webbläsare."""
    return report_to_dict(_report(kb, int(days)))
