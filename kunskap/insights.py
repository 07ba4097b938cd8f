"""Search insights for the staff: what people search for, what they do not find, what they click.

Recorded per search (API, pages, embed; never the staff's pages, `kunskap search`, eval or
bench): the day, the normalised query, the filters, the size of the hit set, how many results
the first page showed, where it came from, and the theme most of its hits have; per click on a
result, its position. Never an IP address, cookie, user agent or time of day: nothing that ties
a search to a person or to their other searches. A search gets a random id, used only to tie a
click to it.

A query string is shown (page, CSV, API) only when it was searched at least K_MIN_SEARCHES
times on at least K_MIN_DAYS different days in the period: a one-off query can contain a name.
Below that only counts appear. (The threshold of 5 is also CAPE's for its popular-terms API.)

Recording never slows or breaks a search: the request thread only appends to an in-process
queue, which a background thread writes in one transaction every few seconds (with SQLite, a
write per search would wait on curation's writes). A failed write is logged and dropped.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import re
import secrets
import threading
from collections import deque
from dataclasses import dataclass
from typing import Callable

from .analysis import normalise

log = logging.getLogger("kunskap")

FEW_HITS = 2              # "few hits": 1..FEW_HITS (no hits counted apart)
K_MIN_SEARCHES = 5        # a query string is shown from this many searches …
K_MIN_DAYS = 2            # … on at least this many different days
PERIODS = (30, 90, 365)   # days the staff can look back
DEFAULT_PERIOD = 90
MAX_QUERY_CHARS = 200     # stored; longer queries are cut (they are never repeated anyway)
MAX_POSITION = 10         # click-through per position for the first page's default size
LIST_LIMIT = 50           # rows per list on the page and in the API
CSV_LIMIT = 5000
SOURCES = ("page", "api", "embed")
SOURCE_LABELS = {"page": "Webbsidan", "api": "API", "embed": "Inbäddad sökruta"}
FLUSH_SECONDS = 2.0
MAX_PENDING = 20_000      # searches and clicks waiting; beyond it new ones are dropped (and logged)

_SEARCH_ID = re.compile(r"[0-9a-f]{16}")
_CLICK = re.compile(r"([0-9a-f]{16})\.([1-9][0-9]{0,2})")
_SPACE = re.compile(r"\s+")


# -- what is recorded ------------------------------------------------------------------------
def normalise_query(q: str) -> str:
    """The query as recorded: the analyser's normalisation (NFC, lower case), whitespace
    collapsed, at most MAX_QUERY_CHARS characters; so "Laddstolpar " and "laddstolpar" count as one."""
    return _SPACE.sub(" ", normalise(q)).strip()[:MAX_QUERY_CHARS].strip()


def canonical_filters(filters) -> str:
    """A search's filters as canonical JSON (keys and values sorted, only those set)."""
    if not filters.active():
        return "{}"
    values = {}
    for name in ("theme", "organisation", "organisation_type", "county", "kind", "kommungrupp"):
        chosen = getattr(filters, name)
        if chosen:
            values[name] = sorted(set(chosen))
    for name in ("year_from", "year_to"):
        if getattr(filters, name) is not None:
            values[name] = getattr(filters, name)
    return json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def today() -> dt.date:
    """Today in Sweden (the day a search is counted on), or in UTC without time zone data."""
    try:
        from zoneinfo import ZoneInfo

        return dt.datetime.now(ZoneInfo("Europe/Stockholm")).date()
    except Exception:   # no tz database on this system
        return dt.datetime.now(dt.UTC).date()


def click_param(search_id: str, position: int) -> str:
    """The `fran` parameter of a result link: which search, which position (1 = first)."""
    return f"{search_id}.{position}"


def parse_click(value: str | None) -> tuple[str, int] | None:
    """(search id, position) from a `fran` parameter, or None for anything else (a tampered or
    old link is ignored, never an error)."""
    match = _CLICK.fullmatch(value or "")
    return (match.group(1), int(match.group(2))) if match else None


def leading_theme(result) -> str | None:
    """The theme most of a result's hits have (facet counts over the hit set), if any."""
    themes = result.facets.get("theme") or []
    return themes[0][0] if result.total and themes else None


