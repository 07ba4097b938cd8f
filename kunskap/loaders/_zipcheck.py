"""Guards for Office files (zip containers) before a parser touches them: zip bombs,
path traversal and files that only pretend to be PPTX/DOCX."""

from __future__ import annotations

import io
import zipfile

from ..errors import DocumentError

MAX_ENTRIES = 5000
MAX_UNCOMPRESSED = 200 * 1024 * 1024
MAX_RATIO = 200
# One XML part (a DOCX's word/document.xml, a slide): parsers build the whole tree in memory, at
# ~10x the XML's size. The probe's 163 MB of XML in a 4 MB DOCX (ratio 40, under the bomb guard)
# took the server from 0.4 to 1.6 GB. A 300-page Word report is ~10 MB of XML.
MAX_XML_PART = 24 * 1024 * 1024


def check_office_zip(shown: str, data: bytes, required_part: str) -> None:
    if data[:4] != b"PK\x03\x04":
        if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
            raise DocumentError(shown, "filen är krypterad eller i det gamla Office-formatet och kan inte läsas")
        raise DocumentError(shown, "filen är inte en giltig Office-fil (fel innehåll för filändelsen)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError):
        raise DocumentError(shown, "filen är skadad (zip-arkivet kan inte läsas)") from None
    if len(infos) > MAX_ENTRIES:
        raise DocumentError(shown, "filen innehåller orimligt många delar och avvisas")
    total = 0
    for info in infos:
        name = info.filename
        if name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/"):
            raise DocumentError(shown, "filen innehåller otillåtna sökvägar och avvisas")
        total += info.file_size
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO and info.file_size > 1_000_000:
            raise DocumentError(shown, "filen packas upp till orimligt mycket data (zip-bomb?) och avvisas")
        if name.lower().endswith((".xml", ".rels")) and info.file_size > MAX_XML_PART:
            raise DocumentError(shown, f"filen innehåller mer text och formatering än vi kan läsa "
                                       f"(en del är {info.file_size // (1024 * 1024)} MB, högst "
                                       f"{MAX_XML_PART // (1024 * 1024)} MB) och avvisas; dela upp den")
    if total > MAX_UNCOMPRESSED:
        raise DocumentError(shown, "filen packas upp till mer än 200 MB och avvisas")
    if required_part not in archive.namelist():
        raise DocumentError(shown, "filen är inte en giltig Office-fil av rätt typ")
