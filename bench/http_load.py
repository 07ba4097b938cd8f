"""HTTP benchmark of `kunskap serve`: GET /api/v1/search at 1, 8 and 32 concurrent clients.

Builds an index with the library in a temp dir (or takes --index DIR), starts
`python -m kunskap serve --read-only` on a free port of 127.0.0.1, and measures client-side
latency p50/p95/p99 and requests/s per concurrency level on a mix of popular (repeated) and
unique queries; then replays exactly the same requests, now all query-embedding cache hits, to
show what share of the server's time is the embedding model. Also /ready and /health figures.
The server is stopped at the end (also on Ctrl+C or an error).

    .venv/bin/python bench/http_load.py                      # builds the whole corpus first (~3 min)
    .venv/bin/python bench/http_load.py --index /tmp/x/index  # a prebuilt index (e.g. pipeline.py --keep)
    .venv/bin/python bench/http_load.py --limit-docs 20 --requests 100   # quick run

With --database-url URL (an empty database, or a schema of one) or --postgres (a PostgreSQL 16 +
pgvector server of its own, from pgserver), it compares replicas instead: the SQLite index is
copied into PostgreSQL with `kunskap migrate-to`, then unique and repeated queries are measured
against 1 and 2 `kunskap serve` processes, each pinned to a core of its own (`taskset -c`), on
SQLite and on PostgreSQL alike, and the req/s of 2 replicas is divided by that of 1:

    .venv/bin/python bench/http_load.py --index /tmp/…/index --postgres
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))   # for _benchlib

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import _benchlib as B  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="HTTP latency/throughput benchmark of `kunskap serve` (prints plain-text tables).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--index", type=Path, default=None,
                   help="prebuilt index folder to serve (default: build one from --corpus in a temp dir)")
    p.add_argument("--corpus", type=Path, default=B.DEFAULT_CORPUS, help="corpus folder (to build the index)")
    p.add_argument("--limit-docs", type=int, default=None, metavar="N",
                   help="build from the first N document files only")
    p.add_argument("--requests", type=int, default=400, help="requests per concurrency level (and pass)")
    p.add_argument("--concurrency", default="1,8,32", help="concurrent clients, comma-separated")
    p.add_argument("--rates", default="20,40,80,120,160",
                   help="open loop: Poisson arrival rates (requests/s), comma-separated; '' to skip")
    p.add_argument("--open-requests", type=int, default=300, help="requests per open-loop rate")
    p.add_argument("--time-cap", type=float, default=120,
                   help="seconds per level and pass; requests not started by then are counted as skipped")
    p.add_argument("--repeated-share", type=float, default=0.6, help="share of popular (repeated) queries")
    p.add_argument("--no-prewarm", action="store_true",
                   help="do not send each popular query once before measuring (by default they are "
                        "pre-warmed, as in a server that has been running)")
    p.add_argument("--seed", type=int, default=0, help="seed of the query streams")
    p.add_argument("--embed-threads", type=int, default=None, help="server embed threads (KUNSKAP_EMBED_THREADS)")
    p.add_argument("--faiss-threads", type=int, default=None, help="server FAISS threads (KUNSKAP_FAISS_THREADS)")
    p.add_argument("--result-cache-size", type=int, default=None,
                   help="server result cache (KUNSKAP_RESULT_CACHE_SIZE); 0: only query embeddings are "
                        "cached, so the replay pass shows what the query-embedding cache alone gives")
    p.add_argument("--workers", type=int, default=1, help="server worker processes")
    p.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--startup-timeout", type=float, default=300, help="seconds to wait for /ready")
    p.add_argument("--request-timeout", type=float, default=30, help="client timeout per request, seconds")
    p.add_argument("--target-p95-ms", type=float, default=50, help="target p95 latency ...")
    p.add_argument("--target-concurrency", type=int, default=8, help="... at this concurrency")
    p.add_argument("--client", choices=("raw", "httpx"), default="raw",
                   help="load generator: a minimal asyncio HTTP/1.1 client (cheap) or httpx.AsyncClient")
    p.add_argument("--workdir", type=Path, default=None, help="parent of the temp dir")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (built index, server log)")
    p.add_argument("--json", type=Path, default=None, help="also write all figures as JSON here")
    p.add_argument("--database-url", default=None,
                   help="compare replicas on this PostgreSQL database (empty: the index is migrated into a "
                        "schema of its own, dropped at the end)")
    p.add_argument("--postgres", action="store_true",
                   help="compare replicas on a PostgreSQL server of its own (pgserver) in the temp dir")
    p.add_argument("--replica-clients", type=int, default=8, help="replica comparison: concurrent clients")
    p.add_argument("--replica-requests", type=int, default=300,
                   help="replica comparison: requests per query kind and configuration")
    p.add_argument("--replica-cores", default="0,1", help="replica comparison: the cores replicas are pinned to")
    return p.parse_args(argv)


# -- helpers -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def processes():
    """(pid, /proc/<pid>/stat fields after the name) of every live process."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                yield entry, fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue


