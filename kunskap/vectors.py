"""The FAISS vector index: exact inner product over normalised vectors, id = chunk rowid.

Saved as a folder artefact: `vectors.faiss` plus `manifest.json` (model id, dimension, chunker
version, package version, vector count, a hash of the ids, the index file's sha256). Writes go
to a temporary file that is fsynced and renamed, so a reader never sees half an index.
"""

from __future__ import annotations

import hashlib
import json
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass
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


def ids_hash(ids) -> str:
    return hashlib.sha256(np.sort(np.asarray(ids, dtype=np.int64)).tobytes()).hexdigest()


def id_fingerprint(ids) -> tuple[int, int, int]:
    """(count, sum, sum of a mixed product) of chunk ids: equal for equal id sets in practice,
    and computable in SQL as cheaply as here (Store.chunk_fingerprint)."""
    ids = np.asarray(ids, dtype=np.int64)
    return int(len(ids)), int(ids.sum()), int(((ids % 1000003) * (ids % 999983)).sum())


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


class VectorIndex:
    """A FAISS IndexIDMap2 over IndexFlatIP. Reads may run in parallel; writes take the lock."""

    def __init__(self, dimension: int, model_id: str, chunker_version: int):
        import faiss

        self.dimension = dimension
        self.model_id = model_id
        self.chunker_version = chunker_version
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        self._lock = threading.RLock()

    # -- contents --------------------------------------------------------------------------
    @property
    def count(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        import faiss

        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def add(self, ids, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(ids), self.dimension):
            raise ValueError(f"vectors of shape {vectors.shape}, expected ({len(ids)}, {self.dimension})")
        _use_faiss_threads()
        with self._lock:
            self._index.add_with_ids(vectors, ids)

    def remove(self, ids) -> int:
        import faiss

        ids = np.asarray(list(ids), dtype=np.int64)
        if len(ids) == 0:
            return 0
        _use_faiss_threads()
        with self._lock:
            return int(self._index.remove_ids(faiss.IDSelectorBatch(ids)))

    def clone(self) -> "VectorIndex":
        """A private copy to write into; readers keep using this one until it is swapped."""
        import faiss

        copy = VectorIndex(self.dimension, self.model_id, self.chunker_version)
        with self._lock:
            copy._index = faiss.clone_index(self._index)
        return copy

    def reconstruct(self, chunk_id: int) -> np.ndarray:
        return self._index.reconstruct(int(chunk_id))

    # -- search ----------------------------------------------------------------------------
    def search(self, query: np.ndarray, k: int, allowed_ids: np.ndarray | None = None):
        _use_faiss_threads()
        """Top-k (ids, scores) for one query vector; `allowed_ids` restricts the search exactly."""
        import faiss

        k = min(k, self.count)
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        params = None
        if allowed_ids is not None:
            if len(allowed_ids) == 0:
                return np.zeros(0, np.int64), np.zeros(0, np.float32)
            selector = faiss.IDSelectorBatch(np.asarray(allowed_ids, dtype=np.int64))
            params = faiss.SearchParameters(sel=selector)
            k = min(k, len(allowed_ids))
        scores, ids = self._index.search(query, k, params=params)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    # -- persistence -----------------------------------------------------------------------
    def save(self, folder: Path, corpus_hash: str = "") -> Manifest:
        import datetime as dt

        import faiss

        with self._lock:
            data = faiss.serialize_index(self._index).tobytes()
            ids = self.ids()
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
        )
        folder = Path(folder)
        atomic_write(folder / INDEX_FILE, data)
        atomic_write(folder / MANIFEST_FILE, json.dumps(asdict(manifest), indent=2).encode())
        return manifest

    @classmethod
    def load(cls, folder: Path, model_id: str, dimension: int, chunker_version: int) -> "VectorIndex":
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
        if not isinstance(index, faiss.IndexIDMap2) or index.d != dimension:
            raise IndexMissingError(f"Indexfilen {path} har fel format")
        obj = cls(dimension, model_id, chunker_version)
        obj._index = index
        return obj


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

    def __init__(self, folder: Path, database_path: Path):
        self.folder = Path(folder)
        self.database_path = Path(database_path)

    def where(self) -> str:
        return str(self.folder)

    def exists(self) -> bool:
        return (self.folder / MANIFEST_FILE).exists() and self.database_path.exists()

    def manifest(self) -> Manifest:
        return read_manifest(self.folder)

    def load(self, model_id: str, dimension: int, chunker_version: int) -> VectorIndex:
        return VectorIndex.load(self.folder, model_id, dimension, chunker_version)

    def new_index(self, dimension: int, model_id: str, chunker_version: int) -> VectorIndex:
        return VectorIndex(dimension, model_id, chunker_version)

    def save(self, vectors: VectorIndex, corpus_hash: str = "", rebuilt: bool = False) -> Manifest:
        return vectors.save(self.folder, corpus_hash)   # a new manifest: other processes see it

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
