"""Bulk import of a spreadsheet (XLSX or CSV): one row per example, columns mapped to our fields.

Reading: XLSX through openpyxl with the values Excel saved for formulas (a formula without a
saved value is reported, not guessed) and merged cells filled with their top-left value (a
municipality merged over several rows belongs to each of them); CSV in UTF-8 with or without
BOM, else cp1252 (what Swedish Excel writes; it also covers latin-1 text), delimiter sniffed
among , ; tab. At most MAX_ROWS rows and MAX_BYTES bytes: larger files are refused whole,
with a message saying so.

Mapping: our fields <- their columns, guessed from Swedish and English headers, changeable.
Each row becomes form values for Curator.save_case_study as a draft; its problems are
messages naming the row (as the spreadsheet numbers it) and the column.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..documents import slugify
from ..errors import FormError
from ..reference import organisations

MAX_ROWS = 10_000
MAX_BYTES = 10 * 1024 * 1024
FORMATS = (".xlsx", ".csv")

# Our fields, in the order the preview shows them, with the headers that mean them.
FIELDS = {
    "title": ("Rubrik", ("rubrik", "titel", "title", "namn", "projektnamn", "projekt", "exempel", "name", "headline")),
    "organisation": ("Kommun eller region", ("kommun", "organisation", "region", "kommunregion", "kommun eller region",
                                             "municipality", "organization", "org")),
    "year": ("År", ("år", "årtal", "year", "startår")),
    "summary": ("Sammanfattning", ("sammanfattning", "kort beskrivning", "ingress", "summary", "abstract")),
    "body": ("Brödtext", ("beskrivning", "brödtext", "text", "description", "body", "innehåll", "detaljer")),
    "themes": ("Teman", ("tema", "teman", "kategori", "kategorier", "themes", "theme", "tags", "taggar", "nyckelord")),
    "source_url": ("Källa (webbadress)", ("länk", "källa", "url", "webbadress", "webbplats", "link", "source",
                                          "source url", "hemsida")),
    "contact": ("Kontakt", ("kontakt", "kontaktperson", "contact", "e-post", "epost")),
}


@dataclass
class Table:
    filename: str
    headers: list[str]
    rows: list[list[str]]            # data rows, as text
    row_numbers: list[int]           # the spreadsheet's own row number of each
    cell_problems: dict[tuple[int, int], str] = field(default_factory=dict)   # (row index, col) -> message


@dataclass
class RowResult:
    number: int                      # the spreadsheet's row number
    values: dict
    body: str
    errors: list[str] = field(default_factory=list)
    outcome: str = ""                # imported / exists / duplicate / error
    doc_id: str = ""


def _norm(text: str) -> str:
    return re.sub(r"[^\wåäö ]+", "", str(text or "").lower()).strip()


def guess_mapping(headers: list[str]) -> dict[str, int | None]:
    """field -> column index, from the header names (exact synonym first, then a synonym the
    header starts with); each column is used at most once."""
    mapping: dict[str, int | None] = {}
    used: set[int] = set()
    normalised = [_norm(h) for h in headers]
    for strict in (True, False):
        for name, (_, synonyms) in FIELDS.items():
            if mapping.get(name) is not None:
                continue
            for index, header in enumerate(normalised):
                if index in used or not header:
                    continue
                if header in synonyms or (not strict and any(header.startswith(s + " ") for s in synonyms)):
                    mapping[name], _ = index, used.add(index)
                    break
    return {name: mapping.get(name) for name in FIELDS}


def read_table(filename: str, data: bytes) -> Table:
    suffix = Path(filename or "").suffix.lower()
    if suffix not in FORMATS:
        raise FormError({"file": "Välj en XLSX- eller CSV-fil."})
    if not data:
        raise FormError({"file": "Filen är tom."})
    if len(data) > MAX_BYTES:
        raise FormError({"file": f"Filen är större än {MAX_BYTES // (1024 * 1024)} MB; dela upp den."})
    grid, problems = _read_xlsx(data) if suffix == ".xlsx" else (_read_csv(data), {})
    numbered = [(n, row) for n, row in grid if any(cell.strip() for cell in row)]
    if not numbered:
        raise FormError({"file": "Filen innehåller inga rader."})
    (_, headers), data_rows = numbered[0], numbered[1:]
    if len(data_rows) > MAX_ROWS:
        raise FormError({"file": f"Filen har {len(data_rows)} rader; högst {MAX_ROWS:,} kan importeras åt gången "
                                 "(dela upp den).".replace(",", " ")})
    width = len(headers)
    rows = [(row + [""] * width)[:width] for _, row in data_rows]
    numbers = [n for n, _ in data_rows]
    index_of = {n: i for i, n in enumerate(numbers)}
    cell_problems = {(index_of[r], c): m for (r, c), m in problems.items() if r in index_of and c < width}
    return Table(filename, [h.strip() or f"Kolumn {i + 1}" for i, h in enumerate(headers)], rows, numbers,
                 cell_problems)


def _read_xlsx(data: bytes) -> tuple[list[tuple[int, list[str]]], dict]:
    import zipfile

    import openpyxl

    try:
        values_book = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
        formulas_book = openpyxl.load_workbook(io.BytesIO(data), data_only=False, read_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise FormError({"file": "Filen går inte att läsa som XLSX (är den skadad, eller en gammal XLS-fil? "
                                 "Spara den som .xlsx eller .csv)."}) from None
    sheet = values_book.worksheets[0]
    if sheet.max_row and sheet.max_row > MAX_ROWS + 50:
        raise FormError({"file": f"Filen har {sheet.max_row} rader; högst {MAX_ROWS:,} kan importeras åt gången "
                                 "(dela upp den).".replace(",", " ")})
    merged = {}
    for cell_range in sheet.merged_cells.ranges:
        top_left = sheet.cell(cell_range.min_row, cell_range.min_col).value
        for row in range(cell_range.min_row, cell_range.max_row + 1):
            for col in range(cell_range.min_col, cell_range.max_col + 1):
                merged[(row, col)] = top_left
    problems = {}
    formula_sheet = formulas_book.worksheets[0]
    for row in formula_sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                saved = sheet.cell(cell.row, cell.column).value
                if saved is None:
                    problems[(cell.row, cell.column - 1)] = ("formeln har inget sparat värde (öppna och spara filen i "
                                                             "Excel, eller klistra in värdena)")
    formulas_book.close()
    grid = []
    for row in sheet.iter_rows():
        cells = []
        for cell in row:
            value = merged.get((cell.row, cell.column), cell.value)
            cells.append(_text(value))
        grid.append((row[0].row if row else 0, cells))
    return grid, problems


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "date") and hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    return str(value).strip()


def decode_csv(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _read_csv(data: bytes) -> list[tuple[int, list[str]]]:
    text = decode_csv(data)
    try:
        dialect = csv.Sniffer().sniff(text[:20_000], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    grid = []
    try:
        for number, row in enumerate(reader, start=1):
            grid.append((number, [cell.strip() for cell in row]))
            if len(grid) > MAX_ROWS + 50:
                raise FormError({"file": f"Filen har fler än {MAX_ROWS:,} rader; dela upp den.".replace(",", " ")})
    except csv.Error as exc:
        raise FormError({"file": f"Filen går inte att läsa som CSV ({exc})."}) from None
    return grid


def resolve_organisation(text: str) -> str | None:
    """A reference-list name from what a spreadsheet says: 'Växjö kommun', 'Växjö', 'vaxjo'."""
    text = (text or "").strip()
    known = organisations()
    if text in known:
        return text
    wanted = slugify(text)
    for name, row in known.items():
        plain = slugify(re.sub(r"\b(kommun|stad)\b", "", name, flags=re.I))
        if wanted in (slugify(name), plain) or (wanted == plain.rstrip("s") and row["type"] != "region"):
            return name
    return None


def row_values(table: Table, index: int, mapping: dict[str, int | None], themes) -> tuple[dict, str, list[str]]:
    """(form values, body, problems found before validation) of one data row."""
    row = table.rows[index]

    def cell(name):
        col = mapping.get(name)
        return row[col].strip() if col is not None and col < len(row) else ""

    problems = []
    for (r, c), message in table.cell_problems.items():
        if r == index and c in mapping.values():
            problems.append(f"Rad {table.row_numbers[index]}, kolumn ”{table.headers[c]}”: {message}.")
    raw_org = cell("organisation")
    organisation = resolve_organisation(raw_org) or raw_org
    tags = [t.strip() for t in re.split(r"[,;\n]", cell("themes")) if t.strip()]
    slugs = themes.slugs_for_tags(tags)
    other = [t for t in tags if not themes.slugs_for_tags([t])]
    summary = cell("summary")
    body = cell("body") or summary
    if body and not body.lstrip().startswith("#"):
        body = f"## Bakgrund\n\n{body}"
    year = cell("year")
    values = {"title": cell("title"), "organisation": organisation, "year": year, "summary": summary[:400],
              "themes": slugs, "other_tags": other, "source_url": cell("source_url"), "contact": cell("contact"),
              "status": "draft", "kind": "case-study", "language": "sv"}
    return values, body, problems


def column_message(table: Table, mapping: dict[str, int | None], number: int, field_name: str, message: str) -> str:
    col = mapping.get(field_name)
    where = f"kolumn ”{table.headers[col]}”" if col is not None else f"fältet {FIELDS.get(field_name, (field_name,))[0]}"
    if field_name == "body" and mapping.get("body") is None and mapping.get("summary") is not None:
        where = f"kolumn ”{table.headers[mapping['summary']]}”"
    if col is None and field_name in FIELDS:
        where += " (ingen kolumn vald)"
    return f"Rad {number}, {where}: {message}"
