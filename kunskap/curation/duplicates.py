"""Near-duplicates: the guard that warns before a new document repeats an existing one, and the
scan for pairs already in the corpus that the review queue lists.

Both compare titles (rapidfuzz) and content: the guard embeds the new text and searches the
index, the scan compares document vectors taken from the embedding cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..knowledgebase import KnowledgeBase

DUPLICATE_COSINE = 0.93
DUPLICATE_TITLE = 90


@dataclass
class Duplicate:
    doc_id: str
    title: str
    organisation: str
    reason: str


def near_duplicate_pairs(kb: KnowledgeBase) -> list[tuple[str, str, str]]:
    """Pairs of existing documents that look like the same one twice: (id, id, reason), for the
    review queue. Stricter than the guard on a new save: the queue should not fill with near misses."""
    from rapidfuzz import fuzz

    rows = kb.store.document_titles()
    centroids = _centroids(kb, [r["id"] for r in rows])
    pairs = []
    ids = [r["id"] for r in rows if r["id"] in centroids]
    if ids:
        matrix = np.vstack([centroids[i] for i in ids])
        sims = matrix @ matrix.T
        for i in range(len(ids)):
            for j in range(i + 1, len(ids)):
                if sims[i, j] >= DUPLICATE_COSINE + 0.03:
                    pairs.append((ids[i], ids[j], f"innehåll {sims[i, j]:.2f}"))
    found = {(x, y) for x, y, _ in pairs}
    for i, a in enumerate(rows):
        for b in rows[i + 1:]:
            if (a["id"], b["id"]) not in found and fuzz.token_set_ratio(a["title"], b["title"]) >= 97:
                pairs.append((a["id"], b["id"], "nästan samma rubrik"))
    return pairs


def _centroids(kb: KnowledgeBase, doc_ids: list[str]) -> dict[str, np.ndarray]:
    vectors = {doc_id: kb.document_vector(doc_id) for doc_id in doc_ids}
    return {doc_id: v for doc_id, v in vectors.items() if v is not None}


def find_duplicates(kb: KnowledgeBase, title: str, text: str, exclude: str | None = None) -> list[Duplicate]:
    """Existing documents very close to a new one (embedding similarity or title)."""
    from rapidfuzz import fuzz

    found: dict[str, Duplicate] = {}
    rows = kb.store.document_titles()
    for row in rows:
        if row["id"] != exclude and fuzz.token_set_ratio(title.lower(), row["title"].lower()) >= DUPLICATE_TITLE:
            found[row["id"]] = Duplicate(row["id"], row["title"], row["organisation"], "liknande rubrik")
    if kb.vectors is not None and kb.vectors.count and text.strip():
        query = kb.embedder.encode_passages([f"{title}\n{text[:2000]}"])[0]
        ids, scores = kb.vectors.search(query, 20)
        docs = kb.store.chunk_doc_map()
        by_id = {r["id"]: r for r in rows}
        for chunk_id, score in zip(ids.tolist(), scores.tolist()):
            doc_id = docs.get(chunk_id)
            if doc_id and doc_id != exclude and score >= DUPLICATE_COSINE and doc_id not in found:
                row = by_id[doc_id]
                found[doc_id] = Duplicate(doc_id, row["title"], row["organisation"], f"liknande innehåll ({score:.2f})")
    return list(found.values())


class BatchDuplicateGuard:
    """The guard of `find_duplicates` for many new documents saved together (a spreadsheet
    import): the existing titles and chunk map are read once, the new texts embedded in one
    call, and each new document is also compared with those before it in the batch (which are
    not in the index yet)."""

    def __init__(self, kb: KnowledgeBase, titles: list[str], texts: list[str]):
        self.kb = kb
        self.rows = kb.store.document_titles()
        self.by_id = {r["id"]: r for r in self.rows}
        self.lowered = [r["title"].lower() for r in self.rows]   # compared in C by rapidfuzz.process
        self.chunk_docs = kb.store.chunk_doc_map()
        self.search = kb.vectors is not None and kb.vectors.count > 0
        passages = [f"{title}\n{text[:2000]}" for title, text in zip(titles, texts)]
        self.vectors = kb.embedder.encode_passages(passages) if passages else np.zeros((0, 1), np.float32)
        self.accepted: list[Duplicate] = []      # earlier new documents of the batch …
        self.accepted_lowered: list[str] = []    # … their titles in lower case …
        self.accepted_rows: list[int] = []       # … and their rows in `vectors`

    def check(self, index: int, title: str, text: str) -> list[Duplicate]:
        from rapidfuzz import fuzz, process

        found: dict[str, Duplicate] = {}
        lowered = title.lower()
        for _, _, position in process.extract(lowered, self.lowered, scorer=fuzz.token_set_ratio, processor=None,
                                              score_cutoff=DUPLICATE_TITLE, limit=None):
            row = self.rows[position]
            found[row["id"]] = Duplicate(row["id"], row["title"], row["organisation"], "liknande rubrik")
        vector = self.vectors[index]
        if self.search and text.strip():
            ids, scores = self.kb.vectors.search(vector, 20)
            for chunk_id, score in zip(ids.tolist(), scores.tolist()):
                doc_id = self.chunk_docs.get(chunk_id)
                if doc_id and score >= DUPLICATE_COSINE and doc_id not in found and doc_id in self.by_id:
                    row = self.by_id[doc_id]
                    found[doc_id] = Duplicate(doc_id, row["title"], row["organisation"],
                                              f"liknande innehåll ({score:.2f})")
        if self.accepted:   # the batch's earlier new documents: titles in C, vectors in one product
            for _, _, position in process.extract(lowered, self.accepted_lowered, scorer=fuzz.token_set_ratio,
                                                  processor=None, score_cutoff=DUPLICATE_TITLE, limit=None):
                earlier = self.accepted[position]
                found.setdefault(earlier.doc_id, Duplicate(earlier.doc_id, earlier.title, earlier.organisation,
                                                           "liknande rubrik"))
            if text.strip():
                scores = self.vectors[self.accepted_rows] @ vector
                for position in np.flatnonzero(scores >= DUPLICATE_COSINE).tolist():
                    earlier = self.accepted[position]
                    found.setdefault(earlier.doc_id, Duplicate(earlier.doc_id, earlier.title, earlier.organisation,
                                                               f"liknande innehåll ({float(scores[position]):.2f})"))
        return list(found.values())

    def accept(self, index: int, doc_id: str, title: str, organisation: str) -> None:
        self.accepted.append(Duplicate(doc_id, title, organisation, ""))
        self.accepted_lowered.append(title.lower())
        self.accepted_rows.append(index)

