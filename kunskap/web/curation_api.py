"""Curation API for scripts: token-authenticated writes (Authorization: Bearer kk_…)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ..accounts import User
from ..curation import MAX_UPLOAD_BYTES, Curator
from ..errors import ValidationError
from .auth import TokenUser
from .deps import CuratorDep, RowId
from .schemas import (
    Deleted,
    DocumentSummary,
    DocumentVersion,
    PendingSave,
    Restored,
    Revision,
    RevisionSummary,
    SavedDocument,
    SaveState,
    errors,
)

router = APIRouter(prefix="/api/v1", tags=["kurering"])


class ThemeRef(BaseModel):
    """A theme as GET returns it; only the slug counts."""

    slug: str = Field(max_length=100)
    label: str | None = None


ThemeValue = Annotated[str | ThemeRef, Field(description="Temats slug, eller {\"slug\": …} som i GET")]


def _slugs(themes: list) -> list[str]:
    """Theme values after model_dump: slugs, or ThemeRef dicts."""
    return [t["slug"] if isinstance(t, dict) else t for t in themes or []]


VERSION_FIELD = Field(None, description="Versionen du utgick från (GET .../version); har filen ändrats sedan "
                                        "dess svarar API:t 409.")


class DocumentIn(BaseModel):
    """A whole document. PUT takes what GET /api/v1/documents/{id} returns: themes as objects
    or slugs, and the fields only GET has (html, tags, member, county, …) are ignored. What GET
    does not show in editable form – the Markdown `body`, `status` and `other_tags` (free tags
    that are no curated theme) – is kept by PUT when left out, and so are `kind` and `language`
    (a PUT that forgot them would otherwise turn a presentation into a case study)."""

    id: str | None = Field(None, description="Valfritt; måste i så fall vara dokumentets id")
    title: str = Field(max_length=1000)
    organisation: str = Field(max_length=200)
    kind: str | None = Field(None, description="case-study (standard vid POST), presentation, report, news")
    themes: list[ThemeValue] = []
    other_tags: list[str] | None = Field(None, description="Fria taggar som inte är något tema")
    year: int | None = None
    published: str | None = None
    summary: str | None = None
    source_url: str | None = None
    contact: str | None = None
    status: str | None = Field(None, description="draft (standard vid POST), published eller unpublished")
    body: str | None = Field(None, max_length=200_000, description="Markdown")
    confirm_duplicates: bool = False
    language: str | None = Field(None, description="sv (standard vid POST)")
    base_version: str | None = VERSION_FIELD


class DocumentPatch(BaseModel):
    """Only the fields sent change (null clears one); the rest stays as it is in the file."""

    id: str | None = Field(None, description="Valfritt; måste i så fall vara dokumentets id")
    title: str | None = Field(None, max_length=1000)
    organisation: str | None = Field(None, max_length=200)
    kind: str | None = None
    themes: list[ThemeValue] | None = None
    other_tags: list[str] | None = None
    year: int | None = None
    published: str | None = None
    summary: str | None = None
    source_url: str | None = None
    contact: str | None = None
    status: str | None = None
    body: str | None = Field(None, max_length=200_000, description="Markdown; bara för fallstudier")
    language: str | None = None
    base_version: str | None = VERSION_FIELD


def _form(fields: dict) -> dict:
    """API field values -> Curator form values (themes as slugs, year as text)."""
    values = {k: v for k, v in fields.items() if k not in ("id", "body", "confirm_duplicates", "base_version")}
    if "themes" in values:
        values["themes"] = _slugs(values["themes"])
    if "year" in values:
        values["year"] = "" if values["year"] is None else str(values["year"])
    return values


def _check_id(doc_id: str, given: str | None) -> None:
    if given is not None and given != doc_id:
        raise ValidationError("id", f"id i innehållet ('{given[:80]}') är inte dokumentets id ('{doc_id[:80]}').")


def _save(curator: Curator, user: User, doc_id: str, values: dict, body: str | None, base_version: str | None):
    """Save an existing document from complete form values: Markdown, or an upload's sidecar."""
    if curator.files(doc_id).markdown:
        curator.save_case_study(values, body, user.username, doc_id=doc_id, base_version=base_version)
    else:
        if body:   # an upload's text is the file itself
            raise ValidationError("body", "Dokumentet är en uppladdad fil: bara dess metadata kan ändras, inte texten.")
        curator.save_upload_metadata(doc_id, values, user.username, base_version=base_version)
    return _saved(curator, doc_id)


