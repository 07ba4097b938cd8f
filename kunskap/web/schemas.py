"""The JSON API's response shapes, as pydantic models: they are the OpenAPI document, and the
schemathesis run in the tests checks every response against them.

Errors always have one shape, `{"error": {"code", "message", ...}}`; `errors(...)` declares
the statuses an operation really answers with it (FastAPI's default 422 is never used: bad
input is a 400, see web/errors.py, and web/openapi.py removes it from the document).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


# -- errors ------------------------------------------------------------------------------------
class DuplicateInfo(BaseModel):
    doc_id: str
    title: str
    organisation: str
    reason: str


class ErrorDetail(BaseModel):
    code: str = Field(description="Stabil engelsk kod, t.ex. invalid_parameter, not_found, edit_conflict")
    message: str = Field(description="Förklaring på svenska")
    parameter: str | None = Field(None, description="Parametern eller fältet som var fel")
    fields: dict[str, str] | None = Field(None, description="Fel per fält i ett dokument (invalid_document)")
    duplicates: list[DuplicateInfo] | None = Field(None, description="Liknande dokument (possible_duplicate)")


class ErrorResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={
        "example": {"error": {"code": "invalid_parameter", "message": "Ogiltigt värde för parametern 'limit'.",
                              "parameter": "limit"}}})

    error: ErrorDetail


ERROR_DESCRIPTIONS = {
    400: "Ogiltig parameter eller ogiltigt innehåll (parameter eller fields säger vad)",
    401: "En giltig API-nyckel krävs (Authorization: Bearer …)",
    403: "Tjänsten är skrivskyddad (--read-only)",
    404: "Finns inte",
    409: "Konflikt: dokumentet har ändrats sedan base_version, eller liknar ett befintligt (possible_duplicate)",
    429: "För många förfrågningar från samma adress; se Retry-After",
    503: "Tjänsten är överbelastad just nu; se Retry-After",
}
RETRY_AFTER = {"Retry-After": {"description": "Sekunder att vänta", "schema": {"type": "integer"}}}


def errors(*statuses: int, cached: bool = False) -> dict:
    """OpenAPI responses for an /api operation: the given error statuses with the error shape,
    429 (the rate limit covers all of /api) and, for public GETs with an ETag, 304."""
    responses: dict = {}
    for status in sorted({*statuses, 429}):
        responses[status] = {"model": ErrorResponse, "description": ERROR_DESCRIPTIONS[status]}
        if status in (429, 503):
            responses[status]["headers"] = RETRY_AFTER
        if status == 401:
            responses[status]["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    if cached:
        responses[304] = {"description": "Oförändrat sedan If-None-Match (ETag)"}
    return responses


# -- search and documents ------------------------------------------------------------------------
class Theme(BaseModel):
    slug: str
    label: str


class Event(BaseModel):
    """The network meeting a presentation was given at (`event` in the corpus contract)."""
    kind: str = Field(description="nätverksträff, webbfika eller tematräff")
    title: str
    date: str = Field(description="ÅÅÅÅ-MM-DD")


class Result(BaseModel):
    id: str
    title: str
    organisation: str
    organisation_type: str | None
    county: str | None
    year: int | None
    themes: list[Theme]
    kind: str
    summary: str | None
    snippet: str
    page: int | None
    heading: str | None
    score: float
    url: str
    member: bool
    event: Event | None = None


class FacetValue(BaseModel):
    value: str
    label: str
    count: int


class SearchResponse(BaseModel):
    query: str
    searched_for: str | None
    total: int = Field(description="Antal träffar: dokument som ligger nära den bästa träffen. Filtren räknas över dem.")
    possible: int = Field(0, description="Fler möjliga träffar, rangordnade efter de `total` träffarna (sidorna fortsätter genom dem).")
    page: int
    limit: int
    results: list[Result]
    facets: dict[str, list[FacetValue]]
    hint: str | None
    semantic_notice: str | None = Field(
        None, description="Medan semantisk sökning byggs (första start): sökningen gick på orden.")


class DocumentResponse(BaseModel):
    id: str
    title: str
    organisation: str
    organisation_type: str | None
    county: str | None
    kind: str
    year: int | None
    published: str | None
    summary: str | None
    themes: list[Theme]
    tags: list[str]
    source_url: str | None
    contact: str | None
    language: str
    html: str
    extra: dict
    member: bool


class SimilarResponse(BaseModel):
    id: str
    results: list[Result]


class ThemeInfo(BaseModel):
    slug: str
    label: str
    synonyms: list[str]


class OrganisationInfo(BaseModel):
    id: str = Field(description="Organisationens adressnamn, som i /medlem/{id} och /api/v1/organisations/{id}/…")
    name: str
    kommungrupp: str | None = Field(None, description="SKR:s kommungrupp (A1–C9) för en kommun")
    documents: int
    county: str | None
    type: str | None
    member: bool


class Health(BaseModel):
    status: str


class SemanticStatus(BaseModel):
    state: str = Field(description="ready, building eller incomplete")
    progress: float | None
    message: str


class Ready(BaseModel):
    status: str
    documents: int
    chunks: int
    vectors: int
    model: str
    semantic: SemanticStatus


class NotReady(Ready):
    """503 from /ready: the vectors are out of step with the chunks."""

    problems: list[str]
    error: ErrorDetail


# -- curation ------------------------------------------------------------------------------------
class DocumentSummary(BaseModel):
    id: str
    title: str
    organisation: str
    kind: str
    status: str
    year: int | None
    updated_at: str | None


class SavedDocument(BaseModel):
    id: str
    status: str
    title: str
    version: str = Field(description="Skicka tillbaka som base_version vid nästa ändring")
    revision: int | None = Field(None, description="Versionen som skapades (vid POST)")


class PendingSave(BaseModel):
    """202 from an upload read in the background: follow it at `follow`."""

    id: str
    status: str
    state: str = Field(description="pending")
    revision: int
    follow: str = Field(description="GET-adress som visar hur det går")


class SaveState(BaseModel):
    revision: int
    id: str
    action: str
    state: str = Field(description="pending, done eller aborted")
    error: str | None
    created_at: str


class DocumentVersion(BaseModel):
    id: str
    version: str


class Deleted(BaseModel):
    id: str
    revision: int = Field(description="Återställ med POST /api/v1/revisions/{revision}/restore")


class RevisionSummary(BaseModel):
    id: int
    doc_id: str
    path: str
    action: str
    username: str
    created_at: str
    note: str | None


class Revision(RevisionSummary):
    text: str
    diff: str


class Restored(BaseModel):
    id: str
    restored_from: int
    version: str


# -- overviews: similar municipalities and stats ------------------------------------------------
class SimilarMunicipality(BaseModel):
    organisation: str
    id: str
    county: str
    population: int | None
    population_year: str
    kommungrupp: str
    documents: int = Field(description="Publicerade exempel från kommunen")
    themes: list[Theme] = Field(description="Teman i kommunens exempel, flest först")
    themes_not_here: list[Theme] = Field(description="Teman kommunen har exempel inom men den efterfrågade inte")
    member: bool


class SimilarMunicipalities(BaseModel):
    organisation: str
    id: str
    kommungrupp: str
    kommungrupp_name: str
    population: int | None
    population_year: str
    population_bands: list[str] = Field(description="Folkmängdsintervallen som räknas som liknande")
    municipalities: list[SimilarMunicipality] = Field(
        description="Samma kommungrupp och samma eller närliggande storlek; kommuner med exempel först, "
                    "sedan närmast i folkmängd")


class YearCount(BaseModel):
    year: int
    count: int


class ValueCount(BaseModel):
    value: str
    label: str
    count: int


class StatsResponse(BaseModel):
    filters: dict[str, list[str]]
    total: int = Field(description="Publicerade exempel som passerar filtren")
    organisations: int = Field(description="Organisationer med minst ett sådant exempel")
    per_year: list[YearCount] = Field(description="Varje år från det första till det sista, även år utan exempel")
    per_theme: list[ValueCount]
    per_county: list[ValueCount]
    per_kommungrupp: list[ValueCount]


# -- search insights (staff) ---------------------------------------------------------------------
class InsightsPeriod(BaseModel):
    days: int
    from_: str = Field(alias="from", description="Första dagen (ÅÅÅÅ-MM-DD)")
    to: str = Field(description="Sista dagen (i dag)")


class InsightsThreshold(BaseModel):
    min_searches: int = Field(description="En fråga visas först när den sökts minst så många gånger …")
    min_days: int = Field(description="… på minst så många olika dagar")
    few_hits: int = Field(description="”Få träffar” är 1 till så många")


class InsightsTotals(BaseModel):
    searches: int
    zero: int = Field(description="Sökningar utan träffar")
    few: int = Field(description="Sökningar med få träffar")
    clicked: int = Field(description="Sökningar där någon träff klickades")
    sources: dict[str, int] = Field(description="Sökningar per källa: page, api, embed")


class InsightsQuery(BaseModel):
    query: str = Field(description="Den normaliserade frågan (gemener, blanksteg hopslagna)")
    searches: int
    days: int = Field(description="Olika dagar den söktes")
    zero_hits: int
    few_hits: int
    mean_hits: float
    clicked: int = Field(description="Sökningar där någon träff klickades")
    click_share: float | None = Field(description="Andel sökningar med klick, i procent")


class InsightsRare(BaseModel):
    queries: int = Field(description="Ovanliga frågor (under tröskeln; visas aldrig)")
    searches: int
    zero: int
    few: int


class InsightsTheme(BaseModel):
    slug: str
    label: str
    filtered: int = Field(description="Sökningar filtrerade på temat")
    filtered_zero_hits: int = Field(description="… av dem utan träffar")
    in_hits: int = Field(description="Sökningar där flest träffar hade temat")


class InsightsWeek(BaseModel):
    week: str = Field(description="Veckans måndag (ÅÅÅÅ-MM-DD)")
    number: int = Field(description="Veckonummer (ISO)")
    searches: int
    zero_hits: int
    few_hits: int


class InsightsPosition(BaseModel):
    position: int
    shown: int = Field(description="Sökningar som visade en träff på platsen")
    clicked: int = Field(description="… där den träffen klickades")
    share: float | None = Field(description="Andel i procent")


class InsightsResponse(BaseModel):
    period: InsightsPeriod
    threshold: InsightsThreshold
    totals: InsightsTotals
    popular: list[InsightsQuery]
    zero_hits: list[InsightsQuery]
    few_hits: list[InsightsQuery]
    rare: InsightsRare
    themes: list[InsightsTheme]
    weeks: list[InsightsWeek]
    positions: list[InsightsPosition]
