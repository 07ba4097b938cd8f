"""Build the demo presentations (PPTX and PDF) in corpus/presentationer/ from the deck files in
tools/presentations/.

Each deck is one YAML file, `tools/presentations/<slug>.yml` (format in the README.md there):
its format, whether it gets a sidecar, the metadata, a title slide, content slides and the
sources, which become the last slide. Running the script writes every deck and, for most decks,
a sidecar ``<file>.yml`` with the same keys as the Markdown front matter. A few decks
deliberately get no sidecar so that the "needs curation" path of `kunskap ingest` has something
to work on; those decks carry a clear title on the first slide (and in the document metadata)
and their source URL on the last slide.

Output is deterministic: core-property and PDF creation dates are fixed, and the PPTX zip is
rewritten with fixed member timestamps, so two runs give the same bytes. Verification reads the
built files back with the package's own loaders (`kunskap.loaders.load_file`), as ingest does.

Usage (from the repository root):

    .venv/bin/python tools/build_presentations.py                 # build + verify
    .venv/bin/python tools/build_presentations.py --no-verify
    .venv/bin/python tools/build_presentations.py --verify-only
    .venv/bin/python tools/build_presentations.py --check         # rebuild in a temp folder and
                                                                  # compare with corpus/presentationer/
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import sys
import tempfile
import zipfile
from pathlib import Path

import yaml
from fpdf import FPDF
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.shapes import MSO_SHAPE
from pptx.util import Inches, Pt

from kunskap.documents import slugify
from kunskap.errors import DocumentError
from kunskap.loaders import load_file
from kunskap.metadata import check_field

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "corpus" / "presentationer"
DECK_DIR = Path(__file__).resolve().parent / "presentations"

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_REGULAR = FONT_DIR / "DejaVuSans.ttf"
FONT_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"

# Fixed timestamps so that every run produces identical bytes.
FIXED_DATETIME = dt.datetime(2024, 11, 1, 9, 0, 0)
FIXED_DATETIME_UTC = dt.datetime(2024, 11, 1, 9, 0, 0, tzinfo=dt.timezone.utc)
ZIP_DATE_TIME = (2024, 11, 1, 9, 0, 0)

ACCENT = (0, 104, 94)  # dark green-teal
ACCENT_LIGHT = (224, 240, 236)
TEXT_DARK = (33, 37, 41)
TEXT_MUTED = (90, 98, 104)

SIDECAR_KEYS = (
    "id",
    "title",
    "organisation",
    "organisation_type",
    "county",
    "kind",
    "themes",
    "year",
    "summary",
    "source_url",
    "language",
    "event",
)
# id, kind and language of a sidecar are set by this tool, not written in the deck's meta.
META_KEYS = {"title", "organisation", "organisation_type", "county", "themes", "year", "summary", "source_url",
             "event"}
REQUIRED_META = ("title", "organisation", "themes", "source_url")
FORMATS = ("pptx", "pdf")
MIN_PAGES, MAX_PAGES = 6, 10          # title slide + content slides + sources slide
MISSING_SIDECAR_NOTE = "metadatafil (.yml) saknas"   # what the loader notes for a deck without sidecar


class DeckError(Exception):
    """A deck file that cannot be built; the message names the file and the field."""


# ---------------------------------------------------------------------------
# Deck files
# ---------------------------------------------------------------------------


def _fail(path: Path, where: str, problem: str):
    raise DeckError(f"{path.name}: {where}: {problem}" if where else f"{path.name}: {problem}")


def _text(path: Path, where: str, value) -> str:
    if not isinstance(value, str) or not value.strip():
        _fail(path, where, "ska vara en text som inte är tom")
    return value


def _mapping(path: Path, where: str, value, required: tuple, optional: tuple = ()) -> dict:
    if not isinstance(value, dict):
        _fail(path, where, "ska vara nyckel: värde-par")
    missing = [key for key in required if key not in value]
    if missing:
        _fail(path, where, f"saknar {', '.join(missing)}")
    unknown = sorted(set(value) - set(required) - set(optional))
    if unknown:
        _fail(path, where, f"okända nycklar {', '.join(unknown)} (tillåtna: {', '.join(required + optional)})")
    return value


def _bullets(path: Path, where: str, value) -> list[tuple[int, str]]:
    """Deck-file bullets -> (level, text). A list inside the list holds the sub-bullets of the
    bullet before it."""
    if not isinstance(value, list) or not value:
        _fail(path, where, "ska vara en lista med minst en punkt")
    items: list[tuple[int, str]] = []
    for n, bullet in enumerate(value):
        if isinstance(bullet, list):
            if not items or items[-1][0] != 0:
                _fail(path, f"{where}[{n}]", "underpunkter ska följa direkt efter en vanlig punkt")
            if not bullet:
                _fail(path, f"{where}[{n}]", "tom lista med underpunkter")
            items += [(1, _text(path, f"{where}[{n}][{m}]", sub)) for m, sub in enumerate(bullet)]
        else:
            items.append((0, _text(path, f"{where}[{n}]", bullet)))
    return items


def load_deck(path: Path) -> dict:
    """One deck file, validated, with its bullets as (level, text) items. Raises DeckError."""
    path = Path(path)
    slug = path.stem
    if slugify(slug) != slug:
        _fail(path, "", f"filnamnet ska vara ett id med a–z, 0–9 och bindestreck, t.ex. '{slugify(slug)}.yml'")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        _fail(path, "", "filen är inte UTF-8-kodad")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f" (rad {mark.line + 1}, kolumn {mark.column + 1})" if mark is not None else ""
        _fail(path, "", f"ogiltig YAML: {getattr(exc, 'problem', None) or exc}{place}")
    deck = _mapping(path, "", data, ("format", "sidecar", "meta", "title_slide", "slides", "sources"), ("id",))
    if deck["format"] not in FORMATS:
        _fail(path, "format", f"ska vara {' eller '.join(FORMATS)}, inte {deck['format']!r}")
    if not isinstance(deck["sidecar"], bool):
        _fail(path, "sidecar", "ska vara true eller false")
    if "id" in deck and slugify(_text(path, "id", deck["id"])) != deck["id"]:
        _fail(path, "id", f"ogiltigt id {deck['id']!r} (a–z, 0–9 och bindestreck)")

    meta = _mapping(path, "meta", deck["meta"], REQUIRED_META, tuple(sorted(META_KEYS - set(REQUIRED_META))))
    for key in ("title", "organisation", "source_url", "organisation_type", "county", "summary"):
        if key in meta:
            _text(path, f"meta.{key}", meta[key])
    if not isinstance(meta["themes"], list) or not meta["themes"]:
        _fail(path, "meta.themes", "ska vara en lista med minst ett tema")
    for n, theme in enumerate(meta["themes"]):
        _text(path, f"meta.themes[{n}]", theme)
    if "year" in meta and (not isinstance(meta["year"], int) or isinstance(meta["year"], bool)):
        _fail(path, "meta.year", f"ska vara ett årtal, inte {meta['year']!r}")
    if "event" in meta:   # the corpus contract's rule (kunskap/metadata.py), so the sidecar loads
        event, problem = check_field("event", meta["event"])
        if problem is not None:
            _fail(path, f"meta.{problem.field}", problem.rule or "saknas")
        meta["event"] = event

    title_slide = _mapping(path, "title_slide", deck["title_slide"], ("title", "subtitle"), ("notes",))
    for key in title_slide:
        _text(path, f"title_slide.{key}", title_slide[key])
    if not isinstance(deck["slides"], list) or not deck["slides"]:
        _fail(path, "slides", "ska vara en lista med minst en bild")
    slides = []
    for n, slide in enumerate(deck["slides"]):
        where = f"slides[{n}]"
        _mapping(path, where, slide, ("title", "bullets"), ("notes",))
        spec = {"title": _text(path, f"{where}.title", slide["title"]),
                "bullets": _bullets(path, f"{where}.bullets", slide["bullets"])}
        if "notes" in slide:
            spec["notes"] = _text(path, f"{where}.notes", slide["notes"])
        slides.append(spec)
    if not isinstance(deck["sources"], list) or not deck["sources"]:
        _fail(path, "sources", "ska vara en lista med minst en webbadress")
    for n, url in enumerate(deck["sources"]):
        if not _text(path, f"sources[{n}]", url).startswith(("https://", "http://")):
            _fail(path, f"sources[{n}]", f"ska vara en webbadress, inte {url!r}")

    deck = {**deck, "slug": slug, "slides": slides}
    check_deck(path, deck)
    return deck


def check_deck(path: Path, deck: dict) -> None:
    """The rules a demo deck follows beyond its shape, checked before anything is written."""
    n_pages = len(all_slides(deck)) + 1
    if not MIN_PAGES <= n_pages <= MAX_PAGES:
        _fail(path, "slides", f"{n_pages} bilder med titel- och källbild; ska vara {MIN_PAGES}–{MAX_PAGES}")
    if deck["sidecar"] and not deck["meta"].get("summary"):
        _fail(path, "meta.summary", "saknas (en deck med sidecar behöver en sammanfattning)")
    if deck["meta"]["source_url"] not in deck["sources"]:
        _fail(path, "meta.source_url", "ska också stå bland sources (källbilden är sista bilden)")
    if deck["format"] == "pptx":
        with_notes = 1 + sum(1 for s in deck["slides"] if s.get("notes"))   # the title slide always has notes
        if with_notes * 2 < n_pages:
            _fail(path, "slides", f"talarnoter på {with_notes} av {n_pages} bilder; minst hälften ska ha noter")


def load_decks(folder: Path = DECK_DIR) -> list[dict]:
    """Every deck file in `folder`, sorted by name. Raises DeckError for the first bad file."""
    paths = sorted(Path(folder).glob("*.yml"))
    if not paths:
        raise DeckError(f"inga deck-filer (*.yml) i {folder}")
    decks = [load_deck(path) for path in paths]
    ids: dict[str, str] = {}
    for deck in decks:
        doc_id = deck.get("id", deck["slug"])
        if doc_id in ids:
            raise DeckError(f"{deck['slug']}.yml: id {doc_id!r} används redan av {ids[doc_id]}.yml")
        ids[doc_id] = deck["slug"]
    return decks


# ---------------------------------------------------------------------------
# Helpers shared by both formats
# ---------------------------------------------------------------------------


def file_name(deck: dict) -> str:
    return f"{deck['slug']}.{deck['format']}"


def sources_slide(deck: dict) -> dict:
    """The last slide: where the facts come from."""
    bullets = [(0, "Fakta i presentationen kommer från:")]
    bullets += [(1, url) for url in deck["sources"]]
    return {"title": "Källor", "bullets": bullets}


def all_slides(deck: dict) -> list[dict]:
    return deck["slides"] + [sources_slide(deck)]


def footer_text(deck: dict) -> str:
    return f"{deck['meta']['organisation']} · Erfarenhetsutbyte i Klimatkommunerna"


def title_notes(deck: dict) -> str:
    return deck["title_slide"].get("notes") or (
        f"Presentation från {deck['meta']['organisation']}: "
        f"{deck['title_slide']['title']}. {deck['title_slide']['subtitle']}."
    )


# ---------------------------------------------------------------------------
# PPTX
# ---------------------------------------------------------------------------

SLIDE_W = Inches(13.333)
SLIDE_H = Inches(7.5)


def _rgb(color: tuple[int, int, int]) -> RGBColor:
    return RGBColor(*color)


def _add_band(slide, top, height, color) -> None:
    band = slide.shapes.add_shape(MSO_SHAPE.RECTANGLE, 0, top, SLIDE_W, height)
    band.fill.solid()
    band.fill.fore_color.rgb = _rgb(color)
    band.line.fill.background()
    band.shadow.inherit = False


def _add_footer(slide, text: str, number: int, total: int) -> None:
    box = slide.shapes.add_textbox(Inches(0.6), Inches(6.95), Inches(12.1), Inches(0.4))
    frame = box.text_frame
    frame.word_wrap = True
    para = frame.paragraphs[0]
    para.text = f"{text}    {number}/{total}"
    para.runs[0].font.size = Pt(11)
    para.runs[0].font.color.rgb = _rgb(TEXT_MUTED)


def _style_title(shape, size: int, color) -> None:
    for para in shape.text_frame.paragraphs:
        for run in para.runs:
            run.font.size = Pt(size)
            run.font.bold = True
            run.font.color.rgb = _rgb(color)


def _place(shape, left, top, width, height) -> None:
    shape.left, shape.top, shape.width, shape.height = left, top, width, height


def build_pptx(deck: dict) -> bytes:
    prs = Presentation()
    prs.slide_width = SLIDE_W
    prs.slide_height = SLIDE_H
    slides = all_slides(deck)
    total = len(slides) + 1

    # Title slide (layout 0 keeps real title/subtitle placeholders for extractors).
    title_slide = prs.slides.add_slide(prs.slide_layouts[0])
    _add_band(title_slide, 0, SLIDE_H, ACCENT_LIGHT)
    _add_band(title_slide, Inches(5.2), Inches(0.12), ACCENT)
    title_ph = title_slide.shapes.title
    _place(title_ph, Inches(0.8), Inches(1.6), Inches(11.7), Inches(2.2))
    title_ph.text = deck["title_slide"]["title"]
    _style_title(title_ph, 40, ACCENT)
    subtitle_ph = title_slide.placeholders[1]
    _place(subtitle_ph, Inches(0.8), Inches(3.8), Inches(11.7), Inches(1.2))
    subtitle_ph.text = deck["title_slide"]["subtitle"]
    for para in subtitle_ph.text_frame.paragraphs:
        for run in para.runs:
            run.font.size = Pt(22)
            run.font.color.rgb = _rgb(TEXT_DARK)
    org_box = title_slide.shapes.add_textbox(Inches(0.8), Inches(5.5), Inches(11.7), Inches(0.8))
    org_para = org_box.text_frame.paragraphs[0]
    org_para.text = deck["meta"]["organisation"]
    org_para.runs[0].font.size = Pt(20)
    org_para.runs[0].font.bold = True
    org_para.runs[0].font.color.rgb = _rgb(TEXT_DARK)
    title_slide.notes_slide.notes_text_frame.text = title_notes(deck)

    # Content slides (layout 1: title and content).
    for number, spec in enumerate(slides, start=2):
        slide = prs.slides.add_slide(prs.slide_layouts[1])
        _add_band(slide, 0, Inches(1.25), ACCENT)
        title_ph = slide.shapes.title
        _place(title_ph, Inches(0.6), Inches(0.15), Inches(12.1), Inches(0.95))
        title_ph.text = spec["title"]
        _style_title(title_ph, 30, (255, 255, 255))
        body = slide.placeholders[1]
        _place(body, Inches(0.8), Inches(1.55), Inches(11.7), Inches(5.2))
        frame = body.text_frame
        frame.word_wrap = True
        items = spec["bullets"]
        for index, (level, text) in enumerate(items):
            para = frame.paragraphs[0] if index == 0 else frame.add_paragraph()
            para.text = text
            para.level = level
            for run in para.runs:
                run.font.size = Pt(22 if level == 0 else 18)
                run.font.color.rgb = _rgb(TEXT_DARK)
        _add_footer(slide, footer_text(deck), number, total)
        if spec.get("notes"):
            slide.notes_slide.notes_text_frame.text = spec["notes"]

    props = prs.core_properties
    props.title = deck["meta"]["title"]
    props.author = deck["meta"]["organisation"]
    props.last_modified_by = deck["meta"]["organisation"]
    props.subject = "Erfarenhetsutbyte i Klimatkommunerna"
    props.keywords = ", ".join(deck["meta"]["themes"])
    props.language = "sv-SE"
    props.category = "presentation"
    props.comments = ""
    props.revision = 1
    props.created = FIXED_DATETIME
    props.modified = FIXED_DATETIME
    props.last_printed = FIXED_DATETIME

    buffer = io.BytesIO()
    prs.save(buffer)
    return normalise_zip(buffer.getvalue())


def normalise_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed member timestamps so the bytes are reproducible."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(
        out, "w", compression=zipfile.ZIP_DEFLATED
    ) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


# ---------------------------------------------------------------------------
# PDF (one slide per landscape page)
# ---------------------------------------------------------------------------

PAGE_W = 297.0
PAGE_H = 167.0  # 16:9-ish landscape


class SlidePDF(FPDF):
    def __init__(self) -> None:
        super().__init__(orientation="L", unit="mm", format=(PAGE_H, PAGE_W))
        self.set_auto_page_break(False)
        self.set_margins(16, 12, 16)
        self.add_font("DejaVu", "", str(FONT_REGULAR))
        self.add_font("DejaVu", "B", str(FONT_BOLD))


def _pdf_footer(pdf: SlidePDF, text: str, number: int, total: int) -> None:
    pdf.set_font("DejaVu", "", 9)
    pdf.set_text_color(*TEXT_MUTED)
    pdf.set_xy(16, PAGE_H - 10)
    pdf.cell(PAGE_W - 32, 5, f"{text}    {number}/{total}")


def build_pdf(deck: dict) -> bytes:
    pdf = SlidePDF()
    meta = deck["meta"]
    pdf.set_title(meta["title"])
    pdf.set_author(meta["organisation"])
    pdf.set_subject("Erfarenhetsutbyte i Klimatkommunerna")
    pdf.set_keywords(", ".join(meta["themes"]))
    pdf.set_creator("kunskap tools/build_presentations.py")
    pdf.set_lang("sv-SE")
    pdf.set_creation_date(FIXED_DATETIME_UTC)

    slides = all_slides(deck)
    total = len(slides) + 1

    # Title page.
    pdf.add_page()
    pdf.set_fill_color(*ACCENT_LIGHT)
    pdf.rect(0, 0, PAGE_W, PAGE_H, style="F")
    pdf.set_fill_color(*ACCENT)
    pdf.rect(0, 112, PAGE_W, 2.5, style="F")
    pdf.set_xy(20, 38)
    pdf.set_font("DejaVu", "B", 30)
    pdf.set_text_color(*ACCENT)
    pdf.multi_cell(PAGE_W - 40, 13, deck["title_slide"]["title"])
    pdf.set_x(20)
    pdf.ln(4)
    pdf.set_font("DejaVu", "", 16)
    pdf.set_text_color(*TEXT_DARK)
    pdf.set_x(20)
    pdf.multi_cell(PAGE_W - 40, 8, deck["title_slide"]["subtitle"])
    pdf.set_xy(20, 120)
    pdf.set_font("DejaVu", "B", 15)
    pdf.cell(PAGE_W - 40, 8, meta["organisation"])

    # Content pages.
    for number, spec in enumerate(slides, start=2):
        pdf.add_page()
        pdf.set_fill_color(*ACCENT)
        pdf.rect(0, 0, PAGE_W, 26, style="F")
        pdf.set_xy(16, 7)
        pdf.set_font("DejaVu", "B", 22)
        pdf.set_text_color(255, 255, 255)
        pdf.cell(PAGE_W - 32, 12, spec["title"])
        pdf.set_text_color(*TEXT_DARK)
        y = 36.0
        for level, text in spec["bullets"]:
            indent = 22 if level == 0 else 34
            size = 15 if level == 0 else 13
            line_h = 7.2 if level == 0 else 6.4
            marker = "•" if level == 0 else "–"
            pdf.set_font("DejaVu", "", size)
            pdf.set_xy(indent - 6, y)
            pdf.cell(6, line_h, marker)
            pdf.set_xy(indent, y)
            pdf.multi_cell(PAGE_W - indent - 18, line_h, text, align="L")
            y = pdf.get_y() + (2.6 if level == 0 else 1.4)
        _pdf_footer(pdf, footer_text(deck), number, total)

    return bytes(pdf.output())


# ---------------------------------------------------------------------------
# Sidecars
# ---------------------------------------------------------------------------


def sidecar_text(deck: dict) -> str:
    """YAML with the same keys as the Markdown front matter.

    Strings are written as JSON strings, which are valid double-quoted YAML
    scalars, so å/ä/ö and colons need no special care.
    """
    meta = dict(deck["meta"])
    meta["id"] = deck.get("id", deck["slug"])
    meta["kind"] = "presentation"
    meta["language"] = "sv"
    lines = []
    for key in SIDECAR_KEYS:
        if key not in meta:
            continue
        value = meta[key]
        if key == "themes":
            lines.append(f"themes: [{', '.join(value)}]")
        elif key == "event":
            parts = ", ".join(f"{k}: {json.dumps(value[k], ensure_ascii=False)}" for k in ("kind", "title", "date"))
            lines.append(f"event: {{{parts}}}")
        elif isinstance(value, int):
            lines.append(f"{key}: {value}")
        elif key in ("id", "kind", "language", "organisation_type"):
            lines.append(f"{key}: {value}")
        else:
            lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# Build, verify, check
# ---------------------------------------------------------------------------


def build(decks: list[dict], out_dir: Path = OUT_DIR) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for deck in decks:
        path = out_dir / file_name(deck)
        data = build_pptx(deck) if deck["format"] == "pptx" else build_pdf(deck)
        path.write_bytes(data)
        written.append(path)
        sidecar = out_dir / (file_name(deck) + ".yml")
        if deck["sidecar"]:
            sidecar.write_text(sidecar_text(deck), encoding="utf-8")
            written.append(sidecar)
    return written


def _squash(text: str) -> str:
    return " ".join(text.split())


def verify_deck(deck: dict, out_dir: Path = OUT_DIR) -> tuple[bool, tuple[str, ...]]:
    """Read one built deck back with the package's loader and check it against its deck file.

    Returns (ok, table row)."""
    name = file_name(deck)
    path = Path(out_dir) / name
    if not path.exists():
        return False, (name, "-", "-", "-", "-", "-", "-", "SAKNAS")
    try:
        doc = load_file(path, out_dir)
    except DocumentError as exc:
        return False, (name, "-", "-", "-", "-", "-", "-", f"FEL: {exc.reason}")
    slides = all_slides(deck)
    expected_titles = [deck["title_slide"]["title"]] + [s["title"] for s in slides]
    sections = doc.sections
    pages_ok = [s.page for s in sections] == list(range(1, len(expected_titles) + 1))
    if deck["format"] == "pptx":       # the slide title is the section heading
        titles_found = [s.heading for s in sections] == expected_titles
        notes = [title_notes(deck)] + [s.get("notes") for s in slides]
        notes_found = sum(1 for note, s in zip(notes, sections) if note and note in s.text)
        notes_ok = notes_found == sum(1 for note in notes if note)
    else:                              # a PDF page has no heading: its first line is the title
        titles_found = len(sections) == len(expected_titles) and all(
            _squash(title) in _squash(s.text) for title, s in zip(expected_titles, sections))
        notes_found, notes_ok = None, True
    all_text = "\n".join(s.text for s in sections)
    chars = "".join(c for c in "åäöÅÄÖ" if c in all_text)
    source_last = bool(sections) and deck["sources"][0] in "".join(sections[-1].text.split())
    sidecar_path = Path(out_dir) / (name + ".yml")
    if sidecar_path.exists():
        sidecar_ok = (doc.id == deck.get("id", deck["slug"]) and doc.organisation == deck["meta"]["organisation"]
                      and doc.kind == "presentation" and MISSING_SIDECAR_NOTE not in doc.curation_notes)
        sidecar_state = "ok" if sidecar_ok else "fel metadata"
    else:
        sidecar_ok = MISSING_SIDECAR_NOTE in doc.curation_notes
        sidecar_state = "-"
    ok = (pages_ok and titles_found and notes_ok and all(c in all_text for c in "åäö") and source_last
          and doc.title == deck["meta"]["title"] and deck["sidecar"] == sidecar_path.exists() and sidecar_ok)
    row = (name, str(len(sections)), "n/a" if notes_found is None else str(notes_found), chars,
           "ja" if titles_found else "NEJ", "ja" if source_last else "NEJ", sidecar_state, "OK" if ok else "FEL")
    return ok, row


def print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
    print()


def verify(decks: list[dict], out_dir: Path = OUT_DIR) -> bool:
    results = [verify_deck(deck, out_dir) for deck in decks]
    print_table(("fil", "bilder", "anteckn.", "åäö", "rubriker", "källa sist", "sidecar", "status"),
                [row for _, row in results])
    ok = all(ok for ok, _ in results)
    print("alla kontroller godkända" if ok else "NÅGON KONTROLL MISSLYCKADES")
    return ok


def loaded_content(path: Path, root: Path) -> dict:
    """What ingest sees of a built file: metadata and the text per page/slide (not the file hash)."""
    doc = load_file(path, root)
    return {
        "meta": {k: getattr(doc, k) for k in ("id", "title", "organisation", "organisation_type", "county",
                                              "kind", "tags", "year", "summary", "source_url", "language",
                                              "curation_notes")},
        "pages": [(s.page, s.heading, s.text) for s in doc.sections],
    }


def compare(decks: list[dict], built_dir: Path, committed_dir: Path = OUT_DIR) -> list[tuple[str, str]]:
    """(file name, state) for every file the decks produce: 'identisk' (same bytes), 'samma text'
    (other bytes, the loader reads the same metadata and page texts) or what differs."""
    states = []
    for deck in decks:
        names = [file_name(deck)] + ([file_name(deck) + ".yml"] if deck["sidecar"] else [])
        for name in names:
            built, committed = Path(built_dir) / name, Path(committed_dir) / name
            if not committed.exists():
                states.append((name, "SAKNAS i " + str(committed_dir)))
            elif built.read_bytes() == committed.read_bytes():
                states.append((name, "identisk"))
            elif name.endswith(".yml"):
                states.append((name, "OLIK sidecar"))
            else:
                try:
                    same = loaded_content(built, built_dir) == loaded_content(committed, committed_dir)
                except DocumentError as exc:
                    states.append((name, f"FEL: {exc}"))
                    continue
                states.append((name, "samma text" if same else "OLIK TEXT"))
        if not deck["sidecar"] and (Path(committed_dir) / (file_name(deck) + ".yml")).exists():
            states.append((file_name(deck) + ".yml", "finns men decken ska sakna sidecar"))
    return states


def check(decks: list[dict], committed_dir: Path = OUT_DIR) -> bool:
    """Rebuild into a temp folder and compare with the committed files; true if the loader reads
    the same text and metadata from every file."""
    with tempfile.TemporaryDirectory(prefix="kunskap-decks-") as tmp:
        build(decks, Path(tmp))
        states = compare(decks, Path(tmp), committed_dir)
    print_table(("fil", "jämfört med " + str(committed_dir)), states)
    ok = all(state in ("identisk", "samma text") for _, state in states)
    print("samma innehåll som de incheckade filerna" if ok else "SKILLNADER MOT DE INCHECKADE FILERNA")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decks", type=Path, default=DECK_DIR, help="folder with the deck files (*.yml)")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="folder to build into and verify")
    parser.add_argument("--no-verify", action="store_true", help="only build")
    parser.add_argument("--verify-only", action="store_true", help="only verify")
    parser.add_argument("--check", action="store_true",
                        help="build into a temp folder and compare with --out; writes nothing")
    args = parser.parse_args(argv)
    try:
        decks = load_decks(args.decks)
    except DeckError as exc:
        print(f"fel: {exc}", file=sys.stderr)
        return 2
    if args.check:
        return 0 if check(decks, args.out) else 1
    if not args.verify_only:
        written = build(decks, args.out)
        print(f"skrev {len(written)} filer i {args.out}")
    if args.no_verify:
        return 0
    return 0 if verify(decks, args.out) else 1


if __name__ == "__main__":
    sys.exit(main())
