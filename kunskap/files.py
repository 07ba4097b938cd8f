"""Atomic file writes: temp file in the same folder, fsync, rename, fsync the folder.

A reader (or a crash) sees either the old file or the new one, never half of one. Temp files
start with '.', so the corpus loader ignores any left behind by a crash, and
`remove_stale_temp_files` (run when `kunskap serve` and `kunskap ingest` start) removes them.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import time
from pathlib import Path

# mkstemp(prefix=".<name>.", suffix=".tmp") names: eight characters of tempfile's alphabet.
TEMP_FILE = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")
# Older than this, a temp file cannot belong to a save in flight (a 20 MB upload is written in
# well under a second); a younger one may be another process's, so it is left alone.
STALE_TEMP_SECONDS = 15 * 60


def _umask() -> int:
    """The process umask, read without changing it (os.umask would, for every thread)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically.

    File modes: mkstemp creates its file 0600, which would lock the service user's group out of
    corpus and index files after the first save. So an existing file keeps its mode (and its
    group, where the process may set it), and a new file gets the mode any other tool would
    give it, 0666 minus the umask: the deployment decides, e.g. UMask=0027 under systemd for
    0640 (group-readable, like the SQLite database, which also follows the umask).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        existing = os.stat(path)
    except FileNotFoundError:
        existing = None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            if existing is not None:
                os.fchmod(handle.fileno(), stat.S_IMODE(existing.st_mode))
                if existing.st_gid != os.fstat(handle.fileno()).st_gid:
                    try:
                        os.fchown(handle.fileno(), -1, existing.st_gid)
                    except PermissionError:   # not a member of that group: the mode still applies
                        pass
            else:
                os.fchmod(handle.fileno(), 0o666 & ~_umask())
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def remove_stale_temp_files(folder: Path, older_than: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Remove temp files that atomic_write left behind in `folder` and its subfolders (a crash
    between writing and renaming). Only regular files of exactly our name pattern, older than
    `older_than` seconds; hidden folders (.git) and symlinks are not touched."""
    removed: list[Path] = []
    cutoff = time.time() - older_than
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if not TEMP_FILE.match(name):
                continue
            path = Path(root) / name
            try:
                info = os.lstat(path)
                if stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff:
                    path.unlink()
                    removed.append(path)
            except FileNotFoundError:   # another process cleaned it up first
                continue
    return removed
