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
