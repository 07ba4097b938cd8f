"""The search pipeline on a real temp index (hashing embedder for speed): filters, facets,
snippets, odd input, pagination and similar documents."""

from __future__ import annotations

import dataclasses

import pytest

from kunskap.errors import ValidationError
from kunskap.ingest import ingest
from kunskap.search import Filters, SearchRequest, Searcher


@pytest.fixture
def searcher(corpus, kb_factory):
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    return Searcher(kb)


def ids(result):
    return [h.doc_id for h in result.hits]


def test_lexical_finds_inflections_and_compounds(searcher):
    assert ids(searcher.search(SearchRequest("cyklarna", mode="lexical")))[0] == "lund-cykel"
    # "laddstolpar" is not in the corpus; its part "ladd" meets "laddinfrastruktur"
    assert ids(searcher.search(SearchRequest("laddstolpar", mode="lexical")))[0] == "umea-laddning"


def test_theme_synonyms_expand_queries(searcher):
    # "låginkomsttagare" is a synonym of Rättvis omställning; the Malmö case uses other words
    result = searcher.search(SearchRequest("låginkomsttagare", mode="lexical"))
    assert "malmo-energi" in ids(result)


def test_fts_syntax_is_plain_text(searcher):
    """FTS5 operators and quotes are read as plain words: no error, and the lexical side finds
    what the bare words find (an FTS5 syntax error swallowed inside would find nothing)."""
    only_cykel = ['"cykel', "cykel*", "-cykel", "cykel:", "^cykel", "cykel AND OR NOT", "(cykel", "’cykel’"]
    for q in only_cykel:
        assert ids(searcher.search(SearchRequest(q, mode="lexical"))) == ["lund-cykel"], q
        assert ids(searcher.search(SearchRequest(q)))[0] == "lund-cykel", q
    near = searcher.search(SearchRequest("NEAR(cykel buss)", mode="lexical"))
    assert set(ids(near)) == {"lund-cykel", "vaxjo-buss"}
    for q in ['"""', "*"]:                       # no searchable word at all
        result = searcher.search(SearchRequest(q))
        assert result.hits == [] and result.hint, q
    odd = searcher.search(SearchRequest("c'ykel", mode="lexical"))    # no such word in the corpus
    assert odd.hits == [] and odd.hint


def test_empty_and_meaningless_queries_give_a_hint(searcher):
    for q in ["", "   ", "och i på", "!!!"]:
        result = searcher.search(SearchRequest(q))
        assert result.hits == [] and result.hint


def test_long_pasted_paragraph_works(searcher):
    q = ("Vi vill att fler ska cykla till jobbet och undrar hur andra kommuner har byggt cykelvägar. " * 25)[:2000]
    result = searcher.search(SearchRequest(q))
    assert ids(result)[0] == "lund-cykel"
    with pytest.raises(ValidationError):
        searcher.search(SearchRequest("x" * 2001))


def test_filters_are_exact_and_facets_follow_them(searcher):
    everything = searcher.search(SearchRequest("klimat kommun region buss cykel mat energi", limit=50))
    skane = searcher.search(SearchRequest("klimat kommun region buss cykel mat energi", limit=50,
                                          filters=Filters(county=["Skåne län"])))
    # The unfiltered query finds all five documents; the filter keeps exactly the three in Skåne.
    assert set(ids(everything)) == {"lund-cykel", "malmo-energi", "skane-mat", "umea-laddning", "vaxjo-buss"}
    assert set(ids(skane)) == {"lund-cykel", "malmo-energi", "skane-mat"}
    assert [h.document["county"] for h in skane.hits] == ["Skåne län"] * 3
    # Facets count the hits (those close to the best), all in Skåne; the rest are possible hits.
    assert dict(skane.facets["county"]) == {"Skåne län": skane.total} and skane.total >= 1
    assert skane.total + skane.possible == 3
    # A filtered dense query still returns the best matches among the filtered documents.
    only_umea = searcher.search(SearchRequest("skolmat", mode="dense", filters=Filters(organisation=["Umeå kommun"])))
    assert ids(only_umea) == ["umea-laddning"]
    themed = searcher.search(SearchRequest("klimat", filters=Filters(theme=["cykel"])))
    assert ids(themed) == ["lund-cykel"]
    years = searcher.search(SearchRequest("klimat buss cykel", filters=Filters(year_from=2020, year_to=2022)))
    # Växjö 2021, Malmö 2022 and Umeå 2020; Lund 2019 and Skåne 2018 are outside (bounds inclusive)
    assert set(ids(years)) == {"vaxjo-buss", "malmo-energi", "umea-laddning"}
    assert sorted(h.document["year"] for h in years.hits) == [2020, 2021, 2022]


