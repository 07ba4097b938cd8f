"""A document's files in the corpus: where they are and which kind they are.

A document is either a Markdown case study, whose metadata is its own front matter, or an
uploaded PDF/PPTX/DOCX, whose metadata is a `.yml` sidecar beside it. Curation decides that here
and nowhere else, the way the loaders decide it (`loaders.is_markdown`), so a file is edited,
versioned and restored as the kind it is read as. Also here: the folders new files go to, and
the file formats curation writes (front matter + body, sidecar YAML).
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

import frontmatter
import yaml

from ..documents import Document
from ..loaders import SIDECAR_SUFFIX, is_markdown, is_sidecar, load_file, sidecar_path

CASE_FOLDER = "fallstudier"
UPLOAD_FOLDER = "presentationer"


@dataclass(frozen=True)
class DocumentFiles:
    """The file(s) of one document. `path` is the document itself; its metadata is in that file
    (Markdown) or in the sidecar (uploads)."""

    corpus: Path
    path: Path

    @classmethod
    def at(cls, corpus: Path | str, rel: str) -> "DocumentFiles":
        """From a path relative to the corpus: a document's `source_path`, or a revision's `path`,
        which is the sidecar itself when only an upload's metadata was saved."""
        path = Path(corpus) / rel
        if is_sidecar(path):
            path = path.with_name(path.name[: -len(SIDECAR_SUFFIX)])
        return cls(Path(corpus), path)

    @property
    def markdown(self) -> bool:
        return is_markdown(self.path)

    @property
    def sidecar(self) -> Path | None:
        return None if self.markdown else sidecar_path(self.path)

    @property
    def metadata_path(self) -> Path:
        """The file a metadata edit rewrites."""
        return self.path if self.markdown else sidecar_path(self.path)

    @property
    def version_columns(self) -> tuple[str, str]:
        """The revision columns (before, after) that hold this document's editable version: the
        whole Markdown file, or an upload's sidecar (the upload itself never changes)."""
        return ("previous_content", "content") if self.markdown else ("previous_sidecar", "sidecar")

    def rel(self, path: Path | None = None) -> str:
        return Path(path or self.path).relative_to(self.corpus).as_posix()

    def read_metadata(self) -> tuple[dict, str | None]:
        """(metadata, body) as the file(s) hold them now; body is None for an upload, and an
        upload without a sidecar has no metadata yet."""
        if self.markdown:
            post = frontmatter.loads(self.path.read_text("utf-8"))
            return dict(post.metadata), post.content
        sidecar = sidecar_path(self.path)
        meta = yaml.safe_load(sidecar.read_text("utf-8")) if sidecar.exists() else {}
        return meta or {}, None

    def version(self) -> str:
        """A short fingerprint of the metadata file as it is now, for edit-conflict checks."""
        target = self.metadata_path
        return hashlib.sha256(target.read_bytes() if target.exists() else b"").hexdigest()[:16]


def case_study_path(corpus: Path, doc_id: str) -> Path:
    """Where a case study created through curation is written."""
    return Path(corpus) / CASE_FOLDER / f"{doc_id}.md"


def upload_path(corpus: Path, doc_id: str, suffix: str) -> Path:
    """Where an uploaded PDF/PPTX/DOCX is stored (its sidecar goes beside it)."""
    return Path(corpus) / UPLOAD_FOLDER / f"{doc_id}{suffix}"


def render_case_file(meta: dict, body: str) -> bytes:
    """Front matter + body, as staff would write it by hand (keys in a stable order)."""
    clean = {k: v for k, v in meta.items() if v not in (None, "", [])}
    head = yaml.safe_dump(clean, allow_unicode=True, sort_keys=False, default_flow_style=None, width=1000)
    return f"---\n{head}---\n\n{(body or '').strip()}\n".encode("utf-8")


def render_sidecar(meta: dict) -> bytes:
    return yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, default_flow_style=None).encode("utf-8")


def check_files(files: list[tuple[str, bytes]]) -> list[Document]:
    """`check_file` for many new files at once, in one temp folder (names must differ)."""
    with tempfile.TemporaryDirectory(prefix="kunskap-check-") as folder:
        documents = []
        for name, data in files:
            path = Path(folder) / name
            path.write_bytes(data)
            documents.append(load_file(path, Path(folder)))
        return documents


def check_file(name: str, data: bytes) -> Document:
    """Load `data` as a corpus file named `name` in a private temp folder and return the
    Document; raises DocumentError."""
    with tempfile.TemporaryDirectory(prefix="kunskap-check-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        return load_file(path, Path(folder))
