"""Ablation of the ranking on the Swedish dev sets and our climate set.

Prints nDCG@10 (and per query type for sets that label types) for lexical only, dense only,
reciprocal rank fusion, normalised-score sums, the calibrated fusion we ship and the candidates
of "Generalising ranking" (eval/README.md): generic words out of the lexical evidence, dense
evidence at several granularities (a title + summary vector per document among them),
query-type-aware weights and dense pseudo-relevance feedback; `--chunk-words N` re-chunks and
re-embeds every set at another chunk size (give it a --work of its own). The (f) rows add
dense-guided lexical feedback (RankingParams.feedback) to the shipped ranking; `--hit-set`
measures the hit set too (precision / recall / size, as `kunskap eval`; each query searched twice).
The summary at the end gives each variant's mean over the sets and its worst margin, over the
sets and the query types, against the better of dense only and lexical only.

The indexes are kept under <work>-<set>/ (default index/eval-<set>/) so the embedding cache is
reused between runs (the first run embeds every set: ~8 minutes for SweQUAD-MC on 2 cores).
Query embeddings are shared between the variants of a set.

    .venv/bin/python bench/ablation.py ../shared/eval/swefaq ../shared/eval/swequad_mc eval/climate
    .venv/bin/python bench/ablation.py --work /tmp/rk --only "a: generic w0.5;shipped (current default)" eval/climate
    .venv/bin/python bench/ablation.py --chunk-words 120 --work /tmp/rk120 --only "shipped (current default)" eval/climate
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from kunskap.config import load_settings
from kunskap.evaluation import build_set_index, evaluate_queries, read_jsonl, read_qrels
from kunskap.search import Searcher
from kunskap.embeddings import text_hash
from kunskap.search.dense import QueryVectors, summary_text
from kunskap.storage import embedding_cache
from kunskap.search.ranking import DenseWeights, ExpansionWeights, FeedbackTerms, FusionWeights, RankingParams

BEFORE = RankingParams(expansion=ExpansionWeights(generic=False), dense=DenseWeights(prf_docs=0, prf_weight=0.0),
                       long_query_words=0, long_query_factor=1.0, feedback=FeedbackTerms.off())   # before issue 11
# The ranking shipped before lexical feedback (dense feedback on): the base of the (e), (a on
# shipped), (c on shipped) and (f) rows, as when they were measured.
SHIPPED = RankingParams(feedback=FeedbackTerms.off())


def fusion(base: RankingParams = BEFORE, **weights) -> RankingParams:
    return dataclasses.replace(base, fusion=FusionWeights(**weights))


def variant(base: RankingParams = BEFORE, expansion: dict | None = None, dense: dict | None = None,
            **params) -> RankingParams:
    """`base` with some expansion, dense or top-level weights changed."""
    changed = dict(params)
    if expansion is not None:
        changed["expansion"] = dataclasses.replace(base.expansion, **expansion)
    if dense is not None:
        changed["dense"] = dataclasses.replace(base.dense, **dense)
    return dataclasses.replace(base, **changed)


def feedback(docs: int, terms: int, weight: float, **more) -> RankingParams:
    """The ranking before lexical feedback with dense-guided lexical feedback (RankingParams.feedback):
    unless `more` says otherwise, every query expanded, English ones and organisation names too."""
    settings = {"below_evidence": 2.0, "english": True, "organisations": True} | more
    return dataclasses.replace(SHIPPED, feedback=FeedbackTerms(docs=docs, terms=terms, weight=weight, **settings))


VARIANTS = {
    "lexical only": (BEFORE, "lexical"),
    "dense only": (BEFORE, "dense"),   # the plain dense baseline: best chunk, no feedback
    "rrf (k=60)": (fusion(method="rrf"), "hybrid"),
    "min-max sum": (fusion(method="sum", lexical_weight=0.5), "hybrid"),
    "min-max + evidence": (fusion(method="evidence", lexical_weight=0.5), "hybrid"),
    "convex by evidence+margin": (fusion(method="adaptive", lexical_weight=0.6, evidence_power=3.0,
                                         margin_weight=0.5), "hybrid"),
    "calibrated, no evidence": (fusion(evidence_power=0.0), "hybrid"),
    "before (calibrated)": (BEFORE, "hybrid"),
    "before, no compound parts": (variant(expansion={"part_weight": 0.0}), "hybrid"),
    "before, no synonyms": (variant(expansion={"synonym_weight": 0.0}), "hybrid"),
    # (a) generic words: out of the evidence, at several BM25 weights
    "a: generic not evidence": (variant(expansion={"generic": True}), "hybrid"),
    "a: generic w0.5": (variant(expansion={"generic": True, "generic_weight": 0.5}), "hybrid"),
    "a: generic w0.2": (variant(expansion={"generic": True, "generic_weight": 0.2}), "hybrid"),
    "a: generic dropped": (variant(expansion={"generic": True, "generic_weight": 0.0}), "hybrid"),
    # (b) dense granularity
    "b: second chunk 0.5": (variant(dense={"second_chunk": 0.5}), "hybrid"),
    "b: top-2 mean": (variant(dense={"second_chunk": 1.0}), "hybrid"),
    "b: doc mean 0.3": (variant(dense={"centroid": 0.3}), "hybrid"),
    "b: doc mean 0.5": (variant(dense={"centroid": 0.5}), "hybrid"),
    # (c) query-type-aware: long descriptive queries lean on meaning
    "c: >=5 words x0.5": (variant(long_query_words=5, long_query_factor=0.5), "hybrid"),
    "c: >=6 words x0.3": (variant(long_query_words=6, long_query_factor=0.3), "hybrid"),
    # (d) dense pseudo-relevance feedback
    "d: prf 3 docs 0.3": (variant(dense={"prf_docs": 3, "prf_weight": 0.3}), "hybrid"),
    "d: prf 5 docs 0.5": (variant(dense={"prf_docs": 5, "prf_weight": 0.5}), "hybrid"),
    "d: prf 2 docs 0.3": (variant(dense={"prf_docs": 2, "prf_weight": 0.3}), "hybrid"),
    "d: prf 3 docs 0.3, dense only": (variant(dense={"prf_docs": 3, "prf_weight": 0.3}), "dense"),
    # combinations
    "a+d: generic, prf 3 0.3": (variant(expansion={"generic": True}, dense={"prf_docs": 3, "prf_weight": 0.3}),
                                "hybrid"),
    "a+d: generic w0.5, prf 3 0.3": (variant(expansion={"generic": True, "generic_weight": 0.5},
                                             dense={"prf_docs": 3, "prf_weight": 0.3}), "hybrid"),
    "b+d: doc mean 0.2, prf 3 0.3": (variant(dense={"centroid": 0.2, "prf_docs": 3, "prf_weight": 0.3}), "hybrid"),
    # (e) a document-level vector of title + organisation + summary (climate only: the dev sets
    # have no summaries, so there it changes nothing), on top of the shipped ranking
    "e: summary vector 0.2": (variant(SHIPPED, dense={"summary": 0.2}), "hybrid"),
    "e: summary vector 0.35": (variant(SHIPPED, dense={"summary": 0.35}), "hybrid"),
    "e: summary vector 0.5": (variant(SHIPPED, dense={"summary": 0.5}), "hybrid"),
    "e: summary vector max": (variant(SHIPPED, dense={"summary": 1.0, "summary_max": True}), "hybrid"),
    "e: summary vector 0.35, dense only": (variant(SHIPPED, dense={"summary": 0.35}), "dense"),
    # (a) and (c) again, on top of the shipped ranking (dense feedback on)
    "a on shipped: generic w0.5": (variant(SHIPPED, expansion={"generic": True, "generic_weight": 0.5}), "hybrid"),
    "c on shipped: >=5 words x0.5": (variant(SHIPPED, long_query_words=5, long_query_factor=0.5), "hybrid"),
    # (f) dense-guided lexical feedback (RM3-style expansion from the top dense documents'
    # best chunks), on top of the shipped ranking: k documents, m terms, weight w
    **{f"f: fb {k}d {m}t w{w}": (feedback(k, m, w), "hybrid")
       for k, m, w in [(2, 10, 0.2), (3, 10, 0.2), (5, 10, 0.2), (3, 5, 0.2), (3, 15, 0.2), (3, 10, 0.1),
                       (3, 10, 0.4), (5, 15, 0.4)]},
    # ... only for queries whose lexical evidence is below 0.5 (English, descriptive)
    **{f"f: fb {k}d {m}t w{w} ev<0.5": (feedback(k, m, w, below_evidence=0.5), "hybrid")
       for k, m, w in [(3, 10, 0.2), (3, 10, 0.4), (5, 15, 0.4)]},
    # ... and with the lexical side fused with at least this evidence when expanded
    **{f"f: fb {k}d {m}t w{w} ev<0.5 floor{f}": (feedback(k, m, w, below_evidence=0.5, fusion_floor=f), "hybrid")
       for k, m, w, f in [(3, 10, 0.4, 0.2), (3, 10, 0.4, 0.4), (3, 10, 1.0, 0.2)]},
    # second round: Swedish queries only (English ones lost on the climate set), weights around
    # the best gated cell
    **{f"f: fb {k}d {m}t w{w} ev<{e}{' sv' if not en else ''}{f' floor{f}' if f else ''}":
       (feedback(k, m, w, below_evidence=e, english=en, fusion_floor=f), "hybrid")
       for k, m, w, e, en, f in [(5, 15, 0.4, 0.5, False, 0.0), (3, 10, 0.4, 0.5, False, 0.0),
                                 (5, 15, 0.2, 0.5, False, 0.0), (5, 10, 0.4, 0.5, False, 0.0),
                                 (5, 15, 0.6, 0.5, False, 0.0), (5, 15, 0.4, 0.3, False, 0.0),
                                 (5, 15, 0.4, 0.7, False, 0.0), (5, 15, 0.4, 0.5, False, 0.2)]},
    # third round: organisation names (places) not expanded with
    **{f"f: fb {k}d {m}t w{w} ev<{e} sv no-org": (feedback(k, m, w, below_evidence=e, english=False,
                                                         organisations=False), "hybrid")
       for k, m, w, e in [(5, 15, 0.4, 0.5), (5, 10, 0.4, 0.5), (3, 10, 0.4, 0.5), (5, 15, 0.3, 0.5)]},
    "f: fb 5d 15t w0.4 ev<0.5 no-org": (feedback(5, 15, 0.4, below_evidence=0.5, organisations=False), "hybrid"),
    "before lexical feedback": (SHIPPED, "hybrid"),
    "shipped (current default)": (RankingParams(), "hybrid"),
    "shipped, dense only": (RankingParams(), "dense"),
    "shipped, lexical only": (RankingParams(), "lexical"),
}


def embed_summaries(kb, batch_size: int) -> None:
    """Cache the title + summary vector of every document that has a summary (DenseWeights.summary)."""
    rows = kb.store.get_documents(sorted(kb.store.document_states()))
    texts = [t for t in map(summary_text, rows.values()) if t]
    embedded, cached = embedding_cache.embed_texts(kb.store, kb.embedder, [(text_hash(t), t) for t in texts],
                                                   batch_size, progress=True)
    print(f"summary vectors: {embedded} embedded, {cached} cached")


def set_chunk_words(words: int) -> None:
    """Chunk at ~`words` words (the shipped 90/120/50 target/max/min scaled alike) under a chunker
    version of its own, so a kept work dir of the other size is rebuilt, never mixed."""
    from kunskap import chunking, ingest, knowledgebase
    scale = words / chunking.TARGET_WORDS
    chunking.TARGET_WORDS, chunking.MAX_WORDS = words, round(chunking.MAX_WORDS * scale)
    chunking.MIN_WORDS = round(chunking.MIN_WORDS * scale)
    version = 1000 + words
    chunking.CHUNKER_VERSION = ingest.CHUNKER_VERSION = knowledgebase.CHUNKER_VERSION = version


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="*", default=["../shared/eval/swefaq", "../shared/eval/swequad_mc"])
    parser.add_argument("--work", default="index/eval", help="work dirs are <work>-<set name>")
    parser.add_argument("--chunk-words", type=int, default=0,
                        help="re-chunk every set at about this many words (re-embeds; use its own --work)")
    parser.add_argument("--only", default="", help="variant names separated by ; "
                        "(lexical only, dense only and the before row are always run)")
    parser.add_argument("--hit-set", action="store_true",
                        help="also measure the hit set (precision / recall / size; searches twice)")
    args = parser.parse_args()
    wanted = [w.strip() for w in args.only.split(";") if w.strip()]
    variants = {name: v for name, v in VARIANTS.items()
                if not wanted or name in ("lexical only", "dense only", "before (calibrated)") or name in wanted}
    if args.chunk_words:
        set_chunk_words(args.chunk_words)
    settings = load_settings()
    results: dict[str, dict[str, dict]] = {}   # set -> variant -> report
    for set_dir in map(Path, args.sets):
        queries = read_jsonl(set_dir / "queries.jsonl")
        qrels = read_qrels(set_dir / "qrels.tsv")
        work = Path(f"{args.work}-{set_dir.name}")
        started = time.perf_counter()
        kb, back = build_set_index(set_dir, settings, work, progress=True)
        print(f"\n{set_dir.name}: {len(queries)} queries, index ready in {time.perf_counter() - started:.0f} s")
        if any(params.dense.summary for params, _ in variants.values()):
            embed_summaries(kb, settings.batch_size)
        vectors = QueryVectors(lambda texts: kb.embedder.encode_queries(texts), 4096)
        rows = {}
        for name, (params, mode) in variants.items():
            searcher = Searcher(kb, params)
            searcher.query_vector = vectors   # the same query embeddings for every variant
            if not args.hit_set:
                searcher.hit_set = lambda request: set()   # ranking only: the hit set would search twice
            started, cpu = time.perf_counter(), time.process_time()
            rows[name] = evaluate_queries(searcher, queries, qrels, back, modes=(mode,))[mode]
            print_row(name, rows[name], header=len(rows) == 1)   # as it comes: SweQUAD-MC is slow
            print(f"  ({time.perf_counter() - started:.0f} s wall, {time.process_time() - cpu:.0f} s CPU)"
                  + (hit_line(rows[name]) if args.hit_set else ""), flush=True)
        results[set_dir.name] = rows
    print_summary(results)


def print_row(name: str, report: dict, header: bool) -> None:
    types = sorted(report["by_type"])
    if header:
        line = f"{'variant':<28} {'nDCG@10':>8} {'R@10':>6} {'MRR':>6}"
        print(line + ("".join(f" {t[:10]:>10}" for t in types) if len(types) > 1 else ""))
    o = report["overall"]
    line = f"{name:<28} {o['ndcg']:>8.3f} {o['recall']:>6.3f} {o['mrr']:>6.3f}"
    if len(types) > 1:
        line += "".join(f" {report['by_type'][t]['ndcg']:>10.3f}" for t in types)
    print(line, flush=True)


def hit_line(report: dict) -> str:
    """Hit-set precision / recall / mean size, overall and per query type."""
    def cell(m: dict) -> str:
        return f"{m['hit_precision']:.3f}/{m['hit_recall']:.3f}/{m['hit_size']:.1f}"
    per_type = report["by_type"] if len(report["by_type"]) > 1 else {}
    return f"  hit set P/R/size {cell(report['overall'])}" + "".join(f"; {t} {cell(m)}" for t, m in per_type.items())


def margins(rows: dict[str, dict], name: str) -> dict[str, float]:
    """nDCG@10 of a variant minus the better of dense only and lexical only: overall and per type."""
    out = {}
    report, dense, lexical = rows[name], rows["dense only"], rows["lexical only"]
    out["all"] = report["overall"]["ndcg"] - max(dense["overall"]["ndcg"], lexical["overall"]["ndcg"])
    if len(report["by_type"]) > 1:
        for t, m in report["by_type"].items():
            out[t] = m["ndcg"] - max(dense["by_type"][t]["ndcg"], lexical["by_type"][t]["ndcg"])
    return out


def print_summary(results: dict[str, dict[str, dict]]) -> None:
    sets = list(results)
    names = list(next(iter(results.values())))
    print(f"\n{'variant':<28}" + "".join(f" {s[:10]:>10}" for s in sets) + f" {'mean':>7} {'worst margin':>24}")
    for name in names:
        values = [results[s][name]["overall"]["ndcg"] for s in sets]
        worst = min(((m, f"{s[:8]}/{t}") for s in sets for t, m in margins(results[s], name).items()))
        print(f"{name:<28}" + "".join(f" {v:>10.3f}" for v in values) + f" {sum(values) / len(values):>7.3f}"
              f" {worst[0]:>+7.3f} {worst[1]:>16}", flush=True)


if __name__ == "__main__":
    main()
