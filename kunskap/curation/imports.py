"""A spreadsheet's rows -> draft case studies, in two steps: `preview` (read, map, validate every
row: nothing is stored) and `apply` (save the valid rows as drafts through the Curator, one
journalled save each).

Re-importing does not duplicate: a row's stable key is its organisation and normalised title;
a row whose key an existing document (or an earlier row of the same file) already has is
reported as existing and skipped, and the Curator's duplicate guard still stops a row that is
very like another document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import FormError
from .spreadsheet import FIELDS, RowResult, Table, column_message, guess_mapping, read_table, row_values

SHOWN_ROWS = 200        # rows the preview table shows; every row is still validated
APPLY_BATCH = 500       # rows saved and indexed together by an import


@dataclass
class ImportPreview:
    table: Table
    mapping: dict[str, int | None]
    rows: list[RowResult] = field(default_factory=list)

    @property
    def valid(self) -> list[RowResult]:
        return [r for r in self.rows if not r.errors and r.outcome != "exists"]

    @property
    def errors(self) -> list[str]:
        return [e for r in self.rows for e in r.errors]

    def counts(self) -> dict[str, int]:
        counts = {"rows": len(self.rows), "valid": len(self.valid),
                  "errors": sum(1 for r in self.rows if r.errors),
                  "exists": sum(1 for r in self.rows if r.outcome == "exists")}
        for outcome in ("imported", "duplicate"):
            counts[outcome] = sum(1 for r in self.rows if r.outcome == outcome)
        return counts


def stable_key(organisation: str, title: str) -> tuple[str, str]:
    return organisation.strip(), re.sub(r"\W+", " ", title.lower()).strip()


def parse_mapping(raw: dict, width: int) -> dict[str, int | None]:
    """{field: column index or '' / None} from a form or the API -> checked mapping."""
    mapping: dict[str, int | None] = {}
    for name in FIELDS:
        value = raw.get(name)
        if value in (None, ""):
            mapping[name] = None
            continue
        try:
            index = int(value)
        except (TypeError, ValueError):
            raise FormError({f"map_{name}": f"Ogiltig kolumn för {FIELDS[name][0]}."}) from None
        if not 0 <= index < width:
            raise FormError({f"map_{name}": f"Kolumnen för {FIELDS[name][0]} finns inte i filen."})
        mapping[name] = index
    taken = [i for i in mapping.values() if i is not None]
    if len(taken) != len(set(taken)):
        raise FormError({"mapping": "Samma kolumn är vald för flera fält."})
    return mapping


def preview(curator, filename: str, data: bytes, mapping: dict | None = None) -> ImportPreview:
    table = read_table(filename, data)
    chosen = parse_mapping(mapping, len(table.headers)) if mapping is not None else guess_mapping(table.headers)
    result = ImportPreview(table, chosen)
    if chosen.get("title") is None or chosen.get("organisation") is None:
        missing = [FIELDS[n][0] for n in ("title", "organisation") if chosen.get(n) is None]
        raise FormError({"mapping": "Välj vilken kolumn som innehåller " + " och ".join(missing).lower() + "."})
    existing = {stable_key(r["organisation"], r["title"]): r["id"] for r in curator.kb.store.document_titles()}
    seen: dict[tuple[str, str], int] = {}
    for index in range(len(table.rows)):
        values, body, problems = row_values(table, index, chosen, curator.kb.themes)
        number = table.row_numbers[index]
        row = RowResult(number, values, body, errors=problems)
        try:
            curator.validate(values, body)
        except FormError as exc:
            row.errors += [column_message(table, chosen, number, name, message)
                           for name, message in exc.errors.items()]
        key = stable_key(values["organisation"], values["title"])
        if not row.errors:
            if key in existing:
                row.outcome, row.doc_id = "exists", existing[key]
            elif key in seen:
                row.errors.append(f"Rad {number}: samma rubrik och organisation som rad {seen[key]}.")
        seen.setdefault(key, number)
        row.outcome = row.outcome or ("error" if row.errors else "valid")
        result.rows.append(row)
    return result


def apply(curator, filename: str, data: bytes, username: str, mapping: dict | None = None) -> ImportPreview:
    """Save every valid row as a draft (rows with errors and existing ones are left), APPLY_BATCH
    rows per journalled save and index update: one save per row re-counted the vocabulary and
    re-wrote the vector index each time, which grew with the square of the rows (600 rows 144 s)."""
    curator._writable()
    result = preview(curator, filename, data, mapping)
    valid = result.valid
    outcomes = []
    for start in range(0, len(valid), APPLY_BATCH):
        batch = valid[start:start + APPLY_BATCH]
        outcomes.extend(zip(batch, curator.save_new_case_studies([(r.values, r.body) for r in batch], username)))
    for row, saved in outcomes:
        if saved.saved:
            row.outcome, row.doc_id = "imported", saved.doc_id
        else:
            row.outcome = "duplicate"
            row.doc_id = saved.duplicates[0].doc_id
            row.errors.append(f"Rad {row.number}: liknar ”{saved.duplicates[0].title}” som redan finns "
                              f"({saved.duplicates[0].reason}); importerades inte.")
    return result


# -- staging: the uploaded file between the preview and the import (pages only) ---------------
STAGE_FOLDER = "imports"
STAGE_TTL_SECONDS = 24 * 3600
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def stage(index_dir, filename: str, data: bytes) -> str:
    """Keep an uploaded spreadsheet for the preview -> import steps; returns its token. Files
    older than a day are removed here (an abandoned preview leaves nothing for long)."""
    import json
    import secrets
    import time
    from pathlib import Path

    folder = Path(index_dir) / STAGE_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.stat().st_mtime < time.time() - STAGE_TTL_SECONDS:
            old.unlink(missing_ok=True)
    token = secrets.token_urlsafe(18)
    (folder / f"{token}.data").write_bytes(data)
    (folder / f"{token}.json").write_text(json.dumps({"filename": filename}), "utf-8")
    return token


def staged(index_dir, token: str) -> tuple[str, bytes]:
    import json
    from pathlib import Path

    folder = Path(index_dir) / STAGE_FOLDER
    if not _TOKEN.match(token or "") or not (folder / f"{token}.data").is_file():
        raise FormError({"file": "Den uppladdade filen finns inte längre. Ladda upp den igen."})
    meta = json.loads((folder / f"{token}.json").read_text("utf-8"))
    return meta["filename"], (folder / f"{token}.data").read_bytes()


def unstage(index_dir, token: str) -> None:
    from pathlib import Path

    if _TOKEN.match(token or ""):
        for suffix in (".data", ".json"):
            (Path(index_dir) / STAGE_FOLDER / f"{token}{suffix}").unlink(missing_ok=True)
