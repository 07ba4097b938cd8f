"""Markdown -> sanitised HTML. Rendering with `markdown`, cleaning with nh3 (Ammonia): an
allow-list sanitiser, so HTML and scripts in staff-written Markdown are inert everywhere."""

from __future__ import annotations

import markdown as md
import nh3

ALLOWED_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "strong", "em", "b", "i",
    "blockquote", "code", "pre", "a", "table", "thead", "tbody", "tr", "th", "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}


def render_markdown(text: str) -> str:
    raw = md.markdown(text or "", extensions=["tables", "sane_lists"], output_format="html")
    # h1 in a body would compete with the page title: shift headings down one level.
    raw = raw.replace("<h1>", "<h2>").replace("</h1>", "</h2>")
    return nh3.clean(
        raw,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
