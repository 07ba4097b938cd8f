"""One cache for everything the searcher derives from the knowledge base's contents.

Every entry belongs to the generation of the knowledge base it was computed from
(`KnowledgeBase.generation`, incremented on every swap and every reload of another process's
index). Asking under a newer generation drops all entries at once, so a new kind of cached
value cannot be forgotten in an invalidation list. A value computed while the knowledge base
changed is not stored: it is stored under the generation read before computing, and only if
that is still the current one.

A kind looked up with a `patch` is not recomputed from scratch after a change whose documents
are known (`changes(since)` gives the ids of the documents changed since a generation, or None):
its value of the last generation it was computed at is kept, and `patch(old, changed)` derives
the new one from it (a live save of one document then costs O(change), not O(corpus)). A patch
must not modify `old`: searches of the older generation may still be reading it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Hashable, Mapping, TypeVar

T = TypeVar("T")
_MISSING = object()


class GenerationCache:
    def __init__(self, generation: Callable[[], int], limits: Mapping[str, int] | None = None,
                 changes: Callable[[int], frozenset | None] | None = None):
        """`generation` reads the current generation; `limits` caps the entries of a kind (least
        recently used dropped first; 0 turns a kind off; kinds not named are unbounded);
        `changes(since)` the documents changed since a generation (None: not known)."""
        self._current = generation
        self._limits = dict(limits or {})
        self._changes = changes
        self._generation: int | None = None
        self._entries: dict[str, OrderedDict] = {}
        # kind -> (generation, entries) of the last generation a patchable kind was computed at
        self._stale: dict[str, tuple[int, OrderedDict]] = {}
        self._patchable: set[str] = set()
        self._lock = threading.Lock()
        # Held while a lookup computes, so that concurrent requests after a change compute each
        # value once; re-entrant because one lookup may need another (document themes need rows).
        self._compute_lock = threading.RLock()

    def _kind(self, generation: int, kind: str) -> OrderedDict | None:
        """The entries of `kind` at `generation` (caller holds the lock); None for an older one."""
        if self._generation is None or generation > self._generation:
            if self._generation is not None:
                for name, entries in self._entries.items():
                    if name in self._patchable and entries:
                        self._stale[name] = (self._generation, entries)
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

    def lookup(self, kind: str, key: Hashable, compute: Callable[[], T],
               patch: Callable[[T, frozenset], T] | None = None) -> T:
        """The cached value, or `compute()` kept for the generation it was computed at; with
        `patch`, `patch(old, changed documents)` when an older value and the changes since are
        known."""
        value = self._get(self._current(), kind, key)
        if value is not _MISSING:
            return value
        with self._compute_lock:
            generation = self._current()
            value = self._get(generation, kind, key)
            if value is _MISSING:
                if patch is not None:
                    self._patchable.add(kind)
                    value = self._patched(kind, key, generation, patch)
                if value is _MISSING:
                    value = compute()
                self.put(kind, key, value, generation)
            return value

    def _patched(self, kind: str, key: Hashable, generation: int, patch: Callable):
        with self._lock:
            stale = self._stale.get(kind)
            if stale is None or stale[0] >= generation or key not in stale[1]:
                return _MISSING
            since, entries = stale
            old = entries[key]
        changed = self._changes(since) if self._changes is not None else None
        if changed is None:
            return _MISSING
        value = patch(old, changed)
        with self._lock:   # the older value is not needed again: not kept alive beside the new one
            if self._stale.get(kind) is stale:
                entries.pop(key, None)
                if not entries:
                    del self._stale[kind]
        return value