def _current(curator: Curator, doc_id: str) -> tuple[str, dict, str | None]:
    """(version, form values, body) as the file is now. The version is read first: if the file
    changes before the save, the save is refused (409) instead of undoing that change."""
    version = curator.version(doc_id)
    values, body = curator.form_values(doc_id)
    row = curator.document(doc_id)
    values.setdefault("kind", row["kind"])
    values.setdefault("language", row.get("language") or "sv")
    return version, values, body


def _saved(curator: Curator, doc_id: str, status: int = 200, revision: int | None = None):
    row = curator.document(doc_id)
    body = {"id": doc_id, "status": row["status"], "title": row["title"], "version": curator.version(doc_id)}
    if revision is not None:
        body["revision"] = revision
    return JSONResponse(body, status_code=status)


@router.get("/curation/documents", response_model=list[DocumentSummary], responses=errors(401))
def all_documents(user: TokenUser, curator: CuratorDep, status: str | None = None):
    """Alla dokument, även utkast och avpublicerade."""
    return [{k: r[k] for k in ("id", "title", "organisation", "kind", "status", "year", "updated_at")}
            for r in curator.documents(status)]


@router.post("/documents", status_code=201, response_model=SavedDocument, responses=errors(400, 401, 403, 409))
def create(user: TokenUser, curator: CuratorDep, document: DocumentIn,
           idempotency_key: Annotated[str | None, Header(max_length=200)] = None):
    """Skapa en fallstudie. Liknar den ett befintligt dokument svarar API:t 409 med dubbletterna,
    om inte confirm_duplicates är satt. Skicka gärna `Idempotency-Key`: ett nytt försök med samma
    nyckel (t.ex. efter ett avbrutet svar) ger samma dokument i stället för ett nytt."""
    replayed = _replay(curator, user, idempotency_key)
    if replayed is not None:
        return replayed
    values = _form(document.model_dump())
    defaults = {"status": "draft", "other_tags": [], "kind": "case-study", "language": "sv"}
    values.update({k: v for k, v in defaults.items() if values[k] is None})
    result = curator.save_case_study(values, document.body or "", user.username,
                                     confirm_duplicates=document.confirm_duplicates,
                                     idempotency_key=idempotency_key)
    if not result.saved:
        return JSONResponse({"error": {"code": "possible_duplicate", "message": "Liknande exempel finns redan.",
                                       "duplicates": [d.__dict__ for d in result.duplicates]}}, status_code=409)
    return _saved(curator, result.doc_id, 201)


@router.put("/documents/{doc_id}", response_model=SavedDocument, responses=errors(400, 401, 403, 404, 409))
def update(user: TokenUser, curator: CuratorDep, doc_id: str, document: DocumentIn):
    """Ersätt dokumentets metadata (och text). Tar emot det GET /api/v1/documents/{id} ger; body,
    status, other_tags, kind och language behålls om de utelämnas."""
    _check_id(doc_id, document.id)
    version, current, body = _current(curator, doc_id)
    values = _form(document.model_dump())
    for key in ("status", "other_tags", "kind", "language"):
        if values[key] is None:
            values[key] = current.get(key)
    if document.body is not None:
        body = document.body
    return _save(curator, user, doc_id, values, body, document.base_version or version)


@router.patch("/documents/{doc_id}", response_model=SavedDocument, responses=errors(400, 401, 403, 404, 409))
def patch(user: TokenUser, curator: CuratorDep, doc_id: str, change: DocumentPatch):
    """Ändra bara de fält som skickas (null tömmer ett fält); resten behålls som det är i filen.
    Fungerar för fallstudier och för uppladdade filers metadata."""
    _check_id(doc_id, change.id)
    version, values, body = _current(curator, doc_id)
    sent = change.model_dump(exclude_unset=True)
    values.update(_form(sent))
    if "body" in sent:
        body = sent["body"] or ""
    return _save(curator, user, doc_id, values, body, change.base_version or version)


@router.get("/documents/{doc_id}/version", response_model=DocumentVersion, responses=errors(401, 404))
def version(user: TokenUser, curator: CuratorDep, doc_id: str):
    """Filens nuvarande version, att skicka som base_version vid PUT."""
    return {"id": doc_id, "version": curator.version(doc_id)}


@router.delete("/documents/{doc_id}", response_model=Deleted, responses=errors(401, 403, 404))
def delete(user: TokenUser, curator: CuratorDep, doc_id: str):
    """Ta bort (kan ångras: POST /revisions/{revision}/restore)."""
    return {"id": doc_id, "revision": curator.delete(doc_id, user.username)}


