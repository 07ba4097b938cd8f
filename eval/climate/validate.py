"""Checks for the climate test set: run with the project's Python from this folder.

    ../../.venv/bin/python validate.py

- every doc_id in qrels.tsv is a document id in corpus/ (front matter `id`, sidecar `id`, or the
  file name of a binary without sidecar), and no id is used by two files;
- every query has at least one grade-2 document; grades are 1 or 2; no duplicate rows;
- every typo query names an existing, non-typo query in `of`, is 1-2 edits away from it and has
  exactly the same judgements;
- every type has at least 8 queries;
- paraphrase queries share no content word (Snowball Swedish stem, stopwords removed) with the
  title of any document judged relevant for them.
Reads only the files; it does not use the search engine.
"""

from __future__ import annotations

import collections
import json
import re
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
TYPES = ["keyword", "paraphrase", "compound", "inflection", "question", "typo", "english", "org_topic",
         "descriptive", "misspelt", "multi_aspect"]


def corpus_docs() -> dict[str, list[tuple[str, str]]]:
    """id -> [(path, title)] for every document file."""
    docs: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)
    for path in sorted(CORPUS.rglob("*")):
        if not path.is_file() or path.name.startswith(("_", ".")) or path.name == "README.md":
            continue
        if path.suffix == ".yml":
            continue
        if path.suffix == ".md":
            text = path.read_text("utf-8")
            meta = yaml.safe_load(text.split("---", 2)[1])
        else:
            sidecar = path.with_name(path.name + ".yml")
            meta = yaml.safe_load(sidecar.read_text("utf-8")) if sidecar.exists() else {"id": path.stem, "title": ""}
            if not meta.get("title"):
                meta["title"] = first_title(path)
        docs[str(meta["id"])].append((str(path.relative_to(CORPUS)), str(meta.get("title") or "")))
    return docs


def first_title(path: Path) -> str:
    try:
        if path.suffix == ".pptx":
            from pptx import Presentation
            deck = Presentation(str(path))
            return deck.core_properties.title or deck.slides[0].shapes.title.text_frame.text
        if path.suffix == ".pdf":
            from pypdf import PdfReader
            reader = PdfReader(str(path))
            return (reader.metadata.title if reader.metadata else "") or reader.pages[0].extract_text().splitlines()[0]
    except Exception:  # noqa: BLE001 - a missing title only weakens the paraphrase check
        pass
    return ""


def edits(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment)."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def content_stems(text: str, stem, stop: set[str]) -> set[str]:
    words = [w for w in re.findall(r"[^\W\d_]+", text.lower()) if w not in stop and len(w) > 1]
    return {stem(w) for w in words}


def main() -> int:
    problems: list[str] = []
    docs = corpus_docs()
    for doc_id, files in docs.items():
        if len(files) > 1:
            problems.append(f"id {doc_id} used by several files: {[f for f, _ in files]}")
    queries = [json.loads(line) for line in (HERE / "queries.jsonl").read_text("utf-8").splitlines() if line.strip()]
    by_id = {q["id"]: q for q in queries}
    if len(by_id) != len(queries):
        problems.append("duplicate query ids")
    qrels: dict[str, dict[str, int]] = collections.defaultdict(dict)
    for n, line in enumerate((HERE / "qrels.tsv").read_text("utf-8").splitlines(), 1):
        parts = line.split("\t")
        if len(parts) != 3:
            problems.append(f"qrels line {n}: not three tab-separated fields")
            continue
        qid, doc, grade = parts
        if qid not in by_id:
            problems.append(f"qrels line {n}: unknown query {qid}")
        if doc not in docs:
            problems.append(f"qrels line {n}: unknown document {doc}")
        if grade not in ("1", "2"):
            problems.append(f"qrels line {n}: grade {grade!r}")
        if doc in qrels[qid]:
            problems.append(f"qrels line {n}: duplicate {qid} {doc}")
        qrels[qid][doc] = int(grade)
    for q in queries:
        if q.get("type") not in TYPES:
            problems.append(f"{q['id']}: unknown type {q.get('type')}")
        if 2 not in qrels.get(q["id"], {}).values():
            problems.append(f"{q['id']}: no grade-2 document")
        if q.get("type") == "typo":
            orig = by_id.get(q.get("of", ""))
            if orig is None or orig.get("type") == "typo":
                problems.append(f"{q['id']}: 'of' must name a non-typo query")
                continue
            dist = edits(q["text"], orig["text"])
            if not 1 <= dist <= 2:
                problems.append(f"{q['id']}: {dist} edits from {orig['id']}")
            if qrels.get(q["id"]) != qrels.get(orig["id"]):
                problems.append(f"{q['id']}: judgements differ from {orig['id']}")
        elif "of" in q:
            problems.append(f"{q['id']}: 'of' on a non-typo query")
    counts = collections.Counter(q["type"] for q in queries)
    for t in TYPES:
        if counts[t] < 8:
            problems.append(f"type {t}: only {counts[t]} queries")
    try:
        import Stemmer
        stem = Stemmer.Stemmer("swedish").stemWord
        stopfile = HERE.parent.parent / "kunskap" / "data" / "stopwords_sv.txt"
        stop = {l.split("#", 1)[0].strip() for l in stopfile.read_text("utf-8").splitlines()} - {""}
        for q in queries:
            if q["type"] != "paraphrase":
                continue
            qs = content_stems(q["text"], stem, stop)
            for doc in qrels[q["id"]]:
                shared = qs & content_stems(docs[doc][0][1], stem, stop)
                if shared:
                    problems.append(f"{q['id']}: shares {sorted(shared)} with the title of {doc}")
    except ImportError:
        print("PyStemmer missing: paraphrase check skipped")

    graded = [qrels[q["id"]] for q in queries]
    print(f"{len(queries)} queries, {sum(len(g) for g in graded)} judgements, {len(docs)} documents in corpus/")
    for t in TYPES:
        rows = [qrels[q["id"]] for q in queries if q["type"] == t]
        print(f"  {t:<11} {counts[t]:>3} queries, {sum(len(r) for r in rows) / max(len(rows), 1):.1f} relevant/query "
              f"({sum(list(r.values()).count(2) for r in rows) / max(len(rows), 1):.1f} grade 2)")
    print(f"  all         {len(queries):>3} queries, {sum(len(g) for g in graded) / len(queries):.2f} relevant/query "
          f"({sum(list(g.values()).count(2) for g in graded) / len(queries):.2f} grade 2)")
    unused = sorted(set(docs) - {d for g in graded for d in g})
    print(f"  documents judged relevant for no query: {len(unused)}")
    for p in problems:
        print("PROBLEM:", p)
    print("OK" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