def test_unknown_filter_value_is_an_empty_result(searcher):
    result = searcher.search(SearchRequest("cykel", filters=Filters(county=["Atlantis län"])))
    assert result.total == 0 and result.hits == [] and result.hint


def test_snippet_highlights_stems_and_compounds(searcher):
    hit = searcher.search(SearchRequest("cykel", mode="lexical")).hits[0]
    assert "<mark>cykelvägar</mark>" in hit.snippet or "<mark>Cykelvägar</mark>" in hit.snippet
    assert "<mark>cyklar</mark>" in hit.snippet


def test_snippets_escape_html(corpus, kb_factory):
    from .conftest import write_case

    write_case(corpus, "xss.md", "Test <b>", "X kommun", "Cykel <script>alert(1)</script> & cykelbana <3.")
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    hit = next(h for h in Searcher(kb).search(SearchRequest("cykelbana", limit=10)).hits if h.doc_id == "xss")
    assert "<script" not in hit.snippet
    assert "&amp;" in hit.snippet and "&lt;3" in hit.snippet


def test_pagination_is_stable_and_complete(searcher):
    full = ids(searcher.search(SearchRequest("kommun region klimat", limit=50)))
    paged = []
    for page in range(1, 10):
        paged += ids(searcher.search(SearchRequest("kommun region klimat", limit=2, page=page)))
    assert len(full) == 5 and paged == full


def test_typo_is_corrected_and_reported(searcher):
    result = searcher.search(SearchRequest("cykelvgar"))
    assert result.searched_for == "cykelvägar"
    assert ids(result)[0] == "lund-cykel"


def test_similar_prefers_other_organisations(searcher):
    similar = searcher.similar("lund-cykel", limit=10)
    assert similar and all(h.document["organisation"] != "Lunds kommun" for h in similar)
    assert "lund-cykel" not in [h.doc_id for h in similar]


def test_drafts_never_appear(corpus, kb_factory):
    from .conftest import write_case

    write_case(corpus, "utkast.md", "Hemligt utkast om cykel", "X kommun", "Cykel cykel cykel.", status="draft")
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    assert kb.store.get_document("utkast")["status"] == "draft"     # stored, so its absence below means something
    s = Searcher(kb)
    found = ids(s.search(SearchRequest("cykel", limit=50)))
    assert found[0] == "lund-cykel" and len(found) == 5 and "utkast" not in found
    similar = [h.doc_id for h in s.similar("lund-cykel", limit=50, other_organisations=False)]
    assert sorted(similar) == ["malmo-energi", "skane-mat", "umea-laddning", "vaxjo-buss"]
    organisations = dict(s.browse(Filters()).facets["organisation"])
    assert len(organisations) == 5 and "Lunds kommun" in organisations and "X kommun" not in organisations


def test_fusion_methods_rank_sensibly():
    from kunskap.search.ranking import FUSIONS, FusionWeights, fuse

    dense = {"a": 0.90, "b": 0.89, "c": 0.80}
    lexical = {"b": 12.0, "c": 3.0}
    assert len(FUSIONS) > 1                     # the shipped method and the ablations
    for method in FUSIONS:
        scores = fuse(dense, lexical, 1.0, FusionWeights(method=method))
        assert max(scores, key=scores.get) == "b", method       # strong on both sides wins
        assert scores["c"] < scores["b"], method
    # With no lexical evidence the calibrated fusion follows dense.
    scores = fuse(dense, lexical, 0.0, FusionWeights())
    assert max(scores, key=scores.get) == "a"
    with pytest.raises(ValueError):
        fuse(dense, lexical, 1.0, FusionWeights(method="magic"))