@router.post("/documents/{doc_id}/publish", response_model=SavedDocument, responses=errors(401, 403, 404))
def publish(user: TokenUser, curator: CuratorDep, doc_id: str):
    curator.set_status(doc_id, "published", user.username)
    return _saved(curator, doc_id)


@router.post("/documents/{doc_id}/unpublish", response_model=SavedDocument, responses=errors(401, 403, 404))
def unpublish(user: TokenUser, curator: CuratorDep, doc_id: str):
    curator.set_status(doc_id, "unpublished", user.username)
    return _saved(curator, doc_id)


@router.post("/uploads", status_code=201, response_model=SavedDocument, responses={
    **errors(400, 401, 403), 202: {"model": PendingSave, "description": "Stor fil: läses in i bakgrunden"}})
def upload(request: Request, user: TokenUser, curator: CuratorDep,
           file: Annotated[UploadFile | None, File()] = None,
           title: Annotated[str, Form()] = "", organisation: Annotated[str, Form()] = "",
           kind: Annotated[str, Form()] = "presentation", themes: Annotated[list[str], Form()] = [],
           year: Annotated[str, Form()] = "", summary: Annotated[str, Form()] = "",
           source_url: Annotated[str, Form()] = "", status: Annotated[str, Form()] = "draft",
           idempotency_key: Annotated[str | None, Header(max_length=200)] = None):
    """Ladda upp PDF, PPTX eller DOCX (högst 20 MB), med eller utan metadata. Utan rubrik och
    organisation blir den ett utkast. En stor fil läses in i bakgrunden: svaret är då 202 med
    `state: pending`, och GET /api/v1/saves/{revision} visar när den är klar. Skicka gärna
    `Idempotency-Key`: ett nytt försök med samma nyckel skapar inget nytt dokument."""
    replayed = _replay(curator, user, idempotency_key)
    if replayed is not None:
        return replayed
    data = file.file.read(MAX_UPLOAD_BYTES + 1) if file is not None else b""
    values = {"title": title, "organisation": organisation, "kind": kind, "themes": themes, "year": year,
              "summary": summary, "source_url": source_url, "status": status}
    result = curator.upload(file.filename if file else "", data, values, user.username,
                            idempotency_key=idempotency_key)
    if result.pending:
        request.app.state.deferred_saves.submit(result.revision_id)
        return _pending(result.doc_id, result.revision_id, status)
    return _saved(curator, result.doc_id, 201, revision=result.revision_id)


def _pending(doc_id: str, revision_id: int, status: str) -> JSONResponse:
    return JSONResponse({"id": doc_id, "status": status or "draft", "state": "pending", "revision": revision_id,
                         "follow": f"/api/v1/saves/{revision_id}"}, status_code=202)


def _replay(curator: Curator, user: User, key: str | None):
    """The answer to an earlier request with the same Idempotency-Key (a client's retry)."""
    earlier = curator.replay(user.username, key)
    if earlier is None:
        return None
    if earlier["state"] == "pending":
        return _pending(earlier["doc_id"], earlier["id"], "")
    response = _saved(curator, earlier["doc_id"], 201, revision=earlier["id"])
    response.headers["Idempotent-Replayed"] = "true"
    return response


@router.get("/saves/{revision_id}", response_model=SaveState, responses=errors(400, 401, 404))
def save_state(user: TokenUser, curator: CuratorDep, revision_id: RowId):
    """Hur det går för en sparning (t.ex. en stor uppladdning): pending, done eller aborted (med orsak)."""
    row = curator.save_state(revision_id)
    return {"revision": row["id"], "id": row["doc_id"], "action": row["action"], "state": row["state"],
            "error": row["error"], "created_at": row["created_at"]}


@router.get("/documents/{doc_id}/revisions", response_model=list[RevisionSummary], responses=errors(401))
def revisions(user: TokenUser, curator: CuratorDep, doc_id: str):
    return curator.revisions(doc_id)


@router.get("/revisions/{revision_id}", response_model=Revision, responses=errors(400, 401, 404))
def revision(user: TokenUser, curator: CuratorDep, revision_id: RowId):
    row = curator.revision(revision_id)
    return {**{k: row[k] for k in ("id", "doc_id", "path", "action", "username", "created_at", "note")},
            "text": curator.revision_text(revision_id), "diff": curator.diff(revision_id)}


@router.post("/revisions/{revision_id}/restore", response_model=Restored, responses=errors(400, 401, 403, 404))
def restore(user: TokenUser, curator: CuratorDep, revision_id: RowId, version: str = "before"):
    row = curator.revision(revision_id)
    curator.restore(revision_id, user.username, version=version)
    return {"id": row["doc_id"], "restored_from": revision_id, "version": version}


