"""Curation for the association's staff: create, edit, tag, publish, upload, delete and restore.

Files stay the source of truth: every save writes the Markdown file (or a presentation and its
`.yml` sidecar) into the corpus atomically, records a revision in SQLite (who, when, the full
previous and new versions), then ingests just that file, live. A save that fails validation
writes nothing; a save that fails midway leaves the previous file intact.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import frontmatter
import numpy as np
import yaml

from .documents import CONTROL_CHARACTERS, KINDS, STATUSES, has_control_characters, slugify
from .errors import DocumentError, KunskapError, NotFoundError, ReadOnlyError, ValidationError
from .files import atomic_write
from .ingest import ingest_files
from .knowledgebase import KnowledgeBase
from .loaders import BINARY_FORMATS, load_file, sidecar_path
from .reference import organisations

CASE_FOLDER = "fallstudier"
UPLOAD_FOLDER = "presentationer"
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_BODY_CHARS = 100_000
# Uploads with more passages than this are indexed in the background (~0.1 s of model time per
# passage on 2 cores: beyond ~6 s a request should not wait).
INLINE_UPLOAD_CHUNKS = 60
DUPLICATE_COSINE = 0.93
DUPLICATE_TITLE = 90
STATUS_LABELS = {"draft": "utkast", "published": "publicerad", "unpublished": "avpublicerad"}
FORM_FIELDS = ("title", "organisation", "kind", "themes", "year", "published", "summary", "source_url",
               "contact", "language", "status")


class ConflictError(KunskapError):
    """The file changed since the editor opened it: saving would silently undo someone's work."""

    code = "edit_conflict"


class FormError(KunskapError):
    """Validation errors by field, with Swedish messages for the form."""

    code = "invalid_document"

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("Kontrollera fälten: " + "; ".join(f"{k}: {v}" for k, v in errors.items()))


@dataclass
class Duplicate:
    doc_id: str
    title: str
    organisation: str
    reason: str


@dataclass
class UploadResult:
    doc_id: str
    revision_id: int
    pending: bool = False      # stored; being indexed in the background


@dataclass
class SaveResult:
    doc_id: str
    duplicates: list[Duplicate] = field(default_factory=list)
    saved: bool = True


def _clean(value) -> str:
    return str(value or "").replace("\r\n", "\n").strip()


