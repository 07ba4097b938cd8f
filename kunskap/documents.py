"""The document model, and the assembly of a Document from a corpus file's metadata and text.

Loaders turn bytes into text sections and call `build_document`, which applies the metadata
rules of the corpus contract (shared CORPUS-FORMAT.md; the rules themselves are in metadata.py,
shared with curation's forms) with the defaults of a file. Nothing here knows about SQLite or
FAISS.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import DocumentError
from .metadata import CONTROL_CHARACTERS, check_field, check_metadata

UNKNOWN_ORGANISATION = "okänd"

# Keys with a meaning of their own; anything else in front matter is kept in `extra`.
KNOWN_KEYS = {
    "id", "title", "organisation", "kind", "organisation_type", "county", "themes", "year",
    "published", "summary", "source_url", "contact", "language", "status", "event",
}


@dataclass
class Section:
    """A run of text with its place in the source: heading, or page/slide number."""

    text: str
    heading: str | None = None
    page: int | None = None


@dataclass
class Document:
    id: str
    title: str
    organisation: str
    kind: str
    source_path: str
    content_hash: str
    sections: list[Section]
    organisation_type: str | None = None
    county: str | None = None
    tags: list[str] = field(default_factory=list)
    year: int | None = None
    published: str | None = None
    summary: str | None = None
    source_url: str | None = None
    contact: str | None = None
    language: str = "sv"
    status: str = "published"
    body: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    curation_notes: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n\n".join(s.text for s in self.sections)


def slugify(value: str) -> str:
    """'Växjö kommun' -> 'vaxjo-kommun'."""
    value = value.lower().replace("å", "a").replace("ä", "a").replace("ö", "o")
    value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", value).strip("-")


def content_hash(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def _jsonable(value):
    """Extra metadata is stored as JSON: dates become ISO strings."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _extra(meta: dict, clean: dict) -> dict:
    """What is kept in the document's `extra` JSON: the keys without a column of their own, and the
    meeting a presentation was given at (`event`, validated, so no migration was needed for it)."""
    extra = {k: _jsonable(v) for k, v in meta.items() if k not in KNOWN_KEYS}
    if clean.get("event"):
        extra["event"] = clean["event"]
    return extra


def build_document(
    path: Path | str,
    source_path: str,
    meta: dict,
    sections: list[Section],
    digest: str,
    *,
    default_id: str,
    default_kind: str,
    default_title: str | None = None,
    body: str | None = None,
    curation_notes: list[str] | None = None,
) -> Document:
    """Validate metadata and assemble a Document, or raise DocumentError naming the file."""
    if not isinstance(meta, dict):
        raise DocumentError(path, "metadata ska vara nyckel: värde-par (YAML-tabell)")
    meta = {str(k): v for k, v in meta.items()}
    notes = list(curation_notes or [])

    # A file must name its title unless the format has one of its own; a case study must name
    # its organisation, an upload without one is flagged for curation instead.
    if default_title:   # from the file's own metadata (PDF/PPTX/DOCX): cleaned, not refused
        default_title = " ".join(CONTROL_CHARACTERS.sub(" ", default_title).split())
    required = set() if default_title else {"title"}
    if default_kind == "case-study":
        required.add("organisation")
    clean, problems = check_metadata(meta, required)
    if problems:
        raise DocumentError(path, problems[0].file_reason())
    title = clean.get("title") or default_title
    organisation = clean.get("organisation")
    if organisation is None:
        organisation = UNKNOWN_ORGANISATION
        notes.append("organisation saknas")
    doc_id = clean.get("id") or default_id
    problem = check_field("id", doc_id)[1]     # a default from the file name, checked alike
    if problem is not None:
        raise DocumentError(path, problem.file_reason())

    if not any(s.text.strip() for s in sections):
        raise DocumentError(path, "dokumentet innehåller ingen text att söka i")

    tags = clean.get("themes", [])
    year = clean.get("year")
    if not tags:
        notes.append("teman saknas")
    if year is None:
        notes.append("år saknas")

    return Document(
        id=doc_id,
        title=title,
        organisation=organisation,
        kind=clean.get("kind") or default_kind,
        source_path=source_path,
        content_hash=digest,
        sections=sections,
        organisation_type=clean.get("organisation_type"),
        county=clean.get("county"),
        tags=tags,
        year=year,
        published=clean.get("published"),
        summary=clean.get("summary"),
        source_url=clean.get("source_url"),
        contact=clean.get("contact"),
        language=clean.get("language") or "sv",
        status=clean.get("status") or "published",
        body=body,
        extra=_extra(meta, clean),
        curation_notes=notes,
    )
