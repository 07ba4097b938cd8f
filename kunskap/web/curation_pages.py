"""Swedish curation pages for staff: sign in, list, review queue, create/edit with preview,
publish, upload, revisions, trash. Every route here needs a session; every POST needs CSRF."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse

from ..accounts import AuthError, ThrottledError
from ..curation import (
    MAX_UPLOAD_BYTES,
    STATUS_LABELS,
    ConflictError,
    Curator,
    FormError,
)
from ..reference import organisations
from ..render import render_markdown
from .auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    accounts,
    check_csrf,
    new_token,
    session_user,
    set_cookie,
)
from .clients import client_address
from .deps import RowId

router = APIRouter(include_in_schema=False)
STATUS_CHOICES = [("draft", "Utkast"), ("published", "Publicerad"), ("unpublished", "Avpublicerad")]
KIND_CHOICES = [("case-study", "Fallstudie"), ("presentation", "Presentation"), ("report", "Rapport"), ("news", "Nyhet")]


def _curator(request: Request) -> Curator:
    return Curator(request.app.state.kb)


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


@router.post("/logga-in", response_class=HTMLResponse)
def login(request: Request, username: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
          csrf: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/kurera"):
    check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE), csrf)
    client = client_address(request.scope, request.app.state.settings)
    try:
        user = accounts(request).authenticate(username, password, client=client)
    except (AuthError, ThrottledError) as exc:
        token = new_token()
        status = 429 if isinstance(exc, ThrottledError) else 401
        response = _page(request, "login.html", {"csrf": token, "next": _safe_next(next), "error": exc.message,
                                                 "username": username[:100]}, status=status)
        set_cookie(response, request, LOGIN_CSRF_COOKIE, token, max_age=3600)
        return response
    session, _ = accounts(request).create_session(user)
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_cookie(response, request, SESSION_COOKIE, session, max_age=12 * 3600)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logga-ut")
def logout(request: Request, csrf: Annotated[str, Form()] = ""):
    _, expected = session_user(request)
    check_csrf(expected, csrf)
    accounts(request).end_session(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- lists -----------------------------------------------------------------------------------
@router.get("/kurera", response_class=HTMLResponse)
def overview(request: Request, status: str = "", meddelande: str = "", organisation: str = "", q: str = "",
             kind: str = ""):
    user, csrf = session_user(request)
    curator = _curator(request)
    status = status if status in STATUS_LABELS else ""
    all_rows = curator.documents(status or None)
    needle = q.strip().lower()[:200]
    rows = [r for r in all_rows
            if (not organisation or r["organisation"] == organisation) and (not kind or r["kind"] == kind)
            and (not needle or needle in r["title"].lower() or needle in r["id"])]
    return _page(request, "curate_list.html", {
        "user": user, "csrf": csrf, "rows": rows, "status": status, "status_labels": STATUS_LABELS,
        "message": meddelande[:200], "queue_size": len(curator.review_queue()),
        "organisations": sorted({r["organisation"] for r in all_rows}), "kinds": KIND_CHOICES,
        "filters": {"organisation": organisation, "q": q[:200], "kind": kind}})


@router.get("/kurera/granska", response_class=HTMLResponse)
def queue(request: Request):
    user, csrf = session_user(request)
    return _page(request, "curate_queue.html", {"user": user, "csrf": csrf, "rows": _curator(request).review_queue()})


@router.get("/kurera/papperskorg", response_class=HTMLResponse)
def trash(request: Request):
    user, csrf = session_user(request)
    return _page(request, "curate_trash.html", {"user": user, "csrf": csrf, "rows": _curator(request).deleted()})


@router.post("/kurera/papperskorg/{revision_id}/aterstall")
def undo_delete(request: Request, revision_id: RowId, csrf: Annotated[str, Form()] = ""):
    user, expected = session_user(request)
    check_csrf(expected, csrf)
    doc_id = _curator(request).undo_delete(revision_id, user.username)
    return RedirectResponse(f"/kurera/dokument/{quote(doc_id)}?meddelande=" + quote("Dokumentet är återställt."),
                            status_code=303)


# -- create / edit -----------------------------------------------------------------------------
def _form_context(request, user, csrf, values, body, doc_id=None, errors=None, duplicates=None, preview=None,
                  message=None, upload=False):
    kb = request.app.state.kb
    return {
        "user": user, "csrf": csrf, "values": values, "body": body, "doc_id": doc_id, "errors": errors or {},
        "duplicates": duplicates or [], "preview": preview, "message": message, "upload": upload,
        "organisations": sorted(organisations().values(), key=lambda o: (o["type"] != "region", o["name"])),
        "themes": kb.themes.themes, "status_choices": STATUS_CHOICES, "kind_choices": KIND_CHOICES,
    }


@router.get("/kurera/ny", response_class=HTMLResponse)
def new_form(request: Request):
    user, csrf = session_user(request)
    return _page(request, "curate_form.html", _form_context(request, user, csrf, {"status": "draft", "themes": []}, ""))


def _values(title, organisation, kind, themes, other_tags, year, published, summary, source_url, contact, status):
    return {"title": title, "organisation": organisation, "kind": kind, "themes": themes,
            "other_tags": [t for t in other_tags.split(",") if t.strip()], "year": year, "published": published,
            "summary": summary, "source_url": source_url, "contact": contact, "status": status}


@router.post("/kurera/ny", response_class=HTMLResponse)
@router.post("/kurera/dokument/{doc_id}", response_class=HTMLResponse)
def save(request: Request, doc_id: str | None = None, csrf: Annotated[str, Form()] = "",
         title: Annotated[str, Form()] = "", organisation: Annotated[str, Form()] = "",
         kind: Annotated[str, Form()] = "case-study", themes: Annotated[list[str], Form()] = [],
         other_tags: Annotated[str, Form()] = "", year: Annotated[str, Form()] = "",
         published: Annotated[str, Form()] = "", summary: Annotated[str, Form()] = "",
         source_url: Annotated[str, Form()] = "", contact: Annotated[str, Form()] = "",
         status: Annotated[str, Form()] = "draft", body: Annotated[str, Form()] = "",
         action: Annotated[str, Form()] = "save", confirm_duplicates: Annotated[str, Form()] = "",
         version: Annotated[str, Form()] = "", language: Annotated[str, Form()] = "sv"):
    user, expected = session_user(request)
    check_csrf(expected, csrf)
    curator = _curator(request)
    values = _values(title, organisation, kind, themes, other_tags, year, published, summary, source_url, contact, status)
    values["language"] = language
    upload = bool(doc_id) and not curator.document(doc_id)["source_path"].endswith(".md")
    if action == "preview":
        return _page(request, "curate_form.html", _form_context(
            request, user, expected, values, body, doc_id, preview=render_markdown(body),
            duplicates=curator.duplicates(title, body, exclude=doc_id) if title else [], upload=upload))
    try:
        if upload:
            curator.save_upload_metadata(doc_id, values, user.username, base_version=version or None)
            result_id = doc_id
        else:
            result = curator.save_case_study(values, body, user.username, doc_id=doc_id,
                                             confirm_duplicates=bool(confirm_duplicates), base_version=version or None)
            if not result.saved:
                return _page(request, "curate_form.html", _form_context(
                    request, user, expected, values, body, doc_id, duplicates=result.duplicates), status=409)
            result_id = result.doc_id
    except FormError as exc:
        return _page(request, "curate_form.html", _form_context(
            request, user, expected, values, body, doc_id, errors=exc.errors, upload=upload), status=400)
    except ConflictError as exc:
        # Keep what the editor typed on screen, so nothing is lost; the file stays as it is.
        context = _form_context(request, user, expected, values, body, doc_id, errors={"version": exc.message},
                                upload=upload)
        context["version"] = curator.version(doc_id)
        return _page(request, "curate_form.html", context, status=409)
    return RedirectResponse(f"/kurera/dokument/{quote(result_id)}?meddelande=" + quote("Sparat."), status_code=303)


@router.get("/kurera/dokument/{doc_id}", response_class=HTMLResponse)
def edit_form(request: Request, doc_id: str, meddelande: str = ""):
    user, csrf = session_user(request)
    curator = _curator(request)
    row = curator.document(doc_id)
    values, body = curator.form_values(doc_id)
    values["other_tags"] = ", ".join(values.get("other_tags") or [])
    context = _form_context(request, user, csrf, values, body or "", doc_id, message=meddelande[:200],
                            upload=not row["source_path"].endswith(".md"))
    context["row"] = row
    context["version"] = curator.version(doc_id)
    return _page(request, "curate_form.html", context)


@router.post("/kurera/dokument/{doc_id}/status")
def change_status(request: Request, doc_id: str, csrf: Annotated[str, Form()] = "",
                  status: Annotated[str, Form()] = ""):
    user, expected = session_user(request)
    check_csrf(expected, csrf)
    _curator(request).set_status(doc_id, status, user.username)
    label = {"published": "Publicerad.", "unpublished": "Avpublicerad.", "draft": "Ändrad till utkast."}.get(status, "")
    return RedirectResponse(f"/kurera/dokument/{quote(doc_id)}?meddelande=" + quote(label), status_code=303)


@router.post("/kurera/dokument/{doc_id}/radera")
def delete(request: Request, doc_id: str, csrf: Annotated[str, Form()] = ""):
    user, expected = session_user(request)
    check_csrf(expected, csrf)
    _curator(request).delete(doc_id, user.username)
    return RedirectResponse("/kurera?meddelande=" + quote(f"”{doc_id}” är borttaget. Det kan återställas från papperskorgen."),
                            status_code=303)


# -- uploads -----------------------------------------------------------------------------------
@router.get("/kurera/ladda-upp", response_class=HTMLResponse)
def upload_form(request: Request):
    user, csrf = session_user(request)
    context = _form_context(request, user, csrf, {"status": "draft", "themes": [], "kind": "presentation"}, "", upload=True)
    context["max_mb"] = MAX_UPLOAD_BYTES // (1024 * 1024)
    return _page(request, "curate_upload.html", context)


@router.post("/kurera/ladda-upp", response_class=HTMLResponse)
def upload(request: Request, file: Annotated[UploadFile | None, File()] = None, csrf: Annotated[str, Form()] = "",
           title: Annotated[str, Form()] = "", organisation: Annotated[str, Form()] = "",
           kind: Annotated[str, Form()] = "presentation", themes: Annotated[list[str], Form()] = [],
           year: Annotated[str, Form()] = "", summary: Annotated[str, Form()] = "",
           source_url: Annotated[str, Form()] = "", status: Annotated[str, Form()] = "draft"):
    user, expected = session_user(request)
    check_csrf(expected, csrf)
    data = file.file.read(MAX_UPLOAD_BYTES + 1) if file is not None else b""
    values = _values(title, organisation, kind, themes, "", year, "", summary, source_url, "", status)
    try:
        result = _curator(request).upload(file.filename if file else "", data, values, user.username)
    except FormError as exc:
        context = _form_context(request, user, expected, values, "", errors=exc.errors, upload=True)
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
def revisions(request: Request, doc_id: str):
    user, csrf = session_user(request)
    curator = _curator(request)
    return _page(request, "curate_revisions.html", {"user": user, "csrf": csrf, "doc_id": doc_id,
                                                    "rows": curator.revisions(doc_id)})


@router.get("/kurera/versioner/{revision_id}", response_class=HTMLResponse)
def revision(request: Request, revision_id: RowId):
    user, csrf = session_user(request)
    curator = _curator(request)
    row = curator.revision(revision_id)
    return _page(request, "curate_revision.html", {
        "user": user, "csrf": csrf, "row": row, "text": curator.revision_text(revision_id),
        "diff": curator.diff(revision_id)})


@router.post("/kurera/versioner/{revision_id}/aterstall")
def restore(request: Request, revision_id: RowId, csrf: Annotated[str, Form()] = "",
            version: Annotated[str, Form()] = "before"):
    user, expected = session_user(request)
    check_csrf(expected, csrf)
    curator = _curator(request)
    row = curator.revision(revision_id)
    curator.restore(revision_id, user.username, version=version)
    return RedirectResponse(f"/kurera/dokument/{quote(row['doc_id'])}?meddelande=" + quote("Versionen är återställd."),
                            status_code=303)
