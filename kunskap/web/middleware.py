"""HTTP middleware (plain ASGI, cheaper than BaseHTTPMiddleware): ETag/Cache-Control on GET
responses, and an access log without query strings (search terms can identify people, so
they are never logged)."""

from __future__ import annotations

import hashlib
import logging
import re
import time

from starlette.datastructures import Headers, MutableHeaders

access_log = logging.getLogger("kunskap.access")

# The path reaches us percent-decoded: %0A is a real newline. Control characters (C0, DEL, C1),
# line/paragraph separators and bidi controls could start a forged log line or disguise one, so
# they are written as escapes; a backslash is doubled so that an escape cannot be faked either.
_UNPRINTABLE = re.compile(r"[\\\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match) -> str:
    char = match.group()
    if char == "\\":
        return "\\\\"
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def printable(text: str) -> str:
    """`text` safe for a one-line log record."""
    return _UNPRINTABLE.sub(_escape, text)


class CacheHeadersMiddleware:
    """Public GET JSON gets a strong ETag (304 on If-None-Match) and a short max-age; staff views
    and token calls get no-store; pages get no-cache; static files an hour."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        path = scope["path"]
        private = "authorization" in request_headers or path.startswith(("/kurera", "/logga-in"))
        start: dict = {}
        chunks: list[bytes] = []

        async def wrapped(message):
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            headers = MutableHeaders(raw=list(start.get("headers", [])))
            status = start.get("status", 200)
            if status == 200:
                if private:
                    headers["Cache-Control"] = "no-store"
                elif path.startswith("/static/"):
                    headers.setdefault("Cache-Control", "public, max-age=3600")
                elif headers.get("content-type", "").startswith("application/json"):
                    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
                    headers["ETag"] = etag
                    headers.setdefault("Cache-Control", "public, max-age=60")
                    if request_headers.get("if-none-match") == etag:
                        not_modified = MutableHeaders(raw=[])
                        not_modified["ETag"] = etag
                        not_modified["Cache-Control"] = headers["Cache-Control"]
                        await send({"type": "http.response.start", "status": 304, "headers": not_modified.raw})
                        await send({"type": "http.response.body", "body": b""})
                        return
                else:
                    headers.setdefault("Cache-Control", "no-cache")
            await send({**start, "headers": headers.raw})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, wrapped)


class PrivacyAccessLogMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def wrapped(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, wrapped)
        finally:
            # The path only: never the query string.
            access_log.info("%s %s %d %.1fms", scope["method"], printable(scope["path"]), status["code"],
                            1000 * (time.perf_counter() - started))


STAFF_PATHS = ("/kurera", "/logga-in", "/logga-ut")
DOCS_PATHS = ("/docs", "/redoc")
_PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
                "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {}")
# Swagger UI and ReDoc set styles from script (ReDoc's styled-components writes <style> tags), so
# the documentation pages allow inline styles; their script is still only our own files.
_DOCS_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                "font-src 'self'; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
                "form-action 'self'; frame-ancestors 'self'")
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-]+(:[0-9]+)?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]+)?")
# JSON, static files: nothing of theirs may run or be framed when opened directly.
_RESOURCE_POLICY = "default-src 'none'; frame-ancestors 'none'"


class SecurityHeadersMiddleware:
    """Security headers on every response (also errors, 304s and CORS preflights).

    Pages: a Content-Security-Policy without inline script or style (templates have none: the
    only script is static/embed.js), framable by our own origin and by the sites in
    KUNSKAP_CORS_ORIGINS that may embed the search. Staff pages (/kurera, sign-in) can never be
    framed (clickjacking of publish/delete): frame-ancestors 'none' and X-Frame-Options DENY.
    The embed on other sites is a script that calls the API with CORS, not a frame, so it is
    not affected by frame-ancestors; no Cross-Origin-Resource-Policy is set, which would stop
    other sites from loading static/embed.js.
    """

    def __init__(self, app, frame_origins: list[str] = ()):
        self.app = app
        # Only well-formed origins go into the header: a stray ';' would start a new directive.
        frame_origins = [o for o in frame_origins if o == "*" or _ORIGIN.fullmatch(o)]
        ancestors = " ".join(["'self'", *frame_origins])
        self.page_policy = _PAGE_POLICY.format(ancestors)
        self.page_frame_options = None if frame_origins else "SAMEORIGIN"   # XFO cannot list origins

    def _headers(self, path: str, content_type: str) -> dict[str, str]:
        headers = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "strict-origin-when-cross-origin"}
        if path.startswith(STAFF_PATHS):
            headers.update({"Content-Security-Policy": _PAGE_POLICY.format("'none'"), "X-Frame-Options": "DENY",
                            "Referrer-Policy": "same-origin"})
        elif path in DOCS_PATHS:
            headers.update({"Content-Security-Policy": _DOCS_POLICY, "X-Frame-Options": "SAMEORIGIN"})
        elif content_type.startswith("text/html"):
            headers["Content-Security-Policy"] = self.page_policy
            if self.page_frame_options:
                headers["X-Frame-Options"] = self.page_frame_options
        else:
            headers["Content-Security-Policy"] = _RESOURCE_POLICY
        return headers

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]

        async def wrapped(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self._headers(path, headers.get("content-type", "")).items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, wrapped)
