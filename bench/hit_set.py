"""Which documents should count as hits? Hit-set precision and recall of candidate cut rules
against the qrels (every grade > 0 is relevant), macro-averaged over queries (issue 11 §3).

The hit set is what `total` and the facet counts describe. Each rule is applied to the same
candidates of the shipped hybrid ranking (real model, the eval set's own index). Prints one row
per rule; the shipped rule is marked. Run:
  .venv/bin/python bench/hit_set.py --set eval/climate --work-dir /tmp/eval-main-climate
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchlib import LoadClock, table  # noqa: E402

from kunskap.config import load_settings  # noqa: E402
from kunskap.evaluation import build_set_index, read_jsonl, read_qrels  # noqa: E402
from kunskap.search import RankingParams, Searcher, SearchRequest  # noqa: E402
from kunskap.search import ranking as R  # noqa: E402


def rules():
    """name -> f(found, scores) -> set of doc ids."""
    out = {"shipped": lambda found, scores: R.hit_set(found, scores, "hybrid")}

    def relative(alpha):
        def rule(found, scores):
            top = max(scores.values(), default=0.0)
            return {d for d, s in scores.items() if s >= alpha * top} if top > 0 else set()
        return rule

    def dense_or_typed(delta, share):
        def rule(found, scores):
            top = max(found.dense.values(), default=0.0)
            hits = {d for d, v in found.dense.items() if v >= top - delta}
            hits |= {d for d, e in found.typed_evidence.items() if e >= share}
            return hits or set(sorted(scores, key=lambda d: -scores[d])[:1])
        return rule

    def relative_or_typed(alpha, share):
        def rule(found, scores):
            hits = relative(alpha)(found, scores)
            return hits | {d for d, e in found.typed_evidence.items() if e >= share and d in scores}
        return rule

    def top_k(k):
        def rule(found, scores):
            return set(sorted(scores, key=lambda d: (-scores[d], d))[:k])
        return rule

    def knee(floor, depth=30):
        """Cut at the largest drop between neighbours among the documents above floor·best:
        a query with one clear answer keeps one, a plateau of similar documents keeps the plateau."""
        def rule(found, scores):
            ranked = sorted(scores.values(), reverse=True)[:depth]
            if not ranked or ranked[0] <= 0:
                return set()
            above = [v for v in ranked if v >= floor * ranked[0]]
            if len(above) < 2:
                cut = above[0] if above else ranked[0]
            else:
                drops = [(above[i] - above[i + 1], i) for i in range(len(above) - 1)]
                drops.append((above[-1] - (ranked[len(above)] if len(ranked) > len(above) else 0.0), len(above) - 1))
                cut = above[max(drops, key=lambda x: (x[0], -x[1]))[1]]
            return {d for d, v in scores.items() if v >= cut}
        return rule

    def relative_or_close(alpha, delta):
        def rule(found, scores):
            top = max(found.dense.values(), default=0.0)
            close = {d for d, v in found.dense.items() if v >= top - delta and d in scores}
            return relative(alpha)(found, scores) | close
        return rule

    def by_evidence(sharp, loose, threshold):
        """A lower share where the typed words carry the query (lexical scores fall off steeply),
        a higher one where meaning must (calibrated dense scores crowd together)."""
        def rule(found, scores):
            return relative(sharp if found.evidence >= threshold else loose)(found, scores)
        return rule

    for sharp, loose, threshold in ((0.35, 0.45, 0.5), (0.3, 0.45, 0.5), (0.35, 0.5, 0.5), (0.3, 0.5, 0.5),
                                    (0.35, 0.45, 0.8), (0.3, 0.45, 0.8), (0.4, 0.5, 0.5)):
        out[f"fused ≥ {sharp:.2f}·best if evidence ≥ {threshold:.1f}, else {loose:.2f}"] = \
            by_evidence(sharp, loose, threshold)
    for alpha in (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6):
        out[f"fused ≥ {alpha:.2f}·best"] = relative(alpha)
    for k in (3, 5, 10):
        out[f"first {k}"] = top_k(k)
    for floor in (0.2, 0.3, 0.45):
        out[f"largest drop above {floor:.2f}·best"] = knee(floor)
    for alpha in (0.45, 0.6):
        for delta in (0.01, 0.02):
            out[f"fused ≥ {alpha:.2f}·best or cos ≥ best−{delta:.2f}"] = relative_or_close(alpha, delta)
    for alpha in (0.4, 0.45, 0.5):
        for share in (0.8, 0.99):
            out[f"fused ≥ {alpha:.2f}·best or typed ≥ {share:.2f}"] = relative_or_typed(alpha, share)
    for delta in (0.02, 0.03):
        out[f"cos ≥ best−{delta:.2f} or typed ≥ 0.80"] = dense_or_typed(delta, 0.8)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", type=Path, required=True)
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--types", default="shipped", help="rules (separated by ;) to print per query type")
    args = parser.parse_args()
    clock = LoadClock()
    settings = load_settings()
    settings = settings.model_copy(update={"embed_instances": 1, "embed_threads": settings.ingest_threads})
    kb, back = build_set_index(args.set, settings, args.work_dir, progress=False)
    searcher = Searcher(kb, RankingParams())
    queries = read_jsonl(args.set / "queries.jsonl")
    qrels = read_qrels(args.set / "qrels.tsv")
    table_rules = rules()
    sums = {name: [0.0, 0.0, 0.0] for name in table_rules}   # precision, recall, size
    detail = [r.strip() for r in args.types.split(";") if r.strip() in table_rules]
    per_type: dict[tuple[str, str], list[float]] = {}        # (rule, type) -> precision, recall, size, n
    n = 0
    for query in queries:
        relevant = {back.get(d, d) for d, g in qrels.get(query["id"], {}).items() if g > 0}
        if not relevant:
            continue
        n += 1
        found = searcher.candidates(SearchRequest(q=query["text"]))
        scores = R.scores_for_mode(found, "hybrid", searcher.params, searcher._document_themes)
        for name, rule in table_rules.items():
            hits = {back.get(d, d) for d in rule(found, scores)}
            inter = len(hits & relevant)
            sums[name][0] += inter / len(hits) if hits else 0.0
            sums[name][1] += inter / len(relevant)
            sums[name][2] += len(hits)
            if name in detail:
                row = per_type.setdefault((name, query.get("type") or "all"), [0.0, 0.0, 0.0, 0])
                row[0] += inter / len(hits) if hits else 0.0
                row[1] += inter / len(relevant)
                row[2] += len(hits)
                row[3] += 1
    rows = [[name, f"{p / n:.3f}", f"{r / n:.3f}", f"{size / n:.1f}"] for name, (p, r, size) in sums.items()]
    print(table(f"Hit-set precision and recall: {args.set} ({n} queries)", ["rule", "precision", "recall", "mean size"],
                rows, footer=clock.footer()))
    types = sorted({t for _, t in per_type})
    if len(types) > 1:
        rows = [[f"{name} / {t}", f"{p / k:.3f}", f"{r / k:.3f}", f"{size / k:.1f}"]
                for name in detail for t in types for p, r, size, k in [per_type[(name, t)]]]
        print(table("Per query type", ["rule / type", "precision", "recall", "mean size"], rows))


if __name__ == "__main__":
    main()