class Curator:
    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self.corpus = Path(kb.settings.corpus)

    def _writable(self) -> None:
        if self.kb.settings.read_only:
            raise ReadOnlyError("Tjänsten körs skrivskyddad (--read-only): ändringar görs där indexet byggs.")

    # -- validation ------------------------------------------------------------------------
    def validate(self, values: dict, body: str | None, require_body: bool = True) -> dict:
        """Form values -> front matter, or FormError with a Swedish message per field."""
        errors: dict[str, str] = {}
        meta: dict = {}
        title = _clean(values.get("title"))
        if not title:
            errors["title"] = "Ange en rubrik."
        elif len(title) > 200:
            errors["title"] = "Rubriken får vara högst 200 tecken."
        meta["title"] = title
        organisation = _clean(values.get("organisation"))
        known = organisations()
        if not organisation:
            errors["organisation"] = "Välj kommun eller region."
        elif organisation not in known:
            errors["organisation"] = "Välj en kommun eller region ur listan."
        else:
            meta["organisation"] = organisation
            meta["organisation_type"] = known[organisation]["type"]
            meta["county"] = known[organisation]["county"]
        kind = _clean(values.get("kind")) or "case-study"
        if kind not in KINDS:
            errors["kind"] = "Välj en giltig typ."
        meta["kind"] = kind
        themes = values.get("themes") or []
        if isinstance(themes, str):
            themes = [t for t in re.split(r"[,\s]+", themes) if t]
        unknown = [t for t in themes if t not in self.kb.themes.by_slug]
        if unknown:
            errors["themes"] = f"Okänt tema: {', '.join(unknown[:3])}."
        other = [str(t).strip()[:60] for t in values.get("other_tags") or [] if str(t).strip()]
        meta["themes"] = list(dict.fromkeys([*themes, *other]))
        year = _clean(values.get("year"))
        if year:
            if not year.isdigit() or not 1900 <= int(year) <= dt.date.today().year + 1:
                errors["year"] = f"Ange ett årtal mellan 1900 och {dt.date.today().year + 1}."
            else:
                meta["year"] = int(year)
        published = _clean(values.get("published"))
        if published:
            try:
                meta["published"] = dt.date.fromisoformat(published).isoformat()
            except ValueError:
                errors["published"] = "Ange datumet som ÅÅÅÅ-MM-DD, t.ex. 2024-05-31."
        summary = _clean(values.get("summary"))
        if len(summary) > 400:
            errors["summary"] = "Sammanfattningen får vara högst 400 tecken."
        elif summary:
            meta["summary"] = summary
        source_url = _clean(values.get("source_url"))
        if source_url:
            if not re.match(r"^https?://[^\s/$.?#].[^\s]*$", source_url) or len(source_url) > 1000:
                errors["source_url"] = "Ange en fullständig webbadress som börjar med https://."
            else:
                meta["source_url"] = source_url
        contact = _clean(values.get("contact"))
        if len(contact) > 200:
            errors["contact"] = "Kontaktuppgiften får vara högst 200 tecken."
        elif contact:
            meta["contact"] = contact
        meta["language"] = _clean(values.get("language")) or "sv"
        status = _clean(values.get("status")) or "draft"
        if status not in STATUSES:
            errors["status"] = "Välj utkast, publicerad eller avpublicerad."
        meta["status"] = status
        if body is not None:
            if require_body and not _clean(body):
                errors["body"] = "Skriv en brödtext (bakgrund, vad gjordes, resultat, lärdomar)."
            elif len(body) > MAX_BODY_CHARS:
                errors["body"] = f"Brödtexten får vara högst {MAX_BODY_CHARS} tecken."
            elif has_control_characters(body, body=True):
                errors["body"] = "Brödtexten får inte innehålla kontrolltecken (osynliga tecken som NUL); " \
                                 "tabb och radbrytning går bra."
        for key in (*FORM_FIELDS, "other_tags"):   # checked as stored: surrounding whitespace is trimmed
            value = values.get(key)
            cleaned = [_clean(v) for v in value] if isinstance(value, (list, tuple)) else _clean(value)
            if has_control_characters(cleaned):
                errors[key] = f"Fältet får inte innehålla {CONTROL_CHARACTERS}."
        if errors:
            raise FormError(errors)
        return meta

    # -- reading ---------------------------------------------------------------------------
    def documents(self, status: str | None = None) -> list[dict]:
        where, params = ("status = ?", [status]) if status else ("1", [])
        return list(self.kb.store.db.query(
            f"SELECT id, title, organisation, kind, status, year, themes, curation_notes, updated_at, source_path "
            f"FROM documents WHERE {where} ORDER BY updated_at DESC, id", params))

    def document(self, doc_id: str) -> dict:
        row = self.kb.store.get_document(doc_id)
        if row is None:
            raise NotFoundError(f"Dokumentet '{doc_id[:80]}' finns inte.")
        return row

    def form_values(self, doc_id: str) -> tuple[dict, str]:
        """Current values for the edit form, read from the file (the source of truth)."""
        row = self.document(doc_id)
        path = self.corpus / row["source_path"]
        if path.suffix == ".md":
            post = frontmatter.loads(path.read_text("utf-8"))
            values = dict(post.metadata)
            body = post.content
        else:
            sidecar = sidecar_path(path)
            values = yaml.safe_load(sidecar.read_text("utf-8")) if sidecar.exists() else {}
            values = values or {}
            values.setdefault("title", row["title"])
            body = None
        values.setdefault("status", row["status"])
        tags = values.get("themes") or []
        tags = [tags] if isinstance(tags, str) else [str(t) for t in tags]
        values["themes"] = self.kb.themes.slugs_for_tags(tags)
        # Free tags that are no curated theme are kept as they are.
        values["other_tags"] = [t for t in tags if not self.kb.themes.slugs_for_tags([t])]
        return values, body

    def review_queue(self) -> list[dict]:
        """Documents that need attention: missing metadata, uploads without sidecar, near-duplicates."""
        queue = []
        for row in self.documents():
            notes = _json_list(row["curation_notes"])
            if notes:
                queue.append({**row, "reasons": notes})
        seen = {q["id"] for q in queue}
        for a, b, reason in self.near_duplicate_pairs():
            for doc_id, other in ((a, b), (b, a)):
                if doc_id in seen:
                    continue
                row = self.kb.store.get_document(doc_id)
                queue.append({**row, "reasons": [f"liknar {other} ({reason})"]})
                seen.add(doc_id)
        # Most urgent first: files without metadata or organisation, near-duplicates, then gaps.
        order = ("metadatafil", "organisation", "liknar", "teman", "år")

        def urgency(item):
            return min((i for i, key in enumerate(order) for r in item["reasons"] if r.startswith(key)),
                       default=len(order)), item["id"]

        return sorted(queue, key=urgency)

    def near_duplicate_pairs(self) -> list[tuple[str, str, str]]:
        from rapidfuzz import fuzz

        rows = list(self.kb.store.db.query("SELECT id, title FROM documents ORDER BY id"))
        centroids = self._centroids([r["id"] for r in rows])
        pairs = []
        ids = [r["id"] for r in rows if r["id"] in centroids]
        if ids:
            matrix = np.vstack([centroids[i] for i in ids])
            sims = matrix @ matrix.T
            for i in range(len(ids)):
                for j in range(i + 1, len(ids)):
                    if sims[i, j] >= DUPLICATE_COSINE + 0.03:
                        pairs.append((ids[i], ids[j], f"innehåll {sims[i, j]:.2f}"))
        found = {(x, y) for x, y, _ in pairs}
        for i, a in enumerate(rows):
            for b in rows[i + 1:]:
                if (a["id"], b["id"]) not in found and fuzz.token_set_ratio(a["title"], b["title"]) >= 97:
                    pairs.append((a["id"], b["id"], "nästan samma rubrik"))
        return pairs

    def _centroids(self, doc_ids: list[str]) -> dict[str, np.ndarray]:
        vectors = {doc_id: self.kb.document_vector(doc_id) for doc_id in doc_ids}
        return {doc_id: v for doc_id, v in vectors.items() if v is not None}

    def duplicates(self, title: str, text: str, exclude: str | None = None) -> list[Duplicate]:
        """Existing documents very close to a new one (embedding similarity or title)."""
        from rapidfuzz import fuzz

        found: dict[str, Duplicate] = {}
        rows = list(self.kb.store.db.query("SELECT id, title, organisation FROM documents"))
        for row in rows:
            if row["id"] != exclude and fuzz.token_set_ratio(title.lower(), row["title"].lower()) >= DUPLICATE_TITLE:
                found[row["id"]] = Duplicate(row["id"], row["title"], row["organisation"], "liknande rubrik")
        if self.kb.vectors is not None and self.kb.vectors.count and text.strip():
            query = self.kb.embedder.encode_passages([f"{title}\n{text[:2000]}"])[0]
            ids, scores = self.kb.vectors.search(query, 20)
            docs = self.kb.store.chunk_doc_map()
            by_id = {r["id"]: r for r in rows}
            for chunk_id, score in zip(ids.tolist(), scores.tolist()):
                doc_id = docs.get(chunk_id)
                if doc_id and doc_id != exclude and score >= DUPLICATE_COSINE and doc_id not in found:
                    row = by_id[doc_id]
                    found[doc_id] = Duplicate(doc_id, row["title"], row["organisation"], f"liknande innehåll ({score:.2f})")
        return list(found.values())

    # -- writing ---------------------------------------------------------------------------
    def new_id(self, title: str, organisation: str) -> str:
        org = slugify(re.sub(r"\b(kommun|stad|region)\b", "", organisation, flags=re.I)) or "okand"
        base = f"{org}-{slugify(title)}"[:70].strip("-")
        existing = set(self.kb.store.document_states())
        candidate, n = base, 2
        while candidate in existing or (self.corpus / CASE_FOLDER / f"{candidate}.md").exists():
            candidate, n = f"{base}-{n}", n + 1
        return candidate

    def version(self, doc_id: str) -> str:
        """A short fingerprint of the file(s) as they are now, for edit-conflict checks."""
        path = self.corpus / self.document(doc_id)["source_path"]
        target = path if path.suffix == ".md" else sidecar_path(path)
        return hashlib.sha256(target.read_bytes() if target.exists() else b"").hexdigest()[:16]

    def _check_version(self, doc_id: str, base_version: str | None) -> None:
        if base_version and base_version != self.version(doc_id):
            raise ConflictError("Dokumentet har ändrats av någon annan sedan du öppnade det. Öppna det igen, "
                                "jämför med versionshistoriken och gör din ändring på nytt – inget har sparats.")

    def save_case_study(self, values: dict, body: str, username: str, doc_id: str | None = None,
                        confirm_duplicates: bool = False, base_version: str | None = None,
                        idempotency_key: str | None = None) -> SaveResult:
        self._writable()
        meta = self.validate(values, body)
        if doc_id is not None:
            self._check_version(doc_id, base_version)
        if doc_id is None:
            duplicates = self.duplicates(meta["title"], body)
            if duplicates and not confirm_duplicates:
                return SaveResult(doc_id="", duplicates=duplicates, saved=False)
            doc_id = self.new_id(meta["title"], meta["organisation"])
            path = self.corpus / CASE_FOLDER / f"{doc_id}.md"
            previous = None
            extra: dict = {}
        else:
            row = self.document(doc_id)
            path = self.corpus / row["source_path"]
            if path.suffix != ".md":
                raise ValidationError("id", "Dokumentet är en uppladdad fil: redigera dess metadata i stället.")
            previous = path.read_bytes() if path.exists() else None
            extra = {}
            if previous:
                try:
                    extra = {k: v for k, v in frontmatter.loads(previous.decode("utf-8")).metadata.items()
                             if k not in FORM_FIELDS and k not in ("organisation_type", "county")}
                except Exception:  # an unreadable previous version is replaced as a whole
                    extra = {}
        ordered = {"id": doc_id, **{k: meta[k] for k in ("title", "organisation", "organisation_type", "county",
                                                          "kind", "themes", "year", "published", "summary",
                                                          "source_url", "contact", "language", "status") if k in meta}}
        ordered.update({k: v for k, v in extra.items() if k != "id"})
        content = render_case_file(ordered, body)
        self._write_and_ingest(doc_id, path, content, previous, "create" if previous is None else "update", username,
                               idempotency_key=idempotency_key)
        return SaveResult(doc_id=doc_id)

    def set_status(self, doc_id: str, status: str, username: str) -> None:
        self._writable()
        if status not in STATUSES:
            raise ValidationError("status", "Ogiltig status.")
        row = self.document(doc_id)
        path = self.corpus / row["source_path"]
        if path.suffix == ".md":
            previous = path.read_bytes()
            post = frontmatter.loads(previous.decode("utf-8"))
            post.metadata["status"] = status
            self._write_and_ingest(doc_id, path, render_case_file(post.metadata, post.content), previous,
                                   "publish" if status == "published" else "unpublish", username)
        else:
            sidecar = sidecar_path(path)
            previous = sidecar.read_bytes() if sidecar.exists() else b""
            meta = (yaml.safe_load(previous) or {}) if previous else {}
            meta["status"] = status
            meta.setdefault("title", row["title"])
            self._write_sidecar_and_ingest(doc_id, path, meta, previous, "publish" if status == "published" else "unpublish",
                                           username)

    def save_upload_metadata(self, doc_id: str, values: dict, username: str, base_version: str | None = None) -> None:
        self._writable()
        self._check_version(doc_id, base_version)
        row = self.document(doc_id)
        path = self.corpus / row["source_path"]
        meta = self.validate(values, None)
        meta["id"] = doc_id
        sidecar = sidecar_path(path)
        previous = sidecar.read_bytes() if sidecar.exists() else b""
        self._write_sidecar_and_ingest(doc_id, path, meta, previous, "update", username)

    def _write_sidecar_and_ingest(self, doc_id, path, meta, previous, action, username) -> None:
        sidecar = sidecar_path(path)
        content = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, default_flow_style=None).encode("utf-8")
        self._apply(doc_id, action, username, target=path, changes={sidecar: content},
                    columns={"path": self._rel(sidecar), "previous_sidecar": previous or None, "sidecar": content})

    def _write_and_ingest(self, doc_id: str, path: Path, content: bytes, previous: bytes | None, action: str,
                          username: str, idempotency_key: str | None = None) -> None:
        check_file(path.name, content)   # same loader as ingest, before touching the corpus
        self._apply(doc_id, action, username, target=path, changes={path: content},
                    columns={"path": self._rel(path), "previous_content": previous, "content": content},
                    idempotency_key=idempotency_key)

    def _rel(self, path: Path) -> str:
        return Path(path).relative_to(self.corpus).as_posix()

    def _apply(self, doc_id: str, action: str, username: str, *, target: Path, changes: dict[Path, bytes | None],
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
                   "state": "pending", "target": self._rel(target), "idempotency_key": idempotency_key, **columns}
            revision_id = store.begin_revision(row, [
                (self._rel(path), previous[path], _sha256(content)) for path, content in changes.items()])
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

    # -- recovery and deferred work ------------------------------------------------------
    def recover(self) -> list[str]:
        """Finish or undo saves that a crash interrupted (and deferred uploads not yet indexed):
        a pending revision whose files all have their new content is rolled forward (ingested and
        marked done); otherwise its files are put back and it is marked aborted. Returns one
        Swedish line per revision handled. Run at start-up by `kunskap serve` and `kunskap ingest`."""
        self._writable()
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
                from .ingest import embed_texts
                from .chunking import chunk_document
                from .embeddings import text_hash

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

    def save_state(self, revision_id: int) -> dict:
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

    def delete(self, doc_id: str, username: str) -> int:
        """Remove the file(s) and the document; the revision keeps everything for undo."""
        self._writable()
        row = self.document(doc_id)
        path = self.corpus / row["source_path"]
        sidecar = sidecar_path(path)
        previous = path.read_bytes() if path.exists() else None
        previous_sidecar = sidecar.read_bytes() if sidecar.exists() else None
        changes = {path: None, **({sidecar: None} if previous_sidecar is not None else {})}
        return self._apply(doc_id, "delete", username, target=path, changes=changes, remove=True,
                           columns={"path": self._rel(path), "previous_content": previous,
                                    "previous_sidecar": previous_sidecar})

    def deleted(self) -> list[dict]:
        """Deleted documents that can be restored (no later revision brought them back)."""
        rows = list(self.kb.store.db.query(
            "SELECT r.id, r.doc_id, r.path, r.username, r.created_at FROM revisions r WHERE r.action = 'delete' "
            "AND r.state = 'done' AND NOT EXISTS (SELECT 1 FROM revisions later WHERE later.doc_id = r.doc_id "
            "AND later.id > r.id AND later.state != 'aborted') "
            "ORDER BY r.id DESC"))
        return [r for r in rows if self.kb.store.get_document(r["doc_id"]) is None]

    def undo_delete(self, revision_id: int, username: str) -> str:
        self._writable()
        revision = self.revision(revision_id)
        if revision["action"] != "delete":
            raise ValidationError("revision", "Versionen är ingen borttagning.")
        path = self.corpus / revision["path"]
        if path.exists() or self.kb.store.get_document(revision["doc_id"]):
            raise ValidationError("revision", "Dokumentet finns redan igen.")
        changes = {}
        if revision["previous_content"] is not None:
            changes[path] = revision["previous_content"]
        if revision["previous_sidecar"] is not None:
            changes[sidecar_path(path)] = revision["previous_sidecar"]
        self._apply(revision["doc_id"], "restore", username, target=path, changes=changes,
                    columns={"path": revision["path"], "content": revision["previous_content"],
                             "sidecar": revision["previous_sidecar"]},
                    note=f"återställd från version {revision_id}")
        return revision["doc_id"]

    # -- uploads ---------------------------------------------------------------------------
    def upload(self, filename: str, data: bytes, values: dict | None, username: str,
               idempotency_key: str | None = None) -> "UploadResult":
        """Store an uploaded PDF/PPTX/DOCX with its sidecar, as the status asked for (draft by
        default). Without a title and an organisation it can only be a draft. A file with more
        than INLINE_UPLOAD_CHUNKS passages is stored and journalled at once and indexed in the
        background (`pending`; follow it with `save_state`)."""
        self._writable()
        values = values or {}
        suffix = Path(filename or "").suffix.lower()
        if suffix not in BINARY_FORMATS:
            raise FormError({"file": "Ladda upp en PDF-, PPTX- eller DOCX-fil."})
        if not data:
            raise FormError({"file": "Filen är tom."})
        if len(data) > MAX_UPLOAD_BYTES:
            raise FormError({"file": f"Filen är större än {MAX_UPLOAD_BYTES // (1024 * 1024)} MB."})
        status = _clean(values.get("status")) or "draft"
        has_meta = any(_clean(values.get(k)) for k in ("title", "organisation"))
        if has_meta:
            meta = self.validate({**values, "status": status, "kind": values.get("kind") or BINARY_FORMATS[suffix][1]},
                                 None)
        elif status not in STATUSES:
            raise FormError({"status": "Välj utkast, publicerad eller avpublicerad."})
        elif status == "published":
            raise FormError({"status": "En uppladdning utan rubrik och organisation kan bara sparas som utkast. "
                                       "Fyll i rubrik och kommun eller region för att publicera den."})
        else:
            meta = {"status": status}
        stem = slugify(Path(filename).stem)[:60] or "uppladdning"
        doc_id = self.new_id(meta.get("title") or stem, meta.get("organisation", "")) if has_meta else stem
        existing = set(self.kb.store.document_states())
        base, n = doc_id, 2
        while doc_id in existing or (self.corpus / UPLOAD_FOLDER / f"{doc_id}{suffix}").exists():
            doc_id, n = f"{base}-{n}", n + 1
        path = self.corpus / UPLOAD_FOLDER / f"{doc_id}{suffix}"
        # Validate the file with the real loader in a hidden temp place first: nothing is stored
        # unless it loads (type by content, encryption, zip bombs, path traversal, damage, size).
        try:
            document = check_file(path.name, data)
        except DocumentError as exc:
            raise FormError({"file": exc.reason}) from None
        from .chunking import chunk_document

        defer = len(chunk_document(document)) > INLINE_UPLOAD_CHUNKS
        sidecar = sidecar_path(path)
        sidecar_content = yaml.safe_dump({"id": doc_id, **meta}, allow_unicode=True, sort_keys=False,
                                         default_flow_style=None).encode("utf-8")
        revision_id = self._apply(doc_id, "upload", username, target=path,
                                  changes={sidecar: sidecar_content, path: data},
                                  columns={"path": self._rel(path), "content": data, "sidecar": sidecar_content},
                                  idempotency_key=idempotency_key, defer=defer)
        return UploadResult(doc_id, revision_id, pending=defer)

    # -- revisions -------------------------------------------------------------------------
    def revisions(self, doc_id: str) -> list[dict]:
        return list(self.kb.store.db.query(
            "SELECT id, doc_id, path, action, username, created_at, note, state FROM revisions WHERE doc_id = ? "
            "AND state != 'aborted' ORDER BY id DESC", [doc_id]))

    def revision(self, revision_id: int) -> dict:
        rows = list(self.kb.store.db.query("SELECT * FROM revisions WHERE id = ?", [revision_id]))
        if not rows:
            raise NotFoundError(f"Version {revision_id} finns inte.")
        return rows[0]

    def revision_text(self, revision_id: int) -> str:
        """The version saved at a revision, as text (Markdown file or sidecar)."""
        revision = self.revision(revision_id)
        data = revision["content"] if Path(revision["path"]).suffix == ".md" else revision["sidecar"]
        if data is None:
            data = revision["previous_content"] if Path(revision["path"]).suffix == ".md" else revision["previous_sidecar"]
        return (data or b"").decode("utf-8", "replace")

    def diff(self, revision_id: int) -> str:
        """What the revision changed: unified diff from the previous version to the saved one."""
        revision = self.revision(revision_id)
        markdown = Path(revision["path"]).suffix == ".md"
        before = (revision["previous_content"] if markdown else revision["previous_sidecar"]) or b""
        after = (revision["content"] if markdown else revision["sidecar"]) or b""
        return "".join(difflib.unified_diff(
            before.decode("utf-8", "replace").splitlines(keepends=True),
            after.decode("utf-8", "replace").splitlines(keepends=True),
            fromfile="före", tofile="efter"))

    def restore(self, revision_id: int, username: str, version: str = "before") -> None:
        """Make a version current again, as a new revision: the one before the change recorded
        at `revision_id` ("before": undo that change) or the one it saved ("after")."""
        self._writable()
        revision = self.revision(revision_id)
        if revision["action"] == "delete":
            self.undo_delete(revision_id, username)
            return
        if version not in ("before", "after"):
            raise ValidationError("version", "version ska vara before eller after.")
        path = self.corpus / revision["path"]
        column = ("previous_" if version == "before" else "") + ("content" if path.suffix == ".md" else "sidecar")
        wanted = revision[column]
        if wanted is None:
            raise ValidationError("revision", "Den versionen finns inte (dokumentet skapades här).")
        if path.suffix == ".md":
            previous = path.read_bytes() if path.exists() else None
            self._write_and_ingest(revision["doc_id"], path, wanted, previous, "restore", username)
        else:
            sidecar = sidecar_path(path)
            previous = sidecar.read_bytes() if sidecar.exists() else b""
            self._write_sidecar_and_ingest(revision["doc_id"], path, yaml.safe_load(wanted), previous, "restore",
                                           username)


