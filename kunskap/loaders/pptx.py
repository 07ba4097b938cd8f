"""PowerPoint (.pptx): text per slide, speaker notes included (python-pptx)."""

from __future__ import annotations

import io

from ..documents import Section
from ..errors import DocumentError
from ._zipcheck import check_office_zip


def _shape_texts(shapes):
    for shape in shapes:
        if shape.shape_type == 6 and hasattr(shape, "shapes"):  # group
            yield from _shape_texts(shape.shapes)
        elif getattr(shape, "has_table", False) and shape.has_table:
            for row in shape.table.rows:
                cells = [c.text.strip() for c in row.cells if c.text.strip()]
                if cells:
                    yield " | ".join(cells)
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            text = shape.text_frame.text.strip()
            if text:
                yield text


def extract(shown: str, data: bytes, max_chars: int | None = None) -> tuple[list[Section], str | None]:
    check_office_zip(shown, data, "ppt/presentation.xml")
    from pptx import Presentation

    try:
        deck = Presentation(io.BytesIO(data))
    except Exception as exc:  # python-pptx raises many types for broken files
        raise DocumentError(shown, f"presentationen kan inte läsas ({type(exc).__name__})") from None
    sections: list[Section] = []
    first_title = None
    total = 0
    for number, slide in enumerate(deck.slides, start=1):
        title_shape = slide.shapes.title
        heading = title_shape.text_frame.text.strip() if title_shape is not None and title_shape.has_text_frame else None
        if heading and first_title is None:
            first_title = heading
        parts = [t for t in _shape_texts(slide.shapes) if t != heading]
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame.text.strip() if slide.notes_slide.notes_text_frame else ""
            if notes:
                parts.append(notes)
        text = "\n\n".join(parts)
        total += len(text)
        if max_chars is not None and total > max_chars:   # stop reading: it is refused anyway
            from . import text_too_long

            raise text_too_long(shown)
        if heading or text:
            sections.append(Section(text=text or heading or "", heading=heading or None, page=number))
    core_title = (deck.core_properties.title or "").strip()
    return sections, core_title or first_title
