"""Swedish curation pages for staff: sign in, list, review queue, create/edit with preview,
publish, upload, revisions, trash. Every route here needs a session; every POST needs CSRF."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse

from ..curation import (
    MAX_UPLOAD_BYTES,
    STATUS_LABELS,
    Suggestion,
)
from ..errors import AuthError, ConflictError, FormError, ThrottledError, ValidationError
from ..reference import organisations
from ..render import render_markdown
from .auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    CsrfChecked,
    Staff,
    StaffSession,
    check_login_csrf,
    csrf_checked,
    new_token,
    set_cookie,
)
from .clients import client_address
from .deps import AccountsDep, CuratorDep, KnowledgeBaseDep, RowId

router = APIRouter(include_in_schema=False)
STATUS_CHOICES = [("draft", "Utkast"), ("published", "Publicerad"), ("unpublished", "Avpublicerad")]
KIND_CHOICES = [("case-study", "Fallstudie"), ("presentation", "Presentation"), ("report", "Rapport"), ("news", "Nyhet")]


def _page(request: Request, name: str, context: dict, status: int = 200) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, name, context, status_code=status)


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/kurera"


# -- sign in / out ---------------------------------------------------------------------------
@router.get("/logga-in", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/kurera"):
    token = new_token()
    response = _page(request, "login.html", {"csrf": token, "next": _safe_next(next), "error": None})
    set_cookie(response, request, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.post("/logga-in", response_class=HTMLResponse, dependencies=[Depends(check_login_csrf)])
def login(request: Request, accounts: AccountsDep, username: Annotated[str, Form()] = "",
          password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/kurera"):
    client = client_address(request.scope, request.app.state.settings)
    try:
        user = accounts.authenticate(username, password, client=client)
    except (AuthError, ThrottledError) as exc:
        token = new_token()
        status = 429 if isinstance(exc, ThrottledError) else 401
        response = _page(request, "login.html", {"csrf": token, "next": _safe_next(next), "error": exc.message,
                                                 "username": username[:100]}, status=status)
        set_cookie(response, request, LOGIN_CSRF_COOKIE, token, max_age=3600)
        return response
    session, _ = accounts.create_session(user)
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_cookie(response, request, SESSION_COOKIE, session, max_age=12 * 3600)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logga-ut", dependencies=[Depends(csrf_checked)])
def logout(request: Request, accounts: AccountsDep):
    accounts.end_session(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- lists -----------------------------------------------------------------------------------
@router.get("/kurera", response_class=HTMLResponse)
def overview(request: Request, staff: Staff, curator: CuratorDep, status: str = "", meddelande: str = "",
             organisation: str = "", q: str = "", kind: str = ""):
    status = status if status in STATUS_LABELS else ""
    all_rows = curator.documents(status or None)
    needle = q.strip().lower()[:200]
    rows = [r for r in all_rows
            if (not organisation or r["organisation"] == organisation) and (not kind or r["kind"] == kind)
            and (not needle or needle in r["title"].lower() or needle in r["id"])]
    return _page(request, "curate_list.html", {
        "user": staff.user, "csrf": staff.csrf, "rows": rows, "status": status, "status_labels": STATUS_LABELS,
        "message": meddelande[:200], "queue_size": len(curator.review_queue()),
        "organisations": sorted({r["organisation"] for r in all_rows}), "kinds": KIND_CHOICES,
        "filters": {"organisation": organisation, "q": q[:200], "kind": kind}})


@router.get("/kurera/granska", response_class=HTMLResponse)
def queue(request: Request, staff: Staff, curator: CuratorDep):
    return _page(request, "curate_queue.html", {"user": staff.user, "csrf": staff.csrf,
                                                "rows": curator.review_queue()})


@router.get("/kurera/papperskorg", response_class=HTMLResponse)
def trash(request: Request, staff: Staff, curator: CuratorDep):
    return _page(request, "curate_trash.html", {"user": staff.user, "csrf": staff.csrf, "rows": curator.deleted()})


@router.post("/kurera/papperskorg/{revision_id}/aterstall")
def undo_delete(revision_id: RowId, staff: CsrfChecked, curator: CuratorDep):
    doc_id = curator.undo_delete(revision_id, staff.user.username)
    return RedirectResponse(f"/kurera/dokument/{quote(doc_id)}?meddelande=" + quote("Dokumentet är återställt."),
                            status_code=303)


# -- create / edit -----------------------------------------------------------------------------
def _form_context(kb, staff: StaffSession, values, body, doc_id=None, errors=None, duplicates=None, preview=None,
                  message=None, upload=False, suggested=None):
    return {
        "suggested": {s.slug: s.score for s in suggested or []},
        "user": staff.user, "csrf": staff.csrf, "values": values, "body": body, "doc_id": doc_id,
        "errors": errors or {}, "duplicates": duplicates or [], "preview": preview, "message": message,
        "upload": upload,
        "organisations": sorted(organisations().values(), key=lambda o: (o["type"] != "region", o["name"])),
        "themes": kb.themes.themes, "status_choices": STATUS_CHOICES, "kind_choices": KIND_CHOICES,
    }


@router.get("/kurera/ny", response_class=HTMLResponse)
def new_form(request: Request, staff: Staff, kb: KnowledgeBaseDep):
    return _page(request, "curate_form.html", _form_context(kb, staff, {"status": "draft", "themes": []}, ""))


def _values(title, organisation, kind, themes, other_tags, year, published, summary, source_url, contact, status):
    return {"title": title, "organisation": organisation, "kind": kind, "themes": themes,
            "other_tags": [t for t in other_tags.split(",") if t.strip()], "year": year, "published": published,
            "summary": summary, "source_url": source_url, "contact": contact, "status": status}


@router.post("/kurera/ny", response_class=HTMLResponse)
@router.post("/kurera/dokument/{doc_id}", response_class=HTMLResponse)
def save(request: Request, staff: CsrfChecked, curator: CuratorDep, kb: KnowledgeBaseDep,
         doc_id: str | None = None,
         title: Annotated[str, Form()] = "", organisation: Annotated[str, Form()] = "",
         kind: Annotated[str, Form()] = "case-study", themes: Annotated[list[str], Form()] = [],
         other_tags: Annotated[str, Form()] = "", year: Annotated[str, Form()] = "",
         published: Annotated[str, Form()] = "", summary: Annotated[str, Form()] = "",
         source_url: Annotated[str, Form()] = "", contact: Annotated[str, Form()] = "",
         status: Annotated[str, Form()] = "draft", body: Annotated[str, Form()] = "",
         action: Annotated[str, Form()] = "save", confirm_duplicates: Annotated[str, Form()] = "",
         version: Annotated[str, Form()] = "", language: Annotated[str, Form()] = "sv"):
    values = _values(title, organisation, kind, themes, other_tags, year, published, summary, source_url, contact, status)
    values["language"] = language
    upload = bool(doc_id) and not curator.files(doc_id).markdown
    suggested = None
    # A new document gets theme suggestions once it has text: asked for, or at its first preview
    # when no theme is ticked yet. They are only pre-ticked; the editor saves what they choose.
    if doc_id is None and (action == "suggest" or (action == "preview" and not themes)):
        suggested = curator.suggest_themes(title, summary, body)
        values["themes"] = [s.slug for s in suggested]
    if action == "suggest":
        return _page(request, "curate_form.html", _form_context(kb, staff, values, body, doc_id, suggested=suggested))
    if action == "preview":
        return _page(request, "curate_form.html", _form_context(
            kb, staff, values, body, doc_id, preview=render_markdown(body),
            duplicates=curator.duplicates(title, body, exclude=doc_id) if title else [], upload=upload,
            suggested=suggested))
    try:
        if upload:
            curator.save_upload_metadata(doc_id, values, staff.user.username, base_version=version or None)
            result_id = doc_id
        else:
            result = curator.save_case_study(values, body, staff.user.username, doc_id=doc_id,
                                             confirm_duplicates=bool(confirm_duplicates), base_version=version or None)
            if not result.saved:
                return _page(request, "curate_form.html", _form_context(
                    kb, staff, values, body, doc_id, duplicates=result.duplicates), status=409)
            result_id = result.doc_id
    except FormError as exc:
        return _page(request, "curate_form.html", _form_context(
            kb, staff, values, body, doc_id, errors=exc.errors, upload=upload), status=400)
    except ConflictError as exc:
        # Keep what the editor typed on screen, so nothing is lost; the file stays as it is.
        context = _form_context(kb, staff, values, body, doc_id, errors={"version": exc.message}, upload=upload)
        context["version"] = curator.version(doc_id)
        return _page(request, "curate_form.html", context, status=409)
    return RedirectResponse(f"/kurera/dokument/{quote(result_id)}?meddelande=" + quote("Sparat."), status_code=303)


@router.get("/kurera/dokument/{doc_id}", response_class=HTMLResponse)
def edit_form(request: Request, doc_id: str, staff: Staff, curator: CuratorDep, kb: KnowledgeBaseDep,
              meddelande: str = "", forslag: str = ""):
    row = curator.document(doc_id)
    values, body = curator.form_values(doc_id)
    values["other_tags"] = ", ".join(values.get("other_tags") or [])
    # `forslag`: the themes intake suggested (and pre-ticked), marked as suggestions on the form.
    suggested = [Suggestion(s, kb.themes.label(s), 0.0) for s in forslag.split(",")[:10] if s in kb.themes.by_slug]
    context = _form_context(kb, staff, values, body or "", doc_id, message=meddelande[:200],
                            upload=not curator.files(doc_id).markdown, suggested=suggested)
    context["row"] = row
    context["version"] = curator.version(doc_id)
    return _page(request, "curate_form.html", context)


@router.post("/kurera/dokument/{doc_id}/status")
def change_status(doc_id: str, staff: CsrfChecked, curator: CuratorDep, status: Annotated[str, Form()] = ""):
    curator.set_status(doc_id, status, staff.user.username)
    label = {"published": "Publicerad.", "unpublished": "Avpublicerad.", "draft": "Ändrad till utkast."}.get(status, "")
    return RedirectResponse(f"/kurera/dokument/{quote(doc_id)}?meddelande=" + quote(label), status_code=303)


@router.post("/kurera/dokument/{doc_id}/radera")
def delete(doc_id: str, staff: CsrfChecked, curator: CuratorDep):
    curator.delete(doc_id, staff.user.username)
    return RedirectResponse("/kurera?meddelande=" + quote(f"”{doc_id}” är borttaget. Det kan återställas från papperskorgen."),
                            status_code=303)


# -- uploads -----------------------------------------------------------------------------------
@router.get("/kurera/ladda-upp", response_class=HTMLResponse)
def upload_form(request: Request, staff: Staff, kb: KnowledgeBaseDep):
    context = _form_context(kb, staff, {"status": "draft", "themes": [], "kind": "presentation"}, "", upload=True)
    context["max_mb"] = MAX_UPLOAD_BYTES // (1024 * 1024)
    return _page(request, "curate_upload.html", context)


@router.post("/kurera/ladda-upp", response_class=HTMLResponse)
def upload(request: Request, staff: CsrfChecked, curator: CuratorDep, kb: KnowledgeBaseDep,
           file: Annotated[UploadFile | None, File()] = None,
           title: Annotated[str, Form()] = "", organisation: Annotated[str, Form()] = "",
           kind: Annotated[str, Form()] = "presentation", themes: Annotated[list[str], Form()] = [],
           year: Annotated[str, Form()] = "", summary: Annotated[str, Form()] = "",
           source_url: Annotated[str, Form()] = "", status: Annotated[str, Form()] = "draft"):
    data = file.file.read(MAX_UPLOAD_BYTES + 1) if file is not None else b""
    values = _values(title, organisation, kind, themes, "", year, "", summary, source_url, "", status)
    try:
        result = curator.upload(file.filename if file else "", data, values, staff.user.username)
    except FormError as exc:
        context = _form_context(kb, staff, values, "", errors=exc.errors, upload=True)
        context["max_mb"] = MAX_UPLOAD_BYTES // (1024 * 1024)
        return _page(request, "curate_upload.html", context, status=400)
    if result.pending:
        request.app.state.deferred_saves.submit(result.revision_id)
        return RedirectResponse("/kurera?meddelande=" + quote(
            f"Filen är sparad och läses in i bakgrunden (stor fil). {result.doc_id} syns i listan om en stund."),
            status_code=303)
    return RedirectResponse(f"/kurera/dokument/{quote(result.doc_id)}?meddelande=" + quote("Filen är uppladdad."),
                            status_code=303)


# -- revisions ---------------------------------------------------------------------------------
@router.get("/kurera/dokument/{doc_id}/versioner", response_class=HTMLResponse)
def revisions(request: Request, doc_id: str, staff: Staff, curator: CuratorDep):
    return _page(request, "curate_revisions.html", {"user": staff.user, "csrf": staff.csrf, "doc_id": doc_id,
                                                    "rows": curator.revisions(doc_id)})


@router.get("/kurera/versioner/{revision_id}", response_class=HTMLResponse)
def revision(request: Request, revision_id: RowId, staff: Staff, curator: CuratorDep):
    row = curator.revision(revision_id)
    return _page(request, "curate_revision.html", {
        "user": staff.user, "csrf": staff.csrf, "row": row, "text": curator.revision_text(revision_id),
        "diff": curator.diff(revision_id)})


@router.post("/kurera/versioner/{revision_id}/aterstall")
def restore(revision_id: RowId, staff: CsrfChecked, curator: CuratorDep, version: Annotated[str, Form()] = "before"):
    row = curator.revision(revision_id)
    curator.restore(revision_id, staff.user.username, version=version)
    return RedirectResponse(f"/kurera/dokument/{quote(row['doc_id'])}?meddelande=" + quote("Versionen är återställd."),
                            status_code=303)


# -- intake from a web page ----------------------------------------------------------------------
def _intake_page(request, kb, staff, values, errors=None, pdf_links=None, duplicates=None, status=200):
    context = _form_context(kb, staff, values, "", errors=errors, duplicates=duplicates)
    context["pdf_links"] = pdf_links or []
    return _page(request, "curate_intake.html", context, status=status)


@router.get("/kurera/hamta", response_class=HTMLResponse)
def intake_form(request: Request, staff: Staff, kb: KnowledgeBaseDep):
    return _intake_page(request, kb, staff, {})


@router.post("/kurera/hamta", response_class=HTMLResponse)
def intake(request: Request, staff: CsrfChecked, curator: CuratorDep, kb: KnowledgeBaseDep,
           url: Annotated[str, Form()] = "", organisation: Annotated[str, Form()] = "",
           action: Annotated[str, Form()] = "page", confirm_duplicates: Annotated[str, Form()] = ""):
    values = {"url": url[:2000], "organisation": organisation}
    try:
        if action == "pdf":
            upload = curator.intake_pdf(url, staff.user.username, organisation=organisation or None)
            if upload.pending:
                request.app.state.deferred_saves.submit(upload.revision_id)
            return RedirectResponse(f"/kurera/dokument/{quote(upload.doc_id)}?meddelande=" + quote(
                "PDF-filen är hämtad och sparad som utkast. Granska uppgifterna innan du publicerar."), status_code=303)
        result = curator.intake_page(url, staff.user.username, organisation=organisation or None,
                                     confirm_duplicates=bool(confirm_duplicates))
    except FormError as exc:
        return _intake_page(request, kb, staff, values, errors={"url": " ".join(exc.errors.values())}, status=400)
    except ValidationError as exc:
        return _intake_page(request, kb, staff, values, errors={"url": exc.message}, status=400)
    draft = result.draft
    if draft.mostly_pdf:
        return _intake_page(request, kb, staff, {**values, "organisation": draft.organisation or organisation},
                            pdf_links=draft.pdf_links)
    if result.errors:
        # Not enough to save (typically no organisation could be guessed): the new-document form,
        # filled in with what the page gave; nothing is stored until the editor saves.
        form_values = {"title": draft.title, "organisation": draft.organisation or "", "themes": draft.themes,
                       "year": draft.year, "summary": draft.summary, "source_url": url.strip(), "status": "draft",
                       "kind": "case-study"}
        errors = dict(result.errors)
        if "organisation" in errors:
            errors["organisation"] = "Organisationen gick inte att avgöra från adressen: välj kommun eller region."
        context = _form_context(kb, staff, form_values, draft.body, errors=errors, suggested=result.suggestions,
                                message="Sidan är hämtad men inte sparad: komplettera och spara utkastet.")
        return _page(request, "curate_form.html", context, status=200)
    if not result.saved.saved:
        return _intake_page(request, kb, staff, values, duplicates=result.saved.duplicates, status=409)
    doc_id = result.saved.doc_id
    return RedirectResponse(
        f"/kurera/dokument/{quote(doc_id)}?forslag={quote(','.join(draft.themes))}&meddelande=" + quote(
            "Sidan är hämtad och sparad som utkast. Granska text, organisation och föreslagna teman innan du publicerar."),
        status_code=303)


# -- bulk import of a spreadsheet ----------------------------------------------------------------
def _import_page(request, staff, context: dict, status: int = 200) -> HTMLResponse:
    from ..curation.imports import SHOWN_ROWS
    from ..curation.spreadsheet import FIELDS, MAX_ROWS

    return _page(request, "curate_import.html", {
        "user": staff.user, "csrf": staff.csrf, "fields": FIELDS, "max_rows": MAX_ROWS, "shown_rows": SHOWN_ROWS,
        "errors": {}, "preview": None, "token": "", "done": False, **context}, status=status)


@router.get("/kurera/importera", response_class=HTMLResponse)
def import_form(request: Request, staff: Staff):
    return _import_page(request, staff, {})


@router.post("/kurera/importera", response_class=HTMLResponse)
def import_upload(request: Request, staff: CsrfChecked, curator: CuratorDep,
                  file: Annotated[UploadFile | None, File()] = None):
    from ..curation import imports
    from ..curation.spreadsheet import MAX_BYTES

    data = file.file.read(MAX_BYTES + 1) if file is not None else b""
    filename = file.filename if file is not None else ""
    try:
        result = curator.import_preview(filename, data)
    except FormError as exc:
        return _import_page(request, staff, {"errors": exc.errors}, status=400)
    token = imports.stage(curator.kb.settings.index, filename, data)
    return _import_page(request, staff, {"preview": result, "token": token})


@router.post("/kurera/importera/{token}", response_class=HTMLResponse)
async def import_step(request: Request, token: str, staff: CsrfChecked, curator: CuratorDep):
    from fastapi.concurrency import run_in_threadpool

    from ..curation import imports
    from ..curation.spreadsheet import FIELDS

    form = await request.form()
    mapping = {name: str(form.get(f"map_{name}", "")) for name in FIELDS}
    action = str(form.get("action", "preview"))

    index_dir = curator.kb.settings.index
    if action == "import" and imports.job_status(index_dir, token) is not None:
        return RedirectResponse(f"/kurera/importera/{token}/status", status_code=303)   # already started

    def run():
        filename, data = imports.staged(index_dir, token)
        if action == "import":
            rows = imports.check_apply(filename, data, mapping)
            jobs = request.app.state.import_jobs
            if rows > imports.SYNC_MAX_ROWS and jobs is not None:
                try:
                    jobs.submit(token, filename, rows, staff.user.username, mapping)
                except imports.ImportRunning:
                    pass
                return None, True
            result = curator.import_rows(filename, data, staff.user.username, mapping)
            imports.unstage(index_dir, token)
            return result, True
        return curator.import_preview(filename, data, mapping), False

    try:
        result, done = await run_in_threadpool(run)
    except FormError as exc:
        return _import_page(request, staff, {"errors": exc.errors, "token": token if "file" not in exc.errors else ""},
                            status=400)
    if result is None:
        return RedirectResponse(f"/kurera/importera/{token}/status", status_code=303)
    return _import_page(request, staff, {"preview": result, "token": "" if done else token, "done": done})


@router.get("/kurera/importera/{token}/status", response_class=HTMLResponse)
def import_status(request: Request, token: str, staff: Staff, curator: CuratorDep):
    """A background import's progress, re-read from its status file on each request (so any
    worker process can answer); the page reloads itself with a meta refresh while it runs."""
    from ..curation import imports

    status = imports.job_status(curator.kb.settings.index, token)
    if status is None:
        return _page(request, "curate_import_status.html", {
            "user": staff.user, "csrf": staff.csrf, "status": None, "refresh": 0}, status=404)
    running = status["state"] in ("queued", "running")
    return _page(request, "curate_import_status.html", {
        "user": staff.user, "csrf": staff.csrf, "status": status, "token": token,
        "refresh": imports.STATUS_REFRESH_SECONDS if running else 0})
