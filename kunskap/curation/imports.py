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

from ..background import SerialWorker
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


def apply(curator, filename: str, data: bytes, username: str, mapping: dict | None = None,
          progress=None) -> ImportPreview:
    """Save every valid row as a draft (rows with errors and existing ones are left), APPLY_BATCH
    rows per journalled save and index update: one save per row re-counted the vocabulary and
    re-wrote the vector index each time, which grew with the square of the rows (600 rows 144 s).
    `progress(saved, total)`, if given, is called before the first batch and after each one."""
    curator._writable()
    result = preview(curator, filename, data, mapping)
    valid = result.valid
    outcomes = []
    if progress is not None:
        progress(0, len(valid))
    for start in range(0, len(valid), APPLY_BATCH):
        batch = valid[start:start + APPLY_BATCH]
        outcomes.extend(zip(batch, curator.save_new_case_studies([(r.values, r.body) for r in batch], username)))
        if progress is not None:
            progress(len(outcomes), len(valid))
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
        try:
            if old.stat().st_mtime < time.time() - STAGE_TTL_SECONDS:
                old.unlink(missing_ok=True)
        except FileNotFoundError:   # a job's status write renamed its temp file meanwhile
            continue
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


def unstage(index_dir, token: str, suffixes=(".data", ".json")) -> None:
    from pathlib import Path

    if _TOKEN.match(token or ""):
        for suffix in suffixes:
            (Path(index_dir) / STAGE_FOLDER / f"{token}{suffix}").unlink(missing_ok=True)


def check_apply(filename: str, data: bytes, mapping: dict | None) -> int:
    """The number of data rows, after checking the file and the mapping as `preview` does, but
    without validating rows: what the apply step needs to decide, at once, whether to import in
    the request or in the background (a mapping error is answered there, not in the job)."""
    table = read_table(filename, data)
    chosen = parse_mapping(mapping, len(table.headers)) if mapping is not None else guess_mapping(table.headers)
    missing = [FIELDS[n][0] for n in ("title", "organisation") if chosen.get(n) is None]
    if missing:
        raise FormError({"mapping": "Välj vilken kolumn som innehåller " + " och ".join(missing).lower() + "."})
    return len(table.rows)


# -- background import: big files are imported by a job the staff follow on a status page ----------
# Up to this many rows an import is saved in the request (one batch, a few seconds with the real
# model: the answer comes well before a proxy gives up, and the staff get the summary in one step);
# more rows go to the background job.
SYNC_MAX_ROWS = 200
# A job whose status was not written for this long is no longer running (the server was stopped
# or killed): a batch of APPLY_BATCH rows is written well within it.
JOB_STALE_SECONDS = 10 * 60
STATUS_ERRORS = 100     # row errors kept in a job's status (the page shows as many)
STATUS_REFRESH_SECONDS = 3   # how often the status page reloads itself while the job runs


class ImportRunning(Exception):
    """The token already has an import job (running or finished): show its status."""


def _status_path(index_dir, token: str):
    from pathlib import Path

    return Path(index_dir) / STAGE_FOLDER / f"{token}.status.json"


def write_status(index_dir, token: str, status: dict) -> None:
    """The job's progress, beside its staged file, written atomically: a page reload, or another
    worker process, reads it whole."""
    import json
    import time

    from ..files import atomic_write

    import os
    import socket

    atomic_write(_status_path(index_dir, token), json.dumps(
        {**status, "updated": time.time(), "pid": os.getpid(), "host": socket.gethostname()},
        ensure_ascii=False).encode("utf-8"))


