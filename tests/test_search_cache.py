"""The searcher's generation-keyed cache: on its own, and on a real knowledge base where a save
must show in every cached lookup at once."""

from __future__ import annotations

from kunskap.ingest import ingest, ingest_files
from kunskap.search import Filters, SearchRequest, Searcher
from kunskap.search.cache import GenerationCache

from .conftest import write_case


class Counter:
    def __init__(self):
        self.generation = 0


def test_a_new_generation_drops_every_kind_at_once():
    kb = Counter()
    cache = GenerationCache(lambda: kb.generation)
    assert cache.lookup("vocabulary", None, lambda: "old words") == "old words"
    cache.put("results", "q", "old result", generation=0)
    assert cache.lookup("vocabulary", None, lambda: "unused") == "old words"
    assert cache.get("results", "q") == "old result"
    kb.generation = 1
    assert cache.get("results", "q") is None
    assert cache.lookup("vocabulary", None, lambda: "new words") == "new words"


def test_a_value_computed_during_a_change_is_not_kept():
    kb = Counter()
    cache = GenerationCache(lambda: kb.generation)

    def compute_while_an_ingest_lands():
        kb.generation += 1
        return "rows read during the change"

    assert cache.lookup("facet_rows", "all", compute_while_an_ingest_lands) == "rows read during the change"
    assert cache.lookup("facet_rows", "all", lambda: "rows after") == "rows after"
    cache.put("results", "q", "result of generation 1", generation=1)
    kb.generation = 2
    cache.put("results", "q", "late result of generation 1", generation=1)
    assert cache.get("results", "q") is None


def test_limits_keep_the_most_recently_used_and_zero_turns_a_kind_off():
    cache = GenerationCache(lambda: 0, {"results": 2, "off": 0})
    for key in ("a", "b"):
        cache.put("results", key, key.upper(), generation=0)
    assert cache.get("results", "a") == "A"      # now "b" is the oldest
    cache.put("results", "c", "C", generation=0)
    assert cache.get("results", "b") is None
    assert (cache.get("results", "a"), cache.get("results", "c")) == ("A", "C")
    cache.put("off", "x", "X", generation=0)
    assert cache.get("off", "x") is None


def test_browsing_after_a_save_shows_the_new_document_without_a_search_in_between(corpus, kb_factory):
    """Facet rows used to be refreshed only by search() and similar(): /api/v1/facets and the
    browse page kept showing the old counts after a curation save until someone searched."""
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    searcher = Searcher(kb)
    before = searcher.browse(Filters())
    assert before.total == 5 and "Kiruna kommun" not in dict(before.facets["organisation"])
    path = write_case(corpus, "kiruna.md", "Cykelvägar i Kiruna", "Kiruna kommun", "Cykel året om.",
                      themes="[cykel]", year=2023)
    ingest_files(kb, corpus, [path])
    after = searcher.browse(Filters())
    assert after.total == 6 and dict(after.facets["organisation"])["Kiruna kommun"] == 1
    assert after.hits[0].doc_id == "kiruna"                     # newest first
    assert dict(searcher.browse(Filters(theme=["cykel"])).facets["theme"])["cykel"] == 2


def test_a_cached_result_is_replaced_after_a_save_here(corpus, kb_factory):
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    searcher = Searcher(kb)
    request = SearchRequest("cykelvägar kiruna")
    first = searcher.search(request)
    assert searcher.cached(request) is first
    path = write_case(corpus, "kiruna.md", "Cykelvägar i Kiruna", "Kiruna kommun", "Cykelvägar året om i Kiruna.")
    ingest_files(kb, corpus, [path])
    assert searcher.cached(request) is None
    assert searcher.search(request).hits[0].doc_id == "kiruna"



def test_a_patched_kind_is_derived_from_its_last_value_and_the_documents_changed_since():
    kb = Counter()
    log = {1: frozenset({"b"}), 2: frozenset({"c"})}

    def changes(since):
        if any(g not in log for g in range(since + 1, kb.generation + 1)):
            return None
        return frozenset().union(*(log[g] for g in range(since + 1, kb.generation + 1)))

    cache = GenerationCache(lambda: kb.generation, changes=changes)
    patches = []

    def patch(old, changed):
        patches.append(changed)
        return old | changed

    assert cache.lookup("rows", None, lambda: frozenset({"a"}), patch) == {"a"}
    kb.generation = 2                                  # two changes, no lookup in between
    assert cache.lookup("rows", None, lambda: frozenset({"recomputed"}), patch) == {"a", "b", "c"}
    assert patches == [{"b", "c"}]
    kb.generation = 3                                  # a change whose documents are not known
    assert cache.lookup("rows", None, lambda: frozenset({"recomputed"}), patch) == {"recomputed"}
    assert cache.lookup("plain", None, lambda: "x") == "x"
    kb.generation, log[4] = 4, frozenset({"d"})
    assert cache.lookup("plain", None, lambda: "y") == "y"     # no patch given: recomputed


def test_a_patched_chunk_table_finds_each_chunks_document_as_a_fresh_one_does():
    """The chunk -> document lookup of lexical search, kept sorted through patches (documents
    changed, added and removed) instead of sorted anew per generation."""
    import numpy as np

    from kunskap.search.dense import ChunkTable

    before = {1: "a", 2: "a", 5: "b", 7: "c", 9: "c"}
    table = ChunkTable(before)
    probe = np.arange(0, 15, dtype=np.int64)
    table.documents_of(probe)                      # sorted view built, then carried by the patch
    after = {1: "a", 2: "a", 11: "b", 12: "b", 3: "d", 14: "d"}          # b changed, c removed, d new
    patched = table.patched({"b", "c", "d"}, {"b": [11, 12], "c": [], "d": [3, 14]})
    fresh = ChunkTable(after)
    assert patched._sorted is not None
    found = [patched.doc_ids[i] if i >= 0 else None for i in patched.documents_of(probe).tolist()]
    expected = [fresh.doc_ids[i] if i >= 0 else None for i in fresh.documents_of(probe).tolist()]
    assert found == expected == [None, "a", "a", "d", None, None, None, None, None, None, None, "b", "b", None, "d"]
    assert [table.doc_ids[i] for i in table.documents_of(np.array([5, 7])).tolist()] == ["b", "c"]   # the old one as it was
