"""A live save at scale (issue 14 §1): what one curation-sized save and the first search after it
cost on a built corpus, and what another process pays to pick the save up.

On a copy of a corpus folder built by bench/scale.py (`<folder>/index`, `<folder>/corpus`; the
folder is changed: its files and index get the saves), for each of --saves rounds:

1. one document's file is edited (a heading renamed) and its chunks embedded by the real model
   beforehand, untimed (`embed_texts`), so the timed save finds every vector cached and the
   figure excludes the model;
2. `ingest_files(kb, corpus, [path])` timed: wall and this thread's CPU time;
3. the first search after it and the same search again (`Searcher.search`, result cache off,
   query vectors from `<work>/query_vectors.npy`): wall and CPU; the difference is what the
   first search pays for the lookups of the new generation;
4. a second KnowledgeBase on the same folder (what another server process holds) picks the
   save up (`reload_if_changed`): wall and CPU; then its searcher's lookups for the new
   generation alone (planner, chunk map and table, document rows and themes, allowed documents),
   and its first search after that.

`--profile` prints cProfile's top functions for the last round's save and first search.

Run: cp -r /tmp/kunskap-scale/c100000 /tmp/persist-100k
     nice -n 10 .venv/bin/python bench/live_save.py --folder /tmp/persist-100k --work /tmp/kunskap-scale
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchlib import LoadClock, fmt, log, pct, table  # noqa: E402
from scale import CachedQueryVectors, query_texts, settings_for  # noqa: E402


def cpu_timed(fn, *a, **kw):
    wall, cpu = time.perf_counter(), time.thread_time()
    result = fn(*a, **kw)
    return (time.perf_counter() - wall) * 1000, (time.thread_time() - cpu) * 1000, result


def profiled(fn, *a, **kw) -> str:
    profile = cProfile.Profile()
    profile.enable()
    fn(*a, **kw)
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(28)
    return out.getvalue()


def lookups(searcher) -> None:
    """What a search derives from the knowledge base's contents (Searcher's generation cache)."""
    from kunskap.search.request import Filters

    searcher.planner()
    searcher._chunk_docs()
    searcher._chunk_table()
    searcher._document_themes()
    searcher._allowed_documents(Filters())
    searcher._facet_rows(Filters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, required=True, help="a copy of a bench/scale.py size folder")
    parser.add_argument("--work", type=Path, default=Path("/tmp/kunskap-scale"), help="holds query_vectors.npy")
    parser.add_argument("--saves", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--label", default="")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from kunskap.chunking import chunk_document
    from kunskap.embeddings import text_hash
    from kunskap.ingest import embed_texts, ingest_files
    from kunskap.knowledgebase import KnowledgeBase
    from kunskap.loaders import load_file
    from kunskap.search import Searcher
    from kunskap.search.dense import QueryVectors
    from kunskap.search.request import SearchRequest

    clock = LoadClock()
    folder = args.folder
    corpus = folder / "corpus"
    kb = KnowledgeBase(settings_for(folder))
    open_ms, _, _ = cpu_timed(kb.open_vectors)
    reader = KnowledgeBase(settings_for(folder))       # another server on the same folder
    reader.open_vectors(repair=False)
    reader.reload_if_changed(every_seconds=0)           # remembers the stamp
    cache = CachedQueryVectors(args.work)
    searchers = []
    for each in (kb, reader):
        searcher = Searcher(each)
        searcher.query_vector = QueryVectors(cache.encode)
        searchers.append(searcher)
    texts = query_texts()
    log(f"opened in {open_ms:.0f} ms: {kb.vectors.count} vectors ({kb.vectors.describe()}); warming up …")
    for searcher in searchers:
        for q in texts[:6]:
            searcher.search(SearchRequest(q=q))
    paths = sorted((corpus / "syn" / "0000").glob("*.md"))[: args.saves]
    rows, profiles = [], {}
    for n, path in enumerate(paths):
        path.write_text(path.read_text("utf-8").replace("## ", f"## Uppdaterat {time.time_ns()}: ", 1), "utf-8")
        document = load_file(path, corpus)
        embed_texts(kb, [(text_hash(c.embed_text), c.embed_text) for c in chunk_document(document)])   # the model, untimed
        last = n == len(paths) - 1
        q1 = q2 = SearchRequest(q=texts[n % len(texts)])
        if args.profile and last:
            profiles["save"] = profiled(ingest_files, kb, corpus, [path])
            profiles["first search"] = profiled(searchers[0].search, q1)
            row = {}
        else:
            save_ms, save_cpu, _ = cpu_timed(ingest_files, kb, corpus, [path])
            first_ms, first_cpu, _ = cpu_timed(searchers[0].search, q1)
            row = {"save_ms": save_ms, "save_cpu": save_cpu, "first_ms": first_ms, "first_cpu": first_cpu}
        second_ms, second_cpu, _ = cpu_timed(searchers[0].search, q2)
        reload_ms, reload_cpu, reloaded = cpu_timed(reader.reload_if_changed, 0)
        looked_ms, looked_cpu, _ = cpu_timed(lookups, searchers[1])
        other_ms, other_cpu, _ = cpu_timed(searchers[1].search, q1)
        assert reloaded, "the reader did not see the save"
        assert sorted(reader.vectors.ids().tolist()) == sorted(kb.vectors.ids().tolist())
        row.update({"second_ms": second_ms, "second_cpu": second_cpu, "reload_ms": reload_ms,
                    "reload_cpu": reload_cpu, "other_lookups_ms": looked_ms, "other_lookups_cpu": looked_cpu,
                    "other_first_ms": other_ms, "other_first_cpu": other_cpu})
        rows.append(row)
        log(f"save {n + 1}: " + ", ".join(f"{k} {v:.0f}" for k, v in row.items()))
    assert sorted(kb.vectors.ids().tolist()) == sorted(kb.store.chunk_ids())
    index = folder / "index"
    on_disk = {p.name: p.stat().st_size for p in index.iterdir() if p.name.startswith(("vectors", "manifest"))}

    for row in rows:
        if "first_ms" in row:
            row["lookups_ms"] = row["first_ms"] - row["second_ms"]
            row["lookups_cpu"] = row["first_cpu"] - row["second_cpu"]

    def cell(key):
        values = [r[key] for r in rows if key in r]
        return f"{fmt(pct(values, 50))} ({fmt(min(values))}–{fmt(max(values))})" if values else "-"

    measures = [("one live save (ingest_files, 1 document, vectors cached)", "save"),
                ("first search after it", "first"), ("the same search again (lookups kept)", "second"),
                ("difference: the new generation's lookups (first − again, per save)", "lookups"),
                ("another KnowledgeBase picks the save up (reload_if_changed)", "reload"),
                ("its searcher's lookups for the new generation, alone", "other_lookups"),
                ("its first search after that", "other_first")]
    print(table(f"Live save at {kb.vectors.count:,} chunks {args.label} ({len(rows)} saves; "
                "median (min–max) ms)",
                ["measure", "wall ms", "CPU ms"],
                [[name, cell(f"{key}_ms"), cell(f"{key}_cpu")] for name, key in measures],
                footer=[f"vector files: {on_disk}", *clock.footer()]))
    for name, text in profiles.items():
        print(f"\n-- cProfile: {name} --\n{text}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "files": on_disk, "open_ms": open_ms}, indent=2))
    kb.store.close()
    reader.store.close()


if __name__ == "__main__":
    main()