class SearchRecorder:
    """Collects searches and clicks in memory and writes them from a background thread.

    `search` and `click` are called on the request path: they only append to a queue (a few
    microseconds). `flush` writes what is queued, searches before clicks, in the store's own
    transactions; the thread calls it every `interval` seconds, `close` once more at the end."""

    def __init__(self, store_of: Callable[[], object], interval: float = FLUSH_SECONDS,
                 max_pending: int = MAX_PENDING, start: bool = True):
        self._store_of = store_of       # called in the writing thread: its own SQLite connection
        self._searches: deque[dict] = deque()
        self._clicks: deque[dict] = deque()
        self._max_pending = max_pending
        self._dropped = 0
        self._lock = threading.Lock()   # one flush at a time (the thread, close, tests)
        self._wake = threading.Event()
        self._closed = False
        self._interval = interval
        self._thread = None
        if start:
            self._thread = threading.Thread(target=self._run, name="kunskap-insights", daemon=True)
            self._thread.start()

    def search(self, request, result, source: str) -> str | None:
        """Queue a search (a query with search words; browsing by filters alone is no search);
        its id, for the result links, or None when it is not recorded."""
        query = normalise_query(request.q)
        if not query or request.page != 1:
            # Later pages are the same search, read on; only the first page's links carry its id.
            return None
        if len(self._searches) >= self._max_pending:
            self._dropped += 1
            return None
        search_id = secrets.token_hex(8)
        self._searches.append({
            "id": search_id, "day": today().isoformat(), "query": query,
            "filters": canonical_filters(request.filters), "hits": result.total, "shown": len(result.hits),
            "source": source if source in SOURCES else "api", "theme": leading_theme(result)})
        return search_id

    def click(self, search_id: str, position: int, doc_id: str) -> None:
        """Queue a click on the result at `position` of a search (ignored at writing if that
        search is not in the log or never showed that position)."""
        if not _SEARCH_ID.fullmatch(search_id) or len(self._clicks) >= self._max_pending:
            self._dropped += 1
            return
        self._clicks.append({"search_id": search_id, "position": int(position), "doc_id": doc_id[:200],
                             "day": today().isoformat()})

    def flush(self) -> int:
        """Write what is queued; returns how many searches and clicks were written. A failure is
        logged and the batch dropped: insights must never hold up searching."""
        with self._lock:
            searches = _drain(self._searches)
            clicks = _drain(self._clicks)
            dropped, self._dropped = self._dropped, 0
            if dropped:
                log.warning("kunskap: sökinsikter: %d sökningar eller klick togs inte med (kön var full)", dropped)
            if not searches and not clicks:
                return 0
            try:
                store = self._store_of()
                if searches:
                    store.record_searches(searches)
                if clicks:
                    store.record_clicks(clicks)
            except Exception as exc:   # a read-only or unreachable database: searching goes on
                log.warning("kunskap: sökinsikter kunde inte sparas (%d sökningar, %d klick): %s",
                            len(searches), len(clicks), exc)
                return 0
            return len(searches) + len(clicks)

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval)
            self._wake.clear()
            self.flush()

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()


def _drain(queue: deque) -> list[dict]:
    items = []
    while True:
        try:
            items.append(queue.popleft())
        except IndexError:
            return items


# -- retention ---------------------------------------------------------------------------------
def retention_cutoff(months: int, on: dt.date | None = None) -> dt.date:
    """The first day kept: `months` calendar months before `on` (the day clamped to the month's end)."""
    on = on or today()
    month_index = on.year * 12 + on.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    for day in (on.day, 30, 29, 28):
        try:
            return dt.date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def prune(store, months: int, on: dt.date | None = None) -> tuple[int, int]:
    """Delete searches and clicks older than the retention period: (searches, clicks) removed."""
    return store.prune_search_log(retention_cutoff(months, on))


# -- the report ----------------------------------------------------------------------------------
@dataclass
class Report:
    days: int
    since: dt.date
    until: dt.date
    totals: dict
    popular: list[dict]
    zero_hits: list[dict]
    few_hits: list[dict]
    rare: dict            # counts over the queries below the threshold (never their text)
    themes: list[dict]
    weeks: list[dict]
    positions: list[dict]


def period_days(value) -> int:
    """A period from a request (30, 90 or 365 days); anything else is the default."""
    try:
        days = int(value)
    except (TypeError, ValueError):
        return DEFAULT_PERIOD
    return days if days in PERIODS else DEFAULT_PERIOD


