"""The FAISS vector index over normalised vectors, id = chunk rowid: exact inner products
(flat) up to a size, an inverted file (IVF) beyond it, filters exact on both.

Saved as a folder artefact: `vectors.faiss` (the base) plus `manifest.json` (model id,
dimension, chunker version, package version, vector count, a hash of the ids, the base file's
sha256, the index kind and its parameters), and a journal of the live saves since the base was
written (`vectors-<base sha>.journal`: per save the removed ids and the added ids with their
vectors, appended and fsynced; the manifest records its length and a chained sha256 of its
records). Base and manifest go to a temporary file that is fsynced and renamed, and readers read
the journal only up to the length the manifest gives, so a reader never sees half an index. A
process that has loaded the index replays only the journal's new records when another process
saves (`VectorIndex.catch_up`); the base is rewritten (compaction) when the journal has grown
past JOURNAL_SHARE of it, when the index kind changes, and on every full save.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import struct
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .errors import IndexMismatchError, IndexMissingError
from .files import atomic_write

INDEX_FILE = "vectors.faiss"
MANIFEST_FILE = "manifest.json"
REBUILD_HINT = "Bygg om indexet med: kunskap ingest --rebuild"


@dataclass
class Manifest:
    model_id: str
    dimension: int
    chunker_version: int
    package_version: str
    vector_count: int
    ids_hash: str
    index_sha256: str
    corpus_hash: str = ""
    built_at: str = ""
    # What kind of FAISS index and with which parameters (absent from older manifests: flat).
    index_kind: str = "flat"
    index_params: dict = field(default_factory=dict)
    # The store's change generation the index was saved at: a writer that finds it unchanged
    # knows the index is in step without comparing every chunk id (KnowledgeBase._catch_up).
    store_generation: int | None = None
    complete: bool | None = None     # every chunk had its vector when it was saved
    # The journal of live saves since the base was written (absent from older manifests: none).
    journal_file: str = ""
    journal_bytes: int = 0
    journal_sha256: str = ""         # chained over its records: sha256(previous hex + record)
    journal_records: int = 0

    @property
    def version(self) -> str:
        """What identifies the saved vectors: the base's checksum and, after live saves, the
        journal's length and chained checksum."""
        if not self.journal_bytes:
            return self.index_sha256
        return f"{self.index_sha256}+{self.journal_bytes}:{self.journal_sha256}"


def _checked(ids, vectors: np.ndarray, dimension: int) -> tuple[np.ndarray, np.ndarray]:
    """Ids as int64 and vectors as contiguous float32 of the index's dimension (ValueError if not);
    no ids: two empty arrays."""
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) == 0:
        return ids, np.empty((0, dimension), np.float32)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.shape != (len(ids), dimension):
        raise ValueError(f"vectors of shape {vectors.shape}, expected ({len(ids)}, {dimension})")
    return ids, vectors


def ids_hash(ids) -> str:
    return hashlib.sha256(np.sort(np.asarray(ids, dtype=np.int64)).tobytes()).hexdigest()


def id_fingerprint(ids) -> tuple[int, int, int]:
    """(count, sum, sum of a mixed product) of chunk ids: equal for equal id sets in practice,
    and computable in SQL as cheaply as here (Store.chunk_fingerprint)."""
    ids = np.asarray(ids, dtype=np.int64)
    return int(len(ids)), int(ids.sum()), int(((ids % 1000003) * (ids % 999983)).sum())


class ReadWriteLock:
    """Many readers or one writer. Re-entrant: a thread holding either may take either again
    (a writer's own reads; a reader's nested reads), and a waiting writer lets no new reader
    in (so saves are not starved by a stream of searches)."""

    def __init__(self):
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer: int | None = None
        self._writer_depth = 0
        self._waiting_writers = 0
        self._local = threading.local()

    @contextmanager
    def read(self):
        me = threading.get_ident()
        depth = getattr(self._local, "depth", 0)
        if self._writer == me or depth:
            self._local.depth = depth + 1
            try:
                yield
            finally:
                self._local.depth = depth
            return
        with self._cond:
            while self._writer is not None or self._waiting_writers:
                self._cond.wait()
            self._readers += 1
        self._local.depth = 1
        try:
            yield
        finally:
            self._local.depth = 0
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self):
        me = threading.get_ident()
        with self._cond:
            if self._writer != me:
                if getattr(self._local, "depth", 0):
                    raise RuntimeError("a reader of the vector index cannot start writing to it")
                self._waiting_writers += 1
                try:
                    while self._writer is not None or self._readers:
                        self._cond.wait()
                finally:
                    self._waiting_writers -= 1
                self._writer = me
            self._writer_depth += 1
        try:
            yield
        finally:
            with self._cond:
                self._writer_depth -= 1
                if not self._writer_depth:
                    self._writer = None
                    self._cond.notify_all()


