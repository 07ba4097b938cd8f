"""Result lists and stats as tables to take away: CSV for Excel and JSON.

A list is every hit of a search (not one page), in the order of the results page, with the
search's filters applied, capped at EXPORT_CAP rows and saying so. The CSV is what Swedish Excel
opens directly: UTF-8 with a byte order mark, semicolons between the cells (Swedish Excel's
list separator; with commas every row lands in one column), Swedish column names, and a cell that
begins with = + - @ (or a tab or carriage return) prefixed with ' so that Excel shows it as text
instead of running it as a formula (CSV injection).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from .knowledgebase import KnowledgeBase
from .overview import Stats, event_label
from .reference import kommungrupp_of, kommungrupper
from .search import Searcher, SearchRequest
from .serialize import KIND_LABELS

EXPORT_CAP = 5000
BATCH = 500            # documents read per query
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# (key in the JSON, column name in the CSV)
RESULT_COLUMNS = (
    ("id", "Id"), ("title", "Rubrik"), ("organisation", "Kommun eller region"),
    ("organisation_type", "Organisationstyp"), ("county", "Län"), ("kommungrupp", "Kommungrupp"),
    ("year", "År"), ("kind", "Typ"), ("themes", "Teman"), ("summary", "Sammanfattning"),
    ("event", "Presenterad på"), ("source_url", "Källa"), ("url", "Adress i kunskapsbanken"),
)
STATS_COLUMNS = (("dimension", "Indelning"), ("value", "Värde"), ("label", "Benämning"), ("count", "Antal exempel"))
STATS_DIMENSIONS = (("per_year", "År"), ("per_theme", "Tema"), ("per_county", "Län"),
                    ("per_kommungrupp", "Kommungrupp"))


@dataclass
class ResultList:
    """Every hit of one search, up to the cap."""

    rows: list[dict]
    total: int
    cap: int

    @property
    def capped(self) -> bool:
        return self.total > len(self.rows)

    def note(self) -> str | None:
        if not self.capped:
            return None
        return (f"Listan är avkortad: de första {self.cap:,} av {self.total:,} träffar. "
                "Välj fler filter för att få med resten.").replace(",", "\u00a0")


def result_list(kb: KnowledgeBase, searcher: Searcher, request: SearchRequest, base_url: str,
                cap: int = EXPORT_CAP) -> ResultList:
    """The rows of an export of the search `request` (its page and limit ignored)."""
    ids = searcher.hit_ids(request)
    shown = ids[:cap]
    documents: dict[str, dict] = {}
    for start in range(0, len(shown), BATCH):
        documents.update(kb.store.get_documents(shown[start:start + BATCH]))
    rows = [result_row(kb, documents[d], base_url) for d in shown if d in documents]
    return ResultList(rows, len(ids), cap)


def result_row(kb: KnowledgeBase, document: dict, base_url: str) -> dict:
    event = (document.get("extra") or {}).get("event")
    return {
        "id": document["id"], "title": document["title"], "organisation": document["organisation"],
        "organisation_type": document.get("organisation_type"), "county": document.get("county"),
        "kommungrupp": kommungrupp_of(document["organisation"]), "year": document.get("year"),
        "kind": document["kind"], "themes": [kb.themes.label(s) for s in document.get("themes") or []],
        "summary": document.get("summary"), "event": event, "source_url": document.get("source_url"),
        "url": f"{base_url}/dokument/{document['id']}",
    }


def result_json(listing: ResultList, request: SearchRequest) -> dict:
    f = request.filters
    return {
        "query": request.q, "sort": request.sort,
        "filters": {name: getattr(f, name) for name in ("theme", "organisation", "organisation_type", "county",
                                                          "kind", "kommungrupp", "year_from", "year_to")},
        "total": listing.total, "count": len(listing.rows), "capped": listing.capped, "cap": listing.cap,
        "note": listing.note(), "results": listing.rows,
    }


def stats_rows(kb: KnowledgeBase, stats: Stats) -> list[dict]:
    groups = kommungrupper()
    labels = {
        "per_year": lambda v: str(v), "per_theme": kb.themes.label, "per_county": lambda v: v,
        "per_kommungrupp": lambda v: f"{v} {groups[v]['name']}" if v in groups else v,
    }
    return [{"dimension": name, "value": value, "label": labels[key](value), "count": count}
            for key, name in STATS_DIMENSIONS for value, count in getattr(stats, key)]


def neutralise(cell) -> str:
    """A cell as text that Excel will not run as a formula."""
    if cell is None:
        return ""
    text = str(cell)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _cell(key: str, value) -> str:
    if key == "themes":
        return neutralise(", ".join(value))
    if key == "event":
        return neutralise(f"{event_label(value)}: {value['title']}" if value else "")
    if key == "kind":
        return neutralise(KIND_LABELS.get(value, value))
    return neutralise(value)


def to_csv(columns, rows: list[dict], notes: list[str] = ()) -> bytes:
    """UTF-8 with BOM, ';'-separated, the Swedish column names first; notes as rows of their own
    after an empty row (what Excel shows below the table)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([name for _, name in columns])
    for row in rows:
        writer.writerow([_cell(key, row.get(key)) for key, _ in columns])
    if notes:
        writer.writerow([])
        for note in notes:
            writer.writerow([neutralise(note)])
    return "\ufeff".encode("utf-8") + out.getvalue().encode("utf-8")
