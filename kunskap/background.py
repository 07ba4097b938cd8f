"""One background thread that runs queued jobs one after another (deferred uploads, large
spreadsheet imports): they write through the same Curator, and one at a time keeps the other
requests of a small server answered."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Callable

log = logging.getLogger("kunskap")


class SerialWorker:
    def __init__(self, name: str, handle: Callable[[object], None], failed: Callable[[object], str]):
        """`handle(job)` runs each job; when it raises, `failed(job)` is the (Swedish) log line."""
        self._handle = handle
        self._failed = failed
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, job) -> None:
        self._queue.put(job)

    def close(self, timeout: float = 5.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            try:
                self._handle(job)
            except Exception:
                log.exception(self._failed(job))