def group_processes(pgid: int):
    """(pid, stat fields) of every live process in a process group."""
    # fields[0] is state (field 3): ppid is field 4 -> [1], pgrp 5 -> [2], utime 14 -> [11], stime 15 -> [12]
    return ((pid, fields) for pid, fields in processes() if int(fields[2]) == pgid)


def group_cpu_seconds(pgid: int) -> float:
    """utime + stime of every live process in the server's process group."""
    return sum(int(f[11]) + int(f[12]) for _, f in group_processes(pgid)) / CLK_TCK


def group_rss_mb(pgid: int) -> float:
    """Resident memory (VmRSS) of every live process in the server's process group, MB."""
    total_kb = 0
    for pid, _ in group_processes(pgid):
        try:
            with open(f"/proc/{pid}/status") as fh:
                total_kb += next((int(line.split()[1]) for line in fh if line.startswith("VmRSS:")), 0)
        except OSError:
            continue
    return total_kb / 1024


def build_index(args, tmp: Path) -> tuple[Path, Path, float, str]:
    from kunskap.config import load_settings
    from kunskap.ingest import ingest
    from kunskap.knowledgebase import KnowledgeBase

    corpus, n_files = B.subset_corpus(args.corpus.resolve(), args.limit_docs, tmp / "corpus")
    index = tmp / "index"
    B.check_index_dir(index)
    settings = load_settings(corpus=corpus, index=index, embed_threads=args.embed_threads)
    B.log(f"building the index from {corpus} ({n_files} files) in {index} ...")
    kb = KnowledgeBase(settings)
    report = ingest(kb, corpus)
    B.log(f"built: {report.summary()}")
    del kb
    return index, corpus, report.seconds, report.summary()


class Server:
    def __init__(self, args, index: Path, corpus: Path, tmp: Path, database_url: str | None = None,
                 cpus: str | None = None, name: str = "server", port: int | None = None):
        self.port = port or args.port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / f"{name}.log"
        cmd = [sys.executable, "-m", "kunskap", "serve", "--index", str(index), "--corpus", str(corpus),
               "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(args.workers), "--read-only"]
        if database_url:
            cmd += ["--database-url", database_url]
        if cpus is not None:     # taskset execs the server: the pid (and process group) stay its own
            cmd = ["taskset", "-c", cpus] + cmd
        if args.embed_threads:
            cmd += ["--threads", str(args.embed_threads)]
        env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
        if args.faiss_threads:
            env["KUNSKAP_FAISS_THREADS"] = str(args.faiss_threads)
        if args.result_cache_size is not None:
            env["KUNSKAP_RESULT_CACHE_SIZE"] = str(args.result_cache_size)
        self.cmd = cmd
        self._log = open(self.log_path, "wb")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.pgid = self.proc.pid          # its own session: the group id is its pid

    def wait_ready(self, timeout: float) -> tuple[float, dict]:
        import httpx

        deadline = time.perf_counter() + timeout
        with httpx.Client(timeout=5) as client:
            while time.perf_counter() < deadline:
                if self.proc.poll() is not None:
                    raise SystemExit(f"server exited with {self.proc.returncode}; log:\n{self.log_tail()}")
                try:
                    r = client.get(self.base + "/ready")
                    if r.status_code == 200:
                        return time.perf_counter() - self.started, r.json()
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        raise SystemExit(f"server not ready after {timeout:.0f} s; log:\n{self.log_tail()}")

    def log_tail(self, n: int = 3000) -> str:
        self._log.flush()
        return self.log_path.read_bytes()[-n:].decode("utf-8", "replace")

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)        # uvicorn's graceful shutdown
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()                        # only our own child, by pid
                self.proc.wait(timeout=10)
        self._log.close()
        return self.proc.returncode


