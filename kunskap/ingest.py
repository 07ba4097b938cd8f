"""Corpus -> store + vector index: walk, validate, detect changes, chunk, embed (cached), write.

Incremental by content hash (added / updated / unchanged), `prune` for files that are gone,
`rebuild` for everything from scratch (the embedding cache survives, so a rebuild embeds only
text it has never seen). Rejected files are named with the reason; their stored versions, if any,
are kept untouched.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .chunking import CHUNKER_VERSION, chunk_document
from .documents import Document
from .embeddings import text_hash
from .errors import DocumentError, KunskapError
from .knowledgebase import KnowledgeBase
from .loaders import (
    SUPPORTED_EXTENSIONS,
    is_ignored,
    is_sidecar,
    load_file,
    relative_name,
)
from .storage import embedding_cache


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    rejected: list[DocumentError] = field(default_factory=list)
    chunks_written: int = 0
    chunks_embedded: int = 0
    chunks_cached: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{len(self.added)} nya, {len(self.updated)} ändrade, {len(self.unchanged)} oförändrade, "
            f"{len(self.removed)} borttagna, {len(self.rejected)} avvisade "
            f"({self.chunks_embedded} avsnitt inbäddade, {self.chunks_cached} från cache) "
            f"på {self.seconds:.1f} s"
        )


def corpus_files(corpus: Path) -> tuple[list[Path], list[DocumentError]]:
    """Document files under `corpus`, and rejections for files that cannot be documents."""
    files, problems = [], []
    if not corpus.is_dir():
        raise KunskapError(f"Korpusmappen {corpus} finns inte")
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        rel = path.relative_to(corpus)
        if any(is_ignored(Path(part)) for part in rel.parts):
            continue
        if is_sidecar(path):
            main = path.with_name(path.name[: -len(".yml")])
            if not main.exists():
                problems.append(DocumentError(rel.as_posix(), f"metadatafil utan dokument ({main.name} saknas)"))
            continue
        if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
            problems.append(
                DocumentError(rel.as_posix(), "filtypen stöds inte (använd .md, .pdf, .pptx eller .docx)")
            )
            continue
        files.append(path)
    return files, problems


def load_corpus(corpus: Path) -> tuple[list[Document], list[DocumentError]]:
    files, rejected = corpus_files(corpus)
    documents: list[Document] = []
    for path in files:
        try:
            documents.append(load_file(path, corpus))
        except DocumentError as exc:
            rejected.append(exc)
    # Two files with the same id: reject both, naming each other; stored versions stay.
    by_id: dict[str, list[Document]] = {}
    for document in documents:
        by_id.setdefault(document.id, []).append(document)
    valid = []
    for doc_id, group in by_id.items():
        if len(group) == 1:
            valid.append(group[0])
            continue
        for document in group:
            others = ", ".join(d.source_path for d in group if d is not document)
            rejected.append(DocumentError(document.source_path, f"id '{doc_id}' används också av {others}"))
    rejected.sort(key=lambda e: e.path)
    return valid, rejected


def document_record(kb: KnowledgeBase, document: Document) -> dict:
    return {
        "id": document.id,
        "title": document.title,
        "organisation": document.organisation,
        "organisation_type": document.organisation_type,
        "county": document.county,
        "kind": document.kind,
        "themes": kb.themes.slugs_for_tags(document.tags),
        "tags": document.tags,
        "year": document.year,
        "published": document.published,
        "summary": document.summary,
        "source_url": document.source_url,
        "contact": document.contact,
        "language": document.language,
        "status": document.status,
        "body": document.body,
        "extra": document.extra,
        "source_path": document.source_path,
        "content_hash": document.content_hash,
        "chunker_version": CHUNKER_VERSION,
        "curation_notes": document.curation_notes,
    }


def fts_title(kb: KnowledgeBase, document_title: str, organisation: str) -> str:
    return kb.analyzer.index_text(f"{document_title} {organisation}")


def embed_texts(
    kb: KnowledgeBase,
    items: list[tuple[str, str]],
    progress: bool = False,
    on_batch: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Make sure every (hash, text) has a cached vector. Returns (embedded, from cache)."""
    return embedding_cache.embed_texts(kb.store, kb.embedder, items, kb.settings.batch_size, progress, on_batch)