class SuggestedTheme(BaseModel):
    slug: str
    label: str
    score: float = Field(description="Likhet med temats beskrivning och med dokument som redan har temat")


class ThemeSuggestions(BaseModel):
    themes: list[SuggestedTheme]


@router.get("/themes/suggest", response_model=ThemeSuggestions, responses=errors(400, 401))
def suggest_themes(user: TokenUser, curator: CuratorDep,
                   text: Annotated[str, Query(min_length=1, max_length=20_000,
                                              description="Rubrik, sammanfattning och brödtext")]):
    """De tre teman som en text mest handlar om, som förslag att bekräfta (inget sparas)."""
    return {"themes": [s.__dict__ for s in curator.suggester.suggest(text)]}


class IntakeIn(BaseModel):
    url: str = Field(max_length=2000, description="Webbsidan (http/https) att hämta som utkast")
    organisation: str | None = Field(None, max_length=200,
                                     description="Kommun eller region; utan den gissas den från adressens domän")
    as_upload: bool = Field(False, description="Hämta adressen som en PDF-uppladdning (utkast) i stället")
    confirm_duplicates: bool = False


class IntakeDraft(BaseModel):
    id: str | None = Field(None, description="Utkastets id; saknas när inget sparades")
    saved: bool
    status: str = "draft"
    title: str
    body: str = ""
    source_url: str
    organisation: str | None = None
    year: str | None = None
    themes: list[SuggestedTheme] = Field([], description="Föreslagna teman (förbockade i utkastet)")
    pdf_links: list[str] = Field([], description="PDF-länkar på sidan (hämtas med as_upload)")
    message: str | None = None
    version: str | None = None


@router.post("/intake", status_code=201, response_model=IntakeDraft, responses={
    **errors(400, 401, 403, 409), 200: {"model": IntakeDraft, "description": "Sidan är mest en PDF-länk: inget sparat"}})
def intake(user: TokenUser, curator: CuratorDep, request_body: IntakeIn):
    """Hämta en webbsida och spara den som ett utkast till fallstudie (publiceras aldrig här): rubrik,
    brödtext under våra rubriker där sidan visar vilka, källa, organisation gissad från domänen,
    år om sidan anger det och föreslagna teman. En sida som mest är en länk till en PDF svarar
    200 med `pdf_links`; skicka då PDF-adressen med `as_upload: true`. Ogiltiga, interna, för
    stora eller för långsamma adresser ger 400 och sparar inget."""
    if request_body.as_upload:
        result = curator.intake_pdf(request_body.url, user.username, organisation=request_body.organisation)
        row = curator.document(result.doc_id)
        return JSONResponse({"id": result.doc_id, "saved": True, "status": row["status"], "title": row["title"],
                             "source_url": request_body.url, "organisation": row["organisation"] or None,
                             "themes": [], "pdf_links": [], "version": curator.version(result.doc_id)},
                            status_code=201)
    result = curator.intake_page(request_body.url, user.username, organisation=request_body.organisation,
                                 confirm_duplicates=request_body.confirm_duplicates)
    draft = result.draft
    answer = {"saved": False, "title": draft.title, "body": draft.body, "source_url": request_body.url,
              "organisation": draft.organisation, "year": draft.year or None,
              "themes": [s.__dict__ for s in result.suggestions], "pdf_links": draft.pdf_links}
    if draft.mostly_pdf:
        return JSONResponse({**answer, "message": "Sidan är mest en länk till en PDF. Skicka PDF-adressen med "
                                                  "as_upload: true för att hämta den som uppladdning."})
    if result.errors:
        field, message = next(iter(result.errors.items()))
        if field == "organisation" and not request_body.organisation:
            message = "Organisationen gick inte att avgöra från adressen: ange organisation (kommun eller region)."
        raise ValidationError(field, message)
    if not result.saved.saved:
        return JSONResponse({"error": {"code": "possible_duplicate", "message": "Liknande exempel finns redan.",
                                       "duplicates": [d.__dict__ for d in result.saved.duplicates]}}, status_code=409)
    doc_id = result.saved.doc_id
    return JSONResponse({**answer, "id": doc_id, "saved": True, "status": "draft",
                         "version": curator.version(doc_id)}, status_code=201)


class ImportRow(BaseModel):
    row: int = Field(description="Radnumret i kalkylbladet")
    outcome: str = Field(description="valid, error, exists, imported eller duplicate")
    id: str | None = Field(None, description="Det importerade eller redan befintliga dokumentets id")
    title: str
    organisation: str
    errors: list[str] = []


