"""Curation API for scripts: token-authenticated writes (Authorization: Bearer kk_…)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ..accounts import User
from ..curation import MAX_UPLOAD_BYTES, Curator
from .auth import bearer_user
from .deps import RowId

router = APIRouter(prefix="/api/v1", tags=["kurering"])
STAFF = Annotated[User, Depends(bearer_user)]


class DocumentIn(BaseModel):
    title: str = Field(max_length=1000)
    organisation: str = Field(max_length=200)
    kind: str = "case-study"
    themes: list[str] = []
    year: int | None = None
    published: str | None = None
    summary: str | None = None
    source_url: str | None = None
    contact: str | None = None
    status: str = "draft"
    body: str = Field("", max_length=200_000)
    confirm_duplicates: bool = False
    language: str = "sv"
    base_version: str | None = Field(None, description="Versionen du utgick från (GET .../version); "
                                                         "har filen ändrats sedan dess svarar API:t 409.")


def _curator(request: Request) -> Curator:
    return Curator(request.app.state.kb)


def _values(document: DocumentIn) -> dict:
    values = document.model_dump(exclude={"body", "confirm_duplicates", "base_version"})
    values["year"] = "" if document.year is None else str(document.year)
    return values


def _saved(request: Request, doc_id: str, status: int = 200):
    curator = _curator(request)
    row = curator.document(doc_id)
    return JSONResponse({"id": doc_id, "status": row["status"], "title": row["title"],
                         "version": curator.version(doc_id)}, status_code=status)


@router.get("/curation/documents")
def all_documents(request: Request, user: STAFF, status: str | None = None):
    """Alla dokument, även utkast och avpublicerade."""
    return [{k: r[k] for k in ("id", "title", "organisation", "kind", "status", "year", "updated_at")}
            for r in _curator(request).documents(status)]


@router.post("/documents", status_code=201)
def create(request: Request, user: STAFF, document: DocumentIn):
    """Skapa en fallstudie. Liknar den ett befintligt dokument svarar API:t 409 med dubbletterna,
    om inte confirm_duplicates är satt."""
    result = _curator(request).save_case_study(_values(document), document.body, user.username,
                                               confirm_duplicates=document.confirm_duplicates)
    if not result.saved:
        return JSONResponse({"error": {"code": "possible_duplicate", "message": "Liknande exempel finns redan.",
                                       "duplicates": [d.__dict__ for d in result.duplicates]}}, status_code=409)
    return _saved(request, result.doc_id, 201)


@router.put("/documents/{doc_id}")
def update(request: Request, user: STAFF, doc_id: str, document: DocumentIn):
    curator = _curator(request)
    values = _values(document)
    if curator.document(doc_id)["source_path"].endswith(".md"):
        curator.save_case_study(values, document.body, user.username, doc_id=doc_id, base_version=document.base_version)
    else:
        curator.save_upload_metadata(doc_id, values, user.username, base_version=document.base_version)
    return _saved(request, doc_id)


@router.get("/documents/{doc_id}/version")
def version(request: Request, user: STAFF, doc_id: str):
    """Filens nuvarande version, att skicka som base_version vid PUT."""
    return {"id": doc_id, "version": _curator(request).version(doc_id)}


@router.delete("/documents/{doc_id}")
def delete(request: Request, user: STAFF, doc_id: str):
    """Ta bort (kan ångras: POST /revisions/{revision}/restore)."""
    return {"id": doc_id, "revision": _curator(request).delete(doc_id, user.username)}


@router.post("/documents/{doc_id}/publish")
def publish(request: Request, user: STAFF, doc_id: str):
    _curator(request).set_status(doc_id, "published", user.username)
    return _saved(request, doc_id)


@router.post("/documents/{doc_id}/unpublish")
def unpublish(request: Request, user: STAFF, doc_id: str):
    _curator(request).set_status(doc_id, "unpublished", user.username)
    return _saved(request, doc_id)


@router.post("/uploads", status_code=201)
def upload(request: Request, user: STAFF, file: Annotated[UploadFile | None, File()] = None,
           title: Annotated[str, Form()] = "", organisation: Annotated[str, Form()] = "",
           kind: Annotated[str, Form()] = "presentation", themes: Annotated[list[str], Form()] = [],
           year: Annotated[str, Form()] = "", summary: Annotated[str, Form()] = "",
           source_url: Annotated[str, Form()] = "", status: Annotated[str, Form()] = "draft"):
    """Ladda upp PDF, PPTX eller DOCX (högst 20 MB), med eller utan metadata."""
    data = file.file.read(MAX_UPLOAD_BYTES + 1) if file is not None else b""
    values = {"title": title, "organisation": organisation, "kind": kind, "themes": themes, "year": year,
              "summary": summary, "source_url": source_url, "status": status}
    doc_id = _curator(request).upload(file.filename if file else "", data, values, user.username)
    return _saved(request, doc_id, 201)


@router.get("/documents/{doc_id}/revisions")
def revisions(request: Request, user: STAFF, doc_id: str):
    return _curator(request).revisions(doc_id)


@router.get("/revisions/{revision_id}")
def revision(request: Request, user: STAFF, revision_id: RowId):
    curator = _curator(request)
    row = curator.revision(revision_id)
    return {**{k: row[k] for k in ("id", "doc_id", "path", "action", "username", "created_at", "note")},
            "text": curator.revision_text(revision_id), "diff": curator.diff(revision_id)}


@router.post("/revisions/{revision_id}/restore")
def restore(request: Request, user: STAFF, revision_id: RowId, version: str = "before"):
    curator = _curator(request)
    row = curator.revision(revision_id)
    curator.restore(revision_id, user.username, version=version)
    return {"id": row["doc_id"], "restored_from": revision_id, "version": version}
