"""What dense-guided lexical feedback (RankingParams.feedback) costs per query: the candidates of
every query of a set (no result cache, the query vectors embedded beforehand and shared), with
and without feedback, in wall and CPU time (thread time) per query; best of `--repeat` passes.

    .venv/bin/python bench/feedback_cost.py --work /tmp/rk eval/climate
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from kunskap.config import load_settings
from kunskap.evaluation import build_set_index, read_jsonl
from kunskap.search import SearchRequest, Searcher
from kunskap.search.dense import QueryVectors
from kunskap.search.ranking import FeedbackTerms, RankingParams



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("set")
    parser.add_argument("--work", default="index/eval", help="the work dir is <work>-<set name> (as bench/ablation.py)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    set_dir = Path(args.set)
    queries = [q["text"] for q in read_jsonl(set_dir / "queries.jsonl")]
    kb, _ = build_set_index(set_dir, load_settings(), Path(f"{args.work}-{set_dir.name}"), progress=False)
    vectors = QueryVectors(lambda texts: kb.embedder.encode_queries(texts), 1 << 16)
    for q in queries:
        vectors(q)
    shipped = RankingParams()
    variants = {"without feedback": dataclasses.replace(shipped, feedback=FeedbackTerms.off()),
                "shipped (feedback)": shipped,
                "feedback, every query": dataclasses.replace(shipped, feedback=dataclasses.replace(
                    shipped.feedback, below_evidence=2.0, english=True))}
    print(f"{set_dir.name}: {len(queries)} queries, best of {args.repeat}")
    print(f"{'variant':<24} {'wall ms/q':>10} {'CPU ms/q':>9} {'expanded':>9}")
    for name, params in variants.items():
        best_wall = best_cpu = float("inf")
        expanded = 0
        for _ in range(args.repeat):
            searcher = Searcher(kb, params)
            searcher.query_vector = vectors
            searcher.candidates(SearchRequest(q=queries[0]))   # lookups (chunk map, vocabulary) warmed
            wall, cpu = time.perf_counter(), time.thread_time()
            expanded = sum(bool(searcher.candidates(SearchRequest(q=q)).feedback) for q in queries)
            best_wall = min(best_wall, time.perf_counter() - wall)
            best_cpu = min(best_cpu, time.thread_time() - cpu)
        n = len(queries)
        print(f"{name:<24} {1000 * best_wall / n:>10.2f} {1000 * best_cpu / n:>9.2f} {expanded:>9}", flush=True)


if __name__ == "__main__":
    main()
