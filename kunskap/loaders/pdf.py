"""PDF: text per page (pypdf). Encrypted and damaged files are rejected with a reason."""

from __future__ import annotations

import io
import re

from ..documents import Section
from ..errors import DocumentError


def extract(shown: str, data: bytes, max_chars: int | None = None) -> tuple[list[Section], str | None]:
    if not data.lstrip()[:5] == b"%PDF-":
        raise DocumentError(shown, "filen är inte en giltig PDF (fel innehåll för filändelsen)")
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise DocumentError(shown, "PDF-filen är krypterad eller lösenordsskyddad och kan inte läsas")
        sections = []
        total = 0
        for number, page in enumerate(reader.pages, start=1):
            text = _clean(page.extract_text() or "")
            if text:
                sections.append(Section(text=text, page=number))
                total += len(text)
                if max_chars is not None and total > max_chars:   # stop reading: it is refused anyway
                    from . import text_too_long

                    raise text_too_long(shown)
        meta_title = (reader.metadata.title if reader.metadata else None) or None
    except DocumentError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentError(shown, f"PDF-filen är skadad och kan inte läsas ({type(exc).__name__})") from None
    first_line = sections[0].text.split("\n", 1)[0].strip() if sections else None
    return sections, (meta_title or "").strip() or first_line


def _clean(text: str) -> str:
    text = text.replace("\u00ad", "")
    text = re.sub(r"[ \t]+", " ", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
