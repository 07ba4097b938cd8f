"""Search results and documents as plain dicts: the shape of the JSON API and `--json` output."""

from __future__ import annotations

from .knowledgebase import KnowledgeBase
from .reference import kommungrupper, members
from .search import Hit, SearchResult

FACET_NAMES = {
    "theme": "tema", "organisation": "organisation", "organisation_type": "organisationstyp",
    "county": "län", "kind": "typ", "year": "år", "kommungrupp": "kommungrupp",
}
KIND_LABELS = {"case-study": "Fallstudie", "presentation": "Presentation", "report": "Rapport", "news": "Nyhet"}


def hit_to_dict(hit: Hit, kb: KnowledgeBase) -> dict:
    d = hit.document
    return {
        "id": hit.doc_id,
        "title": d["title"],
        "organisation": d["organisation"],
        "organisation_type": d.get("organisation_type"),
        "county": d.get("county"),
        "year": d.get("year"),
        "themes": [{"slug": s, "label": kb.themes.label(s)} for s in d.get("themes") or []],
        "kind": d["kind"],
        "summary": d.get("summary"),
        "snippet": hit.snippet,
        "page": hit.page,
        "heading": hit.heading,
        "score": hit.score,
        "url": f"/dokument/{hit.doc_id}",
        "member": d["organisation"] in members(),
        "event": d.get("event"),
    }


def facet_label(name: str, value: str, kb: KnowledgeBase) -> str:
    if name == "theme":
        return kb.themes.label(value)
    if name == "kind":
        return KIND_LABELS.get(value, value)
    if name == "kommungrupp":
        group = kommungrupper().get(value)
        return f"{value} {group['name']}" if group else value
    return value


def facets_to_dict(facets: dict, kb: KnowledgeBase) -> dict:
    return {name: [{"value": value, "label": facet_label(name, value, kb), "count": count} for value, count in values]
            for name, values in facets.items()}


def result_to_dict(result: SearchResult, kb: KnowledgeBase) -> dict:
    return {
        "query": result.query,
        "searched_for": result.searched_for,
        "total": result.total,
        "possible": result.possible,
        "page": result.page,
        "limit": result.limit,
        "results": [hit_to_dict(h, kb) for h in result.hits],
        "facets": facets_to_dict(result.facets, kb),
        "hint": result.hint,
        "semantic_notice": result.semantic_notice,
    }
