"""One cache for everything the searcher derives from the knowledge base's contents.

Every entry belongs to the generation of the knowledge base it was computed from
(`KnowledgeBase.generation`, incremented on every swap and every reload of another process's
index). Asking under a newer generation drops all entries at once, so a new kind of cached
value cannot be forgotten in an invalidation list. A value computed while the knowledge base
changed is not stored: it is stored under the generation read before computing, and only if
that is still the current one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Hashable, Mapping, TypeVar

T = TypeVar("T")
_MISSING = object()


class GenerationCache:
    def __init__(self, generation: Callable[[], int], limits: Mapping[str, int] | None = None):
        """`generation` reads the current generation; `limits` caps the entries of a kind (least
        recently used dropped first; 0 turns a kind off; kinds not named are unbounded)."""
        self._current = generation
        self._limits = dict(limits or {})
        self._generation: int | None = None
        self._entries: dict[str, OrderedDict] = {}
        self._lock = threading.Lock()
        # Held while a lookup computes, so that concurrent requests after a change compute each
        # value once; re-entrant because one lookup may need another (document themes need rows).
        self._compute_lock = threading.RLock()

    def _kind(self, generation: int, kind: str) -> OrderedDict | None:
        """The entries of `kind` at `generation` (caller holds the lock); None for an older one."""
        if self._generation is None or generation > self._generation:
            self._generation, self._entries = generation, {}
        elif generation < self._generation:
            return None
        return self._entries.setdefault(kind, OrderedDict())

    def _get(self, generation: int, kind: str, key: Hashable):
        with self._lock:
            entries = self._kind(generation, kind)
            if entries is None or key not in entries:
                return _MISSING
            entries.move_to_end(key)
            return entries[key]

    def get(self, kind: str, key: Hashable = None):
        """The value cached for the current generation, or None."""
        value = self._get(self._current(), kind, key)
        return None if value is _MISSING else value

    def put(self, kind: str, key: Hashable, value, generation: int) -> None:
        """Keep `value`, computed from the state at `generation`, if that is still current."""
        limit = self._limits.get(kind)
        if limit == 0:
            return
        with self._lock:
            if generation != self._current():
                return
            entries = self._kind(generation, kind)
            if entries is None:
                return
            entries[key] = value
            entries.move_to_end(key)
            if limit is not None and len(entries) > limit:
                entries.popitem(last=False)

    def lookup(self, kind: str, key: Hashable, compute: Callable[[], T]) -> T:
        """The cached value, or `compute()` kept for the generation it was computed at."""
        value = self._get(self._current(), kind, key)
        if value is not _MISSING:
            return value
        with self._compute_lock:
            generation = self._current()
            value = self._get(generation, kind, key)
            if value is _MISSING:
                value = compute()
                self.put(kind, key, value, generation)
            return value