_faiss_threads = 1
_thread_state = threading.local()


def set_faiss_threads(threads: int) -> None:
    """FAISS's OpenMP thread count, for every thread that calls FAISS from now on.

    `omp_set_num_threads` only sets the calling thread's value: a web server's worker threads
    would otherwise run FAISS with one OpenMP thread per core, whose spinning workers burned
    ~7 ms of the other core per search (bench/http_load.py). So each calling thread sets it
    once (`_use_faiss_threads`)."""
    global _faiss_threads
    _faiss_threads = int(threads)
    _use_faiss_threads()


def _use_faiss_threads() -> None:
    if getattr(_thread_state, "threads", None) != _faiss_threads:
        import faiss

        faiss.omp_set_num_threads(_faiss_threads)
        _thread_state.threads = _faiss_threads


# The index kind is chosen by size (bench/scale.py measured it; bench/README.md "Scale"): exact
# inner products (flat) below `exact_below` vectors, an inverted file (IVF, exact vectors in
# each list, nprobe lists searched) above. Filters stay exact on both: a filter passing less
# than BROAD_FILTER of the vectors searches every list over the allowed ids only.
FLAT, IVF = "flat", "ivf"
EXACT_BELOW = 250_000
BROAD_FILTER = 0.3
BITMAP_FROM = 20_000         # allowed ids from which a filter is a bitmap rather than a hash set
IVF_TRAIN_PER_LIST = 40      # training vectors per list (FAISS warns below 39)
RETRAIN_GROWTH = 4           # lists re-trained once the index holds this many times what it was trained at


