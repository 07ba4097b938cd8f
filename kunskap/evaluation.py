"""`kunskap eval`: retrieval quality on a test collection, through the same search code as the API.

A set folder holds `corpus/` (Markdown, the corpus format) or `corpus.jsonl` ({id, title, text}),
`queries.jsonl` ({id, text, type?, of?}) and `qrels.tsv` (query id, doc id, grade). The corpus is
ingested into a temporary knowledge base (never the service's); every query runs through
`Searcher.search` in each mode; nDCG@10, Recall@10 and MRR@10 are reported overall and per
query type. Typo queries may name the correctly spelled query in `of`: the report then gives the
share of nDCG@10 they keep.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from .config import Settings
from .documents import Document, Section, content_hash, slugify
from .errors import IndexMismatchError
from .ingest import ingest, ingest_documents
from .knowledgebase import KnowledgeBase
from .search import MODES, RankingParams, Searcher, SearchRequest

K = 10


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    for line in path.read_text("utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[2].strip().lstrip("-").isdigit():
            qrels[parts[0].strip()][parts[1].strip()] = int(parts[2])
    return dict(qrels)


def jsonl_documents(path: Path) -> tuple[list[Document], dict[str, str]]:
    """Documents from corpus.jsonl, and the map from our slug ids back to the set's ids."""
    documents, back = [], {}
    for row in read_jsonl(path):
        doc_id = slugify(str(row["id"])) or "doc"
        back[doc_id] = str(row["id"])
        text = str(row.get("text") or "")
        paragraphs = [p.strip() for p in text.replace("\r\n", "\n").split("\n") if p.strip()]
        documents.append(Document(
            id=doc_id, title=str(row.get("title") or "").strip(), organisation="", kind="report",
            source_path=f"corpus.jsonl#{row['id']}", content_hash=content_hash(text.encode()),
            sections=[Section(text="\n\n".join(paragraphs))],
        ))
    return documents, back


def ndcg(ranking: list[str], relevant: dict[str, int], k: int = K) -> float:
    """Graded nDCG@k with gain 2^g - 1; a grade <= 0 gains nothing (as in trec_eval)."""
    def gain(grade: int) -> int:
        return max(grade, 0)

    dcg = sum((2 ** gain(relevant.get(d, 0)) - 1) / math.log2(i + 2) for i, d in enumerate(ranking[:k]))
    ideal = sorted((gain(g) for g in relevant.values()), reverse=True)[:k]
    idcg = sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall(ranking: list[str], relevant: dict[str, int], k: int = K) -> float:
    wanted = {d for d, g in relevant.items() if g > 0}
    return len(wanted & set(ranking[:k])) / len(wanted) if wanted else 0.0


def mrr(ranking: list[str], relevant: dict[str, int], k: int = K) -> float:
    for i, d in enumerate(ranking[:k]):
        if relevant.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def build_set_index(set_dir: Path, settings: Settings, work_dir: Path, progress: bool) -> tuple[KnowledgeBase, dict[str, str]]:
    kb_settings = settings.model_copy(update={"index": work_dir / "index", "corpus": set_dir / "corpus"})
    kb = KnowledgeBase(kb_settings)
    try:   # a kept work dir built with another model or chunker is rebuilt (the cache survives)
        kb.open_vectors() if kb.exists() else None
        rebuild = False
    except IndexMismatchError:
        rebuild = True
    if (set_dir / "corpus").is_dir():
        ingest(kb, set_dir / "corpus", prune=True, rebuild=rebuild, progress=progress)
        back = {d: d for d in kb.store.document_states()}
    else:
        documents, back = jsonl_documents(set_dir / "corpus.jsonl")
        ingest_documents(kb, documents, prune=True, rebuild=rebuild, progress=progress)
    kb.open_vectors()
    return kb, back


