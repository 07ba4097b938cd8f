"""Corpus files -> Documents. One module per format; this one dispatches and handles sidecars.

Each loader returns (sections, own_title); metadata comes from front matter (Markdown) or from a
`<file>.yml` sidecar (PDF, PPTX, DOCX). Any problem raises DocumentError naming the file.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ..documents import Document, build_document, content_hash, slugify
from ..errors import DocumentError
from . import docx, markdown, pdf, pptx

# extension -> (loader module, default kind)
BINARY_FORMATS = {
    ".pdf": (pdf, "presentation"),
    ".pptx": (pptx, "presentation"),
    ".docx": (docx, "report"),
}
MARKDOWN_SUFFIX = ".md"
SUPPORTED_EXTENSIONS = (MARKDOWN_SUFFIX, *BINARY_FORMATS)
SIDECAR_SUFFIX = ".yml"
# Per file. A long municipal climate plan is ~300,000 characters (150 pages); the probe's 1 MB of
# text in a 60 KB DOCX took 278 s to embed and slowed every search. Beyond these a file is
# refused with a clear message (split it) and nothing of it is stored.
MAX_TEXT_CHARS = 400_000
MAX_CHUNKS = 800


def is_ignored(path: Path) -> bool:
    """Files that are not documents: hidden, '_'-prefixed, and README files."""
    name = path.name
    return name.startswith((".", "_", "~$")) or name.lower() == "readme.md"


def is_markdown(path: Path | str) -> bool:
    """A Markdown case study (metadata in its front matter), as opposed to a PDF/PPTX/DOCX whose
    metadata is a sidecar. The suffix decides, in any case (`.md`, `.MD`)."""
    return Path(path).suffix.lower() == MARKDOWN_SUFFIX


def is_sidecar(path: Path) -> bool:
    return path.name.endswith(SIDECAR_SUFFIX) and path.suffixes[-2:-1] in ([e] for e in BINARY_FORMATS)


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def relative_name(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def load_file(path: Path, root: Path | None = None) -> Document:
    """Load one corpus file. Raises DocumentError with the file named for anything wrong."""
    path = Path(path)
    shown = relative_name(path, root)
    suffix = path.suffix.lower()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(shown, f"filen kan inte läsas ({exc.strerror})") from exc

    if is_markdown(path):
        if len(data) > 4 * MAX_TEXT_CHARS:
            raise text_too_long(shown)
        meta, body, sections = markdown.parse(shown, data)
        return _within_limits(shown, build_document(
            shown, shown, meta, sections, content_hash(data),
            default_id=slugify(path.stem), default_kind="case-study", body=body,
        ))
    if suffix not in BINARY_FORMATS:
        raise DocumentError(shown, f"filtypen '{suffix or path.name}' stöds inte (använd .md, .pdf, .pptx eller .docx)")

    module, default_kind = BINARY_FORMATS[suffix]
    sidecar = sidecar_path(path)
    meta: dict = {}
    sidecar_bytes = b""
    notes: list[str] = []
    if sidecar.exists():
        sidecar_bytes = sidecar.read_bytes()
        meta = parse_sidecar(relative_name(sidecar, root), sidecar_bytes)
    else:
        notes.append("metadatafil (.yml) saknas")
    sections, own_title = module.extract(shown, data, max_chars=MAX_TEXT_CHARS)
    return _within_limits(shown, build_document(
        shown, shown, meta, sections, content_hash(data, sidecar_bytes),
        default_id=slugify(path.stem), default_kind=default_kind,
        default_title=own_title or path.stem.replace("-", " ").replace("_", " ").strip().capitalize(),
        curation_notes=notes,
    ))


def text_too_long(shown: str) -> DocumentError:
    return DocumentError(shown, f"filen innehåller mer än {MAX_TEXT_CHARS:,} tecken text och avvisas; "
                                "dela upp den i flera filer".replace(",", " "))


def _within_limits(shown: str, document: Document) -> Document:
    from ..chunking import chunk_document

    if sum(len(s.text) for s in document.sections) > MAX_TEXT_CHARS:
        raise text_too_long(shown)
    chunks = len(chunk_document(document))
    if chunks > MAX_CHUNKS:
        raise DocumentError(shown, f"filen ger {chunks} avsnitt, fler än {MAX_CHUNKS} som är gränsen per fil; "
                                   "dela upp den i flera filer")
    return document


def decode_utf8(shown: str, data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DocumentError(shown, "filen är inte UTF-8-kodad (spara den som UTF-8)") from None
    return text.lstrip("\ufeff")


def parse_sidecar(shown: str, data: bytes) -> dict:
    text = decode_utf8(shown, data)
    try:
        meta = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DocumentError(shown, f"ogiltig YAML: {_yaml_problem(exc)}") from None
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise DocumentError(shown, "metadatafilen ska innehålla nyckel: värde-par")
    return meta


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        return f"{problem} (rad {mark.line + 1}, kolumn {mark.column + 1})"
    return problem
