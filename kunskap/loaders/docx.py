"""Word (.docx): text per heading section, tables included (python-docx)."""

from __future__ import annotations

import io

from ..documents import Section
from ..errors import DocumentError
from ._zipcheck import check_office_zip


def _is_heading(paragraph) -> bool:
    name = (paragraph.style.name if paragraph.style is not None else "") or ""
    return name.startswith(("Heading", "Rubrik", "Title", "Rubrik "))


def extract(shown: str, data: bytes, max_chars: int | None = None) -> tuple[list[Section], str | None]:
    check_office_zip(shown, data, "word/document.xml")
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise DocumentError(shown, f"dokumentet kan inte läsas ({type(exc).__name__})") from None

    sections: list[Section] = []
    heading: str | None = None
    first_heading: str | None = None
    paragraphs: list[str] = []

    def flush():
        text = "\n\n".join(paragraphs).strip()
        if text:
            sections.append(Section(text=text, heading=heading))

    total = 0
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        total += len(text)
        if max_chars is not None and total > max_chars:   # stop reading: it is refused anyway
            from . import text_too_long

            raise text_too_long(shown)
        if _is_heading(paragraph):
            flush()
            heading, paragraphs = text, []
            first_heading = first_heading or text
        else:
            paragraphs.append(text)
    flush()
    for table in document.tables:
        rows = [" | ".join(c.text.strip() for c in row.cells if c.text.strip()) for row in table.rows]
        rows = [r for r in rows if r]
        if rows:
            sections.append(Section(text="\n".join(rows), heading="Tabell"))
    core_title = (document.core_properties.title or "").strip()
    return sections, core_title or first_heading
