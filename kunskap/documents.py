"""The document model and the validation of corpus metadata (front matter and sidecars).

Every rule of the corpus contract (shared CORPUS-FORMAT.md) that concerns a single file lives
here; loaders turn bytes into text sections and call `build_document`. Nothing here knows about
SQLite or FAISS.
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

KINDS = ("case-study", "presentation", "news", "report")
ORGANISATION_TYPES = ("kommun", "region")
UNKNOWN_ORGANISATION = "okänd"
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

# Keys with a meaning of their own; anything else in front matter is kept in `extra`.
KNOWN_KEYS = {
    "id", "title", "organisation", "kind", "organisation_type", "county", "themes", "year",
    "published", "summary", "source_url", "contact", "language", "status",
}
STATUSES = ("published", "draft", "unpublished")

# Control characters (C0, DEL, C1) and Unicode line/paragraph separators are invisible: in a
# title they break the one-line places it is shown (lists, logs, YAML, HTML attributes), and a
# NUL is cut off by C libraries. Metadata fields refuse them all; the body allows tab and line
# breaks and refuses the rest.
_CONTROL_IN_FIELD = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_IN_BODY = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
CONTROL_CHARACTERS = "kontrolltecken (osynliga tecken som NUL, tabb eller radbrytning)"


def has_control_characters(value, body: bool = False) -> bool:
    """True if a field value (text, number or list of them) holds a control character;
    `body=True` allows tab, newline and carriage return."""
    pattern = _CONTROL_IN_BODY if body else _CONTROL_IN_FIELD
    values = value if isinstance(value, (list, tuple)) else [value]
    return any(v is not None and pattern.search(str(v)) for v in values)


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


def _text_field(path, meta: dict, key: str, required: bool = False) -> str | None:
    value = meta.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise DocumentError(path, f"obligatoriskt fält '{key}' saknas")
        return None
    if isinstance(value, (dict, list)):
        raise DocumentError(path, f"fältet '{key}' ska vara text, inte en lista eller tabell")
    text = str(value).strip()
    if has_control_characters(text):
        raise DocumentError(path, f"fältet '{key}' innehåller {CONTROL_CHARACTERS}")
    return text


def _tags(path, value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [v for v in re.split(r"[,;]", value)]
    if not isinstance(value, list):
        raise DocumentError(path, "fältet 'themes' ska vara en lista, t.ex. [cykel, kollektivtrafik]")
    tags = []
    for item in value:
        if isinstance(item, (dict, list)):
            raise DocumentError(path, "fältet 'themes' får bara innehålla ord, inte listor eller tabeller")
        text = str(item).strip()
        if has_control_characters(text):
            raise DocumentError(path, f"fältet 'themes' innehåller {CONTROL_CHARACTERS}")
        if text and text not in tags:
            tags.append(text)
    return tags


def _year(path, value) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        return value.year
    try:
        year = int(str(value).strip())
    except ValueError:
        raise DocumentError(path, f"fältet 'year' ska vara ett årtal, inte '{value}'") from None
    if not 1900 <= year <= 2100:
        raise DocumentError(path, f"fältet 'year' ska vara ett årtal mellan 1900 och 2100, inte {year}")
    return year


def _date(path, value) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        return dt.date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise DocumentError(path, f"fältet 'published' ska vara ett datum som 2021-04-12, inte '{value}'") from None


def _jsonable(value):
    """Extra metadata is stored as JSON: dates become ISO strings."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


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

    if default_title:   # from the file's own metadata (PDF/PPTX/DOCX): cleaned, not refused
        default_title = " ".join(_CONTROL_IN_FIELD.sub(" ", default_title).split())
    title = _text_field(path, meta, "title") or default_title
    if not title:
        raise DocumentError(path, "obligatoriskt fält 'title' saknas")
    organisation = _text_field(path, meta, "organisation", required=default_kind == "case-study")
    if organisation is None:
        organisation = UNKNOWN_ORGANISATION
        notes.append("organisation saknas")

    doc_id = _text_field(path, meta, "id") or default_id
    if not ID_PATTERN.match(doc_id):
        raise DocumentError(
            path, f"id '{doc_id}' är ogiltigt: använd bara a–z, 0–9 och bindestreck (t.ex. vaxjo-cykelplan)"
        )
    kind = _text_field(path, meta, "kind") or default_kind
    if kind not in KINDS:
        raise DocumentError(path, f"fältet 'kind' ska vara något av {', '.join(KINDS)}, inte '{kind}'")
    organisation_type = _text_field(path, meta, "organisation_type")
    if organisation_type is not None:
        organisation_type = organisation_type.lower()
        if organisation_type not in ORGANISATION_TYPES:
            raise DocumentError(
                path, f"fältet 'organisation_type' ska vara kommun eller region, inte '{organisation_type}'"
            )
    status = _text_field(path, meta, "status") or "published"
    if status not in STATUSES:
        raise DocumentError(path, f"fältet 'status' ska vara något av {', '.join(STATUSES)}, inte '{status}'")

    if not any(s.text.strip() for s in sections):
        raise DocumentError(path, "dokumentet innehåller ingen text att söka i")

    tags = _tags(path, meta.get("themes"))
    year = _year(path, meta.get("year"))
    if not tags:
        notes.append("teman saknas")
    if year is None:
        notes.append("år saknas")

    return Document(
        id=doc_id,
        title=title,
        organisation=organisation,
        kind=kind,
        source_path=source_path,
        content_hash=digest,
        sections=sections,
        organisation_type=organisation_type,
        county=_text_field(path, meta, "county"),
        tags=tags,
        year=year,
        published=_date(path, meta.get("published")),
        summary=_text_field(path, meta, "summary"),
        source_url=_text_field(path, meta, "source_url"),
        contact=_text_field(path, meta, "contact"),
        language=_text_field(path, meta, "language") or "sv",
        status=status,
        body=body,
        extra={k: _jsonable(v) for k, v in meta.items() if k not in KNOWN_KEYS},
        curation_notes=notes,
    )
