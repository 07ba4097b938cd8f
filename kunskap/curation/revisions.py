"""The save journal: every curation save is a revision, recorded so that a crash at any point
is rolled forward or back at the next start, and kept as the document's history.

`SaveJournal.apply` is the one way curation changes corpus files (see its docstring for the
order of steps); `recover` / `process_pending` finish or undo pending revisions (after a crash,
or deferred uploads that `DeferredSaves` indexes in the background). The history side lists a
document's revisions, shows one version and the diff of a change, and finds the deletes that
can be undone; `version_at` is what a restore writes back.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ..background import SerialWorker
from ..errors import DocumentError, KunskapError, NotFoundError, ValidationError
from ..files import atomic_write
from ..ingest import ingest_files
from ..knowledgebase import KnowledgeBase
from ..loaders import load_file
from .corpus_files import DocumentFiles

log = logging.getLogger("kunskap")

if TYPE_CHECKING:   # DeferredSaves runs Curator.process_pending; imported for the annotation only
    from .service import Curator


class SaveJournal:
    """The revisions of one knowledge base's corpus: writing them and reading them back."""

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self.corpus = Path(kb.settings.corpus)

    def rel(self, path: Path) -> str:
        return Path(path).relative_to(self.corpus).as_posix()

    def apply(self, doc_id: str, action: str, username: str, *, target: Path, changes: dict[Path, bytes | None],
               columns: dict, remove: bool = False, note: str | None = None, idempotency_key: str | None = None,
               defer: bool = False) -> int:
        """One save, journalled so that a crash at any point is rolled forward or back at the next
        start (`recover`): under the writer lock, (1) a pending revision with the files' previous
        contents is committed, (2) the files are written (or removed) atomically, (3) the document
        is ingested (or removed), (4) the revision is marked done. A failure in (2)–(3) puts the
        previous files back and marks the revision aborted. With `defer`, (3)–(4) are left to
        `process_pending` (large uploads: the request answers at once)."""
        store = self.kb.store
        with self.kb.writing():
            previous = {path: (path.read_bytes() if path.exists() else None) for path in changes}
            row = {"doc_id": doc_id, "action": action, "username": username, "note": note,
                   "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                   "state": "pending", "target": self.rel(target), "idempotency_key": idempotency_key, **columns}
            revision_id = store.begin_revision(row, [
                (self.rel(path), previous[path], _sha256(content)) for path, content in changes.items()])
            try:
                for path, content in changes.items():
                    if content is None:
                        path.unlink(missing_ok=True)
                    else:
                        atomic_write(path, content)
                if defer:
                    return revision_id
                if remove:
                    ingest_files(self.kb, self.corpus, [], remove_ids=[doc_id])
                else:
                    ingest_files(self.kb, self.corpus, [target])
            except BaseException as exc:
                try:
                    _put_back(previous)
                except OSError:   # files not restorable now: the journal keeps it for `recover`
                    raise exc from None
                store.end_revision(revision_id, "aborted", error=_reason(exc))
                raise
            store.end_revision(revision_id, "done")
        return revision_id

    def apply_new(self, saves: list[tuple[str, Path, bytes, dict]], username: str) -> list[int]:
        """New files (doc_id, path, content, columns) saved together: the steps of `apply`, with
        one revision per document, but one ingest (one vector index swap and save, one vocabulary
        count) for all of them. A failure puts every file back and aborts every revision; a crash
        leaves pending revisions that `recover` finishes or undoes one by one."""
        store = self.kb.store
        with self.kb.writing():
            previous = {path: (path.read_bytes() if path.exists() else None) for _, path, _, _ in saves}
            now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            revision_ids = [store.begin_revision(
                {"doc_id": doc_id, "action": "create", "username": username, "created_at": now, "state": "pending",
                 "target": self.rel(path), **columns},
                [(self.rel(path), previous[path], _sha256(content))]) for doc_id, path, content, columns in saves]
            try:
                for _, path, content, _ in saves:
                    atomic_write(path, content)
                ingest_files(self.kb, self.corpus, [path for _, path, _, _ in saves])
            except BaseException as exc:
                try:
                    _put_back(previous)
                except OSError:   # files not restorable now: the journal keeps them for `recover`
                    raise exc from None
                for revision_id in revision_ids:
                    store.end_revision(revision_id, "aborted", error=_reason(exc))
                raise
            for revision_id in revision_ids:
                store.end_revision(revision_id, "done")
        return revision_ids

    # -- recovery and deferred work ------------------------------------------------------
    def recover(self) -> list[str]:
        """Finish or undo saves that a crash interrupted (and deferred uploads not yet indexed):
        a pending revision whose files all have their new content is rolled forward (ingested and
        marked done); otherwise its files are put back and it is marked aborted. Returns one
        Swedish line per revision handled. Run at start-up by `kunskap serve` and `kunskap ingest`."""
        return [self.process_pending(row["id"]) for row in self.kb.store.pending_revisions()]

    def process_pending(self, revision_id: int) -> str:
        store = self.kb.store
        rows = [r for r in store.pending_revisions() if r["id"] == revision_id]
        if not rows:
            return f"version {revision_id}: redan klar"
        row = rows[0]
        target = self.corpus / row["target"] if row["target"] else None
        complete = all(_sha256(_read(self.corpus / f["path"])) == f["new_sha256"] for f in row["files"])
        if complete and row["action"] != "delete" and target is not None:
            try:   # embed first, outside the writer lock: a large upload must not hold up other saves
                from ..ingest import embed_texts
                from ..chunking import chunk_document
                from ..embeddings import text_hash

                chunks = chunk_document(load_file(target, self.corpus))
                embed_texts(self.kb, [(text_hash(c.embed_text), c.embed_text) for c in chunks])
            except DocumentError:
                pass   # handled below, under the lock
        with self.kb.writing():
            rows = [r for r in store.pending_revisions() if r["id"] == revision_id]
            if not rows:
                return f"version {revision_id}: redan klar"
            row = rows[0]
            files = {self.corpus / f["path"]: f for f in row["files"]}
            complete = all(_sha256(_read(path)) == f["new_sha256"] for path, f in files.items())
            if complete:
                try:
                    if row["action"] == "delete":
                        ingest_files(self.kb, self.corpus, [], remove_ids=[row["doc_id"]])
                    else:
                        ingest_files(self.kb, self.corpus, [self.corpus / row["target"]])
                except DocumentError as exc:
                    _put_back({path: f["previous"] for path, f in files.items()})
                    store.end_revision(revision_id, "aborted", error=exc.reason)
                    return f"version {revision_id} ({row['doc_id']}): kunde inte läsas in och togs tillbaka: {exc.reason}"
                store.end_revision(revision_id, "done")
                return f"version {revision_id} ({row['doc_id']}): slutförd"
            # Not all files were written: undo those that were, keep anything changed by hand.
            _put_back({path: f["previous"] for path, f in files.items()
                       if _sha256(_read(path)) == f["new_sha256"]})
            store.end_revision(revision_id, "aborted", error="avbruten innan filerna hann skrivas")
            return f"version {revision_id} ({row['doc_id']}): avbruten, inget ändrades"

    def state(self, revision_id: int) -> dict:
        """Where a save stands: pending (being indexed), done or aborted (with the reason)."""
        row = self.kb.store.revision_state(revision_id)
        if row is None:
            raise NotFoundError(f"Version {revision_id} finns inte.")
        return row

    def replay(self, username: str, idempotency_key: str | None) -> dict | None:
        """The earlier save made with this Idempotency-Key by this user, if any (retry-safe POST)."""
        if not idempotency_key:
            return None
        return self.kb.store.revision_for_key(username, idempotency_key)

    def deleted(self) -> list[dict]:
        """Deleted documents that can be restored (no later revision brought them back)."""
        rows = self.kb.store.deletions_not_undone()
        return [r for r in rows if self.kb.store.get_document(r["doc_id"]) is None]

    # -- history ---------------------------------------------------------------------------
    def revisions(self, doc_id: str) -> list[dict]:
        return self.kb.store.revisions_of(doc_id)

    def revision(self, revision_id: int) -> dict:
        row = self.kb.store.get_revision(revision_id)
        if row is None:
            raise NotFoundError(f"Version {revision_id} finns inte.")
        return row

    def revision_text(self, revision_id: int) -> str:
        """The version saved at a revision, as text (Markdown file or sidecar)."""
        revision = self.revision(revision_id)
        before, after = DocumentFiles.at(self.corpus, revision["path"]).version_columns
        data = revision[after] if revision[after] is not None else revision[before]
        return (data or b"").decode("utf-8", "replace")

    def diff(self, revision_id: int) -> str:
        """What the revision changed: unified diff from the previous version to the saved one."""
        revision = self.revision(revision_id)
        before_column, after_column = DocumentFiles.at(self.corpus, revision["path"]).version_columns
        before = revision[before_column] or b""
        after = revision[after_column] or b""
        return "".join(difflib.unified_diff(
            before.decode("utf-8", "replace").splitlines(keepends=True),
            after.decode("utf-8", "replace").splitlines(keepends=True),
            fromfile="före", tofile="efter"))


def version_at(corpus: Path, revision: dict, version: str) -> tuple[DocumentFiles, bytes | None]:
    """What a restore writes back: the document's files and the version `revision` recorded,
    the one before its change ("before": undo that change) or the one it saved ("after"). For an
    upload that is its sidecar; the uploaded file itself never changes."""
    if version not in ("before", "after"):
        raise ValidationError("version", "version ska vara before eller after.")
    files = DocumentFiles.at(corpus, revision["path"])
    before, after = files.version_columns
    return files, revision[before if version == "before" else after]


def _sha256(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _put_back(previous: dict[Path, bytes | None]) -> None:
    """Files as they were before a save (None: there was no file); those already so are not
    touched (a failed write left them as they were, and a full disk would refuse a rewrite)."""
    for path, content in previous.items():
        if _read(path) == content:
            continue
        if content is None:
            path.unlink(missing_ok=True)
        else:
            atomic_write(path, content)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KunskapError):
        return exc.message
    return type(exc).__name__


class DeferredSaves:
    """One background thread that indexes deferred uploads (Curator.process_pending), so the
    request that stored them answers at once. The journal keeps them: a crash leaves them
    pending, and the next start's `recover` finishes them."""

    def __init__(self, curator: Curator):
        self.curator = curator
        # A failure leaves the revision pending; the next start retries it.
        self._worker = SerialWorker(
            "kunskap-deferred-saves",
            lambda revision_id: log.info("kunskap: %s", self.curator.process_pending(revision_id)),
            lambda revision_id: f"kunskap: version {revision_id} kunde inte indexeras")

    def submit(self, revision_id: int) -> None:
        self._worker.put(revision_id)

    def close(self, timeout: float = 5.0) -> None:
        self._worker.close(timeout)
