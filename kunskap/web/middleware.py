"""HTTP middleware: ETag/Cache-Control on GET responses, and an access log without query strings
(search terms can identify people, so they are never logged)."""

from __future__ import annotations

import hashlib
import logging
import time

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import Response

access_log = logging.getLogger("kunskap.access")


class CacheHeadersMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        response = await call_next(request)
        if request.method != "GET" or response.status_code != 200:
            return response
        private = "authorization" in request.headers or request.url.path.startswith(("/kurera", "/logga-in"))
        if private:   # staff views and token calls are never stored by shared caches
            response.headers["Cache-Control"] = "no-store"
            return response
        if request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "public, max-age=3600")
            return response
        if response.headers.get("content-type", "").startswith("application/json"):
            body = b"".join([chunk async for chunk in response.body_iterator])
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            headers = dict(response.headers)
            headers.pop("content-length", None)
            if request.headers.get("if-none-match") == etag:
                return Response(status_code=304, headers={"ETag": etag, "Cache-Control": "public, max-age=60"})
            new = Response(content=body, status_code=200, headers=headers, media_type=response.media_type)
            new.headers["ETag"] = etag
            new.headers.setdefault("Cache-Control", "public, max-age=60")
            return new
        response.headers.setdefault("Cache-Control", "no-cache")
        return response


class PrivacyAccessLogMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        access_log.info("%s %s %d %.1fms", request.method, request.url.path, response.status_code,
                        1000 * (time.perf_counter() - started))
        return response
