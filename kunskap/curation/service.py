"""`Curator`: the curation operations staff call (through the web pages and the API): list,
create, edit, tag, publish, upload, delete and restore.

Files stay the source of truth: every save writes the Markdown file (or a presentation and its
`.yml` sidecar) into the corpus atomically, records a revision in SQLite (who, when, the full
previous and new versions), then ingests just that file, live. A save that fails validation
writes nothing; a save that fails midway leaves the previous file intact. The rules of a form are
in validation.py, the files of a document in corpus_files.py, the journal every save goes
through in revisions.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import frontmatter
import yaml

from ..documents import slugify
from ..errors import ConflictError, DocumentError, FormError, NotFoundError, ReadOnlyError, ValidationError
from ..knowledgebase import KnowledgeBase
from ..loaders import BINARY_FORMATS
from .corpus_files import (
    DocumentFiles,
    case_study_path,
    check_file,
    check_files,
    render_case_file,
    render_sidecar,
    upload_path,
)
from .duplicates import BatchDuplicateGuard, Duplicate, find_duplicates, near_duplicate_pairs
from .revisions import SaveJournal, version_at
from .domains import hosts_of_documents, organisation_for_url
from .fetch import FetchError, fetch
from . import imports
from .intake import PDF_TYPES, PageDraft, extract_page, pdf_filename
from .suggest import Suggestion, ThemeSuggester, draft_text
from .validation import FORM_FIELDS, clean_text, form_metadata, status_problem

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
# Uploads with more passages than this are indexed in the background (~0.1 s of model time per
# passage on 2 cores: beyond ~6 s a request should not wait).
INLINE_UPLOAD_CHUNKS = 60


@dataclass
class UploadResult:
    doc_id: str
    revision_id: int
    pending: bool = False      # stored; being indexed in the background


@dataclass
class IntakeResult:
    """What intake made of a page: the draft values, and the saved draft or why it is not saved
    (duplicates; no organisation known or form errors: the editor completes the form; a page
    that is mostly a PDF link: offered as an upload)."""

    draft: PageDraft
    saved: "SaveResult | None" = None
    errors: dict = field(default_factory=dict)
    suggestions: list = field(default_factory=list)


@dataclass
class SaveResult:
    doc_id: str
    duplicates: list[Duplicate] = field(default_factory=list)
    saved: bool = True


class Curator:
    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self.corpus = Path(kb.settings.corpus)
        self.journal = SaveJournal(kb)
        self.suggester = ThemeSuggester(kb)

    def _writable(self) -> None:
        if self.kb.settings.read_only:
            raise ReadOnlyError("Tjänsten körs skrivskyddad (--read-only): ändringar görs där indexet byggs.")

    # -- validation ------------------------------------------------------------------------
    def validate(self, values: dict, body: str | None, require_body: bool = True) -> dict:
        """Form values -> front matter, or FormError with a Swedish message per field."""
        return form_metadata(values, body, self.kb.themes, require_body=require_body)

    # -- reading ---------------------------------------------------------------------------
    def documents(self, status: str | None = None) -> list[dict]:
        return self.kb.store.curation_documents(status)

    def document(self, doc_id: str) -> dict:
        row = self.kb.store.get_document(doc_id)
        if row is None:
            raise NotFoundError(f"Dokumentet '{doc_id[:80]}' finns inte.")
        return row

    def form_values(self, doc_id: str) -> tuple[dict, str]:
        """Current values for the edit form, read from the file (the source of truth)."""
        row = self.document(doc_id)
        values, body = self.files(doc_id).read_metadata()
        values.setdefault("title", row["title"])     # an upload without sidecar: its own title
        values.setdefault("status", row["status"])
        tags = values.get("themes") or []
        tags = [tags] if isinstance(tags, str) else [str(t) for t in tags]
        values["themes"] = self.kb.themes.slugs_for_tags(tags)
        # Free tags that are no curated theme are kept as they are.
        values["other_tags"] = [t for t in tags if not self.kb.themes.slugs_for_tags([t])]
        return values, body

    def files(self, doc_id: str) -> DocumentFiles:
        """The document's file(s) in the corpus and their kind (Markdown, or upload + sidecar)."""
        return DocumentFiles.at(self.corpus, self.document(doc_id)["source_path"])

    def review_queue(self) -> list[dict]:
        """Documents that need attention: missing metadata, uploads without sidecar, near-duplicates."""
        queue = []
        for row in self.documents():
            notes = row["curation_notes"]
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
        return near_duplicate_pairs(self.kb)

    def duplicates(self, title: str, text: str, exclude: str | None = None) -> list[Duplicate]:
        """Existing documents very close to a new one (embedding similarity or title)."""
        return find_duplicates(self.kb, title, text, exclude)

    def suggest_themes(self, title: str = "", summary: str = "", body: str = "") -> list[Suggestion]:
        """The three curated themes a draft's text is most about (suggest.py), for the editor to confirm."""
        return self.suggester.suggest(draft_text(title, summary, body))

    def guess_organisation(self, url: str) -> str | None:
        rows = self.kb.store.get_documents([r["id"] for r in self.kb.store.document_titles()]).values()
        return organisation_for_url(url, hosts_of_documents(list(rows)))

    # -- intake from the web -------------------------------------------------------------------
    def intake_page(self, url: str, username: str, organisation: str | None = None,
                    confirm_duplicates: bool = False) -> IntakeResult:
        """Fetch a web page and save it as a draft case study (never published here). Fetch
        failures raise FetchError (a ValidationError on `url`) and store nothing."""
        self._writable()
        draft = extract_page(fetch(url, allow_private=self.kb.settings.intake_allow_private))
        draft.organisation = organisation or self.guess_organisation(draft.url) or self.guess_organisation(url)
        suggestions = self.suggest_themes(draft.title, draft.summary, draft.body)
        draft.themes = [s.slug for s in suggestions]
        result = IntakeResult(draft=draft, suggestions=suggestions)
        if draft.mostly_pdf:
            return result
        values = {"title": draft.title, "organisation": draft.organisation or "", "themes": draft.themes,
                  "year": draft.year, "summary": draft.summary, "source_url": url.strip(), "status": "draft",
                  "kind": "case-study"}
        try:
            result.saved = self.save_case_study(values, draft.body, username, confirm_duplicates=confirm_duplicates)
        except FormError as exc:
            result.errors = exc.errors
        return result

    def intake_pdf(self, url: str, username: str, organisation: str | None = None) -> UploadResult:
        """Fetch a PDF (e.g. the one a page links to) and store it as a draft upload."""
        self._writable()
        fetched = fetch(url, allow_private=self.kb.settings.intake_allow_private, max_bytes=MAX_UPLOAD_BYTES)
        if fetched.content_type not in PDF_TYPES and fetched.data[:5] != b"%PDF-":
            raise FetchError("Adressen gav ingen PDF-fil.")
        organisation = organisation or self.guess_organisation(url)
        values = {"source_url": url.strip(), "status": "draft", "organisation": organisation or "",
                  "title": Path(pdf_filename(url)).stem.replace("-", " ").replace("_", " ") if organisation else ""}
        return self.upload(pdf_filename(url), fetched.data, values, username)

    # -- bulk import ---------------------------------------------------------------------------
    def import_preview(self, filename: str, data: bytes, mapping: dict | None = None) -> imports.ImportPreview:
        """A spreadsheet read, mapped and validated row by row (imports.py); nothing is stored."""
        return imports.preview(self, filename, data, mapping)

    def import_rows(self, filename: str, data: bytes, username: str,
                    mapping: dict | None = None) -> imports.ImportPreview:
        """The valid rows of a spreadsheet saved as drafts; existing ones are not duplicated."""
        return imports.apply(self, filename, data, username, mapping)

    # -- writing ---------------------------------------------------------------------------
    def new_id(self, title: str, organisation: str, taken: set[str] | None = None) -> str:
        """An id for a new document: its organisation and title as a slug, numbered if a document
        or file has it. `taken`: the ids known to be in use (a batch reads them once and adds its own)."""
        org = slugify(re.sub(r"\b(kommun|stad|region)\b", "", organisation, flags=re.I)) or "okand"
        base = f"{org}-{slugify(title)}"[:70].strip("-")
        existing = set(self.kb.store.document_states()) if taken is None else taken
        candidate, n = base, 2
        while candidate in existing or case_study_path(self.corpus, candidate).exists():
            candidate, n = f"{base}-{n}", n + 1
        return candidate

    def version(self, doc_id: str) -> str:
        """A short fingerprint of the file(s) as they are now, for edit-conflict checks."""
        return self.files(doc_id).version()

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
            path = case_study_path(self.corpus, doc_id)
            previous = None
            extra: dict = {}
        else:
            files = self.files(doc_id)
            path = files.path
            if not files.markdown:
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

    def save_new_case_studies(self, items: list[tuple[dict, str]], username: str) -> list[SaveResult]:
        """New case studies (form values, body) saved together, as `save_case_study` saves one
        (validated, the duplicate guard, a new id), but written and indexed in one journalled
        step (`SaveJournal.apply_new`): what makes a spreadsheet import of thousands of rows
        take minutes, not hours. A row like an existing document, or like an earlier row of the
        batch, is not saved (its result lists the duplicates)."""
        self._writable()
        metas = [self.validate(values, body) for values, body in items]
        guard = BatchDuplicateGuard(self.kb, [m["title"] for m in metas], [body for _, body in items])
        results, saves, taken = [], [], set(self.kb.store.document_states())
        for index, (meta, (_, body)) in enumerate(zip(metas, items)):
            duplicates = guard.check(index, meta["title"], body)
            if duplicates:
                results.append(SaveResult(doc_id="", duplicates=duplicates, saved=False))
                continue
            doc_id = self.new_id(meta["title"], meta["organisation"], taken)
            taken.add(doc_id)
            guard.accept(index, doc_id, meta["title"], meta["organisation"])
            path = case_study_path(self.corpus, doc_id)
            ordered = {"id": doc_id, **{k: meta[k] for k in ("title", "organisation", "organisation_type", "county",
                                                              "kind", "themes", "year", "published", "summary",
                                                              "source_url", "contact", "language", "status")
                                        if k in meta}}
            content = render_case_file(ordered, body)
            saves.append((doc_id, path, content, {"path": self.journal.rel(path), "previous_content": None,
                                                  "content": content}))
            results.append(SaveResult(doc_id=doc_id))
        if saves:
            check_files([(path.name, content) for _, path, content, _ in saves])   # the loader, before the corpus
            self.journal.apply_new(saves, username)
        return results

    def set_status(self, doc_id: str, status: str, username: str) -> None:
        self._writable()
        if problem := status_problem(status):
            raise ValidationError("status", problem)
        row = self.document(doc_id)
        files = self.files(doc_id)
        path = files.path
        if files.markdown:
            previous = path.read_bytes()
            post = frontmatter.loads(previous.decode("utf-8"))
            post.metadata["status"] = status
            self._write_and_ingest(doc_id, path, render_case_file(post.metadata, post.content), previous,
                                   "publish" if status == "published" else "unpublish", username)
        else:
            previous = files.sidecar.read_bytes() if files.sidecar.exists() else b""
            meta = (yaml.safe_load(previous) or {}) if previous else {}
            meta["status"] = status
            meta.setdefault("title", row["title"])
            self._write_sidecar_and_ingest(doc_id, path, meta, previous, "publish" if status == "published" else "unpublish",
                                           username)

    def save_upload_metadata(self, doc_id: str, values: dict, username: str, base_version: str | None = None) -> None:
        self._writable()
        self._check_version(doc_id, base_version)
        files = self.files(doc_id)
        if files.markdown:
            raise ValidationError("id", "Dokumentet är en Markdown-fil: redigera det i formuläret för fallstudier.")
        meta = self.validate(values, None)
        meta["id"] = doc_id
        previous = files.sidecar.read_bytes() if files.sidecar.exists() else b""
        # Keys the form does not edit (the meeting a presentation was given at, any extra key) stay,
        # as they do when a case study's form is saved.
        try:
            kept = yaml.safe_load(previous) if previous else {}
        except yaml.YAMLError:   # an unreadable previous sidecar is replaced as a whole
            kept = {}
        if isinstance(kept, dict):
            meta.update({k: v for k, v in kept.items()
                         if k not in meta and k not in FORM_FIELDS and k not in ("organisation_type", "county")})
        self._write_sidecar_and_ingest(doc_id, files.path, meta, previous, "update", username)

    def _write_sidecar_and_ingest(self, doc_id, path, meta, previous, action, username) -> None:
        sidecar = DocumentFiles(self.corpus, path).metadata_path
        content = render_sidecar(meta)
        self.journal.apply(doc_id, action, username, target=path, changes={sidecar: content},
                           columns={"path": self.journal.rel(sidecar), "previous_sidecar": previous or None,
                                    "sidecar": content})

    def _write_and_ingest(self, doc_id: str, path: Path, content: bytes, previous: bytes | None, action: str,
                          username: str, idempotency_key: str | None = None) -> None:
        check_file(path.name, content)   # same loader as ingest, before touching the corpus
        self.journal.apply(doc_id, action, username, target=path, changes={path: content},
                           columns={"path": self.journal.rel(path), "previous_content": previous, "content": content},
                           idempotency_key=idempotency_key)

    # -- the save journal ------------------------------------------------------------------
    def recover(self) -> list[str]:
        """Finish or undo saves that a crash interrupted, and deferred uploads not yet indexed
        (SaveJournal.recover). Run at start-up by `kunskap serve` and `kunskap ingest`."""
        self._writable()
        return self.journal.recover()

    def process_pending(self, revision_id: int) -> str:
        return self.journal.process_pending(revision_id)

    def save_state(self, revision_id: int) -> dict:
        """Where a save stands: pending (being indexed), done or aborted (with the reason)."""
        return self.journal.state(revision_id)

    def replay(self, username: str, idempotency_key: str | None) -> dict | None:
        """The earlier save made with this Idempotency-Key by this user, if any (retry-safe POST)."""
        return self.journal.replay(username, idempotency_key)

    def revisions(self, doc_id: str) -> list[dict]:
        return self.journal.revisions(doc_id)

    def revision(self, revision_id: int) -> dict:
        return self.journal.revision(revision_id)

    def revision_text(self, revision_id: int) -> str:
        """The version saved at a revision, as text (Markdown file or sidecar)."""
        return self.journal.revision_text(revision_id)

    def diff(self, revision_id: int) -> str:
        """What the revision changed: unified diff from the previous version to the saved one."""
        return self.journal.diff(revision_id)

    def deleted(self) -> list[dict]:
        """Deleted documents that can be restored (no later revision brought them back)."""
        return self.journal.deleted()

    # -- delete and restore ----------------------------------------------------------------
    def delete(self, doc_id: str, username: str) -> int:
        """Remove the file(s) and the document; the revision keeps everything for undo."""
        self._writable()
        files = self.files(doc_id)
        path, sidecar = files.path, files.sidecar
        previous = path.read_bytes() if path.exists() else None
        previous_sidecar = sidecar.read_bytes() if sidecar is not None and sidecar.exists() else None
        changes = {path: None, **({sidecar: None} if previous_sidecar is not None else {})}
        return self.journal.apply(doc_id, "delete", username, target=path, changes=changes, remove=True,
                                  columns={"path": self.journal.rel(path), "previous_content": previous,
                                           "previous_sidecar": previous_sidecar})

    def undo_delete(self, revision_id: int, username: str) -> str:
        self._writable()
        revision = self.revision(revision_id)
        if revision["action"] != "delete":
            raise ValidationError("revision", "Versionen är ingen borttagning.")
        files = DocumentFiles.at(self.corpus, revision["path"])
        path = files.path
        if path.exists() or self.kb.store.get_document(revision["doc_id"]):
            raise ValidationError("revision", "Dokumentet finns redan igen.")
        changes = {}
        if revision["previous_content"] is not None:
            changes[path] = revision["previous_content"]
        if revision["previous_sidecar"] is not None:
            changes[files.metadata_path] = revision["previous_sidecar"]
        self.journal.apply(revision["doc_id"], "restore", username, target=path, changes=changes,
                           columns={"path": revision["path"], "content": revision["previous_content"],
                                    "sidecar": revision["previous_sidecar"]},
                           note=f"återställd från version {revision_id}")
        return revision["doc_id"]

    def restore(self, revision_id: int, username: str, version: str = "before") -> None:
        """Make a version current again, as a new revision: the one before the change recorded
        at `revision_id` ("before": undo that change) or the one it saved ("after")."""
        self._writable()
        revision = self.revision(revision_id)
        if revision["action"] == "delete":
            self.undo_delete(revision_id, username)
            return
        files, wanted = version_at(self.corpus, revision, version)
        if wanted is None:
            raise ValidationError("revision", "Den versionen finns inte (dokumentet skapades här).")
        path = files.path
        if files.markdown:
            previous = path.read_bytes() if path.exists() else None
            self._write_and_ingest(revision["doc_id"], path, wanted, previous, "restore", username)
        else:
            previous = files.sidecar.read_bytes() if files.sidecar.exists() else b""
            self._write_sidecar_and_ingest(revision["doc_id"], path, yaml.safe_load(wanted), previous, "restore",
                                           username)

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
        status = clean_text(values.get("status")) or "draft"
        has_meta = any(clean_text(values.get(k)) for k in ("title", "organisation"))
        if has_meta:
            meta = self.validate({**values, "status": status, "kind": values.get("kind") or BINARY_FORMATS[suffix][1]},
                                 None)
        elif problem := status_problem(status):
            raise FormError({"status": problem})
        elif status == "published":
            raise FormError({"status": "En uppladdning utan rubrik och organisation kan bara sparas som utkast. "
                                       "Fyll i rubrik och kommun eller region för att publicera den."})
        else:
            meta = {"status": status}
        stem = slugify(Path(filename).stem)[:60] or "uppladdning"
        doc_id = self.new_id(meta.get("title") or stem, meta.get("organisation", "")) if has_meta else stem
        existing = set(self.kb.store.document_states())
        base, n = doc_id, 2
        while doc_id in existing or upload_path(self.corpus, doc_id, suffix).exists():
            doc_id, n = f"{base}-{n}", n + 1
        files = DocumentFiles(self.corpus, upload_path(self.corpus, doc_id, suffix))
        path = files.path
        # Validate the file with the real loader in a hidden temp place first: nothing is stored
        # unless it loads (type by content, encryption, zip bombs, path traversal, damage, size).
        try:
            document = check_file(path.name, data)
        except DocumentError as exc:
            raise FormError({"file": exc.reason}) from None
        from ..chunking import chunk_document

        defer = len(chunk_document(document)) > INLINE_UPLOAD_CHUNKS
        sidecar = files.metadata_path
        sidecar_content = render_sidecar({"id": doc_id, **meta})
        revision_id = self.journal.apply(doc_id, "upload", username, target=path,
                                         changes={sidecar: sidecar_content, path: data},
                                         columns={"path": self.journal.rel(path), "content": data,
                                                  "sidecar": sidecar_content},
                                         idempotency_key=idempotency_key, defer=defer)
        return UploadResult(doc_id, revision_id, pending=defer)