# -- load generation ---------------------------------------------------------------------------
class RawConnection:
    """A minimal keep-alive HTTP/1.1 client on asyncio streams (GET only). The load generator
    shares the 2 cores with the server, so it must be cheap: httpx took ~1.6 ms of CPU per
    request, this takes ~0.1 ms (both are kept: --client)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def get(self, target: str, timeout: float) -> tuple[int, bytes, dict]:
        request = (f"GET {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                   "Accept-Encoding: gzip\r\nAccept: application/json\r\n\r\n").encode()
        reused = self.writer is not None
        try:
            return await asyncio.wait_for(self._exchange(request), timeout)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            self.close()
            # The server closes keep-alive connections idle for 5 s; like any HTTP client, send
            # again once on a new connection if a reused one was closed before it answered.
            if reused and (not isinstance(exc, asyncio.IncompleteReadError) or not exc.partial):
                return await asyncio.wait_for(self._exchange(request), timeout)
            raise
        except BaseException:
            self.close()
            raise

    async def _exchange(self, request: bytes) -> tuple[int, bytes, dict]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(request)
        return await self._response()

    async def _response(self) -> tuple[int, bytes, dict]:
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                data = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(data[:-2])
            body = b"".join(parts)
        else:
            raise ValueError("response without length")
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, body, headers

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def body_has_results(body: bytes, headers: dict) -> bool:
    import zlib

    if headers.get("content-encoding") == "gzip":
        body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
    return b'"results":' in body


async def run_level(base: str | list[str], stream: list[tuple[str, str]], concurrency: int, time_cap: float,
                    timeout: float, client_kind: str = "raw") -> dict:
    """Closed loop: `concurrency` clients, each sending its next request when its last one was
    answered. With several bases the clients' connections are spread over them in turn (as a
    reverse proxy spreads them over replicas); only the raw client takes several."""
    from urllib.parse import urlencode, urlsplit

    records: list[dict] = []
    next_index = 0
    started = time.perf_counter()
    deadline = started + time_cap
    bases = [base] if isinstance(base, str) else list(base)
    urls = [urlsplit(b) for b in bases]
    url = urls[0]

    async def worker(get):
        nonlocal next_index
        while True:
            if next_index >= len(stream) or time.perf_counter() > deadline:
                return
            kind, q = stream[next_index]
            next_index += 1
            target = "/api/v1/search?" + urlencode({"q": q})
            t0 = time.perf_counter()
            error = None
            try:
                status, ok = await get(target)
                if status != 200:
                    error = f"HTTP {status}"
                elif not ok:
                    error = "no results field"
            except Exception as exc:   # noqa: BLE001 - every failure counts as an error
                error = type(exc).__name__
            records.append({"kind": kind, "q": q, "latency": time.perf_counter() - t0, "error": error})

    if client_kind == "raw":
        connections = [RawConnection(urls[i % len(urls)].hostname, urls[i % len(urls)].port)
                       for i in range(concurrency)]

        def getter(conn):
            async def get(target):
                status, body, headers = await conn.get(target, timeout)
                return status, status == 200 and body_has_results(body, headers)
            return get

        try:
            await asyncio.gather(*(worker(getter(c)) for c in connections))
        finally:
            for c in connections:
                c.close()
    else:
        import httpx

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=bases[0], limits=limits, timeout=timeout) as client:
            async def get(target):
                r = await client.get(target)
                return r.status_code, r.status_code == 200 and "results" in r.json()
            await asyncio.gather(*(worker(get) for _ in range(concurrency)))
    wall = time.perf_counter() - started
    return {"records": records, "wall": wall, "skipped": len(stream) - len(records)}


async def run_open(base: str, stream: list[tuple[str, str]], rate: float, timeout: float, seed: int) -> dict:
    """Open loop: requests arrive as a Poisson process at `rate` per second, whatever the server
    is doing (as visitors of a website do), each on an idle keep-alive connection or a new one.
    Latency counts from the scheduled arrival, so a server that falls behind is not flattered
    (no coordinated omission)."""
    from urllib.parse import urlencode, urlsplit

    url = urlsplit(base)
    rng = random.Random(seed)
    idle: list[RawConnection] = []
    records: list[dict] = []
    in_flight = max_in_flight = 0

    async def one(kind: str, q: str, scheduled: float):
        nonlocal in_flight, max_in_flight
        conn = idle.pop() if idle else RawConnection(url.hostname, url.port)
        in_flight += 1
        max_in_flight = max(max_in_flight, in_flight)
        error = None
        try:
            status, body, headers = await conn.get("/api/v1/search?" + urlencode({"q": q}), timeout)
            if status != 200:
                error = f"HTTP {status}"
            elif not body_has_results(body, headers):
                error = "no results field"
            idle.append(conn)
        except Exception as exc:   # noqa: BLE001 - every failure counts as an error
            error = type(exc).__name__
            conn.close()
        finally:
            in_flight -= 1
        records.append({"kind": kind, "q": q, "latency": time.perf_counter() - scheduled, "error": error})

    started = time.perf_counter()
    due = started
    tasks = []
    for kind, q in stream:
        due += rng.expovariate(rate)
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(kind, q, due)))
    await asyncio.gather(*tasks)
    for conn in idle:
        conn.close()
    return {"records": records, "wall": time.perf_counter() - started, "skipped": 0,
            "max_in_flight": max_in_flight}


def measure_open(server: Server, stream, rate, args) -> dict:
    cpu0 = group_cpu_seconds(server.pgid)
    client0 = time.process_time()
    result = asyncio.run(run_open(server.base, stream, rate, args.request_timeout, args.seed))
    result["server_cpu"] = group_cpu_seconds(server.pgid) - cpu0
    result["client_cpu"] = time.process_time() - client0
    return result


def error_kinds(results) -> str:
    from collections import Counter

    kinds = Counter(r["error"] for res in results for r in res["records"] if r["error"])
    return (" (" + ", ".join(f"{k}: {n}" for k, n in kinds.most_common()) + ")") if kinds else ""


def measure(server: Server, stream, concurrency, args) -> dict:
    cpu0 = group_cpu_seconds(server.pgid)
    client0 = time.process_time()
    result = asyncio.run(run_level(server.base, stream, concurrency, args.time_cap, args.request_timeout,
                                       args.client))
    result["server_cpu"] = group_cpu_seconds(server.pgid) - cpu0
    result["client_cpu"] = time.process_time() - client0
    return result


def sequential(server: Server, path: str, n: int) -> tuple[list[float], int]:
    import httpx

    lat, errors = [], 0
    with httpx.Client(base_url=server.base, timeout=10) as client:
        for _ in range(n):
            t0 = time.perf_counter()
            r = client.get(path)
            lat.append(time.perf_counter() - t0)
            errors += r.status_code != 200
    return lat, errors


# -- replicas: 1 and 2 pinned server processes, SQLite and PostgreSQL ---------------------------
def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (/proc/stat's first line): whether
    the cores were saturated, whoever used them (servers, PostgreSQL, the client, other jobs)."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + values[4]          # idle + iowait
    return (sum(values) - idle) / CLK_TCK, sum(values) / CLK_TCK


class Postgres:
    """The database of the replica comparison: a schema of its own in --database-url's database,
    or a pgserver instance in the temp dir; the SQLite index is migrated into it."""

    def __init__(self, args, tmp: Path):
        import uuid
        from urllib.parse import quote

        import psycopg

        self.server = None
        base = args.database_url
        if base is None:
            import pgserver

            # Not under a folder only we may enter: pgserver runs PostgreSQL as a user of its own.
            self.pgdata = Path(tempfile.mkdtemp(prefix="kunskap-bench-pg-"))
            self.server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
            self.server.psql("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public;")
            base = self.server.get_uri()
        self.base = base
        self.schema = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {self.schema}")
            self.version = conn.execute("SHOW server_version").fetchone()[0]
        self.url = base + ("&" if "?" in base else "?") + "options=" + quote(f"-csearch_path={self.schema},public")

    def cpu_seconds(self) -> float | None:
        """CPU of our pgserver's postmaster and its children (the replicas' backends), or None
        for a server given by URL (not ours to look at)."""
        if self.server is None:
            return None
        try:
            postmaster = int((self.pgdata / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        total = sum(int(f[11]) + int(f[12]) for pid, f in processes()
                    if int(pid) == postmaster or int(f[1]) == postmaster)
        return total / CLK_TCK

    def close(self) -> None:
        import psycopg

        try:
            with psycopg.connect(self.base, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
        finally:
            if self.server is not None:
                self.server.cleanup()
                shutil.rmtree(self.pgdata, ignore_errors=True)


def migrate_into(index: Path, corpus: Path, url: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "kunskap", "migrate-to", "--index", str(index), "--corpus",
                           str(corpus), "--database-url", url], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"kunskap migrate-to failed:\n{done.stderr}")
    B.log(done.stdout.strip())
    return time.perf_counter() - started


def measure_replicas(servers: list[Server], stream, args, database: Postgres) -> dict:
    cpu0 = [group_cpu_seconds(s.pgid) for s in servers]
    pg0 = database.cpu_seconds()
    busy0, total0 = machine_cpu_seconds()
    client0 = time.process_time()
    result = asyncio.run(run_level([s.base for s in servers], stream, args.replica_clients, args.time_cap,
                                   args.request_timeout))
    busy1, total1 = machine_cpu_seconds()
    result["server_cpu"] = [group_cpu_seconds(s.pgid) - c for s, c in zip(servers, cpu0)]
    result["client_cpu"] = time.process_time() - client0
    pg1 = database.cpu_seconds()
    result["postgres_cpu"] = None if pg0 is None or pg1 is None else pg1 - pg0
    result["machine_busy"] = (busy1 - busy0) / max(total1 - total0, 1e-9)
    return result


def replica_comparison(args, index: Path, corpus: Path, tmp: Path, build_note: str, clock) -> int:
    """SQLite and PostgreSQL, 1 and 2 replicas each pinned to a core: unique and repeated queries."""
    cores = [c.strip() for c in args.replica_cores.split(",") if c.strip()]
    if shutil.which("taskset") is None:
        raise SystemExit("taskset is needed to pin the replicas to cores (util-linux)")
    database = Postgres(args, tmp)
    try:
        migrate_s = migrate_into(index, corpus, database.url)
        n = args.replica_requests
        configs = [("SQLite", 1), ("SQLite", 2), ("PostgreSQL", 1), ("PostgreSQL", 2)]
        uniques = B.unique_variants(n * len(configs) + 5, args.seed + 7)
        throwaway, uniques = uniques[:5], uniques[5:]
        rng = random.Random(args.seed)
        weights = [1.0 / (r + 1) ** 0.7 for r in range(len(B.POPULAR_QUERIES))]
        rows, R = [], {}
        for i, (backend, replicas) in enumerate(configs):
            url = database.url if backend == "PostgreSQL" else None
            servers = []
            try:
                for r in range(replicas):
                    servers.append(Server(args, index, corpus, tmp, database_url=url, cpus=cores[r % len(cores)],
                                          name=f"{backend.lower()}-{replicas}-{r}", port=free_port()))
                for server in servers:
                    server.wait_ready(args.startup_timeout)
                # Every replica has its own result cache: each is warmed with every popular query,
                # as replicas behind a proxy that have been running a while would be.
                for server in servers:
                    measure(server, [("throwaway", q) for q in throwaway] +
                            [("prewarm", q) for q in B.POPULAR_QUERIES], 1, args)
                new = uniques[i * n:(i + 1) * n]
                streams = {"unique": [("unique", q) for q in new],
                           "repeated": [("repeated", q) for q in rng.choices(B.POPULAR_QUERIES, weights=weights, k=n)]}
                for kind, stream in streams.items():
                    level_clock = B.LoadClock()
                    B.log(f"{backend}, {replicas} replica(s): {len(stream)} {kind} queries, "
                          f"{args.replica_clients} clients ...")
                    res = measure_replicas(servers, stream, args, database)
                    res["load"] = (level_clock.load_start, os.getloadavg())
                    R[(backend, replicas, kind)] = res
            finally:
                for server in servers:
                    server.stop()
        for (backend, replicas, kind), res in R.items():
            recs = res["records"]
            ok = [r["latency"] for r in recs if not r["error"]]
            rate = len(recs) / res["wall"]
            one = R[(backend, 1, kind)]
            ratio = rate / (len(one["records"]) / one["wall"])
            rows.append([backend, replicas, ",".join(cores[:replicas]), kind, len(recs), len(recs) - len(ok),
                         *B.p50_95_99(ok)[:2], B.fmt(rate), f"{ratio:.2f}x",
                         " + ".join(B.fmt(1000 * c / max(len(recs), 1)) for c in res["server_cpu"]),
                         B.fmt(1000 * res["postgres_cpu"] / max(len(recs), 1))
                         if backend == "PostgreSQL" and res["postgres_cpu"] is not None else "-",
                         B.fmt(1000 * res["client_cpu"] / max(len(recs), 1)),
                         f"{100 * res['machine_busy']:.0f}", f"{res['load'][0][0]:.1f}"])
        errors = sum(1 for res in R.values() for r in res["records"] if r["error"])
        print(B.table(
            f"REPLICAS: GET /api/v1/search, {args.replica_clients} clients (ms)",
            ["backend", "replicas", "cores", "queries", "requests", "errors", "p50", "p95", "req/s",
             "vs 1 replica", "srv CPU ms/req", "pg CPU ms", "cli CPU ms", "machine busy %", "load 1m"], rows,
            [f"{n} requests per kind and configuration: unique = never asked before (the model embeds "
             "each), repeated = popular queries, every replica pre-warmed with each (its result cache)",
             "each replica a `kunskap serve --read-only` process (default threads and model instances) "
             f"pinned with taskset -c to its core; the client (one asyncio process, connections spread over "
             "the replicas in turn, as a proxy would) and PostgreSQL are not pinned and share the same cores",
             "srv CPU = each replica's CPU per request of the pass; pg CPU = PostgreSQL's (postmaster and "
             "backends); cli CPU = the client's",
             "machine busy % = share of all cores busy during the pass (servers, PostgreSQL, the client and "
             "other jobs): near 100 the cores, not the replicas, are the limit",
             f"errors: {errors}" + error_kinds(R.values()),
             f"PostgreSQL {database.version} + pgvector ({'pgserver, local socket' if database.server else 'given URL'}), "
             f"migrated from the SQLite index with kunskap migrate-to in {migrate_s:.1f} s; {build_note}",
             ] + clock.footer()), flush=True)
        if args.json:
            args.json.write_text(json.dumps({" / ".join(map(str, k)): v for k, v in R.items()}, indent=1,
                                            default=str), "utf-8")
        return 0 if errors == 0 else 1
    finally:
        database.close()


# -- main --------------------------------------------------------------------------------------
def main(argv=None) -> int:
    args = parse_args(argv)
    levels = [int(x) for x in args.concurrency.split(",") if x.strip()]
    clock = B.LoadClock()
    tmp = Path(tempfile.mkdtemp(prefix="kunskap-http-", dir=args.workdir))
    R: dict = {"levels": levels}
    build_note = ""
    if args.index:
        index = args.index.resolve()
        B.check_index_dir(index)
        if not (index / "manifest.json").exists():
            raise SystemExit(f"{index} has no manifest.json: not a built index")
        corpus = args.corpus.resolve()
        build_note = f"prebuilt index {index}"
    else:
        index, corpus, build_s, summary = build_index(args, tmp)
        build_note = f"index built in {build_s:.0f} s ({summary})"
    if args.database_url or args.postgres:
        try:
            return replica_comparison(args, index, corpus, tmp, build_note, clock)
        finally:
            if not args.keep:
                shutil.rmtree(tmp, ignore_errors=True)

    # Query streams: popular ones repeated (Zipf-like), unique ones never seen before.
    n_rep = round(args.requests * args.repeated_share)
    n_uni = args.requests - n_rep
    rates = [float(x) for x in args.rates.split(",") if x.strip()]
    o_rep = round(args.open_requests * args.repeated_share)
    o_uni = args.open_requests - o_rep
    uniques = B.unique_variants(n_uni * len(levels) + o_uni * len(rates) + 5, args.seed + 1)
    throwaway, uniques = uniques[:5], uniques[5:]
    open_uniques, uniques = uniques[n_uni * len(levels):], uniques[: n_uni * len(levels)]
    rng = random.Random(args.seed)
    weights = [1.0 / (r + 1) ** 0.7 for r in range(len(B.POPULAR_QUERIES))]

    def stream(n_popular: int, new: list[str]) -> list[tuple[str, str]]:
        s = [("repeated", q) for q in rng.choices(B.POPULAR_QUERIES, weights=weights, k=n_popular)]
        s += [("unique", q) for q in new]
        rng.shuffle(s)
        return s

    streams = {c: stream(n_rep, uniques[i * n_uni : (i + 1) * n_uni]) for i, c in enumerate(levels)}
    open_streams = {r: stream(o_rep, open_uniques[i * o_uni : (i + 1) * o_uni]) for i, r in enumerate(rates)}
    distinct = len(B.POPULAR_QUERIES) + len(uniques) + len(open_uniques) + len(throwaway)
    from kunskap.config import Settings

    cache_size = args.result_cache_size if args.result_cache_size is not None else Settings().result_cache_size
    if distinct > (cache_size or 1024):
        B.log(f"warning: {distinct} distinct queries exceed the server's cache ({cache_size or 1024}): "
              "the replay pass will not be all hits")

    server = Server(args, index, corpus, tmp)
    tables = []
    try:
        B.log(f"starting {' '.join(server.cmd)}")
        startup_s, ready = server.wait_ready(args.startup_timeout)
        B.log(f"ready after {startup_s:.1f} s: {ready}")
        ready_lat, ready_err = sequential(server, "/ready", 50)
        health_lat, health_err = sequential(server, "/health", 50)
        rows = [["/ready", len(ready_lat), *B.p50_95_99(ready_lat), ready_err],
                ["/health", len(health_lat), *B.p50_95_99(health_lat), health_err]]
        R["ready"] = {"startup_s": startup_s, "body": ready, "latency": ready_lat, "health_latency": health_lat}
        tables.append(B.table(
            "SERVER READINESS", ["endpoint", "n", "p50 ms", "p95 ms", "p99 ms", "errors"], rows,
            [f"/ready: {json.dumps(ready, ensure_ascii=False)}",
             f"process start -> first 200 from /ready: {startup_s:.2f} s (imports, SQLite, FAISS load, model load)",
             f"server memory (RSS of its processes) when ready: {group_rss_mb(server.pgid):.0f} MB",
             build_note] + clock.footer()))
        print(tables[-1] + "\n", flush=True)

        # Warm-up: a few throwaway queries (thread pool, SQLite connections, lookups) and, unless
        # --no-prewarm, every popular query once so that it is a cache hit as in a running server.
        warm = [("throwaway", q) for q in throwaway]
        if not args.no_prewarm:
            warm += [("prewarm", q) for q in B.POPULAR_QUERIES]
        w = measure(server, warm, 1, args)
        warm_errors = sum(1 for r in w["records"] if r["error"])

        results = {}
        for pass_name in ("mixed", "replay"):
            for c in levels:
                level_clock = B.LoadClock()
                B.log(f"{pass_name}: {len(streams[c])} requests at concurrency {c} ...")
                res = measure(server, streams[c], c, args)
                res["load"] = (level_clock.load_start, os.getloadavg())
                results[(pass_name, c)] = res
                ok = [r for r in res["records"] if not r["error"]]
                errs = len(res["records"]) - len(ok)
                B.log(f"  {len(ok)} ok, {errs} errors, {res['skipped']} skipped, {res['wall']:.1f} s, "
                      f"p95 {1000 * B.pct([r['latency'] for r in ok], 95):.1f} ms")

        rows = []
        for (pass_name, c), res in results.items():
            recs = res["records"]
            ok = [r for r in recs if not r["error"]]
            lat = [r["latency"] for r in ok]
            errs = len(recs) - len(ok)
            kinds = {k: [r["latency"] for r in ok if r["kind"] == k] for k in ("repeated", "unique")}
            rows.append([
                f"mixed ({round(100 * args.repeated_share)}/{round(100 - 100 * args.repeated_share)})" if pass_name == "mixed" else
                ("replay (results cached)" if cache_size else "replay (embeddings cached)"), c, len(recs), errs,
                res["skipped"], *B.p50_95_99(lat), B.fmt(1000 * sum(lat) / len(lat)) if lat else "-",
                B.fmt(B.pct(kinds["repeated"], 50) * 1000), B.fmt(B.pct(kinds["unique"], 50) * 1000),
                B.fmt(len(recs) / res["wall"]), B.fmt(1000 * res["server_cpu"] / max(len(recs), 1)),
                B.fmt(1000 * res["client_cpu"] / max(len(recs), 1)),
                " / ".join(f"{x:.1f}" for x in res["load"][1][:1]),
            ])
        R["results"] = {f"{p}@{c}": {k: v for k, v in res.items()} for (p, c), res in results.items()}

        # The model's share of server time: same requests, with and without query embedding.
        share_lines = []
        for c in levels:
            m, r = results[("mixed", c)], results[("replay", c)]
            if not m["records"] or not r["records"]:
                continue
            cpu_m = m["server_cpu"] / len(m["records"])
            cpu_r = r["server_cpu"] / len(r["records"])
            mean_m = sum(x["latency"] for x in m["records"]) / len(m["records"])
            mean_r = sum(x["latency"] for x in r["records"]) / len(r["records"])
            misses = sum(1 for x in m["records"] if x["kind"] == "unique")
            per_miss = (cpu_m - cpu_r) * len(m["records"]) / misses if misses else float("nan")
            share_lines.append(
                f"c={c}: model share of server CPU {100 * (1 - cpu_r / cpu_m):.0f} % "
                f"({1000 * cpu_m:.1f} -> {1000 * cpu_r:.1f} ms CPU/request; ≈{1000 * per_miss:.0f} ms CPU per "
                f"uncached query), of mean latency {100 * (1 - mean_r / mean_m):.0f} %; "
                f"throughput x{(len(r['records']) / r['wall']) / (len(m['records']) / m['wall']):.1f} when all hit")
            unique_cpu = cpu_r + (cpu_m - cpu_r) * len(m["records"]) / misses if misses else float("nan")
            if c > (os.cpu_count() or 1):
                share_lines.append(
                    f"c={c}: closed-loop floor for a unique query when every client waits on one: "
                    f"{c} clients x {1000 * unique_cpu:.0f} ms CPU / {os.cpu_count()} cores = "
                    f"{1000 * c * unique_cpu / (os.cpu_count() or 1):.0f} ms")

        target_lines = []
        for pass_name in ("mixed", "replay"):
            res = results.get((pass_name, args.target_concurrency))
            if res:
                lat = [r["latency"] for r in res["records"] if not r["error"]]
                p95 = 1000 * B.pct(lat, 95)
                verdict = "MEETS" if p95 <= args.target_p95_ms else "MISSES"
                target_lines.append(f"target p95 <= {args.target_p95_ms:.0f} ms at {args.target_concurrency} "
                                    f"clients, {pass_name}: p95 {p95:.1f} ms -> {verdict}")
        total_errors = sum(len([x for x in res["records"] if x["error"]]) for res in results.values())
        foot = [
            f"{args.requests} requests per level (time cap {args.time_cap:.0f} s): "
            f"{n_rep} popular ({len(B.POPULAR_QUERIES)} distinct, Zipf-like repeats, "
            f"{'pre-warmed' if not args.no_prewarm else 'not pre-warmed'}) + {n_uni} unique (new each level); "
            "replay = the same requests again: every query is now in the result cache, or with "
            "--result-cache-size 0 only its embedding is (search still runs)",
            f"latency = client-side wall time per GET /api/v1/search?q=… (keep-alive, Accept-Encoding: gzip, "
            f"{'minimal asyncio client' if args.client == 'raw' else 'httpx.AsyncClient'}, one coroutine "
            "per client, on the same 2 cores); srv CPU = server process CPU / request; cli CPU = client's",
            f"errors: {total_errors} in the measured passes, {warm_errors} in warm-up (must be 0)"
            + error_kinds(results.values()),
            *share_lines, *target_lines,
            f"server memory (RSS of its processes) after the closed-loop passes: {group_rss_mb(server.pgid):.0f} MB",
            f"server: workers {args.workers}, embed threads {args.embed_threads or 'default'}, "
            f"faiss threads {args.faiss_threads or 'default'}; {build_note}",
        ] + clock.footer()
        tables.append(B.table(
            "HTTP GET /api/v1/search (ms)",
            ["pass", "clients", "requests", "errors", "skipped", "p50", "p95", "p99", "mean",
             "p50 popular", "p50 unique", "req/s", "srv CPU ms", "cli CPU ms", "load 1m"],
            rows, foot))
        print(tables[-1] + "\n", flush=True)

        open_results = {}
        for rate in rates:
            B.log(f"open loop: {len(open_streams[rate])} requests at {rate:g}/s ...")
            level_clock = B.LoadClock()
            res = measure_open(server, open_streams[rate], rate, args)
            res["load"] = (level_clock.load_start, os.getloadavg())
            open_results[rate] = res
        rows = []
        best_rate = None
        for rate, res in open_results.items():
            recs = res["records"]
            ok = [r for r in recs if not r["error"]]
            lat = [r["latency"] for r in ok]
            errs = len(recs) - len(ok)
            total_errors += errs
            kinds = {k: [r["latency"] for r in ok if r["kind"] == k] for k in ("repeated", "unique")}
            p95 = 1000 * B.pct(lat, 95) if lat else float("inf")
            if p95 <= args.target_p95_ms and errs == 0:
                best_rate = rate
            rows.append([f"{rate:g}", B.fmt(len(recs) / res["wall"]), len(recs), errs, *B.p50_95_99(lat),
                         B.fmt(B.pct(kinds["repeated"], 50) * 1000), B.fmt(B.pct(kinds["unique"], 50) * 1000),
                         B.fmt(B.pct(kinds["unique"], 95) * 1000), res["max_in_flight"],
                         B.fmt(1000 * res["server_cpu"] / max(len(recs), 1)),
                         B.fmt(100 * res["server_cpu"] / res["wall"] / (os.cpu_count() or 1)),
                         f"{res['load'][1][0]:.1f}"])
        R["open"] = {str(rate): res for rate, res in open_results.items()}
        if rates:
            tables.append(B.table(
                "OPEN LOOP: Poisson arrivals, GET /api/v1/search (ms)",
                ["offered/s", "achieved/s", "requests", "errors", "p50", "p95", "p99", "p50 popular",
                 "p50 unique", "p95 unique", "max in flight", "srv CPU ms", "srv CPU % of 2", "load 1m"],
                rows,
                [f"{args.open_requests} requests per rate, the same "
                 f"{round(100 * args.repeated_share)}/{round(100 - 100 * args.repeated_share)} mix (new unique queries per rate); "
                 "latency from the scheduled arrival to the last byte (no coordinated omission)",
                 f"errors: {sum(1 for res in open_results.values() for r in res['records'] if r['error'])}"
                 + error_kinds(open_results.values()),
                 f"highest offered rate with p95 <= {args.target_p95_ms:.0f} ms: "
                 f"{f'{best_rate:g} requests/s' if best_rate else 'none of those tried'}"] + clock.footer()))
            print(tables[-1] + "\n", flush=True)
    finally:
        code = server.stop()
        log_text = server.log_path.read_text("utf-8", "replace") if server.log_path.exists() else ""
        tracebacks = log_text.count("Traceback")
        B.log(f"server stopped (exit {code}); {tracebacks} tracebacks in its log")
        R["server_exit"] = code
        R["server_tracebacks"] = tracebacks
        if args.json:
            def enc(o):
                return str(o)
            args.json.write_text(json.dumps(R, indent=1, default=enc), "utf-8")
        if args.keep:
            print(f"kept {tmp} (server log: {server.log_path})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"server stopped (exit code {code}); tracebacks in server log: {tracebacks}")
    print("whole run: " + "; ".join(clock.footer()))
    return 0 if total_errors == 0 and warm_errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