def build_report(store, days: int = DEFAULT_PERIOD, on: dt.date | None = None, limit: int = LIST_LIMIT,
                 theme_label: Callable[[str], str] = str) -> Report:
    """The insights over the last `days` days (today included), from the store's aggregates."""
    until = on or today()
    since = until - dt.timedelta(days=days - 1)
    k = {"min_searches": K_MIN_SEARCHES, "min_days": K_MIN_DAYS, "few_hits": FEW_HITS}

    def queries(order: str) -> list[dict]:
        return [_with_share(row) for row in store.search_queries(since, order, limit=limit, **k)]

    themes = [{**row, "label": theme_label(row["theme"])} for row in store.search_themes(since, limit=100)]
    positions = [{**row, "share": _share(row["clicked"], row["shown"])}
                 for row in store.search_click_positions(since, MAX_POSITION)]
    return Report(days=days, since=since, until=until, totals=store.search_log_totals(since, FEW_HITS),
                  popular=queries("searches"), zero_hits=queries("zero"), few_hits=queries("few"),
                  rare=store.rare_search_queries(since, **k), themes=themes,
                  weeks=_every_week(store.search_weeks(since, FEW_HITS), since, until), positions=positions)


def _share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _with_share(row: dict) -> dict:
    return {**row, "click_share": _share(row["clicked"], row["searches"])}


def _every_week(rows: list[dict], since: dt.date, until: dt.date) -> list[dict]:
    """One row per week of the period (weeks without searches too), oldest first."""
    found = {row["week"]: row for row in rows}
    monday = since - dt.timedelta(days=since.weekday())
    weeks = []
    while monday <= until:
        key = monday.isoformat()
        row = found.get(key, {"searches": 0, "zero": 0, "few": 0})
        weeks.append({"week": key, "number": monday.isocalendar().week, "searches": int(row["searches"]),
                      "zero": int(row["zero"]), "few": int(row["few"])})
        monday += dt.timedelta(days=7)
    return weeks


def report_to_dict(report: Report) -> dict:
    """The report as the API gives it (and the page shows it)."""
    return {
        "period": {"days": report.days, "from": report.since.isoformat(), "to": report.until.isoformat()},
        "threshold": {"min_searches": K_MIN_SEARCHES, "min_days": K_MIN_DAYS, "few_hits": FEW_HITS},
        "totals": {**{k: int(v) for k, v in report.totals.items() if k != "sources"},
                   "sources": {s: int(report.totals["sources"].get(s, 0)) for s in SOURCES}},
        "popular": [_query_dict(r) for r in report.popular],
        "zero_hits": [_query_dict(r) for r in report.zero_hits],
        "few_hits": [_query_dict(r) for r in report.few_hits],
        "rare": {k: int(v) for k, v in report.rare.items()},
        "themes": [{"slug": r["theme"], "label": r["label"], "filtered": int(r["filtered"]),
                    "filtered_zero_hits": int(r["filtered_zero"]), "in_hits": int(r["in_hits"])}
                   for r in report.themes],
        "weeks": [{"week": w["week"], "number": w["number"], "searches": w["searches"], "zero_hits": w["zero"],
                   "few_hits": w["few"]} for w in report.weeks],
        "positions": [{"position": p["position"], "shown": int(p["shown"]), "clicked": int(p["clicked"]),
                       "share": p["share"]} for p in report.positions],
    }


def _query_dict(row: dict) -> dict:
    return {"query": row["query"], "searches": int(row["searches"]), "days": int(row["days"]),
            "zero_hits": int(row["zero"]), "few_hits": int(row["few"]), "mean_hits": float(row["mean_hits"] or 0),
            "clicked": int(row["clicked"]), "click_share": row["click_share"]}


# -- CSV -------------------------------------------------------------------------------------------
CSV_COLUMNS = ("Fråga", "Sökningar", "Dagar", "Utan träffar", f"1–{FEW_HITS} träffar", "Träffar i snitt",
               "Sökningar med klick")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """A cell that a spreadsheet will not run: text starting like a formula gets a leading '."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def report_csv(store, days: int = DEFAULT_PERIOD, on: dt.date | None = None) -> str:
    """Every query shown by the threshold, with its counts (most searched first), then one row
    with the counts of all the rarer queries together. UTF-8 with a BOM (Excel reads å, ä, ö),
    ';' between cells as Swedish Excel expects."""
    until = on or today()
    since = until - dt.timedelta(days=days - 1)
    rows = store.search_queries(since, "searches", K_MIN_SEARCHES, K_MIN_DAYS, FEW_HITS, CSV_LIMIT)
    rare = store.rare_search_queries(since, K_MIN_SEARCHES, K_MIN_DAYS, FEW_HITS)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([csv_cell(row["query"]), row["searches"], row["days"], row["zero"], row["few"],
                         str(row["mean_hits"]).replace(".", ","), row["clicked"]])
    if rare["searches"]:
        writer.writerow([f"(ovanliga frågor: {rare['queries']} st, visas inte)", rare["searches"], "", rare["zero"],
                         rare["few"], "", ""])
    return "\ufeff" + out.getvalue()
