"""The embedding cache: every passage is embedded once per model and text (keyed by the text's
hash), and kept in the store, so rebuilding an index or re-ingesting a corpus embeds only text
it has never seen.

Used by ingest (new and changed documents) and by the knowledge base's background build of
semantic search; it needs a store and an embedder, nothing else.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from .base import Store


def embed_texts(
    store: Store,
    embedder,
    items: list[tuple[str, str]],
    batch_size: int,
    progress: bool = False,
    on_batch: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Make sure every (hash, text) has a cached vector. Returns (embedded, from cache)."""
    unique = dict(items)
    cached = store.cached_vectors(embedder.model_id, list(unique), embedder.dimension)
    todo = [(h, t) for h, t in unique.items() if h not in cached]
    if not todo:
        return 0, len(unique)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), unit="avsnitt", desc="Bäddar in", file=sys.stderr, dynamic_ncols=True)
    batches = [todo[start : start + batch_size] for start in range(0, len(todo), batch_size)]
    workers = max(1, getattr(embedder, "parallelism", 1))
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            # Each model instance embeds one batch at a time; results are stored as they come,
            # so an interrupted ingest resumes where it stopped.
            pending = [pool.submit(embedder.encode_passages, [t for _, t in part]) for part in batches[:workers]]
            queued = list(batches[:workers])
            next_batch = workers
            while pending:
                vectors = pending.pop(0).result()
                part = queued.pop(0)
                if next_batch < len(batches):
                    pending.append(pool.submit(embedder.encode_passages, [t for _, t in batches[next_batch]]))
                    queued.append(batches[next_batch])
                    next_batch += 1
                store.put_vectors(embedder.model_id, {h: v for (h, _), v in zip(part, vectors)})
                if bar:
                    bar.update(len(part))
                if on_batch:
                    on_batch(len(part))
    finally:
        if bar:
            bar.close()
    return len(todo), len(unique) - len(todo)