def ivf_lists(count: int) -> int:
    """About sqrt(n) lists, a power of two up to 4096, with at least 8 vectors each."""
    return int(max(1, min(4096, count // 8, 2 ** round(np.log2(max(count, 1) ** 0.5)))))


def ivf_probes(lists: int) -> int:
    """Lists searched per query. bench/scale.py on 1M perturbed real vectors (1,024 lists):
    16 probes recall@10 0.83, 32 0.90, 64 0.95 (19 ms of CPU for the top 200); at 100k
    (256 lists) 64 probes gave 0.97. So 64, or a sixteenth of the lists beyond 1,024."""
    return min(lists, max(64, lists // 16))


JOURNAL_SHARE = 0.25          # the base is rewritten once the journal exceeds this share of it
JOURNAL_MAGIC = b"KVJ1"
_RECORD_HEAD = struct.Struct("<4sIIII")   # magic, removed, added, dimension, bytes of document ids


class VectorChanges:
    """A writer's changes to a VectorIndex (`remove`, `add`, as on the index), collected while
    its database transaction runs and applied at once after the commit
    (`KnowledgeBase.publish_vectors`): no copy of the index, and a transaction that fails
    leaves the index untouched. `documents`: the ids of the documents changed, and `words`: the
    vocabulary words whose counts changed (None: not known), for other processes' searchers
    (carried in the journal record)."""

    def __init__(self, index: "VectorIndex"):
        self.index = index
        self.dimension = index.dimension
        self.removed: set[int] = set()
        self.added: dict[int, np.ndarray] = {}
        self.documents: set[str] = set()
        self.words: set[str] | None = set()

    def add(self, ids, vectors: np.ndarray) -> None:
        ids, vectors = _checked(ids, vectors, self.dimension)
        for chunk_id, vector in zip(ids.tolist(), vectors):
            self.added[chunk_id] = vector.copy()

    def remove(self, ids) -> int:
        ids = [int(i) for i in ids]
        for chunk_id in ids:
            self.added.pop(chunk_id, None)
            self.removed.add(chunk_id)    # applied to the index before the additions
        return len(ids)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(removed ids, added ids, added vectors), ids sorted."""
        removed = np.asarray(sorted(self.removed), dtype=np.int64)
        added = np.asarray(sorted(self.added), dtype=np.int64)
        matrix = (np.vstack([self.added[i] for i in added.tolist()]) if len(added)
                  else np.zeros((0, self.dimension), np.float32))
        return removed, added, matrix

    def __bool__(self) -> bool:
        return bool(self.removed or self.added)


def journal_record(removed: np.ndarray, added: np.ndarray, matrix: np.ndarray, dimension: int,
                   documents=(), words=()) -> bytes:
    names = json.dumps({"documents": sorted(documents), "words": None if words is None else sorted(words)},
                       ensure_ascii=False).encode()
    return b"".join([_RECORD_HEAD.pack(JOURNAL_MAGIC, len(removed), len(added), dimension, len(names)),
                     np.ascontiguousarray(removed, np.int64).tobytes(), np.ascontiguousarray(added, np.int64).tobytes(),
                     np.ascontiguousarray(matrix, np.float32).tobytes(), names])


def parse_journal(data: bytes, dimension: int):
    """The records of a journal's bytes: (removed ids, added ids, added vectors, document ids,
    changed words or None).
    ValueError for anything that is not a whole record of this dimension."""
    records = []
    for start, end in _record_spans(data, dimension):   # every head and length checked first
        _, n_removed, n_added, dim, n_names = _RECORD_HEAD.unpack_from(data, start)
        offset = start + _RECORD_HEAD.size
        removed = np.frombuffer(data, np.int64, n_removed, offset)
        offset += 8 * n_removed
        added = np.frombuffer(data, np.int64, n_added, offset)
        offset += 8 * n_added
        matrix = np.frombuffer(data, np.float32, n_added * dim, offset).reshape(n_added, dim)
        offset += 4 * n_added * dim
        try:
            names = json.loads(data[offset:end].decode())
        except ValueError:
            raise ValueError("a record's names are damaged") from None
        words = names.get("words")
        records.append((removed, added, matrix, set(names.get("documents") or ()),
                        None if words is None else set(words)))
    return records


def chain_hash(previous: str, record: bytes) -> str:
    return hashlib.sha256(previous.encode() + record).hexdigest()


class VectorIndex:
    """Chunk vectors by chunk id: an IndexIDMap2 over IndexFlatIP (exact), or an IndexIVFFlat
    with the chunk ids as its ids once it holds `exact_below` vectors. Reads run in parallel;
    a change (`add`, `remove`, `apply`) waits for them and holds new ones off until it is
    complete, so a search sees the index before or after a save, never half of one."""

    def __init__(self, dimension: int, model_id: str, chunker_version: int, exact_below: int = EXACT_BELOW):
        import faiss

        self.dimension = dimension
        self.model_id = model_id
        self.chunker_version = chunker_version
        self.exact_below = int(exact_below)
        self.kind = FLAT
        self.params: dict = {}
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        self._lock = ReadWriteLock()
        # The saved state this index is (its manifest), when it was loaded or saved: a live save
        # appends to that manifest's journal; None when it is no saved state (a new index).
        self.persisted: Manifest | None = None

    def describe(self) -> dict:
        """The kind and its parameters, as the manifest records them."""
        return {"kind": self.kind, **self.params}

    # -- contents --------------------------------------------------------------------------
    @property
    def count(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        with self._lock.read():
            return self._ids()

    def _ids(self) -> np.ndarray:
        import faiss

        if self.kind == FLAT:
            return faiss.vector_to_array(self._index.id_map).astype(np.int64)
        lists = self._index.invlists
        parts = [faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                 for i in range(lists.nlist) if lists.list_size(i)]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)

    def _contents(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of everything held, in no particular order."""
        import faiss

        n, d = self.count, self.dimension
        if self.kind == FLAT:
            flat = faiss.downcast_index(self._index.index)
            matrix = faiss.rev_swig_ptr(flat.get_xb(), n * d).reshape(n, d).copy() if n else np.zeros((0, d), np.float32)
            return self._ids(), matrix
        lists = self._index.invlists
        ids, rows = [], []
        for i in range(lists.nlist):
            size = lists.list_size(i)
            if size:
                ids.append(faiss.rev_swig_ptr(lists.get_ids(i), size).copy())
                codes = faiss.rev_swig_ptr(lists.get_codes(i), size * d * 4).copy()
                rows.append(codes.view(np.float32).reshape(size, d))
        if not ids:
            return np.zeros(0, np.int64), np.zeros((0, d), np.float32)
        return np.concatenate(ids).astype(np.int64), np.vstack(rows)

    def _flat_of(self, ids: np.ndarray, matrix: np.ndarray):
        import faiss

        index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dimension))
        if len(ids):
            index.add_with_ids(np.ascontiguousarray(matrix, dtype=np.float32), ids)
        return index

    def _ivf_of(self, ids: np.ndarray, matrix: np.ndarray):
        """An IVF index trained on a seeded sample of `matrix`, holding all of it."""
        import faiss

        lists = ivf_lists(len(ids))
        quantizer = faiss.IndexFlatIP(self.dimension)
        index = faiss.IndexIVFFlat(quantizer, self.dimension, lists, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = 14
        sample = min(len(ids), lists * IVF_TRAIN_PER_LIST)
        rows = np.random.default_rng(14).choice(len(ids), sample, replace=False) if sample < len(ids) else slice(None)
        index.train(np.ascontiguousarray(matrix[rows], dtype=np.float32))
        index.set_direct_map_type(faiss.DirectMap.Hashtable)   # reconstruct and remove by chunk id
        index.add_with_ids(np.ascontiguousarray(matrix, dtype=np.float32), ids)
        index.nprobe = ivf_probes(lists)
        index.own_fields = True        # the quantizer lives and is cloned with the index
        quantizer.this.disown()
        self.params = {"lists": lists, "probes": int(index.nprobe), "trained_on": int(sample),
                       "trained_at": int(len(ids))}
        return index

    def _refit(self) -> None:
        """Switch kind when the size calls for it (under the lock)."""
        n = self.count
        if self.kind == FLAT and n >= self.exact_below:
            ids, matrix = self._contents()
            self._index, self.kind = self._ivf_of(ids, matrix), IVF
        elif self.kind == IVF and (n < self.exact_below // 2 or n > RETRAIN_GROWTH * self.params.get("trained_at", n)):
            ids, matrix = self._contents()
            if n < self.exact_below // 2:
                self._index, self.kind, self.params = self._flat_of(ids, matrix), FLAT, {}
            else:
                self._index = self._ivf_of(ids, matrix)

    def add(self, ids, vectors: np.ndarray) -> None:
        ids, vectors = _checked(ids, vectors, self.dimension)
        if len(ids) == 0:
            return
        _use_faiss_threads()
        with self._lock.write():
            if self.kind == FLAT and self.count + len(ids) >= self.exact_below:
                # Straight to IVF, trained on everything, rather than adding to a flat index first.
                old_ids, old = self._contents()
                self._index = self._ivf_of(np.concatenate([old_ids, ids]), np.vstack([old, vectors]))
                self.kind = IVF
                return
            self._index.add_with_ids(vectors, ids)
            self._refit()

    def remove(self, ids) -> int:
        import faiss

        ids = np.asarray(list(ids), dtype=np.int64)
        if len(ids) == 0:
            return 0
        _use_faiss_threads()
        with self._lock.write():
            # The IVF's direct map (a hash table) removes only an explicit array of ids.
            selector = faiss.IDSelectorBatch(ids) if self.kind == FLAT else faiss.IDSelectorArray(ids)
            removed = int(self._index.remove_ids(selector))
            self._refit()
            return removed

    def clone(self) -> "VectorIndex":
        """A private copy to write into; readers keep using this one until it is swapped."""
        import faiss

        copy = VectorIndex(self.dimension, self.model_id, self.chunker_version, self.exact_below)
        with self._lock.read():
            copy._index = faiss.clone_index(self._index)
            copy.kind, copy.params = self.kind, dict(self.params)
            if self.kind == IVF:
                copy._index.nprobe = self._index.nprobe
                if copy._index.direct_map.type != faiss.DirectMap.Hashtable:
                    copy._index.set_direct_map_type(faiss.DirectMap.Hashtable)
        return copy

    def changes(self) -> VectorChanges:
        """An empty set of changes to this index, applied by `apply` (a live save's working copy)."""
        return VectorChanges(self)

    def apply(self, removed: np.ndarray, added: np.ndarray, matrix: np.ndarray) -> None:
        """Remove, then add, as one change: readers see the index before or after it."""
        with self._lock.write():
            self.remove(removed)
            self.add(added, matrix)

    def reconstruct(self, chunk_id: int) -> np.ndarray:
        with self._lock.read():
            return self._index.reconstruct(int(chunk_id))

    # -- search ----------------------------------------------------------------------------
    def search(self, query: np.ndarray, k: int, allowed_ids: np.ndarray | None = None):
        """Top-k (ids, scores) for one query vector; `allowed_ids` restricts the search exactly:
        on IVF, a filter passing less than BROAD_FILTER of the vectors searches every list (over
        the allowed ids only, so exact); a broader one the usual lists, more of them the fewer
        it passes."""
        with self._lock.read():
            return self._search(query, k, allowed_ids)

    def _search(self, query: np.ndarray, k: int, allowed_ids: np.ndarray | None):
        _use_faiss_threads()
        import faiss

        k = min(k, self.count)
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        selector = bitmap = None
        if allowed_ids is not None:
            if len(allowed_ids) == 0:
                return np.zeros(0, np.int64), np.zeros(0, np.float32)
            allowed_ids = np.asarray(allowed_ids, dtype=np.int64)
            if len(allowed_ids) > BITMAP_FROM:
                # A bit per id up to the largest: built by numpy in ~1 ms where IDSelectorBatch's
                # hash set took ~100 ms per search for 800k allowed ids (bench/scale.py).
                flags = np.zeros(int(allowed_ids.max()) + 1, bool)
                flags[allowed_ids] = True
                bitmap = np.packbits(flags, bitorder="little")
                selector = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
            else:
                selector = faiss.IDSelectorBatch(allowed_ids)
            k = min(k, len(allowed_ids))
        if self.kind == FLAT:
            params = faiss.SearchParameters(sel=selector) if selector is not None else None
        else:
            lists, probes = self._index.nlist, self._index.nprobe
            if selector is not None:
                share = len(allowed_ids) / max(self.count, 1)
                probes = lists if share < BROAD_FILTER else min(lists, int(np.ceil(probes / share)))
            params = faiss.SearchParametersIVF(sel=selector, nprobe=probes) if selector is not None \
                else faiss.SearchParametersIVF(nprobe=probes)
        scores, ids = self._index.search(query, k, params=params)
        if self.kind == IVF and ids[0][-1] < 0 and probes < lists:
            # The lists searched held fewer than k (allowed) vectors: never return too few.
            scores, ids = self._index.search(query, k, params=faiss.SearchParametersIVF(sel=selector, nprobe=lists))
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    # -- persistence -----------------------------------------------------------------------
    def save(self, folder: Path, corpus_hash: str = "", store_generation: int | None = None,
             complete: bool | None = None) -> Manifest:
        import datetime as dt

        import faiss

        with self._lock.read():
            data = faiss.serialize_index(self._index).tobytes()
            ids = self._ids()
        manifest = Manifest(
            model_id=self.model_id,
            dimension=self.dimension,
            chunker_version=self.chunker_version,
            package_version=__version__,
            vector_count=len(ids),
            ids_hash=ids_hash(ids),
            index_sha256=hashlib.sha256(data).hexdigest(),
            corpus_hash=corpus_hash,
            built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            index_kind=self.kind,
            index_params=dict(self.params),
            store_generation=store_generation,
            complete=complete,
        )
        folder = Path(folder)
        atomic_write(folder / INDEX_FILE, data)
        write_manifest(folder, manifest)
        self.persisted = manifest
        _remove_other_journals(folder, "")
        return manifest

    def save_changes(self, folder: Path, removed: np.ndarray, added: np.ndarray, matrix: np.ndarray,
                     documents=(), corpus_hash: str = "", store_generation: int | None = None,
                     words=(),
                     complete: bool | None = None) -> Manifest:
        """Persist a change already applied to this index as one journal record after the saved
        state it was applied to, in O(change): the record appended and fsynced, then a new
        manifest renamed into place. A full `save` instead when there is no such state on disk
        (never saved, or another process saved since), when the kind changed, or when the
        journal has outgrown JOURNAL_SHARE of the base."""
        import datetime as dt

        folder = Path(folder)
        previous = self.persisted
        try:
            on_disk = read_manifest(folder)
        except IndexMissingError:
            on_disk = None
        base = folder / INDEX_FILE
        record = journal_record(removed, added, matrix, self.dimension, documents, words)
        if (previous is None or on_disk is None or on_disk.version != previous.version
                or self.describe() != {"kind": previous.index_kind, **previous.index_params}
                or not base.exists()
                or previous.journal_bytes + len(record) > JOURNAL_SHARE * base.stat().st_size):
            return self.save(folder, corpus_hash, store_generation, complete)
        # Until this save is on disk this index is no saved state: if it fails (a full disk), the
        # next save writes the whole index rather than a record after a state missing this change.
        self.persisted = None
        name = previous.journal_file or f"vectors-{previous.index_sha256[:16]}.journal"
        path = folder / name
        created = not path.exists()
        with open(path, "r+b" if not created else "w+b") as handle:
            # Bytes past the manifest's length are a writer's that died before its manifest.
            handle.truncate(previous.journal_bytes)
            handle.seek(previous.journal_bytes)
            handle.write(record)
            handle.flush()
            os.fsync(handle.fileno())
        if created:
            _fsync_folder(folder)
        with self._lock.read():
            ids = self._ids()
        manifest = dataclasses.replace(
            previous, package_version=__version__, vector_count=len(ids), ids_hash=ids_hash(ids),
            corpus_hash=corpus_hash, built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            store_generation=store_generation, complete=complete, journal_file=name,
            journal_bytes=previous.journal_bytes + len(record),
            journal_sha256=chain_hash(previous.journal_sha256, record),
            journal_records=previous.journal_records + 1)
        write_manifest(folder, manifest)
        self.persisted = manifest
        return manifest

    def catch_up(self, folder: Path, manifest: Manifest) -> tuple[set[str], set[str] | None] | None:
        """Bring this index, loaded from `folder` at `self.persisted`, to `manifest` by replaying
        only the journal records appended since: (the ids of the documents they changed, the
        vocabulary words they changed or None), or None when that is not possible (another base,
        another journal: the caller loads the whole index). IndexMissingError when the journal is
        damaged or cut short."""
        previous = self.persisted
        if (previous is None or manifest.index_sha256 != previous.index_sha256
                or manifest.model_id != self.model_id or manifest.dimension != self.dimension
                or manifest.chunker_version != self.chunker_version
                or manifest.journal_bytes < previous.journal_bytes
                or (previous.journal_bytes and manifest.journal_file != previous.journal_file)):
            return None
        if manifest.version == previous.version:
            self.persisted = manifest
            return set(), set()
        data = _read_journal(Path(folder), manifest, previous.journal_bytes)
        if chain_hash_all(previous.journal_sha256, data, self.dimension) != manifest.journal_sha256:
            raise IndexMissingError(f"Journalen {Path(folder) / manifest.journal_file} är skadad (kontrollsumman stämmer inte)")
        try:
            folded = self._fold(parse_journal(data, self.dimension))
        except ValueError:
            raise IndexMissingError(f"Journalen {Path(folder) / manifest.journal_file} är skadad") from None
        self.apply(*folded.arrays())
        self.persisted = manifest
        return folded.documents, folded.words

    def _fold(self, records) -> VectorChanges:
        """Journal records as one change (a flat index's removal moves every vector after the
        first removed one: once per replay, not once per record)."""
        folded = self.changes()
        for removed, added, matrix, names, words in records:
            folded.remove(removed.tolist())
            folded.add(added, matrix)
            folded.documents |= names
            folded.words = None if words is None or folded.words is None else folded.words | words
        return folded

    @classmethod
    def load(cls, folder: Path, model_id: str, dimension: int, chunker_version: int,
             exact_below: int = EXACT_BELOW) -> "VectorIndex":
        """Load and verify. Raises IndexMismatchError (other model/chunker: refuse) or
        IndexMissingError (missing or damaged file: the caller rebuilds from the store)."""
        import faiss

        folder = Path(folder)
        manifest = read_manifest(folder)
        if manifest.model_id != model_id or manifest.dimension != dimension:
            raise IndexMismatchError(
                f"Indexet i {folder} är byggt med modellen {manifest.model_id} ({manifest.dimension} dim), "
                f"men inställningen är {model_id} ({dimension} dim). {REBUILD_HINT} "
                "eller välj samma modell med --model."
            )
        if manifest.chunker_version != chunker_version:
            raise IndexMismatchError(
                f"Indexet i {folder} är byggt med styckningsversion {manifest.chunker_version}, "
                f"programmet använder version {chunker_version}. {REBUILD_HINT}"
            )
        path = folder / INDEX_FILE
        try:
            data = path.read_bytes()
        except OSError:
            raise IndexMissingError(f"Indexfilen {path} saknas") from None
        if hashlib.sha256(data).hexdigest() != manifest.index_sha256:
            raise IndexMissingError(f"Indexfilen {path} är skadad (kontrollsumman stämmer inte)")
        try:
            index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        except RuntimeError:
            raise IndexMissingError(f"Indexfilen {path} är skadad och kan inte läsas") from None
        if isinstance(index, faiss.IndexIDMap2):
            kind = FLAT
        elif isinstance(index, faiss.IndexIVFFlat) and index.metric_type == faiss.METRIC_INNER_PRODUCT:
            kind = IVF
            index.nprobe = int(manifest.index_params.get("probes", ivf_probes(index.nlist)))
            if index.direct_map.type != faiss.DirectMap.Hashtable:
                index.set_direct_map_type(faiss.DirectMap.Hashtable)
        else:
            raise IndexMissingError(f"Indexfilen {path} har fel format")
        if index.d != dimension:
            raise IndexMissingError(f"Indexfilen {path} har fel format")
        obj = cls(dimension, model_id, chunker_version, exact_below)
        obj._index, obj.kind = index, kind
        obj.params = dict(manifest.index_params) if kind == IVF else {}
        if manifest.journal_bytes:
            data = _read_journal(folder, manifest, 0)
            if chain_hash_all("", data, dimension) != manifest.journal_sha256:
                raise IndexMissingError(f"Journalen {folder / manifest.journal_file} är skadad (kontrollsumman stämmer inte)")
            try:
                folded = obj._fold(parse_journal(data, dimension))
            except ValueError:
                raise IndexMissingError(f"Journalen {folder / manifest.journal_file} är skadad") from None
            obj.apply(*folded.arrays())
        obj.persisted = manifest
        return obj


def chain_hash_all(previous: str, data: bytes, dimension: int) -> str:
    """The chained checksum after the records in `data` (IndexMissingError if they are not whole)."""
    try:
        records = _record_spans(data, dimension)
    except ValueError:
        raise IndexMissingError("Journalen för vektorindexet är skadad") from None
    for start, end in records:
        previous = chain_hash(previous, data[start:end])
    return previous


def _record_spans(data: bytes, dimension: int) -> list[tuple[int, int]]:
    spans, offset = [], 0
    while offset < len(data):
        if len(data) - offset < _RECORD_HEAD.size:
            raise ValueError("a record cut short")
        magic, n_removed, n_added, dim, n_names = _RECORD_HEAD.unpack_from(data, offset)
        if magic != JOURNAL_MAGIC or dim != dimension:
            raise ValueError("not a journal record of this index")
        end = offset + _RECORD_HEAD.size + 8 * n_removed + 8 * n_added + 4 * n_added * dim + n_names
        if end > len(data):
            raise ValueError("a record cut short")
        spans.append((offset, end))
        offset = end
    return spans


def _read_journal(folder: Path, manifest: Manifest, start: int) -> bytes:
    path = Path(folder) / manifest.journal_file
    try:
        with open(path, "rb") as handle:
            handle.seek(start)
            data = handle.read(manifest.journal_bytes - start)
    except OSError:
        raise IndexMissingError(f"Journalen {path} saknas") from None
    if len(data) != manifest.journal_bytes - start:
        raise IndexMissingError(f"Journalen {path} är kortare än manifestet säger")
    return data


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_other_journals(folder: Path, keep: str) -> None:
    """Journals of bases no longer current (after a full save the manifest names none)."""
    for path in Path(folder).glob("vectors-*.journal"):
        if path.name != keep:
            path.unlink(missing_ok=True)


def write_manifest(folder: Path, manifest: Manifest) -> None:
    atomic_write(Path(folder) / MANIFEST_FILE, json.dumps(asdict(manifest), indent=2).encode())


def read_manifest(folder: Path) -> Manifest:
    path = Path(folder) / MANIFEST_FILE
    try:
        data = json.loads(path.read_text("utf-8"))
        return Manifest(**{k: data[k] for k in Manifest.__dataclass_fields__ if k in data})
    except FileNotFoundError:
        raise IndexMissingError(f"Indexet saknas i {folder} (ingen {MANIFEST_FILE})") from None
    except (ValueError, TypeError):
        raise IndexMissingError(f"{path} är skadad") from None


WRITE_LOCK_FILE = ".write.lock"
SEMANTIC_LOCK_FILE = ".semantic.lock"


class FaissFolder:
    """Where a SQLite knowledge base keeps its vectors: `vectors.faiss` + `manifest.json` in the
    index folder, next to `kunskap.db`. Also the folder's cross-process writer lock (an exclusive
    `flock` on `.write.lock`) and its change stamp (the manifest's mtime and size)."""

    stamp_is_free = False    # a stat call: checked at most every few seconds

    def __init__(self, folder: Path, database_path: Path, exact_below: int = EXACT_BELOW):
        self.folder = Path(folder)
        self.database_path = Path(database_path)
        self.exact_below = exact_below

    def where(self) -> str:
        return str(self.folder)

    def exists(self) -> bool:
        return (self.folder / MANIFEST_FILE).exists() and self.database_path.exists()

    def manifest(self) -> Manifest:
        return read_manifest(self.folder)

    def load(self, model_id: str, dimension: int, chunker_version: int) -> VectorIndex:
        return VectorIndex.load(self.folder, model_id, dimension, chunker_version, self.exact_below)

    def new_index(self, dimension: int, model_id: str, chunker_version: int) -> VectorIndex:
        return VectorIndex(dimension, model_id, chunker_version, self.exact_below)

    records_corpus_hash = True

    def save(self, vectors: VectorIndex, corpus_hash: str = "", rebuilt: bool = False,
             store_generation: int | None = None, complete: bool | None = None) -> Manifest:
        # A new manifest: other processes see it (so `rebuilt` needs nothing more here).
        return vectors.save(self.folder, corpus_hash, store_generation, complete)

    def save_changes(self, vectors: VectorIndex, changes: tuple, documents=(), corpus_hash: str = "",
                     store_generation: int | None = None, complete: bool | None = None, words=()) -> Manifest:
        """A live save's changes (removed, added ids, added vectors), already applied to `vectors`:
        a journal record (or a full save when the journal cannot take it)."""
        return vectors.save_changes(self.folder, *changes, documents=documents, corpus_hash=corpus_hash,
                                    store_generation=store_generation, complete=complete, words=words)

    def catch_up(self, vectors: VectorIndex, manifest: Manifest):
        """Replay the journal's new records into `vectors` (see VectorIndex.catch_up)."""
        return vectors.catch_up(self.folder, manifest)

    def stamp(self) -> tuple | None:
        try:
            stat = (self.folder / MANIFEST_FILE).stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def healthy(self) -> bool:
        return True

    @contextmanager
    def writer_lock(self):
        """Exclusive across processes: `kunskap ingest` and every server process take turns."""
        import fcntl

        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / WRITE_LOCK_FILE, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    @contextmanager
    def no_writer(self):
        """True inside while no process holds the writer lock (a shared lock held meanwhile).
        Opened for reading: a check writes nothing, not even the lock file."""
        import fcntl

        try:
            handle = open(self.folder / WRITE_LOCK_FILE, "rb")
        except FileNotFoundError:   # no writer has ever run here
            yield True
            return
        with handle:   # closing releases the lock
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:       # another process is writing
                yield False
                return
            yield True

    @contextmanager
    def builder_lock(self):
        """The background semantic build's lock (`flock` on `.semantic.lock`): yields whether it
        was taken; never waits."""
        import fcntl

        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / SEMANTIC_LOCK_FILE, "a+b") as handle:   # closing releases it
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True

    def builder_running(self) -> bool:
        """Whether a process is building semantic search in this folder now."""
        import fcntl

        try:
            handle = open(self.folder / SEMANTIC_LOCK_FILE, "rb")
        except FileNotFoundError:
            return False
        with handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            return False

    def close(self) -> None:
        pass