def evaluate_queries(searcher: Searcher, queries: list[dict], qrels: dict, back: dict, modes=MODES) -> dict:
    report: dict = {}
    for mode in modes:
        per_query = {}
        started = time.perf_counter()
        for query in queries:
            relevant = qrels.get(query["id"], {})
            if not relevant:
                continue
            result = searcher.search(SearchRequest(q=query["text"], limit=K, mode=mode))
            ranking = [back.get(h.doc_id, h.doc_id) for h in result.hits]
            per_query[query["id"]] = {
                "type": query.get("type") or "all",
                "ndcg": ndcg(ranking, relevant), "recall": recall(ranking, relevant), "mrr": mrr(ranking, relevant),
            }
        elapsed = time.perf_counter() - started
        report[mode] = summarise(per_query, queries)
        report[mode]["ms_per_query"] = round(1000 * elapsed / max(len(per_query), 1), 1)
        report[mode]["per_query"] = per_query
    return report


def summarise(per_query: dict, queries: list[dict]) -> dict:
    def mean(rows, key):
        return round(sum(r[key] for r in rows) / len(rows), 4) if rows else 0.0

    rows = list(per_query.values())
    by_type = defaultdict(list)
    for row in rows:
        by_type[row["type"]].append(row)
    out = {
        "overall": {m: mean(rows, m) for m in ("ndcg", "recall", "mrr")} | {"n": len(rows)},
        "by_type": {t: {m: mean(r, m) for m in ("ndcg", "recall", "mrr")} | {"n": len(r)} for t, r in sorted(by_type.items())},
    }
    # Typo robustness: nDCG of typo queries relative to their correctly spelled originals.
    pairs = [(q["id"], q["of"]) for q in queries if q.get("of") and q["id"] in per_query and q["of"] in per_query]
    if pairs:
        typo = sum(per_query[a]["ndcg"] for a, _ in pairs)
        right = sum(per_query[b]["ndcg"] for _, b in pairs)
        out["typo_retention"] = round(typo / right, 4) if right else None
    return out


def run_evaluation(set_dir: Path, settings: Settings, work_dir: Path | None = None, progress: bool = False,
                   params: RankingParams | None = None, modes=MODES) -> dict:
    set_dir = Path(set_dir)
    queries = read_jsonl(set_dir / "queries.jsonl")
    qrels = read_qrels(set_dir / "qrels.tsv")
    if work_dir is None:
        with tempfile.TemporaryDirectory(prefix="kunskap-eval-") as tmp:
            return _run(set_dir, settings, Path(tmp), progress, params, queries, qrels, modes)
    return _run(set_dir, settings, Path(work_dir), progress, params, queries, qrels, modes)


def _run(set_dir, settings, work_dir, progress, params, queries, qrels, modes):
    kb, back = build_set_index(set_dir, settings, work_dir, progress)
    searcher = Searcher(kb, params)
    report = evaluate_queries(searcher, queries, qrels, back, modes)
    return {"set": set_dir.name, "queries": len(queries), "modes": report}


def format_table(report: dict) -> str:
    lines = [f"Testsamling: {report['set']} ({report['queries']} frågor)", ""]
    lines.append(f"{'rankning':<10} {'typ':<22} {'n':>4} {'nDCG@10':>8} {'R@10':>6} {'MRR@10':>7}")
    for mode, data in report["modes"].items():
        o = data["overall"]
        lines.append(f"{mode:<10} {'alla':<22} {o['n']:>4} {o['ndcg']:>8.3f} {o['recall']:>6.3f} {o['mrr']:>7.3f}")
        if len(data["by_type"]) > 1:
            for t, m in data["by_type"].items():
                lines.append(f"{'':<10} {t:<22} {m['n']:>4} {m['ndcg']:>8.3f} {m['recall']:>6.3f} {m['mrr']:>7.3f}")
        if data.get("typo_retention") is not None:
            lines.append(f"{'':<10} {'stavfel/rättstavat':<22} {'':>4} {data['typo_retention']:>8.3f}")
        lines.append(f"{'':<10} {'ms per fråga':<22} {'':>4} {data['ms_per_query']:>8.1f}")
    return "\n".join(lines)
