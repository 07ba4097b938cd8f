"""Backup and restore of one knowledge base: the corpus (uploads included), the SQLite database
(accounts, tokens, revision history, the embedding cache) and the vector index, with a manifest
of counts and checksums.

A backup is taken under the writer lock, so no save is halfway through while the corpus and the
database are copied (saves wait for the copy; searches go on). The database is copied with
SQLite's online backup API, consistent even while other processes read it. A restore checks
every checksum and the database's own integrity before it writes anything, and refuses to write
into a folder that already holds a knowledge base.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

from . import __version__
from .errors import IndexMissingError, KunskapError
from .knowledgebase import KnowledgeBase
from .vectors import INDEX_FILE, MANIFEST_FILE, read_manifest

BACKUP_MANIFEST = "kunskap-backup.json"
DATABASE = "index/kunskap.db"
FORMAT = 1


class BackupError(KunskapError):
    code = "backup_invalid"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _counts(database: Path) -> dict[str, int]:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        return {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("documents", "chunks", "revisions", "users", "api_tokens", "embeddings")}


def _corpus_files(corpus: Path) -> list[Path]:
    """Every file in the corpus except hidden ones (temp files of interrupted writes, .git)."""
    return sorted(p for p in corpus.rglob("*") if p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(corpus).parts))


def backup(kb: KnowledgeBase, dest: Path) -> dict:
    """Write a backup of `kb` into the new or empty folder `dest`; returns the manifest."""
    dest = Path(dest)
    if kb.settings.database_url:
        raise BackupError("Kunskapsbanken ligger i PostgreSQL: säkerhetskopiera databasen med pg_dump "
                          "(se README, Köra på flera servrar) och korpusmappen med en vanlig filkopia.")
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"Mappen {dest} finns redan och är inte tom: välj en ny mapp för säkerhetskopian.")
    corpus = Path(kb.settings.corpus)
    (dest / "index").mkdir(parents=True, exist_ok=True)
    with kb.writing(catch_up=False):
        for path in _corpus_files(corpus):
            target = dest / "corpus" / path.relative_to(corpus)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        with closing(sqlite3.connect(str(kb.settings.database_path))) as source, \
                closing(sqlite3.connect(str(dest / DATABASE))) as target:
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")   # one self-contained file, no -wal/-shm
        try:   # the journal of live saves since the base, which the manifest names
            journal = [read_manifest(kb.index_dir).journal_file]
        except IndexMissingError:
            journal = []
        for name in (INDEX_FILE, MANIFEST_FILE, *filter(None, journal)):
            if (kb.index_dir / name).exists():
                shutil.copy2(kb.index_dir / name, dest / "index" / name)
    files = {p.relative_to(dest).as_posix(): _sha256(p) for p in sorted(dest.rglob("*")) if p.is_file()}
    manifest = {
        "format": FORMAT,
        "package_version": __version__,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "model": kb.embedder.model_id,
        "counts": _counts(dest / DATABASE) | {"corpus_files": sum(1 for f in files if f.startswith("corpus/"))},
        "files": files,
    }
    (dest / BACKUP_MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), "utf-8")
    return manifest


def verify(src: Path) -> dict:
    """The manifest of the backup in `src`, after checking every file against it; BackupError
    (Swedish, naming the file) for anything missing, changed, extra or damaged."""
    src = Path(src)
    try:
        manifest = json.loads((src / BACKUP_MANIFEST).read_text("utf-8"))
        files = manifest["files"]
    except FileNotFoundError:
        raise BackupError(f"{src} är ingen säkerhetskopia från kunskap ({BACKUP_MANIFEST} saknas).") from None
    except (ValueError, KeyError, TypeError):
        raise BackupError(f"{src / BACKUP_MANIFEST} är skadad.") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"Säkerhetskopian i {src} har formatet {manifest.get('format')}, "
                          f"den här versionen läser format {FORMAT}.")
    present = {p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file()} - {BACKUP_MANIFEST}
    for name in sorted(set(files) - present):
        raise BackupError(f"Säkerhetskopian är ofullständig: {name} saknas.")
    for name in sorted(present - set(files)):
        raise BackupError(f"Säkerhetskopian innehåller en fil som inte finns i dess förteckning: {name}.")
    for name, checksum in files.items():
        if _sha256(src / name) != checksum:
            raise BackupError(f"Säkerhetskopian är skadad: {name} stämmer inte med sin kontrollsumma.")
    if DATABASE not in files:
        raise BackupError(f"Säkerhetskopian saknar databasen ({DATABASE}).")
    with closing(sqlite3.connect(f"file:{src / DATABASE}?mode=ro", uri=True)) as conn:
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError(f"Databasen i säkerhetskopian ({DATABASE}) är skadad.")
    if _counts(src / DATABASE) != {k: v for k, v in manifest["counts"].items() if k != "corpus_files"}:
        raise BackupError("Databasen i säkerhetskopian stämmer inte med antalen i förteckningen.")
    return manifest


def restore(src: Path, corpus: Path, index: Path) -> dict:
    """Restore the backup in `src` into new or empty `corpus` and `index` folders."""
    manifest = verify(src)
    src, corpus, index = Path(src), Path(corpus), Path(index)
    for folder, what in ((corpus, "korpusmappen"), (index, "indexmappen")):
        if folder.exists() and any(folder.iterdir()):
            raise BackupError(f"{what.capitalize()} {folder} är inte tom: återställ till en ny mapp "
                              "(inget har skrivits).")
    for name in manifest["files"]:
        if name.startswith("corpus/"):
            target = corpus / name[len("corpus/"):]
        else:
            target = index / name[len("index/"):]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / name, target)
    corpus.mkdir(parents=True, exist_ok=True)
    index.mkdir(parents=True, exist_ok=True)
    return manifest
