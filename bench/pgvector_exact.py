"""When may dense search on PostgreSQL use the HNSW index, and when must it scan exactly?

Builds knowledge bases of N random unit vectors (384 dimensions, like multilingual-e5-small) on a
throwaway PostgreSQL (pgserver: PostgreSQL 16 + pgvector 0.6) through the real store and
`PgVectorIndex`, then times, for k = 200 (search/dense.py's DENSE_CHUNKS):

- an exact scan of every vector, and of allowed subsets of several sizes (a filter);
- an HNSW scan (ef_search = 2k) without a filter, with its recall@k against the exact answer;
- HNSW with a filter: the share of the k results that survive among its ef_search candidates
  (pgvector 0.6 has no filtered index scan).

    python bench/pgvector_exact.py [--sizes 1000 3000 10000 30000] [--queries 30]

The thresholds in kunskap/storage/pgvector.py (EXACT_MAX_VECTORS, HNSW_MIN_ALLOWED_SHARE) are
read off this table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DIM = 384
K = 200


def build(url: str, n: int, rng):
    from kunskap.storage import pgvector
    from kunskap.storage.postgres import PostgresStore

    store = PostgresStore(url)
    per_doc = 50
    ids = []
    with store.transaction():
        for d in range(n // per_doc):
            chunks = [{"ord": i, "text": f"t{d}-{i}", "heading": None, "page": None, "embed_text": "x",
                       "embed_hash": f"{d}-{i}"} for i in range(per_doc)]
            record = {"id": f"d{d}", "title": "t", "organisation": "o", "status": "published", "themes": [],
                      "tags": [], "extra": {}, "curation_notes": []}
            _, new = store.replace_document(record, chunks, [("", "") for _ in chunks])
            ids.extend(new)
    index = pgvector.PgVectorHome(store).new_index(DIM, "bench", 2)
    vectors = rng.standard_normal((len(ids), DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    started = time.perf_counter()
    index.add(ids, vectors)
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    index.exact_max_vectors = 0      # an HNSW index at every size
    index.ensure_ann_index()
    return store, index, np.asarray(ids), vectors, load_s, time.perf_counter() - started


def timed(fn, queries):
    out, started = [], time.perf_counter()
    for q in queries:
        out.append(fn(q))
    return out, 1000 * (time.perf_counter() - started) / len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 3000, 10000, 30000])
    parser.add_argument("--queries", type=int, default=30)
    args = parser.parse_args()

    import pgserver
    import psycopg

    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        server = pgserver.get_server(tmp, cleanup_mode="stop")
        server.psql("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public;")
        base = server.get_uri()
        print(f"{'vectors':>8} {'load s':>7} {'hnsw build s':>13} {'exact all ms':>13} {'hnsw ms':>8} "
              f"{'hnsw recall':>12} {'exact 50% ms':>13} {'exact 10% ms':>13} {'exact 1% ms':>12} "
              f"{'hnsw 50% kept':>14} {'hnsw 10% kept':>14}")
        for n in args.sizes:
            schema = f"b{n}"
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {schema}")
            url = base + "&options=" + quote(f"-csearch_path={schema},public")
            store, index, ids, vectors, load_s, build_s = build(url, n, rng)
            queries = rng.standard_normal((args.queries, DIM)).astype(np.float32)
            queries /= np.linalg.norm(queries, axis=1, keepdims=True)
            k = min(K, n)
            exact, exact_ms = timed(lambda q: index._exact(q, k, None), queries)
            approx, hnsw_ms = timed(lambda q: index._approximate(q, k, None), queries)
            recall = np.mean([len({r[0] for r in a} & {r[0] for r in e}) / k for a, e in zip(approx, exact)])
            subsets = {share: rng.choice(ids, size=max(1, int(n * share)), replace=False).tolist()
                       for share in (0.5, 0.1, 0.01)}
            exact_sub = {share: timed(lambda q: index._exact(q, k, allowed), queries)[1]
                         for share, allowed in subsets.items()}
            kept = {share: np.mean([len(index._approximate(q, k, set(subsets[share]))) for q in queries])
                    / min(k, len(subsets[share])) for share in (0.5, 0.1)}
            print(f"{n:>8} {load_s:>7.1f} {build_s:>13.1f} {exact_ms:>13.1f} {hnsw_ms:>8.1f} {recall:>12.3f} "
                  f"{exact_sub[0.5]:>13.1f} {exact_sub[0.1]:>13.1f} {exact_sub[0.01]:>12.1f} "
                  f"{kept[0.5]:>14.2f} {kept[0.1]:>14.2f}")
            store.close()
        server.cleanup()


if __name__ == "__main__":
    main()
