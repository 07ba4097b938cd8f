"""Suggested themes for a draft: which curated themes its text is about.

Each theme is represented twice in the embedding space: by its description (label and synonyms
from themes.md, embedded once per model) and by the centroid of the documents already tagged
with it (from the embedding cache, recomputed when the knowledge base's generation changes).
A draft's title + summary + body is embedded as a passage and scored against both; the theme
score is the mean of the two similarities (only the description when no document carries the
theme yet). The editor sees the top ones pre-ticked and decides.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from ..knowledgebase import KnowledgeBase

SUGGESTED = 3
MAX_TEXT_CHARS = 2000   # the model reads ~512 tokens; the opening says what a text is about


@dataclass
class Suggestion:
    slug: str
    label: str
    score: float


def draft_text(title: str = "", summary: str = "", body: str = "") -> str:
    return "\n".join(p.strip() for p in (title, summary, body) if p and p.strip())[:MAX_TEXT_CHARS]


class ThemeSuggester:
    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self._lock = threading.Lock()
        self._descriptions: tuple[str, np.ndarray] | None = None      # (model id, matrix)
        self._tagged: tuple[int, dict] | None = None                  # (generation, sums/counts)

    def _description_matrix(self) -> np.ndarray:
        embedder = self.kb.embedder
        if self._descriptions is None or self._descriptions[0] != embedder.model_id:
            texts = [f"{t.label}: {', '.join(t.synonyms)}" for t in self.kb.themes.themes]
            self._descriptions = (embedder.model_id, embedder.encode_passages(texts))
        return self._descriptions[1]

    def tagged_vectors(self) -> dict:
        """Per theme slug: the sum of its documents' vectors and their ids (cached per generation)."""
        generation = self.kb.generation
        if self._tagged is None or self._tagged[0] != generation:
            sums: dict[str, np.ndarray] = {}
            members: dict[str, list[str]] = {}
            vectors: dict[str, np.ndarray] = {}
            rows = self.kb.store.get_documents([r["id"] for r in self.kb.store.document_titles()])
            for doc_id, row in rows.items():
                slugs = [s for s in row.get("themes") or [] if s in self.kb.themes.by_slug]
                if not slugs:
                    continue
                vector = self.kb.document_vector(doc_id)
                if vector is None:
                    continue
                vectors[doc_id] = vector
                for slug in slugs:
                    sums[slug] = sums.get(slug, 0) + vector
                    members.setdefault(slug, []).append(doc_id)
            self._tagged = (generation, {"sums": sums, "members": members, "vectors": vectors})
        return self._tagged[1]

    def suggest(self, text: str, k: int = SUGGESTED, exclude: str | None = None) -> list[Suggestion]:
        """The k themes the text is most about. `exclude` leaves a document out of the theme
        centroids (for measuring: a document must not vote for its own tags)."""
        text = (text or "").strip()[:MAX_TEXT_CHARS]
        themes = self.kb.themes.themes
        if not text or not themes:
            return []
        with self._lock:
            descriptions = self._description_matrix()
            tagged = self.tagged_vectors()
        query = self.kb.embedder.encode_passages([text])[0]
        scores = []
        for i, theme in enumerate(themes):
            description = float(descriptions[i] @ query)
            total = tagged["sums"].get(theme.slug)
            count = len(tagged["members"].get(theme.slug, []))
            if exclude is not None and exclude in tagged["members"].get(theme.slug, []):
                total = total - tagged["vectors"][exclude]
                count -= 1
            if total is not None and count > 0:
                centroid = total / max(float(np.linalg.norm(total)), 1e-9)
                score = (description + float(centroid @ query)) / 2
            else:
                score = description
            scores.append(Suggestion(theme.slug, theme.label, round(score, 4)))
        scores.sort(key=lambda s: -s.score)
        return scores[:k]
