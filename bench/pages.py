"""Render time of the overview pages on the demo corpus: every theme page (/tema/{slug}) and the
member page (/medlem/{slug}) of every organisation with examples, the start page (its map and
"Nytt i kunskapsbanken"), the network meetings (/traffar) and the Atom feeds (/flode and the feed
of every theme, /flode?theme={slug}).

The app runs in-process (FastAPI's TestClient: the whole middleware stack, no network). The pages
do not embed anything, so the index is built with the deterministic hashing embedder (the page
numbers come from SQLite and the generation cache, not from the model). "First" is each page's
first render after start (overview cache empty for it); "repeat" is the same pages rendered again
`--rounds` times (cache warm until the knowledge base changes). Target: repeat p95 <= 50 ms.

    .venv/bin/python bench/pages.py                  # builds the demo corpus into a temp dir
    .venv/bin/python bench/pages.py --index /tmp/pages-index --rounds 20
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))   # for _benchlib

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import _benchlib as B  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from kunskap.config import Settings  # noqa: E402
from kunskap.ingest import ingest  # noqa: E402
from kunskap.knowledgebase import KnowledgeBase  # noqa: E402
from kunskap.reference import organisation_slug  # noqa: E402
from kunskap.web.app import create_app  # noqa: E402

TARGET_P95_MS = 50.0


def timed_get(client, path: str) -> tuple[float, int]:
    """Seconds to render `path` (which must answer 200) and its size in bytes."""
    started = time.perf_counter()
    response = client.get(path)
    seconds = time.perf_counter() - started
    assert response.status_code == 200, (path, response.status_code)
    return seconds, len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=B.DEFAULT_CORPUS)
    parser.add_argument("--index", type=Path, help="index folder (built if empty; default: a temp dir)")
    parser.add_argument("--rounds", type=int, default=10, help="repeat renders of every page")
    args = parser.parse_args()
    clock = B.LoadClock()
    with tempfile.TemporaryDirectory(prefix="kunskap-bench-pages-") as tmp:
        index = args.index or Path(tmp) / "index"
        B.check_index_dir(index)
        kb = KnowledgeBase(Settings(corpus=args.corpus, index=index, model="hashing", rate_limit=0))
        if kb.store.count_documents() == 0:
            B.log(f"building the index of {args.corpus} in {index} (hashing embedder)")
            ingest(kb, args.corpus)
        with TestClient(create_app(kb.settings, knowledge_base=kb)) as client:
            organisations = [o["name"] for o in client.get("/api/v1/organisations").json()]
            paths = {
                "tema": [f"/tema/{t['slug']}" for t in client.get("/api/v1/themes").json()],
                "medlem": [f"/medlem/{organisation_slug(name)}" for name in organisations],
                "start": ["/"],
                "traffar": ["/traffar"],
                "flode": ["/flode"] + [f"/flode?theme={t['slug']}" for t in client.get("/api/v1/themes").json()],
            }
            first: dict[str, list[float]] = {kind: [] for kind in paths}
            repeat: dict[str, list[float]] = {kind: [] for kind in paths}
            sizes: dict[str, list[int]] = {kind: [] for kind in paths}
            for kind, group in paths.items():
                for path in group:
                    seconds, size = timed_get(client, path)
                    first[kind].append(seconds)
                    sizes[kind].append(size)
            for _ in range(args.rounds):
                for kind, group in paths.items():
                    for path in group:
                        repeat[kind].append(timed_get(client, path)[0])
        rows = []
        for kind in paths:
            rows.append([f"/{kind}" if kind != "start" else "/", len(paths[kind]), *B.p50_95_99(first[kind]),
                         *B.p50_95_99(repeat[kind]), B.fmt(sum(sizes[kind]) / len(sizes[kind]) / 1024)])
        print(B.table(f"Overview pages, {kb.store.count_documents(public_only=True)} public documents "
                      f"({args.rounds} repeat rounds)",
                      ["page", "pages", "first p50", "first p95", "first p99", "repeat p50", "repeat p95",
                       "repeat p99", "kB"], rows, footer=clock.footer()))
        worst = max(B.pct(repeat[k], 95) * 1000 for k in paths)
        verdict = "ok" if worst <= TARGET_P95_MS else "OVER TARGET"
        print(f"repeat p95, worst kind of page: {B.fmt(worst)} ms (target <= {TARGET_P95_MS:.0f} ms): {verdict}")
        kb.store.close()


if __name__ == "__main__":
    main()
