"""One exception handler for the web layer: JSON `{"error": {code, message}}` under /api,
a Swedish HTML error page elsewhere. No input may produce a 500 with a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import KunskapError, NotFoundError, OverloadedError, StorageUnavailableError, ValidationError
from .middleware import printable

log = logging.getLogger("kunskap")

STATUS_MESSAGES = {
    404: ("not_found", "Sidan finns inte."),
    405: ("method_not_allowed", "Metoden är inte tillåten här."),
    401: ("unauthorized", "Du måste logga in."),
    403: ("forbidden", "Du har inte behörighet."),
}


def _is_api(request: Request) -> bool:
    """JSON errors for the API and for the probes (/health, /ready), HTML for the pages."""
    return request.url.path.startswith("/api/") or request.url.path in ("/health", "/ready")


def error_response(request: Request, status: int, code: str, message: str, field: str | None = None):
    if _is_api(request):
        body = {"error": {"code": code, "message": message}}
        if field:
            body["error"]["parameter"] = field
        return JSONResponse(body, status_code=status)
    templates = request.app.state.templates
    return templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message}, status_code=status
    )


def install(app: FastAPI) -> None:
    from urllib.parse import quote

    from fastapi.responses import RedirectResponse

    from ..errors import AuthError, ConflictError, FormError, ReadOnlyError, ThrottledError
    from .auth import CsrfError, LoginRequired, Unauthorized

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/logga-in?next={quote(target)}", status_code=303)

    @app.exception_handler(Unauthorized)
    async def _unauthorized(request: Request, exc: Unauthorized):
        response = error_response(request, 401, exc.code, exc.message)
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    # Domain errors that map to a status and need nothing else: one handler for all of them.
    statuses = {AuthError: 401, ThrottledError: 429, ReadOnlyError: 403, CsrfError: 403, NotFoundError: 404,
                ConflictError: 409, StorageUnavailableError: 503}

    async def _by_status(request: Request, exc: KunskapError):
        return error_response(request, statuses[type(exc)], exc.code, exc.message)

    for exc_class in statuses:
        app.add_exception_handler(exc_class, _by_status)

    @app.exception_handler(OverloadedError)
    async def _overloaded(request: Request, exc: OverloadedError):
        response = error_response(request, 503, exc.code, exc.message)
        response.headers["Retry-After"] = "2"
        return response

    @app.exception_handler(FormError)
    async def _form(request: Request, exc: FormError):
        if _is_api(request):
            return JSONResponse({"error": {"code": exc.code, "message": exc.message, "fields": exc.errors}},
                                status_code=400)
        return error_response(request, 400, exc.code, exc.message)

    @app.exception_handler(ValidationError)
    async def _validation(request: Request, exc: ValidationError):
        return error_response(request, 400, exc.code, exc.message, exc.field)

    @app.exception_handler(KunskapError)
    async def _domain(request: Request, exc: KunskapError):
        return error_response(request, 400, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _request_validation(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", []) if p not in ("query", "path", "body")]
        field = ".".join(loc) or "parameter"
        return error_response(request, 400, "invalid_parameter",
                              f"Ogiltigt värde för parametern '{field}'.", field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        code, message = STATUS_MESSAGES.get(exc.status_code, ("error", "Något gick fel."))
        if isinstance(exc.detail, str) and exc.status_code not in STATUS_MESSAGES:
            message = exc.detail
        return error_response(request, exc.status_code, code, message)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s", printable(request.url.path))
        return error_response(request, 500, "internal_error", "Ett oväntat fel inträffade. Försök igen om en stund.")