class ImportResult(BaseModel):
    dry_run: bool
    columns: list[str]
    mapping: dict[str, int | None] = Field(description="Vårt fält -> kolumnens index (0 = första)")
    counts: dict[str, int]
    rows: list[ImportRow]


class PendingImport(BaseModel):
    state: str = Field(description="queued: importen körs i bakgrunden")
    token: str
    rows: int = Field(description="Rader i filen")
    follow: str = Field(description="Adressen där importens status visas")


class ImportStatus(BaseModel):
    token: str
    state: str = Field(description="queued, running, done, failed eller interrupted")
    filename: str
    rows: int = Field(description="Rader i filen")
    saved: int = Field(description="Rader som hittills har gått igenom sparningen")
    to_import: int = Field(description="Giltiga rader att spara (0 tills filen är kontrollerad)")
    counts: dict[str, int] | None = Field(None, description="När importen är klar: som i det synkrona svaret")
    errors: list[str] = Field([], description="De första felen per rad")
    error_count: int = 0
    message: str | None = Field(None, description="Varför importen avbröts")


@router.post("/imports", response_model=ImportResult, responses={
    **errors(400, 401, 403), 202: {"model": PendingImport, "description": "Stor fil: importeras i bakgrunden"}})
def import_spreadsheet(request: Request, user: TokenUser, curator: CuratorDep,
                       file: Annotated[UploadFile | None, File()] = None,
                       dry_run: Annotated[bool, Form(description="true: bara förhandsvisning (standard)")] = True,
                       mapping: Annotated[str, Form(max_length=2000, description=(
                           "JSON {fält: kolumnindex}; utan den gissas kolumnerna från rubrikerna"))] = ""):
    """Importera ett kalkylblad (XLSX eller CSV, en rad per exempel, högst 10 000 rader). Med
    `dry_run=true` (standard) visas kolumnmappningen och felen per rad utan att något sparas; med
    `dry_run=false` blir giltiga rader utkast. Rader som redan finns (samma rubrik och organisation)
    importeras inte igen. En fil med fler än 200 rader importeras i bakgrunden: svaret är då 202,
    och GET /api/v1/imports/{token} visar hur långt den har kommit och till sist resultatet."""
    import json

    from ..curation import imports
    from ..curation.spreadsheet import MAX_BYTES

    chosen = None
    if mapping.strip():
        try:
            chosen = json.loads(mapping)
        except ValueError:
            raise ValidationError("mapping", "mapping ska vara JSON, t.ex. {\"title\": 0, \"organisation\": 1}.") from None
        if not isinstance(chosen, dict):
            raise ValidationError("mapping", "mapping ska vara ett JSON-objekt {fält: kolumnindex}.")
    data = file.file.read(MAX_BYTES + 1) if file is not None else b""
    filename = file.filename if file is not None else ""
    if dry_run:
        result = curator.import_preview(filename, data, chosen)
    else:
        jobs = request.app.state.import_jobs
        rows = imports.check_apply(filename, data, chosen)
        if rows > imports.SYNC_MAX_ROWS and jobs is not None:
            token = imports.stage(curator.kb.settings.index, filename, data)
            jobs.submit(token, filename, rows, user.username, chosen)
            return JSONResponse({"state": "queued", "token": token, "rows": rows,
                                 "follow": f"/api/v1/imports/{token}"}, status_code=202)
        result = curator.import_rows(filename, data, user.username, chosen)
    return {"dry_run": dry_run, "columns": result.table.headers, "mapping": result.mapping, "counts": result.counts(),
            "rows": [{"row": r.number, "outcome": r.outcome, "id": r.doc_id or None, "title": r.values["title"],
                      "organisation": r.values["organisation"], "errors": r.errors} for r in result.rows]}


@router.get("/imports/{token}", response_model=ImportStatus, responses=errors(401, 404))
def import_status(user: TokenUser, curator: CuratorDep, token: str):
    """Hur det går för en import i bakgrunden: queued, running (saved av to_import rader), done
    (med counts och fel per rad), failed eller interrupted (med message)."""
    from ..curation import imports
    from ..errors import NotFoundError

    status = imports.job_status(curator.kb.settings.index, token)
    if status is None:
        raise NotFoundError("Importen finns inte. Den kan ha tagits bort (en import sparas i ett dygn), "
                            "eller så är token fel.")
    return {"token": token, **{k: v for k, v in status.items() if k not in ("updated", "pid", "host")}}