def write_document(kb: KnowledgeBase, document: Document, vectors, chunks=None) -> tuple[list[int], list[int]]:
    """Store one document whose chunk vectors are cached, and update `vectors` (a working copy)."""
    chunks = chunks if chunks is not None else chunk_document(document)
    embedder = kb.embedder
    rows = [
        {
            "ord": c.order, "text": c.text, "heading": c.heading, "page": c.page,
            "embed_text": c.embed_text, "embed_hash": text_hash(c.embed_text),
        }
        for c in chunks
    ]
    title = fts_title(kb, document.title, document.organisation)
    fts_rows = [(title, kb.analyzer.index_text(f"{c.heading or ''}\n{c.text}")) for c in chunks]
    cached = kb.store.cached_vectors(embedder.model_id, [r["embed_hash"] for r in rows], embedder.dimension)
    with kb.writing():
        removed, new_ids = kb.store.replace_document(document_record(kb, document), rows, fts_rows)
        vectors.remove(removed)
        # Chunks not embedded yet (a first start that serves lexical search at once) get their
        # vectors from the background build.
        have = [(chunk_id, cached[r["embed_hash"]]) for chunk_id, r in zip(new_ids, rows) if r["embed_hash"] in cached]
        if have:
            vectors.add([c for c, _ in have], np.vstack([v for _, v in have]))
    return removed, new_ids


def remove_document(kb: KnowledgeBase, doc_id: str, vectors) -> None:
    with kb.writing():
        vectors.remove(kb.store.delete_document(doc_id))


CORPUS_HASH_PREFIX = "sum256:"


