"""The API documentation pages, /docs (Swagger UI) and /redoc (ReDoc), served from the assets
that fastapi-offline bundles (no CDN) and started by our own static script instead of the
inline one FastAPI's helpers write, so the pages keep a Content-Security-Policy without
inline script."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)
ASSETS = "/static-offline-docs"   # mounted by FastAPIOffline


def _page(request: Request, name: str) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    app = request.app
    return app.state.templates.TemplateResponse(request, name, {
        "title": app.title, "openapi_url": root + app.openapi_url, "assets": root + ASSETS, "root": root})


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request):
    return _page(request, "docs_swagger.html")


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request):
    return _page(request, "docs_redoc.html")
