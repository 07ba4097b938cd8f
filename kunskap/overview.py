"""Overviews of the knowledge base at a glance: counts per year, theme, county and organisation,
theme overviews, member overviews and "similar municipalities" (SKR's kommungrupp and population).

Everything here is derived from the public documents' facet columns, read once per generation of
the knowledge base and kept in a generation-keyed cache (search/cache.py), so the theme and member
pages cost no SQL until the knowledge base changes. The numbers are the same as the facets of a
filtered search (`/sok?theme=…&county=…`), which is where every figure links.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .documents import slugify
from .errors import NotFoundError
from .knowledgebase import KnowledgeBase
from .reference import kommungrupp_of, kommungrupper, members, municipalities, organisation_slug, organisations
from .search.cache import GenerationCache
from .search.request import Filters

RECENT = 6                 # most recent examples on a theme page
RELATED = 6                # related themes on a theme page
# Population bands for "similar municipalities": the same kommungrupp and the same or a
# neighbouring band. Upper bounds (exclusive); the last band is open.
POPULATION_BANDS = (10_000, 20_000, 50_000, 100_000, 200_000)

NEWEST = 6                 # "Nytt i kunskapsbanken" on the start page
EVENT_KIND_LABELS = {"nätverksträff": "Nätverksträff", "webbfika": "Webbfika", "tematräff": "Tematräff"}

ROWS, STATS, THEME, MEMBER, SIMILAR, SLUGS, EVENTS, NEWEST_KIND = (
    "rows", "stats", "theme", "member", "similar", "slugs", "events", "newest")


def event_slug(event: dict) -> str:
    """The anchor of a meeting on /traffar: its date and title."""
    return f"{event['date']}-{slugify(event['title'])}"


def event_label(event: dict) -> str:
    """"webbfika 2021-03-11": how a result names the meeting a presentation was given at."""
    return f"{event['kind']} {event['date']}"


def newest_key(row: dict) -> tuple:
    """Newest first: the last change in the knowledge base, then the document's own year and
    publication date (a feed reader shows a changed entry again, as it should)."""
    return (row.get("updated_at") or "", row.get("year") or 0, row.get("published") or "", row["id"])


def population_band(population: int | None) -> int | None:
    if population is None:
        return None
    for index, bound in enumerate(POPULATION_BANDS):
        if population < bound:
            return index
    return len(POPULATION_BANDS)


def band_label(band: int) -> str:
    def fmt(n: int) -> str:
        return f"{n:,}".replace(",", "\u00a0")
    if band == 0:
        return f"under {fmt(POPULATION_BANDS[0])} invånare"
    if band == len(POPULATION_BANDS):
        return f"minst {fmt(POPULATION_BANDS[-1])} invånare"
    return f"{fmt(POPULATION_BANDS[band - 1])}–{fmt(POPULATION_BANDS[band] - 1)} invånare"


@dataclass(frozen=True)
class StatsFilter:
    """The filters of the stats: several values of one field mean "any of" (as in a search)."""

    theme: tuple[str, ...] = ()
    county: tuple[str, ...] = ()
    kommungrupp: tuple[str, ...] = ()
    organisation: tuple[str, ...] = ()

    def passes(self, row: dict) -> bool:
        if self.theme and not set(self.theme) & set(row["themes"]):
            return False
        if self.county and row.get("county") not in self.county:
            return False
        if self.kommungrupp and kommungrupp_of(row["organisation"]) not in self.kommungrupp:
            return False
        if self.organisation and row["organisation"] not in self.organisation:
            return False
        return True


@dataclass
class Stats:
    total: int
    organisations: int
    per_year: list[tuple[int, int]]          # every year from the first to the last, zeros included
    per_theme: list[tuple[str, int]]         # by count, then slug
    per_county: list[tuple[str, int]]        # by count, then name
    per_organisation: list[tuple[str, int]]  # by count, then name
    per_kommungrupp: list[tuple[str, int]]   # by code
    document_ids: list[str] = field(default_factory=list)   # newest first


def _sorted(counter: Counter) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))


def compute_stats(rows: list[dict]) -> Stats:
    years, themes, counties, orgs, groups = Counter(), Counter(), Counter(), Counter(), Counter()
    for row in rows:
        if row.get("year"):
            years[int(row["year"])] += 1
        themes.update(set(row["themes"]))
        if row.get("county"):
            counties[row["county"]] += 1
        orgs[row["organisation"]] += 1
        group = kommungrupp_of(row["organisation"])
        if group:
            groups[group] += 1
    per_year = [(y, years.get(y, 0)) for y in range(min(years), max(years) + 1)] if years else []
    newest = sorted(rows, key=lambda r: (-(r.get("year") or 0), r["id"]))
    return Stats(len(rows), len(orgs), per_year, _sorted(themes), _sorted(counties), _sorted(orgs),
                 sorted(groups.items()), [r["id"] for r in newest])


class Overview:
    """Stats, theme overviews and member overviews of one knowledge base."""

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self._cache = GenerationCache(lambda: kb.generation, {STATS: 256})

    def _rows(self) -> list[dict]:
        self.kb.reload_if_changed()   # another process's ingest reaches the overviews too
        return self._cache.lookup(ROWS, None, lambda: self.kb.store.document_facet_rows(Filters(), public_only=True))

    def stats(self, flt: StatsFilter = StatsFilter()) -> Stats:
        rows = self._rows()
        return self._cache.lookup(STATS, flt, lambda: compute_stats([r for r in rows if flt.passes(r)]))

    # -- themes ----------------------------------------------------------------------------
    def theme(self, slug: str) -> dict:
        """What a theme page shows. NotFoundError for a slug not in the vocabulary."""
        theme = self.kb.themes.by_slug.get(slug[:200])
        if theme is None:
            raise NotFoundError(f"Det finns inget tema som heter ”{slug[:80]}”.")
        self._rows()
        return self._cache.lookup(THEME, slug, lambda: self._theme(theme))

    def _theme(self, theme) -> dict:
        stats = self.stats(StatsFilter(theme=(theme.slug,)))
        rows = {r["id"]: r for r in self._rows()}
        recent_ids = stats.document_ids[: RECENT * 3]
        documents = self.kb.store.get_documents(recent_ids)
        recent = sorted(documents.values(), key=lambda d: (d.get("year") or 0, d.get("published") or "", d["id"]),
                        reverse=True)[:RECENT]
        presentation_ids = [d for d in stats.document_ids if rows[d]["kind"] == "presentation"]
        presentations = self.kb.store.get_documents(presentation_ids)
        briefs = [_brief(presentations[d]) for d in presentation_ids if d in presentations]
        # Presentations from network meetings (newest meeting first), then the other presentations.
        at_meetings = sorted((b for b in briefs if b["event"]), key=lambda b: (b["organisation"], b["title"]))
        at_meetings.sort(key=lambda b: b["event"]["date"], reverse=True)   # stable: by organisation within a date
        related = [(s, n) for s, n in stats.per_theme if s != theme.slug and s in self.kb.themes.by_slug][:RELATED]
        return {
            "slug": theme.slug, "label": theme.label, "description": theme.description, "stats": stats,
            "recent": [_brief(d) for d in recent],
            "presentations": at_meetings,
            "other_presentations": [b for b in briefs if not b["event"]],
            "related": related,
        }

    # -- network meetings and what is new --------------------------------------------------
    def events(self) -> list[dict]:
        """The network meetings named by public documents (`event` in a sidecar), newest first,
        each with its presentations (by organisation, then title)."""
        self._rows()
        return self._cache.lookup(EVENTS, None, self._events)

    def _events(self) -> list[dict]:
        ids = [r["id"] for r in self._rows()]
        meetings: dict[tuple, dict] = {}
        for start in range(0, len(ids), 500):
            for document in self.kb.store.get_documents(ids[start:start + 500]).values():
                event = (document.get("extra") or {}).get("event")
                if not event:
                    continue
                key = (event["date"], event["kind"], event["title"])
                meeting = meetings.setdefault(key, {**event, "slug": event_slug(event),
                                                    "kind_label": EVENT_KIND_LABELS.get(event["kind"], event["kind"]),
                                                    "documents": []})
                meeting["documents"].append(_brief(document))
        for meeting in meetings.values():
            meeting["documents"].sort(key=lambda b: (b["organisation"], b["title"]))
            meeting["themes"] = sorted({s for b in meeting["documents"] for s in b["themes"]
                                        if s in self.kb.themes.by_slug})
        return [meetings[k] for k in sorted(meetings, key=lambda k: (k[0], k[2]), reverse=True)]

    def newest(self, limit: int = NEWEST) -> list[dict]:
        """The public documents added or changed last ("Nytt i kunskapsbanken")."""
        rows = self._rows()
        def compute():
            ids = [r["id"] for r in sorted(rows, key=newest_key, reverse=True)[:limit]]
            documents = self.kb.store.get_documents(ids)
            return [_brief(documents[d]) for d in ids if d in documents]
        return self._cache.lookup(NEWEST_KIND, limit, compute)

    # -- members ---------------------------------------------------------------------------
    def organisation_for_slug(self, slug: str) -> str:
        """The organisation name of a member page's slug: any organisation in the reference data or
        with public documents. NotFoundError otherwise."""
        names = self._cache.lookup(SLUGS, None, lambda: {
            organisation_slug(n): n for n in [*organisations(), *(r["organisation"] for r in self._rows())]})
        name = names.get(slug[:200])
        if name is None:
            raise NotFoundError(f"Det finns ingen kommun eller region med adressen ”{slug[:80]}”.")
        return name

    def member(self, name: str) -> dict:
        self._rows()
        return self._cache.lookup(MEMBER, name, lambda: self._member(name))

    def _member(self, name: str) -> dict:
        stats = self.stats(StatsFilter(organisation=(name,)))
        documents = self.kb.store.get_documents(stats.document_ids)
        briefs = [_brief(documents[d]) for d in stats.document_ids if d in documents]
        by_theme = []
        for slug, _ in stats.per_theme:
            by_theme.append((slug, [b for b in briefs if slug in b["themes"]]))
        unthemed = [b for b in briefs if not b["themes"]]
        known = organisations().get(name, {})
        municipality = municipalities().get(name)
        group = kommungrupper().get(municipality["kommungrupp"]) if municipality else None
        return {
            "name": name, "slug": organisation_slug(name), "type": known.get("type"),
            "county": known.get("county") or next((b["county"] for b in briefs if b.get("county")), None),
            "member": name in members(), "municipality": municipality, "kommungrupp": group,
            "stats": stats, "by_theme": by_theme, "unthemed": unthemed, "documents": briefs,
            "similar": self.similar_municipalities(name) if municipality else None,
        }

    def similar_municipalities(self, name: str) -> dict:
        """Municipalities in the same kommungrupp and the same or a neighbouring population band,
        closest in population first, each with its examples' themes and the themes it has worked
        on that `name` has not. NotFoundError for a name that is not a municipality."""
        if name not in municipalities():
            raise NotFoundError(f"”{name[:80]}” är inte en kommun i referensdata (kommungruppsindelningen).")
        self._rows()
        return self._cache.lookup(SIMILAR, name, lambda: self._similar(name))

    def _similar(self, name: str) -> dict:
        table = municipalities()
        own = table[name]
        band = population_band(own["population"])
        own_themes = set(dict(self.stats(StatsFilter(organisation=(name,))).per_theme))
        similar = []
        for other, row in table.items():
            if other == name or row["kommungrupp"] != own["kommungrupp"]:
                continue
            other_band = population_band(row["population"])
            if band is not None and (other_band is None or abs(other_band - band) > 1):
                continue
            stats = self.stats(StatsFilter(organisation=(other,)))
            themes = [s for s, _ in stats.per_theme if s in self.kb.themes.by_slug]
            similar.append({
                "organisation": other, "slug": organisation_slug(other), "county": row["county"],
                "population": row["population"], "population_year": row["population_year"],
                "kommungrupp": row["kommungrupp"], "documents": stats.total, "themes": themes,
                "themes_not_here": [s for s in themes if s not in own_themes], "member": other in members(),
            })
        closeness = own["population"] or 0
        similar.sort(key=lambda s: (-(s["documents"] > 0), abs((s["population"] or 0) - closeness), s["organisation"]))
        return {
            "organisation": name, "kommungrupp": own["kommungrupp"], "kommungrupp_name": own["kommungrupp_name"],
            "population": own["population"], "population_year": own["population_year"],
            "population_band": band_label(band) if band is not None else None,
            "bands": [band_label(b) for b in sorted({b for b in (band - 1, band, band + 1)
                                                      if 0 <= b <= len(POPULATION_BANDS)})] if band is not None else [],
            "municipalities": similar,
        }

    def from_similar_municipalities(self, organisation: str, themes: list[str], exclude: str,
                                    limit: int = 5) -> list[dict]:
        """Examples sharing a theme with a document, from the municipalities similar to its
        organisation (a document page's "Från kommuner som liknar …"), newest first."""
        if organisation not in municipalities() or not themes:
            return []
        wanted = set(themes)
        rows = {r["id"]: r for r in self._rows()}
        names = {m["organisation"] for m in self.similar_municipalities(organisation)["municipalities"]
                 if m["documents"]}
        picked = [d for name in sorted(names) for d in self.stats(StatsFilter(organisation=(name,))).document_ids
                  if d != exclude and wanted & set(rows[d]["themes"])]
        picked.sort(key=lambda d: (-(rows[d].get("year") or 0), d))
        documents = self.kb.store.get_documents(picked[:limit])
        return [_brief(documents[d]) for d in picked[:limit] if d in documents]


def _brief(document: dict) -> dict:
    """What a list of examples shows of a document."""
    brief = {key: document.get(key) for key in ("id", "title", "organisation", "county", "year", "kind", "themes",
                                                "published", "summary", "updated_at")}
    brief["event"] = (document.get("extra") or {}).get("event")
    return brief
