"""Grid search over the fusion on cached candidates: the candidates of every query are computed
once (the same Searcher.candidates the API uses), then each fusion setting is scored with the
production `kunskap.search.ranking.fuse`. Prints nDCG@10 per setting and set, and the per-type breakdown.

    .venv/bin/python bench/fusion_grid.py ../shared/eval/swefaq ../shared/eval/swequad_mc eval/climate
"""

from __future__ import annotations

import itertools
import sys
from collections import defaultdict
from pathlib import Path

from kunskap.config import load_settings
from kunskap.evaluation import build_set_index, ndcg, read_jsonl, read_qrels
from kunskap.search import SearchRequest, Searcher
from kunskap.search.ranking import FusionWeights, fuse

GRID = [("rrf", {}), ("sum", {"lexical_weight": 0.5}), ("evidence", {"lexical_weight": 0.5}),
        ("adaptive", {"lexical_weight": 0.6, "evidence_power": 3.0, "margin_weight": 0.5})] + [
    ("calibrated", {"dense_temperature": t, "lexical_weight": w, "evidence_power": p, "lexical_power": lp})
    for t, w, p, lp in itertools.product((0.01, 0.02, 0.04), (0.5, 1.0, 2.0), (1.0, 3.0), (1.0, 3.0))
]


def collect(set_dir: Path, settings):
    queries = read_jsonl(set_dir / "queries.jsonl")
    qrels = read_qrels(set_dir / "qrels.tsv")
    kb, back = build_set_index(set_dir, settings, Path("index") / f"eval-{set_dir.name}", progress=True)
    searcher = Searcher(kb, query_cache_size=10_000)
    rows = []
    for query in queries:
        if query["id"] not in qrels:
            continue
        found = searcher.candidates(SearchRequest(query["text"], limit=10))
        rows.append((query, qrels[query["id"]], found))
    return searcher, back, rows


def score(searcher, back, rows, weights=None, mode="hybrid"):
    per_type = defaultdict(list)
    weights = weights or searcher.params.fusion
    for query, relevant, found in rows:
        if mode == "dense":
            scores = found.dense
        elif mode == "lexical":
            scores = found.lexical
        else:
            scores = fuse(found.dense, found.lexical, found.evidence, weights)
        ranking = [back.get(d, d) for d, _ in sorted(scores.items(), key=lambda x: (-x[1], x[0]))[:10]]
        value = ndcg(ranking, relevant)
        per_type["all"].append(value)
        per_type[query.get("type") or "all"].append(value) if query.get("type") else None
    return {t: sum(v) / len(v) for t, v in per_type.items()}


def grid_from_env():
    """FUSION_GRID=fine: a finer grid around the calibrated setting we ship."""
    import os

    if os.environ.get("FUSION_GRID") != "fine":
        return GRID
    return [("calibrated", {"dense_temperature": t, "lexical_weight": w, "evidence_power": p, "lexical_power": lp})
            for t, w, p, lp in itertools.product((0.03, 0.04, 0.05, 0.06), (0.75, 1.0, 1.25, 1.5), (0.0, 0.5, 1.0),
                                                  (2.0, 3.0, 4.0))]


def main(set_dirs):
    settings = load_settings()
    collected = {Path(d).name: collect(Path(d), settings) for d in set_dirs}
    names = list(collected)
    print(f"{'setting':<40}" + "".join(f"{n[:12]:>13}" for n in names))
    for mode in ("dense", "lexical"):
        print(f"{mode:<40}" + "".join(f"{score(*collected[n], mode=mode)['all']:>13.3f}" for n in names))
    for method, values in grid_from_env():
        weights = FusionWeights(method=method, **values)
        label = " ".join([method[:5]] + [f"{k.split('_')[0][:3]}{k.split('_')[-1][0]}={v}" for k, v in values.items()])
        print(f"{label:<40}" + "".join(f"{score(*collected[n], weights)['all']:>13.3f}" for n in names))


if __name__ == "__main__":
    main(sys.argv[1:])
