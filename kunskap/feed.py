"""An Atom feed (RFC 4287) of a search or a theme, newest first, written by feedgen.

feedgen (maintained, used widely, on lxml) writes the XML, escapes it and formats the dates; a
feed reader is strict about all three, so none of it is written by hand here.
"""

from __future__ import annotations

import datetime as dt

from feedgen.feed import FeedGenerator

from .knowledgebase import KnowledgeBase
from .overview import newest_key
from .search import Searcher, SearchRequest

FEED_ENTRIES = 30
AUTHOR = "Klimatkommunernas kunskapsbank"


def _time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def newest_hits(kb: KnowledgeBase, searcher: Searcher, request: SearchRequest,
                limit: int = FEED_ENTRIES) -> list[dict]:
    """The documents of a search's hits (or of the filters alone) changed last, newest first."""
    ids = set(searcher.hit_ids(request))
    rows = [r for r in searcher.facet_rows(request.filters) if r["id"] in ids]
    picked = [r["id"] for r in sorted(rows, key=newest_key, reverse=True)[:limit]]
    documents = kb.store.get_documents(picked)
    return [documents[d] for d in picked if d in documents]


def atom_feed(kb: KnowledgeBase, documents: list[dict], *, title: str, subtitle: str, feed_url: str,
              page_url: str, base_url: str) -> bytes:
    """The feed of `documents` (newest first). Its id is its own address; an entry's id is the
    document's address, which stays the same when the document is edited."""
    fg = FeedGenerator()
    fg.id(feed_url)
    fg.title(title)
    fg.subtitle(subtitle)
    fg.language("sv")
    fg.author({"name": AUTHOR})
    fg.link(href=feed_url, rel="self", type="application/atom+xml")
    fg.link(href=page_url, rel="alternate", type="text/html")
    fg.generator("kunskap (feedgen)")
    times = []
    for document in documents:
        url = f"{base_url}/dokument/{document['id']}"
        updated = _time(document.get("updated_at")) or dt.datetime.now(dt.timezone.utc)
        times.append(updated)
        entry = fg.add_entry(order="append")
        entry.id(url)
        entry.title(document["title"])
        entry.link(href=url, rel="alternate", type="text/html")
        entry.updated(updated)
        if document.get("published"):
            entry.published(dt.datetime.fromisoformat(document["published"]).replace(tzinfo=dt.timezone.utc))
        entry.author({"name": document["organisation"]})
        summary = document.get("summary") or ""
        event = (document.get("extra") or {}).get("event")
        if event:
            summary = f"{summary} Presenterad på {event['kind']} {event['date']}: {event['title']}.".strip()
        if summary:
            entry.summary(summary)
        for slug in document.get("themes") or []:
            entry.category(term=slug, label=kb.themes.label(slug))
    # The feed changed when its newest entry did; an empty feed says when it was made.
    fg.updated(max(times) if times else dt.datetime.now(dt.timezone.utc))
    return fg.atom_str(pretty=True)
