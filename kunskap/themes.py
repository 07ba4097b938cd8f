"""The curated theme vocabulary (tema): slugs, labels and Swedish synonyms.

The data is a Markdown table that staff can edit (`kunskap/data/themes.md`, or the file named by
KUNSKAP_THEMES_FILE). Free tags in documents are mapped to slugs at ingest; synonyms expand
queries on the lexical side at a lower weight than the words typed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .analysis import normalise


@dataclass
class Theme:
    slug: str
    label: str
    synonyms: list[str] = field(default_factory=list)
    description: str = ""    # one sentence in Swedish, shown on the theme's page


class ThemeVocabulary:
    def __init__(self, themes: list[Theme]):
        self.themes = themes
        self.by_slug = {t.slug: t for t in themes}
        self._tag_to_slug: dict[str, str] = {}
        for theme in themes:
            for name in (theme.slug, theme.label, *theme.synonyms):
                self._tag_to_slug.setdefault(normalise(name).strip(), theme.slug)

    @classmethod
    def load(cls, path: Path | None = None) -> "ThemeVocabulary":
        text = Path(path).read_text("utf-8") if path else resources.files("kunskap.data").joinpath("themes.md").read_text("utf-8")
        return cls(parse_theme_table(text))

    def slugs_for_tags(self, tags: list[str]) -> list[str]:
        """Map free tags to theme slugs (a tag equal to a slug, label or synonym); keep order."""
        slugs: list[str] = []
        for tag in tags:
            slug = self._tag_to_slug.get(normalise(tag).strip())
            if slug and slug not in slugs:
                slugs.append(slug)
        return slugs

    def label(self, slug: str) -> str:
        theme = self.by_slug.get(slug)
        return theme.label if theme else slug

    def expansion_phrases(self) -> list[tuple[str, list[str]]]:
        """(slug, all names: label + synonyms) for query expansion."""
        return [(t.slug, [t.label, *t.synonyms]) for t in self.themes]


def parse_theme_table(text: str) -> list[Theme]:
    themes = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) < 2 or cells[0] in ("slug", "") or set(cells[0]) <= set("-: "):
            continue
        synonyms = [s.strip() for s in cells[2].split(",") if s.strip()] if len(cells) > 2 else []
        description = cells[3] if len(cells) > 3 else ""
        themes.append(Theme(slug=cells[0], label=cells[1], synonyms=synonyms, description=description))
    return themes
