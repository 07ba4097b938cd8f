"""Ablation of the ranking on the Swedish dev sets and our climate set.

Prints nDCG@10 (and per query type for sets that label types) for lexical only, dense only,
reciprocal rank fusion, normalised-score sums, and the calibrated fusion we ship, with parts of
the Swedish query analysis switched off. The indexes are kept under index/eval-<set>/ so the embedding cache is
reused between runs (the first run embeds every set: ~8 minutes for SweQUAD-MC on 2 cores).

    .venv/bin/python bench/ablation.py ../shared/eval/swefaq ../shared/eval/swequad_mc eval/climate
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from kunskap.config import load_settings
from kunskap.evaluation import build_set_index, evaluate_queries, read_jsonl, read_qrels
from kunskap.search import Searcher
from kunskap.search.ranking import ExpansionWeights, FusionWeights, RankingParams


def fusion(**weights) -> RankingParams:
    return RankingParams(fusion=FusionWeights(**weights))


VARIANTS = {
    "lexical only": (RankingParams(), "lexical"),
    "dense only": (RankingParams(), "dense"),
    "rrf (k=60)": (fusion(method="rrf"), "hybrid"),
    "min-max sum": (fusion(method="sum", lexical_weight=0.5), "hybrid"),
    "min-max + evidence": (fusion(method="evidence", lexical_weight=0.5), "hybrid"),
    "convex by evidence+margin": (fusion(method="adaptive", lexical_weight=0.6, evidence_power=3.0,
                                         margin_weight=0.5), "hybrid"),
    "calibrated, no evidence": (fusion(evidence_power=0.0), "hybrid"),
    "calibrated (shipped)": (RankingParams(), "hybrid"),
    "shipped, no compound parts": (RankingParams(expansion=ExpansionWeights(part_weight=0.0)), "hybrid"),
    "shipped, no synonyms": (RankingParams(expansion=ExpansionWeights(synonym_weight=0.0)), "hybrid"),
}


def main(set_dirs: list[str]) -> None:
    settings = load_settings()
    for set_dir in map(Path, set_dirs):
        queries = read_jsonl(set_dir / "queries.jsonl")
        qrels = read_qrels(set_dir / "qrels.tsv")
        work = Path("index") / f"eval-{set_dir.name}"
        started = time.perf_counter()
        kb, back = build_set_index(set_dir, settings, work, progress=True)
        print(f"\n{set_dir.name}: {len(queries)} queries, index ready in {time.perf_counter() - started:.0f} s")
        rows = []
        types: list[str] = []
        for name, (params, mode) in VARIANTS.items():
            report = evaluate_queries(Searcher(kb, params), queries, qrels, back, modes=(mode,))[mode]
            types = sorted(report["by_type"])
            rows.append((name, report))
        header = f"{'variant':<28} {'nDCG@10':>8} {'R@10':>6} {'MRR':>6}"
        if len(types) > 1:
            header += "".join(f" {t[:10]:>10}" for t in types)
        print(header)
        for name, report in rows:
            o = report["overall"]
            line = f"{name:<28} {o['ndcg']:>8.3f} {o['recall']:>6.3f} {o['mrr']:>6.3f}"
            if len(types) > 1:
                line += "".join(f" {report['by_type'][t]['ndcg']:>10.3f}" for t in types)
            print(line)


if __name__ == "__main__":
    main(sys.argv[1:] or ["../shared/eval/swefaq", "../shared/eval/swequad_mc"])
