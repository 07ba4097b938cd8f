"""The evaluation metrics on small cases worked out by hand, and `run_evaluation` on a tiny set.

nDCG@10 uses the exponential gain 2^grade - 1 and the discount log2(rank + 1); its ideal is the
judged grades sorted, cut at 10. Recall@10 and MRR@10 count a document as relevant when its
grade is above 0."""

from __future__ import annotations

import json
import math

import pytest

from kunskap.config import Settings
from kunskap.evaluation import mrr, ndcg, read_qrels, recall, run_evaluation, summarise

LOG3 = math.log2(3)     # the discount at rank 2


# -- nDCG@10 ---------------------------------------------------------------------------------
def test_ndcg_of_the_ideal_ranking_is_one():
    assert ndcg(["a", "b", "c"], {"a": 3, "b": 2, "c": 1}) == pytest.approx(1.0)


def test_ndcg_with_graded_relevance_in_reverse_order():
    # DCG = (2^1-1)/1 + (2^2-1)/log2(3) + (2^3-1)/log2(4) = 1 + 3/log2(3) + 3.5
    # IDCG = 7/1 + 3/log2(3) + 1/2
    expected = (1 + 3 / LOG3 + 3.5) / (7 + 3 / LOG3 + 0.5)
    assert expected == pytest.approx(0.680606, abs=1e-6)
    assert ndcg(["c", "b", "a"], {"a": 3, "b": 2, "c": 1}) == pytest.approx(expected)


def test_ndcg_one_relevant_document_at_rank_two():
    assert ndcg(["x", "a", "y"], {"a": 2}) == pytest.approx(1 / LOG3)         # 3/log2(3) over 3/1


def test_ndcg_unjudged_and_grade_zero_documents_gain_nothing():
    judged = {"a": 1, "z": 0}
    assert ndcg(["z", "a"], judged) == pytest.approx(ndcg(["x", "a"], judged)) == pytest.approx(1 / LOG3)


def test_ndcg_ties_in_grade_can_be_ranked_either_way():
    relevant = {"a": 2, "b": 2, "c": 1}
    assert ndcg(["a", "b", "c"], relevant) == pytest.approx(1.0)
    assert ndcg(["b", "a", "c"], relevant) == pytest.approx(1.0)
    # Swapping a 2 with the 1 costs: DCG = 3 + 1/log2(3) + 3/2, IDCG = 3 + 3/log2(3) + 1/2
    assert ndcg(["a", "c", "b"], relevant) == pytest.approx((3 + 1 / LOG3 + 1.5) / (3 + 3 / LOG3 + 0.5))


def test_ndcg_is_cut_at_ten_on_both_sides():
    docs = [f"d{i}" for i in range(12)]
    relevant = {d: 1 for d in docs}                      # 12 relevant: the ideal keeps only 10
    assert ndcg(docs, relevant) == pytest.approx(1.0)
    assert ndcg([f"x{i}" for i in range(10)] + ["d0"], {"d0": 3}) == 0.0    # found at rank 11
    # Rank 10 still counts: 7/log2(11) over 7/1
    assert ndcg([f"x{i}" for i in range(9)] + ["d0"], {"d0": 3}) == pytest.approx(1 / math.log2(11))


def test_ndcg_edge_cases_are_zero_not_errors():
    assert ndcg([], {"a": 1}) == 0.0                     # nothing found
    assert ndcg(["a", "b"], {}) == 0.0                   # no judgements
    assert ndcg(["a", "b"], {"a": 0, "b": 0}) == 0.0     # judged, none relevant (IDCG = 0)


def test_ndcg_treats_negative_grades_as_not_relevant():
    judged = {"a": 1, "junk": -1}
    assert ndcg(["a"], judged) == pytest.approx(1.0)                # the ideal ranking
    assert ndcg(["junk", "a"], judged) == pytest.approx(1 / LOG3)


# -- Recall@10 -------------------------------------------------------------------------------
def test_recall_counts_every_grade_above_zero_once():
    relevant = {"a": 2, "b": 1, "c": 0}
    assert recall(["a", "x", "c"], relevant) == pytest.approx(1 / 2)       # a of {a, b}; c is not relevant
    assert recall(["b", "a"], relevant) == pytest.approx(1.0)
    assert recall(["x", "y"], relevant) == 0.0


def test_recall_is_cut_at_ten():
    docs = [f"d{i}" for i in range(12)]
    assert recall(docs, {d: 1 for d in docs}) == pytest.approx(10 / 12)
    assert recall([f"x{i}" for i in range(10)] + ["a"], {"a": 1}) == 0.0


def test_recall_without_relevant_documents_is_zero():
    assert recall(["a"], {}) == 0.0
    assert recall(["a"], {"a": 0}) == 0.0
    assert recall([], {"a": 1}) == 0.0


