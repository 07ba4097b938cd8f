"""A per-client rate limit on the JSON API (`KUNSKAP_RATE_LIMIT` requests a minute; 0 = off).

A token bucket per client address (web/clients.py, so behind a trusted proxy each client has its
own): bursts up to a minute's allowance, refilled continuously. Beyond it, 429 with Retry-After
and the API's error shape, answered before any work is done. Per process: with --workers N each
worker counts on its own.
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict

from ..config import Settings
from .clients import client_address

# Clients tracked at once (~100 bytes each). Beyond it the longest-idle client is forgotten,
# which can only make the limit more lenient for it, never stricter for anyone.
MAX_CLIENTS = 100_000


class RateLimiter:
    def __init__(self, per_minute: int, max_clients: int = MAX_CLIENTS):
        self.capacity = float(per_minute)
        self.per_second = per_minute / 60.0
        self.max_clients = max_clients
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()   # client -> (tokens, when)

    def acquire(self, client: str, now: float | None = None) -> float:
        """Take one request's token: 0.0 if allowed, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        tokens, then = self.buckets.pop(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - then) * self.per_second)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.per_second
        self.buckets[client] = (tokens, now)   # most recently seen last
        self._forget_idle(now)
        return wait

    def _forget_idle(self, now: float) -> None:
        """Drop clients whose bucket has filled up again (they need no state), oldest first."""
        refill = self.capacity / self.per_second
        while self.buckets:
            client, (_, then) = next(iter(self.buckets.items()))
            if now - then < refill and len(self.buckets) <= self.max_clients:
                break
            del self.buckets[client]


class RateLimitMiddleware:
    def __init__(self, app, settings: Settings, prefix: str = "/api/"):
        self.app = app
        self.settings = settings
        self.prefix = prefix
        self.limiter = RateLimiter(settings.rate_limit) if settings.rate_limit else None

    async def __call__(self, scope, receive, send):
        if self.limiter is None or scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        wait = self.limiter.acquire(client_address(scope, self.settings))
        if not wait:
            await self.app(scope, receive, send)
            return
        seconds = max(1, math.ceil(wait))
        body = json.dumps({"error": {
            "code": "rate_limited",
            "message": f"För många förfrågningar från din adress. Vänta {seconds} sekunder och försök igen."}},
            ensure_ascii=False).encode("utf-8")
        await send({"type": "http.response.start", "status": 429, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(seconds).encode()), (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": body})
