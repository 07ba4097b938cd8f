"""Intake from a web page: fetch it (fetch.py), extract the main text with trafilatura, and turn
it into the values of a draft case study – title, body under our headings where the page's own
headings say which is which, source_url, organisation guessed from the domain (domains.py), the
year if the page states one, and suggested themes. A page that is mostly a link to a PDF is
answered with the PDF's address, to fetch as an upload instead.

Nothing here stores anything: Curator.intake_page saves the draft through save_case_study, and a
person publishes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

from .fetch import FetchError, Fetched

# Our headings, and the page headings (normalised, lower case) that mean the same.
HEADINGS = {
    "Bakgrund": ("bakgrund", "syfte", "om projektet", "inledning", "utmaning", "problem", "varför"),
    "Vad gjordes": ("vad gjordes", "genomförande", "så gjorde vi", "så här gjorde vi", "åtgärder", "arbetet",
                    "vad gjorde vi", "metod", "insatser"),
    "Resultat": ("resultat", "effekter", "utfall", "vad blev resultatet", "resultaten"),
    "Lärdomar": ("lärdomar", "erfarenheter", "tips", "råd till andra", "lärdomar och tips", "framgångsfaktorer"),
}
HTML_TYPES = ("text/html", "application/xhtml+xml")
PDF_TYPES = ("application/pdf", "application/x-pdf")
# Less extracted text than this next to a PDF link: the page is mostly the link.
MOSTLY_A_LINK_CHARS = 400
MIN_TEXT_CHARS = 80


@dataclass
class PageDraft:
    url: str
    title: str = ""
    body: str = ""
    summary: str = ""
    year: str = ""
    organisation: str | None = None
    themes: list[str] = field(default_factory=list)
    pdf_links: list[str] = field(default_factory=list)
    structured: bool = False      # the body's headings came from the page

    @property
    def mostly_pdf(self) -> bool:
        return bool(self.pdf_links) and len(self.body) < MOSTLY_A_LINK_CHARS


def decode_html(fetched: Fetched) -> str:
    if fetched.content_type and fetched.content_type not in HTML_TYPES:
        if fetched.content_type in PDF_TYPES:
            raise FetchError("Adressen är en PDF-fil, inte en webbsida. Hämta den som uppladdning i stället.")
        raise FetchError(f"Adressen är ingen webbsida (den är av typen {fetched.content_type[:60]}); "
                         "bara HTML-sidor kan hämtas.")
    if fetched.data[:5] == b"%PDF-":
        raise FetchError("Adressen är en PDF-fil, inte en webbsida. Hämta den som uppladdning i stället.")
    from charset_normalizer import from_bytes

    for encoding in (fetched.charset, "utf-8"):
        if encoding:
            try:
                return fetched.data.decode(encoding)
            except (LookupError, UnicodeDecodeError):
                pass
    best = from_bytes(fetched.data).best()
    if best is None:
        raise FetchError("Sidans teckenkodning gick inte att tolka.")
    return str(best)


def pdf_links(html: str, base: str) -> list[str]:
    import lxml.html

    try:
        tree = lxml.html.fromstring(html)
    except Exception:  # an unparseable page simply has no links to offer
        return []
    links = []
    for href in tree.xpath("//a/@href"):
        absolute = urljoin(base, str(href).strip())
        if urlsplit(absolute).scheme in ("http", "https") and urlsplit(absolute).path.lower().endswith(".pdf"):
            links.append(absolute)
    return list(dict.fromkeys(links))


def _heading_key(text: str) -> str | None:
    norm = re.sub(r"[^\wåäö ]", "", text.lower()).strip()
    for ours, names in HEADINGS.items():
        if norm in names or any(norm.startswith(n + " ") for n in names):
            return ours
    return None


def arrange_body(markdown: str, title: str = "") -> tuple[str, bool]:
    """Markdown under our headings when the page's own headings say which part is which (text
    before the first recognised heading is background; other headings become ###), else all
    of it under ## Bakgrund."""
    lines = markdown.replace("\r\n", "\n").split("\n")
    # The page's own main heading repeats the title the draft already has.
    lines = [line for line in lines if not (title and re.match(r"^\s*#{1,6}\s+", line)
                                            and re.sub(r"^\s*#{1,6}\s+", "", line).strip() == title.strip())]
    sections: dict[str, list[str]] = {key: [] for key in HEADINGS}
    current = "Bakgrund"
    recognised = 0
    for line in lines:
        match = re.match(r"^\s*#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            key = _heading_key(match.group(1))
            if key:
                current, recognised = key, recognised + 1
                continue
            sections[current].append(f"### {match.group(1)}")
            continue
        sections[current].append(line)
    if not recognised:
        text = "\n".join(_demote(lines)).strip()
        return (f"## Bakgrund\n\n{text}\n" if text else ""), False
    parts = []
    for key, body in sections.items():
        text = "\n".join(body).strip()
        if text:
            parts.append(f"## {key}\n\n{text}\n")
    return "\n".join(parts), True


def _demote(lines: list[str]) -> list[str]:
    """Headings inside the background section become ### so ## stays ours."""
    return [re.sub(r"^\s*#{1,6}\s+", "### ", line) if re.match(r"^\s*#{1,6}\s+", line) else line for line in lines]


def _year(metadata_date: str | None) -> str:
    if metadata_date and re.match(r"^(19|20)\d\d", metadata_date):
        return metadata_date[:4]
    return ""


def extract_page(fetched: Fetched) -> PageDraft:
    """The draft values of a fetched HTML page (FetchError when it is no page with text)."""
    import trafilatura

    html = decode_html(fetched)
    links = pdf_links(html, fetched.url)
    markdown = trafilatura.extract(html, url=fetched.url, output_format="markdown", include_formatting=True,
                                   include_links=False, include_tables=True, include_comments=False,
                                   favor_precision=True) or ""
    metadata = trafilatura.extract_metadata(html, default_url=fetched.url)
    title = (getattr(metadata, "title", None) or "").strip()
    body, structured = arrange_body(markdown, title)
    draft = PageDraft(url=fetched.url, title=title[:200], body=body, structured=structured, pdf_links=links,
                      summary=(getattr(metadata, "description", None) or "").strip()[:400],
                      year=_year(getattr(metadata, "date", None)))
    if not draft.title and links:
        draft.title = _pdf_title(links[0])
    if len(markdown.strip()) < MIN_TEXT_CHARS and not links:
        raise FetchError("Sidan innehåller nästan ingen text att hämta (kanske byggs den med JavaScript). "
                         "Skriv in exemplet för hand i stället.")
    return draft


def _pdf_title(url: str) -> str:
    name = PurePosixPath(unquote(urlsplit(url).path)).stem
    return re.sub(r"[-_]+", " ", name).strip()[:200]


def pdf_filename(url: str) -> str:
    name = PurePosixPath(unquote(urlsplit(url).path)).name or "dokument.pdf"
    return name if name.lower().endswith(".pdf") else name + ".pdf"