def _document_digest(doc_id: str, content: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{doc_id}\0{content}".encode()).digest(), "big")


def corpus_hash(states: Iterable[tuple[str, str]]) -> str:
    """A hash of the corpus's (document id, content hash) pairs: the sum modulo 2**256 of each
    pair's sha256, so that a live save can update it from the documents it changed alone
    (`updated_corpus_hash`) instead of hashing every document's state."""
    total = sum(_document_digest(doc_id, content) for doc_id, content in states) % 2**256
    return f"{CORPUS_HASH_PREFIX}{total:064x}"


def updated_corpus_hash(previous: str | None, before: dict[str, str], after: dict[str, str]) -> str | None:
    """`previous` moved from the documents' content hashes `before` a save to those `after` it
    (a document absent from one was added or removed); None when `previous` is not one that
    can be updated (an older format, or none recorded)."""
    if not previous or not previous.startswith(CORPUS_HASH_PREFIX):
        return None
    total = int(previous[len(CORPUS_HASH_PREFIX):], 16)
    total -= sum(_document_digest(d, c) for d, c in before.items())
    total += sum(_document_digest(d, c) for d, c in after.items())
    return f"{CORPUS_HASH_PREFIX}{total % 2**256:064x}"


def reanalyse_lexical(kb: KnowledgeBase) -> None:
    """Re-derive the FTS rows from stored chunk text with the current analyzer (no embedding)."""
    kb.store.replace_lexical_rows(
        (cid, fts_title(kb, title, org), kb.analyzer.index_text(f"{heading or ''}\n{text}"))
        for cid, heading, text, title, org in kb.store.lexical_sources()
    )


STREAM_BATCH = 256   # documents read, chunked and embedded at a time: memory follows this, not the corpus


def ingest(
    kb: KnowledgeBase,
    corpus: Path | None = None,
    *,
    prune: bool = False,
    rebuild: bool = False,
    progress: bool = False,
    embed: bool = True,
) -> IngestReport:
    """Ingest a corpus folder (see the module docstring), streaming: documents are read, chunked,
    embedded and written STREAM_BATCH at a time, so memory stays flat however many there are.

    Two passes over the files. The first, outside the writer lock, counts the corpus's words (the
    decompounding lexicon must be known before any FTS row is written), finds ids used by two
    files, and embeds what the cache lacks, committing batch by batch: a killed ingest resumes
    without embedding anything again. The second, under the writer lock and in one transaction
    (a service reading the database sees the old corpus until the commit), reads the files as
    they are then (a staff save made meanwhile is taken as saved) and writes what changed.
    `progress` shows both passes with an ETA on stderr."""
    started = time.perf_counter()
    corpus = Path(corpus or kb.settings.corpus)
    report = IngestReport()
    scan = _scan_corpus(kb, corpus, rebuild=rebuild, embed=embed, progress=progress, report=report)
    _write_corpus(kb, corpus, scan, prune=prune, rebuild=rebuild, embed=embed, progress=progress, report=report)
    report.seconds = time.perf_counter() - started
    return report


@dataclass
class _Scan:
    """What the first pass learnt: word counts of the valid documents, ids used by more than one
    file (id -> their paths), and the paths that did not load."""
    counts: Counter
    duplicates: dict[str, list[str]]
    failed: set[str]


def _progress_bar(progress: bool, total: int, desc: str):
    if not progress:
        return None
    import sys

    from tqdm import tqdm

    return tqdm(total=total, unit="dok", desc=desc, file=sys.stderr, dynamic_ncols=True)


def _batches(items: list, size: int | None = None):
    size = size or STREAM_BATCH
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _document_words(kb: KnowledgeBase, document: Document) -> Counter:
    return kb.count_words([f"{document.title}\n{document.text}"])


def _scan_corpus(kb: KnowledgeBase, corpus: Path, *, rebuild: bool, embed: bool, progress: bool,
                 report: IngestReport) -> _Scan:
    files, _problems = corpus_files(corpus)     # rejections are reported by the second pass
    states = {} if rebuild else kb.store.document_states()
    counts: Counter = Counter()
    first_path: dict[str, str] = {}
    duplicates: dict[str, list[str]] = {}
    failed: set[str] = set()
    bar = _progress_bar(progress, len(files), "Läser och bäddar in")
    try:
        for batch in _batches(files):
            items: list[tuple[str, str]] = []
            for path in batch:
                try:
                    document = load_file(path, corpus)
                except DocumentError as exc:
                    failed.add(exc.path)
                    continue
                if document.id in first_path:
                    if document.id not in duplicates:   # its first file's words do not count either
                        duplicates[document.id] = [first_path[document.id]]
                        counts.subtract(_document_words(kb, load_file(corpus / first_path[document.id], corpus)))
                    duplicates[document.id].append(document.source_path)
                    continue
                first_path[document.id] = document.source_path
                counts.update(_document_words(kb, document))
                if embed and not _is_unchanged(document, states.get(document.id)):
                    items.extend((text_hash(c.embed_text), c.embed_text) for c in chunk_document(document))
            if items:
                embedded, cached = embed_texts(kb, items)
                report.chunks_embedded += embedded
                report.chunks_cached += cached
            if bar:
                bar.update(len(batch))
                bar.set_postfix(inbäddade=report.chunks_embedded, refresh=False)
        if embed:
            # Also whatever a background build left unembedded: after an ingest the index is complete.
            missing = kb.missing_vectors()
            for part in _batches(missing, 4096):
                embedded, cached = embed_texts(kb, kb.store.embed_texts(part))
                report.chunks_embedded += embedded
                report.chunks_cached += cached
    finally:
        if bar:
            bar.close()
    return _Scan(+counts, duplicates, failed)


def _follow_corpus_words(kb: KnowledgeBase, counts: Counter) -> bool:
    """Inside a full ingest's write transaction: the vocabulary and the decompounding lexicon
    follow the corpus. True when the lexicon changed (FTS rows are then re-derived). Compared
    with the lexicon the rows were derived with, not with the vocabulary, which live saves have
    updated since without re-deriving anything."""
    kb.store.replace_vocabulary(counts)
    lexicon = kb.lexicon_of(counts)
    changed = lexicon != kb.store.lexicon()
    if changed:
        kb.store.replace_lexicon(lexicon)
        kb.refresh_analyzer()
    return changed


def _clear_for_rebuild(kb: KnowledgeBase, working, keep_paths: set) -> None:
    """--rebuild: every stored document deleted, but for those whose file is broken now: they
    keep their stored version, with its vectors (added to `working`)."""
    store = kb.store
    for doc_id, state in store.document_states().items():
        if state["source_path"] in keep_paths:
            ids, matrix, _ = store.chunk_vectors(kb.embedder.model_id, kb.embedder.dimension, doc_id)
            working.add(ids, matrix)
            continue
        store.delete_document(doc_id)


def _remove_absent(kb: KnowledgeBase, working, present: set[str], rejected_paths: set, report) -> None:
    """--prune / --rebuild: stored documents no longer in the corpus removed. A rejected file
    keeps its stored version: nothing already stored is lost."""
    for doc_id, state in kb.store.document_states().items():
        if doc_id in present or state["source_path"] in rejected_paths:
            continue
        remove_document(kb, doc_id, working)
        report.removed.append(doc_id)


def _write_corpus(kb: KnowledgeBase, corpus: Path, scan: _Scan, *, prune: bool, rebuild: bool, embed: bool,
                  progress: bool, report: IngestReport) -> None:
    store = kb.store
    with kb.writing(catch_up=not rebuild):
        files, problems = corpus_files(corpus)        # as they are now: saves made meanwhile count
        report.rejected.extend(problems)
        states = {} if rebuild else store.document_states()
        ids_at_path: dict[str, list[str]] = {}
        for doc_id, state in states.items():
            ids_at_path.setdefault(state["source_path"], []).append(doc_id)
        keep_paths = scan.failed | {p for paths in scan.duplicates.values() for p in paths}
        working = kb.new_vector_index() if rebuild else kb.vectors.clone()
        bar = _progress_bar(progress, len(files), "Skriver")
        seen: set[str] = set()
        try:
            with store.transaction():
                lexicon_changed = _follow_corpus_words(kb, scan.counts)
                if rebuild:
                    _clear_for_rebuild(kb, working, keep_paths)
                for batch in _batches(files):
                    changed = []
                    for path in batch:
                        try:
                            document = load_file(path, corpus)
                        except DocumentError as exc:
                            report.rejected.append(exc)
                            continue
                        if document.id in scan.duplicates or document.id in seen:
                            others = ", ".join(p for p in scan.duplicates.get(document.id, [])
                                               if p != document.source_path) or "en annan fil"
                            report.rejected.append(DocumentError(document.source_path,
                                                                 f"id '{document.id}' används också av {others}"))
                            continue
                        seen.add(document.id)
                        if _is_unchanged(document, states.get(document.id)):
                            report.unchanged.append(document.id)
                            continue
                        changed.append((document, chunk_document(document)))
                    if embed:   # only text saved since the first pass is new here; the rest is cached
                        embed_texts(kb, [(text_hash(c.embed_text), c.embed_text) for _, cs in changed for c in cs])
                    for document, chunks in changed:
                        # A file whose id changed replaces the document it used to be.
                        for old_id in ids_at_path.get(document.source_path, []):
                            if old_id != document.id and old_id not in report.removed:
                                remove_document(kb, old_id, working)
                                report.removed.append(old_id)
                        write_document(kb, document, working, chunks)
                        report.chunks_written += len(chunks)
                        (report.updated if document.id in states else report.added).append(document.id)
                    if bar:
                        bar.update(len(batch))
                if prune or rebuild:
                    _remove_absent(kb, working, seen, keep_paths | {e.path for e in report.rejected}, report)
                if lexicon_changed and report.unchanged:
                    reanalyse_lexical(kb)
                states = store.document_states()
        finally:
            if bar:
                bar.close()
        report.rejected.sort(key=lambda e: e.path)
        kb.publish_vectors(working, corpus_hash=corpus_hash((k, v["content_hash"]) for k, v in states.items()))


def _is_unchanged(document: Document, state: dict | None) -> bool:
    return bool(
        state
        and state["content_hash"] == document.content_hash
        and state["chunker_version"] == CHUNKER_VERSION
        and state["source_path"] == document.source_path
    )


def _catch_up_with_saves(kb: KnowledgeBase, documents: list[Document], since_revision: int,
                         rejected: list[DocumentError]) -> list[Document]:
    """Files that curation saved (in this or another process) after we read the corpus: use
    them as they are now, so an ingest never puts back an older version of a staff save."""
    paths = kb.store.revision_paths_since(since_revision)
    if not paths:
        return documents
    corpus = Path(kb.settings.corpus)
    by_path = {d.source_path: d for d in documents}
    for rel in paths:
        path = corpus / rel
        if path.exists():
            try:
                by_path[rel] = load_file(path, corpus)
            except DocumentError as exc:
                rejected.append(exc)
                by_path.pop(rel, None)
        else:
            by_path.pop(rel, None)     # deleted through curation meanwhile
    return list(by_path.values())


def ingest_documents(
    kb: KnowledgeBase,
    documents: list[Document],
    rejected: list[DocumentError] | None = None,
    *,
    prune: bool = False,
    rebuild: bool = False,
    progress: bool = False,
    since_revision: int | None = None,
    embed: bool = True,
) -> IngestReport:
    """Write the changed documents (see the module docstring). With `embed=False` nothing is
    embedded: documents are searchable by their words at once and get their vectors from a
    background build (`KnowledgeBase.build_semantic`)."""
    started = time.perf_counter()
    report = IngestReport(rejected=list(rejected or []))
    store = kb.store
    if since_revision is None:
        since_revision = store.last_revision_id()

    # The model-bound part first, outside the writer lock and any transaction, so that curation
    # saves in a running service are not held up for the length of a bulk ingest (the cache
    # commits batch by batch, so an interrupted ingest resumes).
    states = {} if rebuild else store.document_states()
    changed = [d for d in documents if not _is_unchanged(d, states.get(d.id))]
    chunked = {(d.id, d.content_hash): chunk_document(d) for d in changed}
    items = [(text_hash(c.embed_text), c.embed_text) for chunks in chunked.values() for c in chunks]
    if embed:
        # Also whatever a background build left unembedded: after an ingest the index is complete.
        items += store.embed_texts(kb.missing_vectors())
        report.chunks_embedded, report.chunks_cached = embed_texts(kb, items, progress=progress)

    with kb.writing(catch_up=not rebuild):
        # Decided again under the lock, against the newest state: another writer may have saved
        # in between.
        documents = _catch_up_with_saves(kb, documents, since_revision, report.rejected)
        states = {} if rebuild else store.document_states()
        report.unchanged = [d.id for d in documents if _is_unchanged(d, states.get(d.id))]
        changed = []
        for document in documents:
            if document.id in report.unchanged:
                continue
            chunks = chunked.get((document.id, document.content_hash))
            changed.append((document, chunks if chunks is not None else chunk_document(document)))
        if embed:
            late = [(text_hash(c.embed_text), c.embed_text) for _, chunks in changed for c in chunks]
            embed_texts(kb, late)   # only text saved meanwhile is new here; the rest is cached

        working = kb.new_vector_index() if rebuild else kb.vectors.clone()
        # Then every write in one transaction: a service reading the same database (WAL) sees the
        # old corpus until the commit, never a half-ingested or, during --rebuild, empty one.
        rejected_paths = {e.path for e in report.rejected}
        with store.transaction():
            lexicon_changed = _follow_corpus_words(kb, kb.count_words(f"{d.title}\n{d.text}" for d in documents))
            if rebuild:
                _clear_for_rebuild(kb, working, rejected_paths)
            for document, chunks in changed:
                # A file whose id changed replaces the document it used to be.
                for old_id, state in states.items():
                    if state["source_path"] == document.source_path and old_id != document.id:
                        remove_document(kb, old_id, working)
                        report.removed.append(old_id)
                write_document(kb, document, working, chunks)
                report.chunks_written += len(chunks)
                (report.updated if document.id in states else report.added).append(document.id)

            if prune or rebuild:
                _remove_absent(kb, working, {d.id for d in documents}, rejected_paths, report)

            if lexicon_changed and report.unchanged:
                reanalyse_lexical(kb)
            states = store.document_states()
        kb.publish_vectors(working, corpus_hash=corpus_hash((k, v["content_hash"]) for k, v in states.items()))
    report.seconds = time.perf_counter() - started
    return report


def ingest_files(kb: KnowledgeBase, corpus_root: Path, paths: list[Path], remove_ids: list[str] = ()) -> list[Document]:
    """Live update for curation: (re)ingest a few files and remove some documents, then swap in
    the new vector index. Embedding happens before the writer lock; searches never wait on it.

    Raises DocumentError (nothing changed) if a file does not load or its id belongs to another file."""
    documents = [load_file(path, corpus_root) for path in paths]
    prepared = [(d, chunk_document(d)) for d in documents]
    embed_texts(kb, [(text_hash(c.embed_text), c.embed_text) for _, chunks in prepared for c in chunks])
    touched = list(dict.fromkeys([*remove_ids, *(d.id for d in documents)]))
    with kb.writing():
        # Only the documents this save touches are read (not every document's state: O(change)).
        states = kb.store.get_documents(touched)
        for document in documents:
            state = states.get(document.id)
            if state and state["source_path"] != document.source_path and state["source_path"] not in {
                    relative_name(p, corpus_root) for p in paths} and document.id not in remove_ids:
                raise DocumentError(document.source_path, f"id '{document.id}' används redan av {state['source_path']}")
        complete = kb.vectors_complete   # every new chunk's vector is cached (embedded above)
        # The changes are collected and applied to the index after the commit (no copy of it).
        working = kb.vectors.changes()
        record_changes = getattr(kb.vector_home, "record_changes", None)   # pgvector: for other servers
        since = kb.store.change_generation() if record_changes else None
        with kb.store.transaction():
            # Typo correction must know the new words: the vocabulary's counts are moved by the
            # words of the documents replaced and removed and of their new versions (recounting
            # every chunk on every save took minutes at 1M chunks). The decompounding lexicon
            # (store.lexicon) follows at the next full ingest, which re-derives the FTS rows if it
            # changed (here it would re-derive every row on every save).
            before = _words_of(kb, [*remove_ids, *(d.id for d, _ in prepared)])
            for doc_id in remove_ids:
                remove_document(kb, doc_id, working)
            for document, chunks in prepared:
                write_document(kb, document, working, chunks)
            delta = _words_of(kb, [d.id for d, _ in prepared])
            delta.subtract(before)
            kb.store.adjust_vocabulary(delta)    # only these words' rows (not every word's)
            after = {d: row["content_hash"] for d, row in kb.store.get_documents(touched).items()}
            words = {w for w, c in delta.items() if c}
            if record_changes:
                record_changes(since, touched, words)
        hashed = None
        if getattr(kb.vector_home, "records_corpus_hash", False):
            hashed = updated_corpus_hash(kb.saved_corpus_hash(), {d: r["content_hash"] for d, r in states.items()},
                                         after)
            if hashed is None:   # an older manifest's hash: computed in full once
                hashed = corpus_hash((k, v["content_hash"]) for k, v in kb.store.document_states().items())
        kb.publish_vectors(working, corpus_hash=hashed or "", complete=complete, documents=touched, words=words)
    return documents


def _words_of(kb: KnowledgeBase, doc_ids: list[str]) -> Counter:
    """Word counts of the stored chunks of these documents, each chunk with its document's title
    (as the vocabulary of live saves has always counted them)."""
    counts: Counter = Counter()
    documents = kb.store.get_documents(list(dict.fromkeys(doc_ids)))
    for doc_id, document in documents.items():
        counts += kb.count_words(f"{document['title']}\n{c.text}" for c in kb.store.chunks_of(doc_id))
    return counts
