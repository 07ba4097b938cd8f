"""The demo corpus itself: every file loads, ids are unique, every document has a source URL,
themes are curated slugs, organisations and counties match the reference data."""

from __future__ import annotations

import csv
from collections import Counter
from importlib import resources

import pytest

from kunskap.ingest import load_corpus
from kunskap.themes import ThemeVocabulary

from .conftest import REPO

CORPUS = REPO / "corpus"


@pytest.fixture(scope="module")
def loaded():
    return load_corpus(CORPUS)


@pytest.fixture(scope="module")
def organisations():
    text = resources.files("kunskap.data").joinpath("organisations.csv").read_text("utf-8")
    return {row["name"]: row for row in csv.DictReader(text.splitlines())}


def test_every_file_loads_without_rejection(loaded):
    documents, rejected = loaded
    assert rejected == [], [str(e) for e in rejected]
    files = [p for p in CORPUS.rglob("*") if p.suffix in (".md", ".pdf", ".pptx", ".docx") and p.name != "README.md"]
    assert len(documents) == len(files) > 0
    assert len({d.id for d in documents}) == len(documents)


def test_every_document_has_a_source_url_and_curated_themes(loaded):
    themes = ThemeVocabulary.load()
    for document in loaded[0]:
        if not document.source_url:
            # presentations without sidecar name their sources on the last slide
            assert document.curation_notes and "https://" in document.text, document.source_path
            continue
        assert document.source_url.startswith(("http://", "https://")), document.id
        assert themes.slugs_for_tags(document.tags), document.id


def test_organisations_and_counties_match_reference_data(loaded, organisations):
    for document in loaded[0]:
        if document.organisation == "okänd":
            continue
        assert document.organisation in organisations, (document.id, document.organisation)
        if document.county:
            assert organisations[document.organisation]["county"] == document.county, document.id


def test_reference_data_has_every_municipality_and_region(organisations):
    types = Counter(row["type"] for row in organisations.values())
    assert types["kommun"] == 290 and types["region"] + 1 == 21   # Region Gotland is a kommun
    assert len({row["code"] for row in organisations.values() if row["type"] == "kommun"}) == 290


def test_coverage_of_themes_and_organisations(loaded):
    documents = loaded[0]
    themes = ThemeVocabulary.load()
    per_theme = Counter(s for d in documents for s in themes.slugs_for_tags(d.tags))
    assert themes.themes and all(per_theme[t.slug] >= 5 for t in themes.themes), per_theme
    assert len({d.organisation for d in documents if d.organisation != "okänd"}) >= 40
    presentations = [d for d in documents if d.kind == "presentation"]
    assert len(presentations) >= 12
    assert sum(1 for d in presentations if "metadatafil (.yml) saknas" in d.curation_notes) >= 2
