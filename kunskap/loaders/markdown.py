"""Markdown case studies with YAML front matter (python-frontmatter does the splitting)."""

from __future__ import annotations

import re

import frontmatter
import yaml

from ..documents import Section
from ..errors import DocumentError

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def parse(shown: str, data: bytes) -> tuple[dict, str, list[Section]]:
    from . import _yaml_problem, decode_utf8

    text = decode_utf8(shown, data)
    if not text.lstrip().startswith("---"):
        raise DocumentError(shown, "front matter saknas: filen ska börja med '---' och YAML-metadata")
    try:
        post = frontmatter.loads(text)
    except yaml.YAMLError as exc:
        raise DocumentError(shown, f"ogiltig YAML i front matter: {_yaml_problem(exc)}") from None
    except ValueError as exc:
        raise DocumentError(shown, f"front matter kan inte läsas: {exc}") from None
    if not isinstance(post.metadata, dict) or not post.metadata:
        raise DocumentError(shown, "front matter saknas eller är tom")
    body = post.content
    return post.metadata, body, sections(body)


def sections(body: str) -> list[Section]:
    """Split a Markdown body on headings; each section's text is plain, paragraph-separated."""
    result: list[Section] = []
    heading: str | None = None
    lines: list[str] = []
    in_fence = False

    def flush():
        text = plain_text("\n".join(lines))
        if text.strip():
            result.append(Section(text=text, heading=heading))

    for line in body.splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            lines.append(line)
            continue
        match = None if in_fence else HEADING.match(line)
        if match:
            flush()
            heading = plain_text(match.group(2)).strip()
            lines = []
        else:
            lines.append(line)
    flush()
    return result


_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_TAG = re.compile(r"<[^>\n]+>")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~|`)(?=\S)(.+?)(?<=\S)\1")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}")


def plain_text(markdown_text: str) -> str:
    """Markdown -> readable plain text for indexing and snippets; paragraphs kept."""
    out = []
    for line in markdown_text.splitlines():
        if FENCE.match(line) or _TABLE_RULE.match(line):
            continue
        line = _LINK.sub(r"\1", line)
        line = _TAG.sub("", line)
        line = _EMPHASIS.sub(r"\2", line)
        line = _BULLET.sub("", line)
        line = line.replace("|", " ").lstrip("> ").strip()
        out.append(line)
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
