"""What the lexical read bounds cost in ranking and CPU (issue 14 §1): the hybrid top 10 of each
setting of (postings read a term, chunks rescored) against the same search with every posting
read, on a corpus built by bench/scale.py (its cached query vectors: the model is not timed).

Run: nice -n 5 .venv/bin/python bench/lexical_bounds.py [--folder /tmp/kunskap-scale/c100000]
         [--queries 30] [--settings 1000:0,1000:300,1500:500,5000:0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scale  # noqa: E402
from _benchlib import LoadClock, table  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=scale.DEFAULT_WORK / "c100000")
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--settings", default="1000:0,1000:300,1000:500,1500:300,1500:500,2000:500,5000:0")
    args = parser.parse_args()
    from kunskap.knowledgebase import KnowledgeBase
    from kunskap.search import SearchRequest, Searcher, lexical
    from kunskap.search.dense import QueryVectors

    clock = LoadClock()
    kb = KnowledgeBase(scale.settings_for(args.folder))
    kb.open_vectors()
    cache = scale.CachedQueryVectors(args.folder.parent)
    searcher = Searcher(kb)
    searcher.query_vector = QueryVectors(cache.encode)
    texts = scale.query_texts()[: args.queries]
    shipped = lexical.TERM_CHUNKS, lexical.RESCORE_CHUNKS, lexical.LEXICAL_DOCS

    def run(term_chunks: int, rescore: int, docs: int = shipped[2]):
        lexical.TERM_CHUNKS, lexical.RESCORE_CHUNKS, lexical.LEXICAL_DOCS = term_chunks, rescore, docs
        tops, cpu = [], []
        for q in texts:
            started = time.thread_time()
            result = searcher._search(SearchRequest(q=q))   # no result cache
            cpu.append(time.thread_time() - started)
            tops.append([h.doc_id for h in result.hits])
        return tops, np.percentile(cpu, 50) * 1000, np.percentile(cpu, 95) * 1000

    run(*shipped[:2])   # warm-up: per-generation lookups, query vectors
    exact, _, _ = run(10**9, 0, 10**9)
    rows = []
    for setting in args.settings.split(","):
        term_chunks, rescore = (int(v) for v in setting.split(":"))
        tops, p50, p95 = run(term_chunks, rescore)
        overlap = [len(set(a) & set(b)) / max(len(b), 1) for a, b in zip(tops, exact)]
        mark = " (shipped)" if (term_chunks, rescore) == shipped[:2] else ""
        rows.append([f"{term_chunks}{mark}", rescore, f"{np.mean(overlap):.3f} / {min(overlap):.2f}",
                     f"{p50:.0f} / {p95:.0f}"])
    lexical.TERM_CHUNKS, lexical.RESCORE_CHUNKS, lexical.LEXICAL_DOCS = shipped
    print(table(f"Lexical read bounds at {kb.store.count_chunks()} chunks: hybrid top 10 against every posting read "
                f"({len(texts)} queries)", ["postings a term", "rescored chunks", "top-10 overlap mean / min",
                                            "CPU p50 / p95 ms"], rows, footer=clock.footer()))


if __name__ == "__main__":
    main()