def test_a_query_naming_a_theme_lifts_the_documents_tagged_with_it(corpus, kb_factory):
    """Staff's theme tags count when the query names the theme (label or synonym): tagged
    documents gain exactly the theme weight, the others keep their score."""
    from kunskap.search import RankingParams

    kb = kb_factory(corpus)
    ingest(kb, corpus)
    for q in ("rättvis omställning", "hur når vi låginkomsttagare"):
        before = Searcher(kb, RankingParams(theme_boost=0.0)).search(SearchRequest(q=q))
        after = Searcher(kb).search(SearchRequest(q=q))
        weight = RankingParams().theme_boost
        assert weight > 0
        old = {h.doc_id: h.score for h in before.hits}
        lifted = 0
        for hit in after.hits:
            tagged = "rattvis-omstallning" in hit.document["themes"]
            assert hit.score == pytest.approx(old[hit.doc_id] + (weight if tagged else 0.0), abs=1e-3)
            lifted += tagged
        assert lifted >= 1
        assert after.hits[0].doc_id == "malmo-energi"
    # A query that names no theme is ranked as before.
    assert not Searcher(kb).planner().plan("nyinflyttade").themes
    plain = Searcher(kb, RankingParams(theme_boost=0.0)).search(SearchRequest(q="nyinflyttade"))
    shipped = Searcher(kb).search(SearchRequest(q="nyinflyttade"))
    assert plain.hits and [h.score for h in shipped.hits] == [h.score for h in plain.hits]


def test_the_shipped_dense_side_searches_again_with_feedback(corpus, kb_factory):
    """Dense pseudo-relevance feedback is on by default and reaches the search: the query moved
    towards its best documents changes the dense cosines; without it they are the plain ones."""
    from kunskap.search import RankingParams
    from kunskap.search.ranking import DenseWeights

    kb = kb_factory(corpus)
    ingest(kb, corpus)
    assert RankingParams().dense.prf_docs > 0 and RankingParams().dense.prf_weight > 0
    request = SearchRequest(q="laddning av elbilar", mode="dense")
    plain = Searcher(kb, RankingParams(dense=DenseWeights(prf_docs=0))).search(request)
    shipped = Searcher(kb).search(request)
    assert plain.hits and shipped.hits
    old = {h.doc_id: h.score for h in plain.hits}
    assert any(abs(h.score - old.get(h.doc_id, -1.0)) > 1e-4 for h in shipped.hits)
    # Feedback follows the best documents: the best one stays first.
    assert shipped.hits[0].doc_id == plain.hits[0].doc_id