def check_file(name: str, data: bytes):
    """Load `data` as a corpus file named `name` in a private temp folder and return the
    Document; raises DocumentError."""
    with tempfile.TemporaryDirectory(prefix="kunskap-check-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        return load_file(path, Path(folder))


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

    def __init__(self, curator: "Curator"):
        import queue
        import threading

        self.curator = curator
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="kunskap-deferred-saves", daemon=True)
        self._thread.start()

    def submit(self, revision_id: int) -> None:
        self._queue.put(revision_id)

    def close(self, timeout: float = 5.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        import logging

        while (revision_id := self._queue.get()) is not None:
            try:
                logging.getLogger("kunskap").info("kunskap: %s", self.curator.process_pending(revision_id))
            except Exception:   # the revision stays pending; the next start retries it
                logging.getLogger("kunskap").exception("kunskap: version %s kunde inte indexeras", revision_id)


def _json_list(value) -> list:
    if isinstance(value, str):
        return json.loads(value or "[]")
    return value or []


def render_case_file(meta: dict, body: str) -> bytes:
    """Front matter + body, as staff would write it by hand (keys in a stable order)."""
    clean = {k: v for k, v in meta.items() if v not in (None, "", [])}
    head = yaml.safe_dump(clean, allow_unicode=True, sort_keys=False, default_flow_style=None, width=1000)
    return f"---\n{head}---\n\n{(body or '').strip()}\n".encode("utf-8")
