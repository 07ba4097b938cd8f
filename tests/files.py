"""Small real PDF, PPTX and DOCX files made in the tests (fpdf2, python-pptx, python-docx)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def make_pdf(path: Path, pages: list[str], title: str | None = None, password: str | None = None) -> Path:
    from fpdf import FPDF

    pdf = FPDF(orientation="L")
    if FONT.exists():
        pdf.add_font("DejaVu", fname=str(FONT))
        pdf.set_font("DejaVu", size=14)
    else:  # core font: Latin-1 covers å/ä/ö
        pdf.set_font("Helvetica", size=14)
    if title:
        pdf.set_title(title)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    if password:
        pdf.set_encryption(owner_password=password, user_password=password)
    path.write_bytes(bytes(pdf.output()))
    return path


def make_pptx(path: Path, slides: list[tuple[str, str, str | None]], title: str | None = None) -> Path:
    """slides: (title, body, notes)."""
    from pptx import Presentation

    deck = Presentation()
    for slide_title, body, notes in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = slide_title
        slide.placeholders[1].text = body
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    if title:
        deck.core_properties.title = title
    deck.save(str(path))
    return path


def make_docx(path: Path, sections: list[tuple[str, str]], title: str | None = None) -> Path:
    import docx

    document = docx.Document()
    for heading, text in sections:
        document.add_heading(heading, level=1)
        document.add_paragraph(text)
    if title:
        document.core_properties.title = title
    document.save(str(path))
    return path


def make_zip(path: Path, entries: dict[str, bytes]) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    path.write_bytes(buffer.getvalue())
    return path