def test_lexical_feedback_adds_expansions_from_the_dense_side_that_never_count_as_evidence(corpus, kb_factory):
    """Dense-guided lexical feedback: the terms of the best dense document's best chunk are
    searched too (a document sharing only those words becomes a lexical candidate), the typed
    words are not among them, and the lexical evidence stays the share of the typed words."""
    from kunskap.search import RankingParams
    from kunskap.search.ranking import FeedbackTerms

    from .conftest import write_case

    write_case(corpus, "goteborg-rad.md", "Rådgivning i Göteborg", "Göteborgs stad", """
        ## Vad gjordes
        Staden gav energirådgivning till hyresvärdar i flerfamiljshus och följde upp förbrukningen.
        """, themes="[energi]", year=2020)
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    request = SearchRequest(q="hushåll med låga inkomster")
    plain = Searcher(kb, RankingParams(feedback=FeedbackTerms.off())).candidates(request)
    weights = FeedbackTerms(docs=1, terms=20, weight=0.3, max_df_share=0.5, below_evidence=2.0, english=True,
                            organisations=True)
    fed = Searcher(kb, RankingParams(feedback=weights)).candidates(request)
    assert plain.feedback == {}
    top = max(fed.dense, key=fed.dense.get)
    assert top == "malmo-energi" and "goteborg-rad" not in plain.lexical
    # The expansions come from the top dense document's best chunk, the typed terms left out.
    source = kb.store.chunk_term_counts([fed.dense_best[top][0]])[fed.dense_best[top][0]]
    assert {"energirådgivning", "flerfamiljshus"} <= set(fed.feedback) <= set(source)
    assert not set(fed.feedback) & set(fed.plan.terms)
    assert max(fed.feedback.values()) == pytest.approx(0.3) and all(0 < w <= 0.3 for w in fed.feedback.values())
    # They reach the lexical side: a document with none of the typed words is now a candidate ...
    assert fed.lexical["goteborg-rad"] > 0 and fed.lexical["malmo-energi"] > plain.lexical["malmo-energi"]
    # ... but holds no typed evidence, and the query's evidence is what the typed words give.
    assert fed.typed_evidence["goteborg-rad"] == 0.0
    assert "goteborg-rad" not in fed.matched and "malmo-energi" in fed.matched
    assert fed.evidence == plain.evidence == 1.0
    assert fed.typed_evidence["malmo-energi"] == plain.typed_evidence["malmo-energi"]
    # Gated on the evidence: a query whose typed words match well is not expanded.
    gated = RankingParams(feedback=dataclasses.replace(weights, below_evidence=0.5))
    assert Searcher(kb, gated).candidates(request).feedback == {}
    # English queries can be left out (their lexical side is weak and feedback did not help them).
    english = SearchRequest(q="households with low incomes")
    assert Searcher(kb, RankingParams(feedback=weights)).candidates(english).feedback
    swedish_only = RankingParams(feedback=dataclasses.replace(weights, english=False))
    assert Searcher(kb, swedish_only).candidates(english).feedback == {}
    assert Searcher(kb, swedish_only).candidates(request).feedback == fed.feedback
    # Organisation names are places, not topics: they can be kept out ("Malmö stad").
    assert "malmö" in fed.feedback
    no_places = Searcher(kb, RankingParams(feedback=dataclasses.replace(weights, organisations=False)))
    assert set(no_places.candidates(request).feedback) == set(fed.feedback) - {"malmö", "stad"}
    # The snippet highlights what was typed, never an expansion.
    hits = Searcher(kb, RankingParams(feedback=weights)).search(request).hits
    goteborg = next(h for h in hits if h.doc_id == "goteborg-rad")
    assert "<mark>" not in goteborg.snippet


def test_the_shipped_lexical_side_is_expanded_for_weak_swedish_queries_only(corpus, kb_factory):
    """Lexical feedback is on by default for Swedish queries whose typed words match weakly: a
    query with one matching word of three is expanded, one whose words all match is not, nor is
    an English one."""
    from kunskap.search import RankingParams

    from .conftest import write_case

    # Terms in more than a tenth of the chunks are never expansions: enough documents for the
    # rarer ones to qualify.
    topics = ["solceller på skolans tak", "vindkraft i kustnära lägen", "fjärrvärme från restvärme",
              "dagvatten i nya stadsdelar", "matsvinn i äldreomsorgen", "trähus med stomme av limträ"]
    for i, topic in enumerate(topics):
        write_case(corpus, f"extra-{i}.md", topic.capitalize(), f"Kommun {chr(65 + i)}",
                   f"## Bakgrund\nEtt projekt om {topic}.", year=2020)
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    shipped = RankingParams().feedback
    assert shipped.docs > 0 and shipped.terms > 0 and 0 < shipped.weight < 1 and shipped.below_evidence <= 1
    searcher = Searcher(kb)
    weak = searcher.candidates(SearchRequest(q="lånecyklar åt nyanlända familjer"))
    assert 0 < weak.evidence < shipped.below_evidence and weak.feedback
    assert all(0 < w <= shipped.weight for w in weak.feedback.values())
    strong = searcher.candidates(SearchRequest(q="hushåll med låga inkomster"))
    assert strong.evidence == 1.0 and strong.feedback == {}
    english = searcher.candidates(SearchRequest(q="bikes for the newly arrived families"))
    assert english.plan.english and english.dense and english.feedback == {}
