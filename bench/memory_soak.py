"""Server memory under a stream of new queries: does `kunskap serve` settle or keep growing?

Starts `kunskap serve --read-only` on a prebuilt index (as http_load.py does), sends N unique
queries in rounds from 8 clients, and prints the resident memory of the server's processes
after each round. The result cache fills up (KUNSKAP_RESULT_CACHE_SIZE) and must then stay flat.

    .venv/bin/python bench/memory_soak.py --index /tmp/…/index            # 3000 queries, ~1 min
    .venv/bin/python bench/memory_soak.py --index /tmp/…/index --queries 6000 --round 1000
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _benchlib as B  # noqa: E402
import http_load as H  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", type=Path, required=True, help="prebuilt index folder (not the project's index/)")
    p.add_argument("--corpus", type=Path, default=B.DEFAULT_CORPUS)
    p.add_argument("--queries", type=int, default=3000)
    p.add_argument("--round", type=int, default=500, help="queries between memory readings")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--seed", type=int, default=11)
    args = p.parse_args(argv)
    B.check_index_dir(args.index.resolve())
    server_args = H.parse_args(["--index", str(args.index)])
    clock = B.LoadClock()
    tmp = Path(tempfile.mkdtemp(prefix="kunskap-soak-"))
    server = H.Server(server_args, args.index.resolve(), args.corpus.resolve(), tmp)
    rows, errors = [], 0
    try:
        server.wait_ready(300)
        rows.append([0, f"{H.group_rss_mb(server.pgid):.0f}", 0, "-"])
        queries = B.unique_variants(args.queries, args.seed)
        for start in range(0, len(queries), args.round):
            stream = [("unique", q) for q in queries[start : start + args.round]]
            res = asyncio.run(H.run_level(server.base, stream, args.concurrency, 600, 30))
            failed = sum(1 for r in res["records"] if r["error"])
            errors += failed
            rows.append([start + len(stream), f"{H.group_rss_mb(server.pgid):.0f}", failed,
                         B.fmt(len(stream) / res["wall"])])
    finally:
        code = server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(B.table("SERVER MEMORY under new queries", ["queries sent", "RSS MB", "errors", "req/s"], rows,
                  [f"{args.concurrency} clients, every query new (no repeats); server exit code {code}"]
                  + clock.footer()))
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
