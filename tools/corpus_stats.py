"""Print the count tables of corpus/README.md from the corpus itself (through the real loader).

    .venv/bin/python tools/corpus_stats.py [corpus]
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from kunskap.ingest import load_corpus
from kunskap.themes import ThemeVocabulary


def main(corpus: Path) -> None:
    documents, rejected = load_corpus(corpus)
    themes = ThemeVocabulary.load()
    cases = [d for d in documents if d.kind == "case-study"]
    decks = [d for d in documents if d.kind != "case-study"]
    bare = [d for d in decks if "metadatafil (.yml) saknas" in d.curation_notes]
    organisations = {d.organisation for d in documents if d.organisation != "okänd"}
    print(f"{len(documents)} documents: {len(cases)} case studies and {len(decks)} presentations "
          f"({len(decks) - len(bare)} with a sidecar, {len(bare)} without); {len(organisations)} organisations; "
          f"{len(rejected)} rejected.\n")
    every, main_theme = Counter(), Counter()
    for d in documents:
        slugs = themes.slugs_for_tags(d.tags)
        every.update(slugs)
        if slugs:
            main_theme[slugs[0]] += 1
    print("| theme | all | main |\n|---|---:|---:|")
    for slug, n in every.most_common():
        print(f"| `{slug}` | {n} | {main_theme[slug]} |")
    print("\n| organisation | case studies | presentations | total |\n|---|---:|---:|---:|")
    by_org = Counter((d.organisation, d.kind == "case-study") for d in documents)
    for org in sorted(organisations | {"okänd"}, key=lambda o: (-(by_org[(o, True)] + by_org[(o, False)]), o)):
        c, p = by_org[(org, True)], by_org[(org, False)]
        if c + p:
            name = "(no metadata: presentation without sidecar)" if org == "okänd" else org
            print(f"| {name} | {c} | {p} | {c + p} |")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "corpus"))