def job_status(index_dir, token: str) -> dict | None:
    """The status of the token's import job, or None if there is none (unknown or expired). A
    queued or running job whose status is stale is reported as interrupted."""
    import json
    import time

    if not _TOKEN.match(token or ""):
        return None
    try:
        status = json.loads(_status_path(index_dir, token).read_text("utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    if status.get("state") in ("queued", "running") and (
            status.get("updated", 0) < time.time() - JOB_STALE_SECONDS or _writer_gone(status)):
        status["state"] = "interrupted"
        status["message"] = (f"Importen avbröts efter {status.get('saved', 0)} av {status.get('to_import', 0)} rader "
                             "(servern stoppades). De rader som hann sparas finns kvar som utkast; ladda upp filen "
                             "igen för att importera resten – rader som redan finns importeras inte igen.")
    return status


def _writer_gone(status: dict) -> bool:
    """True if the process that last wrote a running job's status has ended (on this machine): a
    restarted server shows the import as interrupted at once, not after JOB_STALE_SECONDS."""
    import os
    import socket

    if status.get("host") != socket.gethostname() or not status.get("pid"):
        return False
    try:
        os.kill(status["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:   # a process of another user has that pid now: alive, as far as we know
        return False
    return False


def claim_job(index_dir, token: str, filename: str, rows: int) -> None:
    """Mark the token's import as started, exactly once, also across worker processes (an
    exclusive create); raises ImportRunning if it was already claimed."""
    import os

    claim = _status_path(index_dir, token).with_name(f"{token}.claim")
    try:
        os.close(os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        raise ImportRunning(token) from None
    write_status(index_dir, token, {"state": "queued", "filename": filename, "rows": rows, "saved": 0,
                                    "to_import": 0})


def run_job(curator, token: str, username: str, mapping: dict | None) -> dict:
    """Import the token's staged file, writing the status after each batch; the final status
    holds the counts and row errors the synchronous import shows. Batches already saved stay
    (each is one journalled save); an error stops the job and is recorded in Swedish."""
    import logging

    index_dir = curator.kb.settings.index
    status = job_status(index_dir, token) or {}
    status.update(state="running", saved=0, to_import=0)
    write_status(index_dir, token, status)

    def progress(saved: int, total: int) -> None:
        status.update(saved=saved, to_import=total)
        write_status(index_dir, token, status)

    try:
        filename, data = staged(index_dir, token)
        result = apply(curator, filename, data, username, mapping, progress=progress)
    except FormError as exc:
        status.update(state="failed", message=" ".join(exc.errors.values()))
        logging.getLogger("kunskap").warning("kunskap: importen %s avbröts: %s", token, status["message"])
    except Exception:
        logging.getLogger("kunskap").exception("kunskap: importen %s avbröts", token)
        status.update(state="failed", message=(
            f"Importen avbröts av ett oväntat fel efter {status['saved']} av {status['to_import']} rader. "
            "De rader som hann sparas finns kvar som utkast; ladda upp filen igen för att importera resten – "
            "rader som redan finns importeras inte igen."))
    else:
        errors = result.errors
        status.update(state="done", counts=result.counts(), errors=errors[:STATUS_ERRORS], error_count=len(errors))
        logging.getLogger("kunskap").info("kunskap: importen %s klar: %s", token, status["counts"])
    write_status(index_dir, token, status)
    unstage(index_dir, token, suffixes=(".data",))   # the status (and the claim) stay until they expire
    return status


class ImportJobs:
    """One background thread that runs import jobs one after another (like DeferredSaves for
    uploads): they write through the same Curator, and one at a time keeps the other requests
    of a two-core server answered."""

    def __init__(self, curator):
        self.curator = curator
        # run_job records its own errors in the status; what reaches the worker is the status
        # write failing.
        self._worker = SerialWorker("kunskap-imports", lambda job: run_job(self.curator, *job),
                                    lambda job: f"kunskap: importen {job[0]} kunde inte köras")

    def submit(self, token: str, filename: str, rows: int, username: str, mapping: dict | None) -> None:
        """Queue the import of a staged file; raises ImportRunning if the token already has one."""
        claim_job(self.curator.kb.settings.index, token, filename, rows)
        self._worker.put((token, username, mapping))

    def close(self, timeout: float = 5.0) -> None:
        self._worker.close(timeout)
