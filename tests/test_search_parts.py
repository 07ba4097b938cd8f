"""The search collaborators on their own, without a knowledge base: query planning and ranking
on plain values."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from kunskap.analysis import SwedishAnalyzer
from kunskap.search.planner import QueryPlan, QueryPlanner, Vocabulary, synonym_table
from kunskap.search.ranking import (
    FIRST_PAGE,
    Candidates,
    ExpansionWeights,
    FusionWeights,
    RankingParams,
    candidate_set,
    hit_set,
    rank,
)

THEMES = [("rattvis-omstallning", ["rättvis omställning", "låginkomsttagare"])]


@pytest.fixture(scope="module")
def analyzer():
    return SwedishAnalyzer(["laddning", "stolpar", "cykelvägar", "cykel", "vägar"])


def planner(analyzer, known_terms=(), weights=None):
    vocabulary = Vocabulary({"cykelvägar": 3, "cykelbanor": 1, "cykelvagn": 1})
    return QueryPlanner(analyzer, vocabulary, synonym_table(THEMES, analyzer),
                        lambda term: 1 if term in known_terms else 0, weights)


def test_planner_corrects_an_unknown_word_to_the_nearest_frequent_one(analyzer):
    plan = planner(analyzer).plan("cykelvgar")
    assert plan.corrections == {"cykelvgar": "cykelvägar"}
    assert plan.searched_for == plan.text_for_dense == "cykelvägar"
    assert plan.terms["cykelväg"] == 1.0
    # A word the index knows (here: its stem has a document frequency) is not a typo.
    kept = planner(analyzer, known_terms={"cykelvg"}).plan("cykelvgar")
    assert kept.corrections == {} and kept.searched_for is None and kept.text_for_dense == "cykelvgar"
    assert planner(analyzer).plan("cykelvgar", correct_typos=False).corrections == {}


def test_planner_leaves_english_queries_uncorrected(analyzer):
    plan = planner(analyzer).plan("how do cities reduce emissons")
    assert plan.english and plan.corrections == {}
    assert "emisson" in plan.terms


def test_planner_weights_compound_parts_and_theme_synonyms(analyzer):
    plan = planner(analyzer).plan("hur når vi låginkomsttagare")
    assert plan.themes == {"rattvis-omstallning"} and plan.expanded == {"låginkomsttag"}
    assert plan.typed == ["når", "låginkomsttag"]
    assert plan.terms["låginkomsttag"] == 1.0 and plan.terms["låg"] == 0.35
    assert plan.terms["rättvis"] == plan.terms["omställning"] == 0.3
    custom = planner(analyzer, weights=ExpansionWeights(part_weight=0.5, synonym_weight=0.0)).plan("låginkomsttagare")
    assert custom.terms["låg"] == 0.5 and custom.terms["rättvis"] == 0.0
    assert not planner(analyzer).plan("laddstolpar").themes


def test_planner_keeps_the_typed_words_of_a_pasted_paragraph(analyzer):
    words = " ".join(f"ord{chr(97 + i)}{chr(97 + j)}" for i in range(8) for j in range(8))   # 64 words
    plan = planner(analyzer).plan(words + " laddstolpar", correct_typos=False)
    assert len(plan.terms) == 48 and all(weight == 1.0 for weight in plan.terms.values())


def _found(dense, lexical, evidence=1.0, themes=frozenset()):
    plan = QueryPlan(terms={}, typed=[], corrections={}, text_for_dense="", themes=frozenset(themes))
    return Candidates(plan=plan, dense=dense, lexical=lexical, evidence=evidence,
                      dense_best={d: (100 + i, s) for i, (d, s) in enumerate(dense.items())},
                      lexical_best={d: (200 + i, s) for i, (d, s) in enumerate(lexical.items())})


def test_the_hits_are_the_candidates_close_to_the_best_score():
    scores = {"a": 1.0, "b": 0.4, "c": 0.39, "d": 0.1}
    assert hit_set(_found({}, {}), scores, "hybrid") == {"a", "b"}          # ≥ 0.40 of the best
    assert hit_set(_found({}, {}), {"x": 0.0, "y": 0.0}, "hybrid") == {"x"}   # never empty
    assert hit_set(_found({}, {}), {}, "hybrid") == set()
    cosines = {"a": 0.90, "b": 0.875, "c": 0.86}
    assert hit_set(_found(cosines, {}), cosines, "dense") == {"a", "b"}     # within 0.03


def test_candidates_hold_lexical_matches_and_close_dense_ones():
    dense = {f"d{i}": 0.9 - 0.01 * i for i in range(40)}   # d0 … d39, 0.90 down to 0.51
    found = _found(dense, {"lex": 5.0, "d30": 1.0})
    scores = {d: 0.0 for d in dense} | {"lex": 1.0}
    hits = candidate_set(found, scores, "hybrid")
    # lexical matches, dense within 0.04 of the best (d0–d4, d4 sits on the floor), and the first page
    assert {"lex", "d30", "d0", "d1", "d2", "d3"} <= hits
    assert "d20" not in hits
    assert len(hits) <= 2 + 5 + FIRST_PAGE
    # Without lexical matches the margin doubles, and dense mode ignores lexical matches.
    assert {"d6", "d7"} <= candidate_set(_found(dense, {}), {}, "hybrid")
    assert "lex" not in candidate_set(found, {}, "dense")
    # A document that matches only the expansions from the dense side is no lexical match.
    expanded = _found(dense, {"lex": 5.0, "d30": 1.0, "fed": 0.5})
    expanded.feedback, expanded.matched = {"värmepump": 0.3}, {"lex", "d30"}
    assert {"lex", "d30"} <= candidate_set(expanded, scores, "hybrid") and "fed" not in candidate_set(
        expanded, scores, "hybrid")


def test_theme_boost_lifts_tagged_documents_only_when_the_query_names_the_theme():
    dense, lexical = {"a": 0.90, "b": 0.89}, {}
    tags = {"b": frozenset({"cykel"})}
    calls = []

    def document_themes():
        calls.append(1)
        return tags

    plain = rank(_found(dense, lexical), "hybrid", RankingParams(), document_themes)
    assert calls == []   # not read when the query names no theme
    named = rank(_found(dense, lexical, themes={"cykel"}), "hybrid", RankingParams(), document_themes)
    before, after = dict(plain.ranking), dict(named.ranking)
    assert after["b"] == pytest.approx(before["b"] + RankingParams().theme_boost)
    assert after["a"] == before["a"]
    assert named.ranking[0][0] == "b" and plain.ranking[0][0] == "a"
    off = rank(_found(dense, lexical, themes={"cykel"}), "hybrid", RankingParams(theme_boost=0.0), document_themes)
    assert dict(off.ranking) == before


def test_rank_orders_by_mode_and_picks_the_snippet_chunk_by_evidence():
    dense, lexical = {"a": 0.90, "b": 0.80}, {"b": 10.0}
    assert [d for d, _ in rank(_found(dense, lexical), "dense", RankingParams(), dict).ranking] == ["a", "b"]
    assert [d for d, _ in rank(_found(dense, lexical), "lexical", RankingParams(), dict).ranking] == ["b"]
    strong = rank(_found(dense, lexical, evidence=0.9), "hybrid", RankingParams(), dict)
    weak = rank(_found(dense, lexical, evidence=0.1), "hybrid", RankingParams(), dict)
    assert strong.best_chunks["b"] == 200 and weak.best_chunks["b"] == 101   # lexical vs dense chunk
    assert strong.best_chunks["a"] == 100
    rrf = RankingParams(fusion=FusionWeights(method="rrf"))
    assert [d for d, _ in rank(_found(dense, lexical), "hybrid", rrf, dict).ranking] == ["b", "a"]


def test_query_vectors_are_kept_by_text_most_recent_first():
    from kunskap.embeddings import HashingEmbedder
    from kunskap.search.dense import QueryVectors

    embedder, encoded = HashingEmbedder(), []

    def encode(texts):
        encoded.extend(texts)
        return embedder.encode_queries(texts)

    vectors = QueryVectors(encode, size=2)
    first = vectors("cykel")
    assert vectors("cykel") is first and encoded == ["cykel"]
    vectors("buss")
    vectors("cykel")          # used again: "buss" is now the oldest
    vectors("tåg")            # evicts "buss"
    vectors("cykel")
    assert encoded == ["cykel", "buss", "tåg"]
    vectors("buss")
    assert encoded[-1] == "buss"


def test_facet_counts_over_the_hit_set():
    from kunskap.search.results import facet_counts

    rows = [
        {"id": "a", "organisation": "Lunds kommun", "organisation_type": "kommun", "county": "Skåne län",
         "kind": "case-study", "year": 2019, "themes": ["cykel"]},
        {"id": "b", "organisation": "Malmö stad", "organisation_type": "kommun", "county": "Skåne län",
         "kind": "case-study", "year": 2022, "themes": ["cykel", "mat"]},
        {"id": "c", "organisation": "Region Skåne", "organisation_type": "region", "county": "",
         "kind": "presentation", "year": None, "themes": []},
    ]
    every = facet_counts(rows)
    assert every["theme"] == [("cykel", 2), ("mat", 1)]
    assert every["county"] == [("Skåne län", 2)]                  # empty values are not a facet value
    assert every["year"] == [("2022", 1), ("2019", 1)]            # newest first
    assert every["organisation_type"] == [("kommun", 2), ("region", 1)]
    hits = facet_counts(rows, within={"b", "c"})
    assert hits["organisation"] == [("Malmö stad", 1), ("Region Skåne", 1)]
    assert hits["theme"] == [("cykel", 1), ("mat", 1)]
    assert facet_counts(rows, within=set())["theme"] == []


def test_snippet_marks_inflections_and_compounds_and_escapes(analyzer):
    from kunskap.search.results import snippet

    text = "Inledning. " + "ord " * 60 + "Fler cyklar <b>och</b> nya cykelvägar & bättre."
    shown = snippet(analyzer, text, {"cykl", "väg"})
    assert shown.startswith("… ")                                  # the window moved to the hits
    assert "<mark>cyklar</mark>" in shown and "<mark>cykelvägar</mark>" in shown
    assert "&lt;b&gt;" in shown and "&amp;" in shown and "<b>" not in shown


# -- generalising ranking (issue 11): generic words, dense granularity, feedback ------------------

def test_generic_words_are_searched_weakly_and_never_count_as_evidence(analyzer):
    from kunskap.search.dense import ChunkTable
    from kunskap.search.lexical import lexical_candidates
    from kunskap.search.planner import generic_stems

    generic = generic_stems(analyzer)
    assert analyzer.word_terms("hjälpa")[0] in generic and analyzer.word_terms("enkel")[0] in generic
    assert analyzer.word_terms("laddstolpar")[0] not in generic
    weights = ExpansionWeights(generic=True, generic_weight=0.5)
    vocabulary = Vocabulary({})
    plan = QueryPlanner(analyzer, vocabulary, [], lambda term: 1, weights, generic).plan("enkel hjälp med laddstolpar")
    enkel, stolpe = analyzer.word_terms("enkel")[0], analyzer.word_terms("laddstolpar")[0]
    assert enkel in plan.generic and enkel in plan.typed
    assert plan.terms[enkel] == 0.5 and plan.terms[stolpe] == 1.0

    class Index:   # chunk 1 holds only the generic word, chunk 2 only the content word
        def term_postings(self, term, title_weight, limit):
            rows = {enkel: [(1, 5.0)], stolpe: [(2, 1.0)]}.get(term, [])
            return np.array([c for c, _ in rows], np.int64), np.array([s for _, s in rows], np.float64)

        def term_document_frequency(self, term):
            return len(self.term_postings(term, 2.0, 10)[0])

    doc_evidence = {}
    scores, _, evidence = lexical_candidates(Index(), plan, ChunkTable({1: "only-generic", 2: "on-topic"}), None, 2.0,
                                             doc_evidence=doc_evidence)
    assert scores["only-generic"] == 2.5   # weighted BM25: found, but weaker
    assert doc_evidence["only-generic"] == 0.0 and doc_evidence["on-topic"] == 1.0
    assert evidence == 1.0
    # Without the generic list every typed word is evidence: the generic-only chunk holds some.
    plain = QueryPlanner(analyzer, vocabulary, [], lambda term: 1).plan("enkel hjälp med laddstolpar")
    doc_evidence = {}
    lexical_candidates(Index(), plain, ChunkTable({1: "only-generic", 2: "on-topic"}), None, 2.0,
                       doc_evidence=doc_evidence)
    assert doc_evidence["only-generic"] > 0.0 and doc_evidence["on-topic"] < 1.0
    # A query of generic words only is searched for what it says.
    only = QueryPlanner(analyzer, vocabulary, [], lambda term: 1, weights, generic).plan("enkel hjälp")
    assert only.generic == frozenset() and only.terms[enkel] == 1.0


def test_dense_document_scores_blend_the_second_chunk_and_feedback_moves_the_query():
    import numpy as np

    from kunskap.search.dense import DocumentMeans, dense_candidates, document_scores
    from kunskap.search.ranking import DenseWeights
    from kunskap.vectors import VectorIndex

    ids = np.array([1, 2, 3, 4], np.int64)
    scores = np.array([0.9, 0.7, 0.8, 0.5], np.float32)
    chunk_docs = {1: "a", 2: "a", 3: "b", 4: "c"}
    best_only, best = document_scores(ids, scores, chunk_docs, 0.0)
    assert best_only == pytest.approx({"a": 0.9, "b": 0.8, "c": 0.5}) and best["a"] == (1, pytest.approx(0.9))
    blended, _ = document_scores(ids, scores, chunk_docs, 1.0)
    # a: mean of its two chunks; b, c: their second chunk was not retrieved, the lowest cosine stands in.
    assert blended == pytest.approx({"a": 0.8, "b": 0.65, "c": 0.5})

    # Three documents in 2-d; the query is nearest "mid", then "far", then "near".
    matrix = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]], np.float32)
    index = VectorIndex(2, "test", 1)
    index.add(np.array([1, 2, 3], np.int64), matrix)
    docs = {1: "near", 2: "mid", 3: "far"}
    rows = {"near": [0], "mid": [1], "far": [2]}
    means = DocumentMeans(lambda doc_id: matrix[rows.get(doc_id, [])])
    query = np.array([0.6, 0.8], np.float32)
    plain, _ = dense_candidates(index, lambda text: query, "q", None, docs, DenseWeights(prf_docs=0), lambda: means)
    assert plain == pytest.approx({"near": 0.6, "mid": 0.96, "far": 0.8})
    moved, _ = dense_candidates(index, lambda text: query, "q", None, docs,
                                DenseWeights(prf_docs=1, prf_weight=1.0), lambda: means)
    # Feedback from the best document ("mid") moves the query onto the diagonal: "near" and "far"
    # end up level (0.707 each), "mid" stays first.
    assert moved == pytest.approx({"near": 0.7071, "mid": 0.9899, "far": 0.7071}, abs=1e-3)
    assert means.cosines(query, ["near", "unknown"]) == {"near": pytest.approx(0.6)}
    # The document mean blended in: (1 − w)·chunk score + w·cos(query, mean); one chunk each here.
    half, _ = dense_candidates(index, lambda text: query, "q", None, docs, DenseWeights(centroid=0.5, prf_docs=0),
                               lambda: means)
    assert half == pytest.approx(plain)
    assert means.mean_of(["near", "far"]) == pytest.approx(np.array([0.5, 0.5]))


def test_a_document_level_summary_vector_is_blended_or_taken_when_larger():
    import numpy as np

    from kunskap.search.dense import DocumentSummaries, dense_candidates, summary_text
    from kunskap.search.ranking import DenseWeights
    from kunskap.vectors import VectorIndex

    assert summary_text({"title": "Solceller", "organisation": "Umeå kommun", "summary": " Tak. "}) == \
        "Solceller – Umeå kommun\nTak."
    assert summary_text({"title": "Solceller", "summary": ""}) is None

    matrix = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    index = VectorIndex(2, "test", 1)
    index.add(np.array([1, 2], np.int64), matrix)
    docs = {1: "a", 2: "b"}
    query = np.array([0.6, 0.8], np.float32)
    # Only "a" has a summary vector, and it points at the query.
    summaries = DocumentSummaries({"a": query.copy()})
    plain, _ = dense_candidates(index, lambda text: query, "q", None, docs, DenseWeights(prf_docs=0),
                                summaries=lambda: summaries)
    assert plain == pytest.approx({"a": 0.6, "b": 0.8})
    blended, _ = dense_candidates(index, lambda text: query, "q", None, docs,
                                  DenseWeights(prf_docs=0, summary=0.5), summaries=lambda: summaries)
    assert blended == pytest.approx({"a": 0.8, "b": 0.8})   # a: (0.6 + 1.0) / 2; b has none: unchanged
    larger, _ = dense_candidates(index, lambda text: query, "q", None, docs,
                                 DenseWeights(prf_docs=0, summary=1.0, summary_max=True), summaries=lambda: summaries)
    assert larger == pytest.approx({"a": 1.0, "b": 0.8})


def test_feedback_terms_are_the_rare_content_terms_of_the_dense_side_best_chunks():
    from collections import Counter

    from kunskap.search.feedback import feedback_chunks, select_terms
    from kunskap.search.ranking import FeedbackTerms

    dense = {"a": 0.9, "b": 0.8, "c": 0.7}
    assert feedback_chunks(dense, {"a": (1, 0.9), "b": (2, 0.8), "c": (3, 0.7)}, 2) == [1, 2]
    chunks = {1: Counter({"värmepump": 2, "kommun": 3, "bra": 1, "el": 1, "2030": 1, "fjärrvärm": 1}),
              2: Counter({"värmepump": 1, "bergvärm": 1, "kommun": 2, "typed": 1})}
    df = {"värmepump": 3, "kommun": 60, "bra": 2, "fjärrvärm": 5, "bergvärm": 1, "typed": 1, "el": 1, "2030": 1}
    asked = []

    def frequencies(terms):
        asked.append(list(terms))
        return df

    weights = FeedbackTerms(docs=2, terms=3, weight=0.4, max_df_share=0.1)
    terms = select_terms(chunks, frequencies, 100, {"typed", "bra"}, weights)
    # "kommun" is in 60 % of the chunks, "typed" and "bra" are excluded, "el" is too short, "2030"
    # no word; the rest by tf / length · idf, the best at the full weight.
    assert list(terms) == ["värmepump", "bergvärm", "fjärrvärm"]
    assert terms["värmepump"] == pytest.approx(0.4) and 0 < terms["fjärrvärm"] < terms["bergvärm"] < 0.4
    assert asked and "kommun" in asked[0] and "el" not in asked[0]
    assert list(select_terms(chunks, frequencies, 100, set(), dataclasses.replace(weights, terms=1))) == ["värmepump"]
    assert select_terms({}, frequencies, 100, set(), weights) == {}