# -- MRR@10 ----------------------------------------------------------------------------------
def test_mrr_is_the_reciprocal_rank_of_the_first_relevant_document():
    assert mrr(["a", "b"], {"a": 1}) == 1.0
    assert mrr(["x", "y", "a", "b"], {"a": 1, "b": 2}) == pytest.approx(1 / 3)   # the first one, not the best
    assert mrr(["z", "a"], {"z": 0, "a": 1}) == pytest.approx(1 / 2)             # grade 0 is not relevant


def test_mrr_edge_cases():
    assert mrr([f"x{i}" for i in range(9)] + ["a"], {"a": 1}) == pytest.approx(1 / 10)
    assert mrr([f"x{i}" for i in range(10)] + ["a"], {"a": 1}) == 0.0          # rank 11: outside @10
    assert mrr([], {"a": 1}) == 0.0
    assert mrr(["a"], {}) == 0.0


# -- aggregation and the set format ----------------------------------------------------------
def test_summarise_means_per_type_and_typo_retention():
    per_query = {
        "q1": {"type": "keyword", "ndcg": 1.0, "recall": 1.0, "mrr": 1.0},
        "q2": {"type": "keyword", "ndcg": 0.5, "recall": 0.0, "mrr": 0.5},
        "q3": {"type": "typo", "ndcg": 0.3, "recall": 1.0, "mrr": 1 / 3},
    }
    queries = [{"id": "q1"}, {"id": "q2"}, {"id": "q3", "of": "q2"}, {"id": "q4", "of": "q1"}]   # q4 not judged
    out = summarise(per_query, queries)
    assert out["overall"] == {"ndcg": 0.6, "recall": 0.6667, "mrr": 0.6111, "n": 3}
    assert out["by_type"] == {"keyword": {"ndcg": 0.75, "recall": 0.5, "mrr": 0.75, "n": 2},
                              "typo": {"ndcg": 0.3, "recall": 1.0, "mrr": 0.3333, "n": 1}}
    assert out["typo_retention"] == 0.6                   # 0.3 kept of the original's 0.5
    assert summarise({}, [])["overall"] == {"ndcg": 0.0, "recall": 0.0, "mrr": 0.0, "n": 0}


def test_read_qrels_skips_a_header_and_keeps_grades(tmp_path):
    path = tmp_path / "qrels.tsv"
    path.write_text("query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t0\nq2\td3\t1\n\nq3\td4\n", encoding="utf-8")
    assert read_qrels(path) == {"q1": {"d1": 2, "d2": 0}, "q2": {"d3": 1}}


def test_run_evaluation_scores_a_tiny_set_through_the_search(tmp_path):
    """corpus.jsonl ids that are not slugs are mapped back; an unjudged query is not scored."""
    set_dir = tmp_path / "liten"
    set_dir.mkdir()
    docs = [("Dok 1", "Cykelbanor", "Kommunen byggde nya cykelbanor längs ån."),
            ("Dok 2", "Biogas", "Stadsbussarna kör på biogas från matavfall."),
            ("Dok 3", "Solceller", "Solceller på förskolornas tak ger egen el.")]
    (set_dir / "corpus.jsonl").write_text(
        "".join(json.dumps({"id": i, "title": t, "text": x}, ensure_ascii=False) + "\n" for i, t, x in docs), "utf-8")
    (set_dir / "queries.jsonl").write_text(
        '{"id": "q1", "text": "cykelbanor", "type": "keyword"}\n'
        '{"id": "q2", "text": "biogas", "type": "keyword"}\n'
        '{"id": "q3", "text": "solceller"}\n', "utf-8")
    # q1: its one relevant document found first; q2: one of two relevant found, at rank 1
    (set_dir / "qrels.tsv").write_text("q1\tDok 1\t2\nq2\tDok 2\t1\nq2\tDok 3\t1\n", "utf-8")
    settings = Settings(corpus=tmp_path / "c", index=tmp_path / "i", model="hashing")
    report = run_evaluation(set_dir, settings, work_dir=tmp_path / "work", modes=("lexical",))
    lexical = report["modes"]["lexical"]
    assert report["queries"] == 3 and set(lexical["per_query"]) == {"q1", "q2"}
    assert lexical["per_query"]["q1"] == {"type": "keyword", "ndcg": 1.0, "recall": 1.0, "mrr": 1.0}
    q2 = lexical["per_query"]["q2"]                # ranking [Dok 2]: DCG 1, IDCG 1 + 1/log2(3)
    assert q2["ndcg"] == pytest.approx(1 / (1 + 1 / LOG3)) and q2["recall"] == 0.5 and q2["mrr"] == 1.0
    assert lexical["overall"]["n"] == 2 and lexical["overall"]["recall"] == 0.75
