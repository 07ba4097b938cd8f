"""From a ranking to what a user sees: hits hydrated from one read snapshot, snippets with
stem- and compound-aware highlights, facet counts, hints."""

from __future__ import annotations

import bisect
import html
from collections import Counter
from dataclasses import dataclass

from ..analysis import SwedishAnalyzer
from ..reference import kommungrupp_of
from .request import Filters

HIT_FIELDS = ("id", "title", "organisation", "organisation_type", "county", "year", "themes", "kind", "summary",
              "published", "source_url", "language", "tags")
FACETS = ("theme", "organisation", "organisation_type", "county", "kind", "year", "kommungrupp")
SNIPPET_WORDS = 45


@dataclass
class Hit:
    doc_id: str
    score: float
    document: dict
    snippet: str            # HTML-safe, highlights in <mark>
    chunk_id: int | None
    page: int | None
    heading: str | None


@dataclass
class SearchResult:
    query: str
    searched_for: str | None     # the corrected query, when typos were corrected
    hits: list[Hit]
    total: int
    page: int
    limit: int
    facets: dict[str, list[tuple[str, int]]]
    hint: str | None = None
    # Set while semantic search is still being built (a first start): the search used words only.
    semantic_notice: str | None = None
    # Candidates ranked after the `total` hits ("fler möjliga träffar"): pages go on through them.
    possible: int = 0


def hit_fields(document: dict) -> dict:
    """The document fields a result shows. Results are cached, and whole rows (body, curation
    notes, hashes) made a cached result 70 kB."""
    fields = {key: document.get(key) for key in HIT_FIELDS}
    fields["event"] = (document.get("extra") or {}).get("event")   # "Presenterad på webbfika …"
    return fields


def summary_hit(document: dict, score: float = 0.0, chunk_id: int | None = None) -> Hit:
    """A hit showing the document's summary (browsing, similar documents)."""
    return Hit(document["id"], score, hit_fields(document), html.escape(document.get("summary") or ""),
               chunk_id, None, None)


def hydrate(store, analyzer: SwedishAnalyzer, page: list[tuple[str, float]], best: dict[str, int | None],
            terms: set[str]) -> list[Hit]:
    """The hits of one result page, read in one snapshot (live edits never show half a document).
    A chunk replaced by a concurrent edit gives way to the document's current best chunk; a
    document deleted meanwhile is left out."""
    shown = {doc_id: best.get(doc_id) for doc_id, _ in page}
    with store.snapshot():
        documents = store.get_documents(list(shown))
        chunks = store.get_chunks([c for c in shown.values() if c is not None])
        for doc_id, chunk_id in shown.items():
            if doc_id in documents and chunk_id not in chunks:
                current = store.chunks_of(doc_id)
                if current:
                    pick = max(current, key=lambda c: len(analyzer.term_spans(c.text, terms)))
                    chunks[pick.id] = pick
                    shown[doc_id] = pick.id
    hits = []
    for doc_id, score in page:
        if doc_id not in documents:
            continue
        chunk = chunks.get(shown[doc_id])
        text = chunk.text if chunk else (documents[doc_id].get("summary") or "")
        hits.append(Hit(
            doc_id=doc_id, score=round(float(score), 4), document=hit_fields(documents[doc_id]),
            snippet=snippet(analyzer, text, terms), chunk_id=chunk.id if chunk else None,
            page=chunk.page if chunk else None, heading=chunk.heading if chunk else None,
        ))
    return hits


def snippet(analyzer: SwedishAnalyzer, text: str, terms: set[str], words: int = SNIPPET_WORDS) -> str:
    """The window of `words` words holding the most highlighted words, HTML-escaped, with the
    words whose stem or compound parts are in `terms` in <mark>."""
    spans = analyzer.term_spans(text, terms)
    tokens = analyzer.analysed_text(text).word_spans()
    if not tokens:
        return ""
    starts = [s for s, _ in tokens]
    hit_index = sorted({bisect.bisect_right(starts, a) - 1 for a, _ in spans})
    begin = 0
    if hit_index:
        best_count = -1
        for i in hit_index:
            lo = max(0, i - 8)
            count = bisect.bisect_left(hit_index, lo + words) - bisect.bisect_left(hit_index, lo)
            if count > best_count:
                best_count, begin = count, lo
    end = min(len(tokens), begin + words)
    char_start, char_end = starts[begin], tokens[end - 1][1]
    out = ["… " if begin > 0 else ""]
    cursor = char_start
    for a, b in spans:
        if b <= char_start or a >= char_end:
            continue
        a, b = max(a, char_start), min(b, char_end)
        out.append(html.escape(text[cursor:a]))
        out.append(f"<mark>{html.escape(text[a:b])}</mark>")
        cursor = b
    out.append(html.escape(text[cursor:char_end]))
    if end < len(tokens):
        out.append(" …")
    return " ".join("".join(out).split())


def facet_counts(rows: list[dict], within: set[str] | None = None) -> dict[str, list[tuple[str, int]]]:
    """Documents per facet value over `rows` (facet rows, themes decoded), or over those of them
    in `within` (a query's hit set). Years newest first, the rest by count, then value."""
    counters = {name: Counter() for name in FACETS}
    for row in rows:
        if within is not None and row["id"] not in within:
            continue
        for column in ("organisation", "organisation_type", "county", "kind", "year"):
            if row.get(column) not in (None, ""):
                counters[column][str(row[column])] += 1
        for slug in row["themes"]:
            counters["theme"][slug] += 1
        group = kommungrupp_of(row["organisation"])
        if group:
            counters["kommungrupp"][group] += 1
    out = {}
    for name, counter in counters.items():
        if name == "year":
            out[name] = sorted(counter.items(), key=lambda kv: kv[0], reverse=True)
        elif name == "kommungrupp":   # A1..C9 is an order of its own (city to countryside)
            out[name] = sorted(counter.items())
        else:
            out[name] = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    return out


def newest_first(rows: list[dict]) -> list[str]:
    """Document ids of facet rows, newest year first (browsing)."""
    return [r["id"] for r in sorted(rows, key=lambda r: (-(r["year"] or 0), r["id"]))]


def empty_query_hint(q: str) -> str:
    if not q:
        return "Skriv ett eller flera sökord, till exempel ”rättvis omställning” eller ”laddstolpar”."
    return "Sökningen innehöll inga sökbara ord. Prova med andra ord."


def no_hits_hint(filters: Filters) -> str:
    if filters.active():
        return "Inga träffar med de valda filtren. Ta bort ett filter eller prova andra ord."
    return "Inga träffar. Prova andra eller färre ord."
