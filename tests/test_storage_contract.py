"""One contract for every storage backend (issue 10 §2): the same tests, unchanged, against each
(the way txtai runs one ANN test against every ANN backend).

`stores` opens stores of one fresh, empty knowledge base database on the backend under test;
several stores on the same database stand for several threads, processes or servers. Every
backend is real: a SQLite file, a PostgreSQL server (pgserver, PostgreSQL 16 + pgvector).
"""

from __future__ import annotations

import math
import time
from collections import Counter

import numpy as np
import pytest

from kunskap.accounts import Accounts, AuthError, ThrottledError
from kunskap.errors import ValidationError
from kunskap.search.request import Filters
from kunskap.storage import PUBLIC, Store
from kunskap.storage.base import bm25
from kunskap.vectors import id_fingerprint

from .storage_backends import BACKENDS, open_stores


@pytest.fixture(params=BACKENDS)
def stores(request, tmp_path):
    """A function opening another store on this test's database (the first call: a new one)."""
    opened = []

    def open_store():
        store = open_stores(request, tmp_path)
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        store.close()


@pytest.fixture
def store(stores) -> Store:
    return stores()


def record(doc_id: str, title: str = "Klimatanpassning i Östersund", **fields) -> dict:
    base = {
        "id": doc_id, "title": title, "organisation": "Östersunds kommun", "organisation_type": "kommun",
        "county": "Jämtlands län", "kind": "case-study", "themes": ["klimatanpassning"], "tags": ["Klimatanpassning"],
        "year": 2021, "published": "2021-05-01", "summary": "Så gjorde vi – för både älvar och åkrar.",
        "source_url": "https://example.se/östersund", "contact": "Åsa Öberg", "language": "sv",
        "status": PUBLIC, "body": "## Bakgrund\nÄlven svämmade över.", "extra": {"kontaktperson_roll": "samordnare"},
        "source_path": f"fallstudier/{doc_id}.md", "content_hash": f"hash-{doc_id}", "chunker_version": 2,
        "curation_notes": [],
    }
    base.update(fields)
    return base


def chunk(order: int, text: str, heading: str | None = "Bakgrund", page: int | None = None) -> dict:
    return {"ord": order, "text": text, "heading": heading, "page": page,
            "embed_text": f"passage: {text}", "embed_hash": f"h-{text}"}


def put(store: Store, doc_id: str, texts: list[str], fts: list[tuple[str, str]] | None = None, **fields):
    """A document with one chunk per text; lexical rows as given, or the texts themselves."""
    rows = [chunk(i, t) for i, t in enumerate(texts)]
    return store.replace_document(record(doc_id, **fields), rows, fts or [("", t) for t in texts])


# -- documents and chunks -------------------------------------------------------------------
def test_a_document_round_trips_with_swedish_letters(store):
    removed, ids = put(store, "östersund-älv", ["Älven svämmade över åkrarna.", "Vallar byggdes längs ån."],
                       fts=[("klimatanpassning östersund", "älv svämm åkr"), ("klimatanpassning östersund", "vall å")])
    assert removed == [] and len(ids) == 2 and ids[0] < ids[1]
    document = store.get_document("östersund-älv")
    assert document["title"] == "Klimatanpassning i Östersund"
    assert document["contact"] == "Åsa Öberg" and document["summary"] == "Så gjorde vi – för både älvar och åkrar."
    assert document["themes"] == ["klimatanpassning"] and document["tags"] == ["Klimatanpassning"]
    assert document["extra"] == {"kontaktperson_roll": "samordnare"} and document["curation_notes"] == []
    assert document["year"] == 2021 and document["chunker_version"] == 2
    assert document["ingested_at"] and document["updated_at"]
    assert store.get_document("finns-inte") is None
    assert set(store.get_documents(["östersund-älv", "finns-inte"])) == {"östersund-älv"}
    assert store.get_documents([]) == {}

    chunks = store.chunks_of("östersund-älv")
    assert [(c.id, c.order, c.text, c.heading, c.doc_id) for c in chunks] == [
        (ids[0], 0, "Älven svämmade över åkrarna.", "Bakgrund", "östersund-älv"),
        (ids[1], 1, "Vallar byggdes längs ån.", "Bakgrund", "östersund-älv")]
    assert store.get_chunks([ids[1]])[ids[1]].text == "Vallar byggdes längs ån."
    assert store.get_chunks([]) == {}
    assert store.embed_texts(ids) == [("h-Älven svämmade över åkrarna.", "passage: Älven svämmade över åkrarna."),
                                      ("h-Vallar byggdes längs ån.", "passage: Vallar byggdes längs ån.")]
    assert store.chunk_ids() == ids
    assert store.chunk_doc_map() == {ids[0]: "östersund-älv", ids[1]: "östersund-älv"}
    assert sorted(store.chunk_ids_for_documents(["östersund-älv"]).tolist()) == ids
    assert store.chunk_ids_for_documents(["finns-inte"]).tolist() == []
    assert store.chunk_fingerprint() == id_fingerprint(ids)
    assert sorted(store.all_chunk_texts()) == [("Klimatanpassning i Östersund", "Vallar byggdes längs ån."),
                                               ("Klimatanpassning i Östersund", "Älven svämmade över åkrarna.")]
    assert store.document_states() == {"östersund-älv": {
        "id": "östersund-älv", "content_hash": "hash-östersund-älv", "source_path": "fallstudier/östersund-älv.md",
        "chunker_version": 2}}
    assert store.count_documents() == 1 and store.count_chunks() == 2


def test_replacing_a_document_gives_new_chunk_ids_and_keeps_when_it_was_first_ingested(store):
    _, first = put(store, "umeå", ["Laddplatser i Umeå.", "Fler elbilar."])
    ingested = store.get_document("umeå")["ingested_at"]
    removed, second = put(store, "umeå", ["Laddplatser vid parkeringshus."], title="Laddning i Umeå")
    assert removed == first
    assert second and min(second) > max(first)            # ids are never reused
    assert store.chunk_ids() == second and store.count_chunks() == 1
    assert store.get_document("umeå")["title"] == "Laddning i Umeå"
    assert store.get_document("umeå")["ingested_at"] == ingested
    assert store.fts_term("fler", 2.0, 10) == []          # the old lexical rows went with the chunks


def test_deleting_a_document_removes_its_chunks_and_lexical_rows(store):
    _, keep = put(store, "lund", ["cykel cykelväg"])
    _, gone = put(store, "malmö", ["cykel energi"])
    assert store.delete_document("malmö") == gone
    assert store.get_document("malmö") is None and store.chunks_of("malmö") == []
    assert store.chunk_ids() == keep
    assert [cid for cid, _ in store.fts_term("cykel", 2.0, 10)] == keep
    assert store.fts_term("energi", 2.0, 10) == [] and store.term_document_frequency("energi") == 0
    assert store.delete_document("malmö") == []


def test_status_decides_what_is_public(store):
    put(store, "a", ["ett"])
    put(store, "b", ["två"], status="draft")
    assert store.count_documents() == 2 and store.count_documents(public_only=True) == 1
    store.set_status("b", PUBLIC)
    assert store.count_documents(public_only=True) == 2
    assert store.get_document("b")["status"] == PUBLIC


def test_a_failed_transaction_leaves_nothing(store):
    put(store, "kvar", ["kvar här"])
    with pytest.raises(RuntimeError):
        with store.transaction():
            put(store, "halv", ["halvfärdig"])
            store.delete_document("kvar")
            raise RuntimeError("avbrott")
    assert store.get_document("halv") is None and store.get_document("kvar") is not None
    assert store.fts_term("halvfärdig", 2.0, 10) == [] and len(store.fts_term("kvar", 2.0, 10)) == 1


def test_a_snapshot_does_not_see_a_commit_made_after_it_began(stores):
    reader, writer = stores(), stores()
    put(writer, "a", ["ett"])
    with reader.snapshot():
        assert reader.count_documents() == 1
        put(writer, "b", ["två"])
        assert reader.count_documents() == 1 and reader.get_document("b") is None
    assert reader.count_documents() == 2


# -- lexical candidates: FTS5's BM25, per analysed term --------------------------------------
LEXICAL = {   # doc id -> (analysed title, analysed body) of its one chunk
    "a": ("cykel lund", "cykel cykelväg cykel stad"),
    "b": ("energi malmö", "cykel energi hushåll"),
    "c": ("buss växjö", "buss biogas buss elbuss laddning buss"),
    "d": ("mat skåne", "mat svinn kök"),
}


def lexical_store(store) -> dict[str, int]:
    ids = {}
    for doc_id, (title, body) in LEXICAL.items():
        _, (chunk_id,) = put(store, doc_id, [body], fts=[(title, body)])
        ids[doc_id] = chunk_id
    return ids


def expected_bm25(term: str, title_weight: float) -> dict[str, float]:
    """FTS5's bm25() by hand: idf over rows, tf weighted by column, length over all columns."""
    lengths = {d: len(t.split()) + len(b.split()) for d, (t, b) in LEXICAL.items()}
    avgdl = sum(lengths.values()) / len(lengths)
    hits = {d: title_weight * t.split().count(term) + b.split().count(term) for d, (t, b) in LEXICAL.items()}
    hits = {d: f for d, f in hits.items() if f > 0}
    idf = math.log((len(LEXICAL) - len(hits) + 0.5) / (len(hits) + 0.5))
    idf = idf if idf > 0 else 1e-6
    return {d: bm25(f, lengths[d], avgdl, idf) for d, f in hits.items()}


@pytest.mark.parametrize("term", ["cykel", "buss", "energi", "laddning"])
@pytest.mark.parametrize("title_weight", [1.0, 2.5])
def test_lexical_candidates_score_each_term_with_fts5_bm25(store, term, title_weight):
    ids = lexical_store(store)
    rows = store.fts_term(term, title_weight, 100)
    expected = expected_bm25(term, title_weight)
    assert [cid for cid, _ in rows] == [ids[d] for d in sorted(expected, key=lambda d: -expected[d])]
    for chunk_id, score in rows:
        doc_id = next(d for d, c in ids.items() if c == chunk_id)
        assert score == pytest.approx(expected[doc_id], rel=1e-9)
    assert store.term_document_frequency(term) == len(expected)


def test_postings_within_chunks_are_every_match_among_them_scored_over_the_whole_index(store):
    ids = lexical_store(store)
    within = [ids["a"], ids["c"]]
    found = store.postings_within(["cykel", "buss", "energi", "tåg", 'laddning"'], 2.5, within)
    assert set(found) == {"cykel", "buss", "energi", "tåg", 'laddning"'}
    for term, (chunk_ids, scores) in found.items():
        expected = {c: s for c, s in store.fts_term(term, 2.5, 100) if c in within}
        assert dict(zip(chunk_ids.tolist(), scores.tolist())) == pytest.approx(expected, rel=1e-12), term
    assert any(len(chunk_ids) for chunk_ids, _ in found.values())
    assert len(found["tåg"][0]) == 0
    assert len(found['laddning"'][0]) == 1 and len(found["cykel"][0]) == 1     # c holds no "cykel"
    assert len(store.postings_within(["cykel"], 2.0, [])["cykel"][0]) == 0


def test_a_title_match_weighs_more_with_a_higher_title_weight(store):
    ids = lexical_store(store)
    plain = dict(store.fts_term("cykel", 1.0, 10))
    heavy = dict(store.fts_term("cykel", 3.0, 10))
    assert heavy[ids["a"]] > plain[ids["a"]]             # "cykel" is in a's title
    assert heavy[ids["b"]] == pytest.approx(plain[ids["b"]])


def test_lexical_candidates_are_limited_best_first_and_unknown_terms_match_nothing(store):
    ids = lexical_store(store)
    assert [cid for cid, _ in store.fts_term("cykel", 2.0, 1)] == [ids["a"]]
    assert store.fts_term("tåg", 2.0, 10) == [] and store.term_document_frequency("tåg") == 0
    assert store.fts_term('buss"', 2.0, 10) == store.fts_term("buss", 2.0, 10)   # a quote is no syntax


def test_the_analysed_body_terms_of_chunks_and_many_document_frequencies(store):
    """What dense-guided lexical feedback reads: the body terms of given chunks with their counts
    (never the title's), and the document frequency of many terms at once."""
    ids = lexical_store(store)
    counts = store.chunk_term_counts([ids["a"], ids["c"], 999_999])
    assert counts == {ids["a"]: Counter({"cykel": 2, "cykelväg": 1, "stad": 1}),
                      ids["c"]: Counter({"buss": 3, "biogas": 1, "elbuss": 1, "laddning": 1})}
    assert store.chunk_term_counts([]) == {}
    assert store.term_document_frequencies(["cykel", "buss", "lund", "tåg", "cykel"]) == {
        "cykel": 2, "buss": 1, "lund": 1, "tåg": 0}
    assert store.term_document_frequencies([]) == {}


def test_a_common_term_scores_with_the_smallest_idf(store):
    for i in range(3):
        put(store, f"d{i}", ["klimat"], fts=[("", "klimat mål" if i else "klimat")])
    rows = store.fts_term("klimat", 2.0, 10)
    assert len(rows) == 3 and all(0 < score < 1e-5 for _, score in rows)   # idf clamped to 1e-6
    assert rows[0][0] == store.chunks_of("d0")[0].id                          # the shortest row first


def test_lexical_rows_are_re_derived_from_the_stored_chunks(store):
    ids = lexical_store(store)
    sources = {cid: (heading, text, title, organisation) for cid, heading, text, title, organisation
               in store.lexical_sources()}
    assert sources[ids["c"]] == ("Bakgrund", LEXICAL["c"][1], "Klimatanpassning i Östersund", "Östersunds kommun")
    store.replace_lexical_rows([(cid, "", f"ny {text}") for cid, (_, text, _, _) in sources.items()])
    assert sorted(cid for cid, _ in store.fts_term("ny", 2.0, 10)) == sorted(ids.values())
    assert [cid for cid, _ in store.fts_term("lund", 2.0, 10)] == []      # the old titles are gone


def test_lexical_rows_re_derived_in_batches_from_a_generator(store, monkeypatch):
    import kunskap.storage.postgres
    import kunskap.storage.sqlite

    for module in (kunskap.storage.sqlite, kunskap.storage.postgres):
        monkeypatch.setattr(module, "LEXICAL_BATCH", 3)   # 4 rows: two batches
    ids = lexical_store(store)
    store.replace_lexical_rows((cid, "", f"ny {i} {text}") for i, (cid, _, text, _, _) in
                               enumerate(store.lexical_sources()))
    assert sorted(cid for cid, _ in store.fts_term("ny", 2.0, 10)) == sorted(ids.values())
    assert store.term_document_frequency("ny") == 4 and store.term_document_frequency("3") == 1
    expected = {cid: score for cid, score in store.fts_term("buss", 2.0, 10)}
    assert list(expected) == [ids["c"]]


# -- filters and facets ----------------------------------------------------------------------
def facet_corpus(store):
    put(store, "växjö", ["buss"], organisation="Växjö kommun", county="Kronobergs län", year=2021,
        themes=["kollektivtrafik", "rättvis-omställning"])
    put(store, "lund", ["cykel"], organisation="Lunds kommun", county="Skåne län", year=2019, themes=["cykel"])
    put(store, "skåne", ["mat"], organisation="Region Skåne", organisation_type="region", county="Skåne län",
        year=2018, kind="report", themes=["mat"])
    put(store, "utkast", ["utkast"], organisation="Lunds kommun", county="Skåne län", year=2023, status="draft",
        themes=["cykel"])


@pytest.mark.parametrize("filters, expected", [
    (Filters(), {"växjö", "lund", "skåne"}),
    (Filters(county=["Skåne län"]), {"lund", "skåne"}),
    (Filters(organisation=["Växjö kommun", "Region Skåne"]), {"växjö", "skåne"}),
    (Filters(organisation_type=["region"]), {"skåne"}),
    (Filters(kind=["report"]), {"skåne"}),
    (Filters(theme=["rättvis-omställning"]), {"växjö"}),
    (Filters(theme=["cykel", "mat"]), {"lund", "skåne"}),
    (Filters(year_from=2019), {"växjö", "lund"}),
    (Filters(year_to=2019), {"lund", "skåne"}),
    (Filters(year_from=2019, year_to=2019, county=["Skåne län"]), {"lund"}),
    (Filters(theme=["finns-inte"]), set()),
    (Filters(kommungrupp=["B3"]), {"växjö", "lund"}),           # SKR's group of both municipalities
    (Filters(kommungrupp=["B3"], county=["Skåne län"]), {"lund"}),
    (Filters(kommungrupp=["Ö9"]), set()),                        # no such group
])
def test_filters_select_public_documents(store, filters, expected):
    facet_corpus(store)
    assert set(store.filtered_document_ids(filters)) == expected
    rows = store.document_facet_rows(filters)
    assert {r["id"] for r in rows} == expected


def test_the_meeting_of_a_presentation_round_trips_in_extra(store):
    """`event` (corpus contract) lives in the extra JSON on both backends: no migration."""
    event = {"kind": "nätverksträff", "title": "Nätverksträff i Östersund – älvar och åkrar", "date": "2021-04-28"}
    put(store, "östersund-träff", ["Älven svämmade över."], kind="presentation",
        extra={"kontaktperson_roll": "samordnare", "event": event})
    assert store.get_document("östersund-träff")["extra"]["event"] == event
    assert store.get_documents(["östersund-träff"])["östersund-träff"]["extra"]["event"] == event


def test_filters_can_include_unpublished_documents(store):
    facet_corpus(store)
    assert set(store.filtered_document_ids(Filters(county=["Skåne län"]), public_only=False)) == {
        "lund", "skåne", "utkast"}


def test_facet_rows_carry_the_facet_columns_with_themes_decoded(store):
    facet_corpus(store)
    rows = {r["id"]: r for r in store.document_facet_rows(Filters(county=["Kronobergs län"]))}
    # The dates order feeds and exports: updated_at is the store's own, an ISO time.
    updated = rows["växjö"].pop("updated_at")
    assert updated == store.get_document("växjö")["updated_at"] and updated[:2] == "20"
    assert rows == {"växjö": {"id": "växjö", "organisation": "Växjö kommun", "organisation_type": "kommun",
                              "county": "Kronobergs län", "kind": "case-study", "year": 2021,
                              "themes": ["kollektivtrafik", "rättvis-omställning"], "published": "2021-05-01"}}


# -- the embedding cache ---------------------------------------------------------------------
def test_cached_vectors_round_trip_exactly_per_model_and_dimension(store):
    rng = np.random.default_rng(7)
    vectors = {"h-å": rng.standard_normal(8).astype(np.float32), "h-ö": rng.standard_normal(8).astype(np.float32)}
    store.put_vectors("modell-a", vectors)
    found = store.cached_vectors("modell-a", ["h-å", "h-ö", "h-saknas", "h-å"], 8)
    assert set(found) == {"h-å", "h-ö"}
    assert all(found[h].dtype == np.float32 and np.array_equal(found[h], vectors[h]) for h in vectors)
    assert store.cached_vectors("modell-b", ["h-å"], 8) == {}
    assert store.cached_vectors("modell-a", ["h-å"], 16) == {}     # another dimension is not this vector
    store.put_vectors("modell-a", {"h-å": np.ones(8, np.float32)})   # replaced, not duplicated
    assert np.array_equal(store.cached_vectors("modell-a", ["h-å"], 8)["h-å"], np.ones(8, np.float32))


def test_chunk_vectors_come_from_the_cache_with_the_missing_chunks_named(store):
    _, ids_a = put(store, "a", ["ett", "två"])
    _, ids_b = put(store, "b", ["tre"])
    store.put_vectors("m", {"h-ett": np.full(4, 1, np.float32), "h-tre": np.full(4, 3, np.float32)})
    ids, matrix, missing = store.chunk_vectors("m", 4)
    assert ids.tolist() == [ids_a[0], ids_b[0]] and missing == [ids_a[1]]
    assert matrix.shape == (2, 4) and matrix.dtype == np.float32 and matrix[:, 0].tolist() == [1.0, 3.0]
    ids, matrix, missing = store.chunk_vectors("m", 4, doc_id="b")
    assert ids.tolist() == ids_b and missing == [] and matrix[0, 0] == 3.0
    ids, matrix, missing = store.chunk_vectors("annan", 4)
    assert len(ids) == 0 and matrix.shape == (0, 4) and sorted(missing) == sorted(ids_a + ids_b)
    # The same missing chunks, by id alone.
    assert store.unembedded_chunk_ids("m") == [ids_a[1]]
    assert store.unembedded_chunk_ids("annan") == sorted(ids_a + ids_b)


# -- the save journal ------------------------------------------------------------------------
def test_a_save_is_journalled_pending_then_done(store):
    before = store.last_revision_id()
    revision_id = store.begin_revision(
        {"doc_id": "östersund", "path": "fallstudier/östersund.md", "action": "edit", "username": "åsa",
         "created_at": "2024-01-01T10:00:00+00:00", "previous_content": "förr".encode(), "content": "nu".encode(),
         "state": "pending", "target": "fallstudier/östersund.md", "idempotency_key": "nyckel-1"},
        [("fallstudier/östersund.md", "förr".encode(), "sha-nu"), ("fallstudier/gammal.md", None, None)])
    assert revision_id > before and store.last_revision_id() == revision_id
    (pending,) = store.pending_revisions()
    assert pending["id"] == revision_id and pending["doc_id"] == "östersund" and pending["username"] == "åsa"
    assert pending["target"] == "fallstudier/östersund.md" and pending["action"] == "edit"
    assert pending["files"] == [
        {"path": "fallstudier/gammal.md", "previous": None, "new_sha256": None},
        {"path": "fallstudier/östersund.md", "previous": "förr".encode(), "new_sha256": "sha-nu"}]
    assert store.revision_for_key("åsa", "nyckel-1")["id"] == revision_id
    assert store.revision_for_key("åsa", "annan") is None
    store.end_revision(revision_id, "done", note="klar")
    assert store.pending_revisions() == []
    state = store.revision_state(revision_id)
    assert state["state"] == "done" and state["doc_id"] == "östersund" and state["created_at"].startswith("2024")
    assert store.revision_state(revision_id + 100) is None
    assert store.revision_paths_since(before) == ["fallstudier/östersund.md"]
    assert store.revision_paths_since(revision_id) == []


def test_an_aborted_save_frees_its_idempotency_key(store):
    row = {"doc_id": "x", "path": "x.md", "action": "create", "username": "åsa", "created_at": "2024-01-01",
           "state": "pending", "idempotency_key": "k"}
    first = store.begin_revision(row, [("x.md", None, "sha")])
    store.end_revision(first, "aborted", error="disken är full")
    assert store.revision_state(first)["error"] == "disken är full"
    assert store.revision_for_key("åsa", "k") is None
    second = store.begin_revision(row, [("x.md", None, "sha")])
    assert store.revision_for_key("åsa", "k")["id"] == second


# -- vocabulary ------------------------------------------------------------------------------
def test_the_vocabulary_is_replaced_whole(store):
    store.replace_vocabulary(Counter({"älv": 3, "å": 1}))
    assert store.vocabulary() == {"älv": 3, "å": 1}
    store.replace_vocabulary(Counter({"öar": 2}))
    assert store.vocabulary() == {"öar": 2}


def test_the_vocabulary_is_adjusted_word_by_word(store):
    store.replace_vocabulary(Counter({"älv": 3, "å": 1, "öar": 2}))
    generation = store.change_generation()
    store.adjust_vocabulary(Counter({"älv": -1, "å": -1, "öar": 0, "ny": 2, "borta": -4}))
    assert store.vocabulary() == {"älv": 2, "öar": 2, "ny": 2}
    assert store.change_generation() > generation
    store.adjust_vocabulary(Counter({"älv": -5}))
    assert store.vocabulary() == {"öar": 2, "ny": 2}
    assert store.vocabulary_counts(["ny", "älv", "öar", "ny"]) == {"ny": 2, "öar": 2}
    assert store.vocabulary_counts([]) == {}


def test_the_lexicon_is_kept_apart_from_the_vocabulary(store):
    store.replace_vocabulary(Counter({"älv": 3, "å": 1}))
    store.replace_lexicon({"älv", "öar"})
    assert store.lexicon() == {"älv", "öar"} and store.vocabulary() == {"älv": 3, "å": 1}
    store.replace_vocabulary(Counter({"ny": 2}))
    assert store.lexicon() == {"älv", "öar"}


# -- the change generation -------------------------------------------------------------------
def test_the_generation_rises_with_every_change_to_what_searches_read(stores):
    store, other = stores(), stores()
    seen = [store.change_generation()]

    def changed() -> bool:
        now = other.change_generation()            # as another process or server sees it
        rose = now > seen[-1]
        seen.append(now)
        return rose

    put(store, "a", ["ett"])
    assert changed()
    store.set_status("a", "draft")
    assert changed()
    store.replace_vocabulary(Counter({"ett": 1}))
    assert changed()
    store.replace_lexicon({"ett"})
    assert changed()
    store.replace_lexical_rows([(store.chunk_ids()[0], "", "ett")])
    assert changed()
    store.delete_document("a")
    assert changed()
    # Not search contents: the embedding cache, the journal, accounts.
    store.put_vectors("m", {"h": np.zeros(2, np.float32)})
    store.end_revision(store.begin_revision({"doc_id": "a", "path": "a.md", "action": "edit", "username": "u",
                                             "created_at": "2024", "state": "pending"}, []), "done")
    Accounts(store).add_user("asa", "ett långt lösenord")
    assert not changed()


def test_a_rolled_back_write_does_not_raise_the_generation(store):
    before = store.change_generation()
    with pytest.raises(RuntimeError):
        with store.transaction():
            put(store, "a", ["ett"])
            raise RuntimeError
    assert store.change_generation() == before


# -- accounts, sessions, tokens, throttling --------------------------------------------------
def test_accounts_sessions_and_tokens(stores):
    accounts, elsewhere = Accounts(stores()), Accounts(stores())
    user = accounts.add_user("Åsa.Öberg", "ett långt lösenord", "Åsa Öberg")
    assert (user.username, user.display_name, user.active) == ("åsa.öberg", "Åsa Öberg", True)
    with pytest.raises(ValidationError):
        accounts.add_user("åsa.öberg", "ett annat lösenord")
    assert [u.username for u in elsewhere.list_users()] == ["åsa.öberg"]

    assert accounts.authenticate("åsa.öberg", "ett långt lösenord", "10.0.0.1").id == user.id
    token, csrf = accounts.create_session(user)
    found, found_csrf = elsewhere.session(token)        # a session works on every server
    assert found.id == user.id and found_csrf == csrf
    assert elsewhere.session("fel") is None and elsewhere.session(None) is None
    accounts.end_session(token)
    assert elsewhere.session(token) is None

    key = accounts.create_token("åsa.öberg", "webbplatsen")
    assert elsewhere.token_user(key).id == user.id
    (listed,) = accounts.list_tokens()
    assert listed["name"] == "webbplatsen" and listed["username"] == "åsa.öberg" and listed["last_used_at"]
    assert not listed["revoked"]
    accounts.revoke_token(listed["id"])
    assert elsewhere.token_user(key) is None
    with pytest.raises(ValidationError):
        accounts.revoke_token(listed["id"] + 1000)


def test_disabling_an_account_ends_its_sessions_and_tokens(store):
    accounts = Accounts(store)
    user = accounts.add_user("kalle", "ett långt lösenord")
    session, _ = accounts.create_session(user)
    key = accounts.create_token("kalle", "skript")
    accounts.set_active("kalle", False)
    assert accounts.session(session) is None and accounts.token_user(key) is None
    with pytest.raises(AuthError):
        accounts.authenticate("kalle", "ett långt lösenord")
    accounts.set_active("kalle", True)
    assert accounts.token_user(key) is None            # revoked stays revoked
    accounts.reset_password("kalle", "ett nytt långt lösenord")
    assert accounts.authenticate("kalle", "ett nytt långt lösenord").username == "kalle"


def test_failed_logins_are_throttled_across_servers(stores):
    accounts, elsewhere = Accounts(stores()), Accounts(stores())
    accounts.add_user("kalle", "ett långt lösenord")
    for _ in range(5):
        with pytest.raises(AuthError):
            accounts.authenticate("kalle", "fel lösenord", "10.0.0.2")
    with pytest.raises(ThrottledError):
        elsewhere.authenticate("kalle", "ett långt lösenord", "10.0.0.3")
    assert store_attempts(elsewhere, "client:10.0.0.2") == 5


def store_attempts(accounts: Accounts, key: str) -> int:
    return accounts.store.count_login_attempts(key, time.time() - 60)


def test_the_store_meets_the_interface(store):
    assert isinstance(store, Store)


def test_the_cached_chunk_fingerprint_covers_the_embedded_chunks(store):
    _, ids = put(store, "a", ["ett", "två", "tre"])
    store.put_vectors("m", {"h-ett": np.zeros(2, np.float32), "h-tre": np.zeros(2, np.float32)})
    assert store.cached_chunk_fingerprint("m") == id_fingerprint([ids[0], ids[2]])
    assert store.cached_chunk_fingerprint("annan") == id_fingerprint([])


def test_curation_reads_documents_titles_and_history(store):
    """Curation's named reads (kunskap/curation)."""
    put(store, "östersund", ["ett"], status="draft")
    put(store, "umeå", ["två"], title="Laddning i Umeå")
    assert [d["id"] for d in store.curation_documents(status="draft")] == ["östersund"]
    assert {d["id"] for d in store.curation_documents()} == {"östersund", "umeå"}
    assert store.curation_documents()[0]["themes"] == ["klimatanpassning"]
    assert store.document_titles() == [
        {"id": "umeå", "title": "Laddning i Umeå", "organisation": "Östersunds kommun"},
        {"id": "östersund", "title": "Klimatanpassning i Östersund", "organisation": "Östersunds kommun"}]
    row = {"doc_id": "umeå", "path": "umeå.md", "username": "åsa", "created_at": "2024", "state": "pending",
           "previous_content": "förr".encode()}
    edit = store.begin_revision({**row, "action": "edit"}, [])
    store.end_revision(edit, "done")
    delete = store.begin_revision({**row, "action": "delete"}, [])
    store.end_revision(delete, "done")
    aborted = store.begin_revision({**row, "action": "edit"}, [])
    store.end_revision(aborted, "aborted")
    assert [r["id"] for r in store.revisions_of("umeå")] == [delete, edit]
    assert store.get_revision(edit)["previous_content"] == "förr".encode()
    assert store.get_revision(10**6) is None
    assert [r["id"] for r in store.deletions_not_undone()] == [delete]


# -- search insights: the search log ----------------------------------------------------------
DAY = __import__("datetime").date(2026, 11, 30)   # a Monday


def searches(store, query: str, days: list[int], hits: int = 3, shown: int | None = None, source: str = "page",
             filters: str = "{}", theme: str | None = None, prefix: str = "") -> list[str]:
    """One logged search per entry of `days` (days before DAY); their ids."""
    import datetime as dt

    import hashlib

    rows = [{"id": hashlib.sha256(f"{prefix}{query}-{i}".encode()).hexdigest()[:16],
             "day": (DAY - dt.timedelta(days=d)).isoformat(),
             "query": query, "filters": filters, "hits": hits, "shown": hits if shown is None else shown,
             "source": source, "theme": theme} for i, d in enumerate(days)]
    store.record_searches(rows)
    return [r["id"] for r in rows]


def search_log_columns(store) -> dict[str, set[str]]:
    tables = ("search_log", "search_clicks")
    if hasattr(store, "db"):
        return {t: {row[1] for row in store.db.execute(f"PRAGMA table_info({t})").fetchall()} for t in tables}
    return {t: {r[0] for r in store._all("SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                                         "AND table_schema = current_schema()", [t])} for t in tables}


def test_the_search_log_holds_no_address_cookie_user_agent_or_time(store):
    columns = search_log_columns(store)
    assert columns["search_log"] == {"id", "day", "query", "filters", "hits", "shown", "source", "theme"}
    assert columns["search_clicks"] == {"search_id", "position", "doc_id", "day"}


def test_query_strings_appear_only_from_five_searches_on_two_days(store):
    import datetime as dt

    since = DAY - dt.timedelta(days=89)
    searches(store, "laddstolpar", [0, 0, 0, 1])               # 4 searches on 2 days: hidden
    searches(store, "cykelbana", [0, 0, 0, 0, 0])              # 5 on 1 day: hidden
    searches(store, "solceller på tak", [0, 0, 0, 3, 3], hits=0)   # 5 on 2 days: shown
    searches(store, "gammal", [200] * 9)                       # before the period
    popular = store.search_queries(since, "searches", 5, 2, 2, 10)
    assert [(r["query"], r["searches"], r["days"], r["zero"]) for r in popular] == [("solceller på tak", 5, 2, 5)]
    assert store.search_queries(since, "zero", 5, 2, 2, 10)[0]["query"] == "solceller på tak"
    assert store.search_queries(since, "few", 5, 2, 2, 10) == []          # it has no search with 1–2 hits
    assert store.rare_search_queries(since, 5, 2, 2) == {"queries": 2, "searches": 9, "zero": 0, "few": 0}
    totals = store.search_log_totals(since, 2)
    assert totals["searches"] == 14 and totals["zero"] == 5 and totals["sources"] == {"page": 14}


def test_clicks_count_per_position_and_ignore_unknown_searches_and_positions(store):
    import datetime as dt

    ids = searches(store, "klimatanpassning", [0, 0, 1], hits=8, shown=8)
    short = searches(store, "mat", [0], hits=2, shown=2)[0]
    day = DAY.isoformat()
    store.record_clicks([
        {"search_id": ids[0], "position": 1, "doc_id": "a", "day": day},
        {"search_id": ids[0], "position": 1, "doc_id": "a", "day": day},      # the same click again
        {"search_id": ids[1], "position": 3, "doc_id": "c", "day": day},
        {"search_id": "ffffffffffffffff", "position": 1, "doc_id": "a", "day": day},   # no such search
        {"search_id": short, "position": 5, "doc_id": "x", "day": day},        # never shown there
    ])
    positions = store.search_click_positions(DAY - dt.timedelta(days=29), 4)
    assert positions == [{"position": 1, "shown": 4, "clicked": 1}, {"position": 2, "shown": 4, "clicked": 0},
                         {"position": 3, "shown": 3, "clicked": 1}, {"position": 4, "shown": 3, "clicked": 0}]
    assert store.search_log_totals(DAY - dt.timedelta(days=29), 2)["clicked"] == 2


def test_searches_per_theme_and_per_week(store):
    import datetime as dt

    searches(store, "buss", [0, 1], filters='{"theme":["kollektivtrafik"]}', hits=0)
    searches(store, "elbuss", [7], filters='{"theme":["fossilfria-fordon","kollektivtrafik"]}',
             theme="kollektivtrafik")
    searches(store, "laddning", [8], theme="fossilfria-fordon")
    since = DAY - dt.timedelta(days=29)
    themes = {r["theme"]: (r["filtered"], r["filtered_zero"], r["in_hits"]) for r in store.search_themes(since, 10)}
    assert themes == {"kollektivtrafik": (3, 2, 1), "fossilfria-fordon": (1, 0, 1)}
    weeks = store.search_weeks(since, 2)
    # DAY is a Monday: day 0 is its week, days 1, 7 and 8 the two weeks before.
    assert [(w["week"], w["searches"], w["zero"]) for w in weeks] == [
        ("2026-11-16", 1, 0), ("2026-11-23", 2, 1), ("2026-11-30", 1, 1)]


def test_pruning_removes_old_searches_and_their_clicks(store):
    import datetime as dt

    old = searches(store, "gammal", [400], shown=3)
    new = searches(store, "ny", [0], shown=3)
    store.record_clicks([
        {"search_id": old[0], "position": 1, "doc_id": "a", "day": (DAY - dt.timedelta(days=399)).isoformat()},
        {"search_id": new[0], "position": 2, "doc_id": "b", "day": DAY.isoformat()}])
    assert store.prune_search_log(DAY - dt.timedelta(days=365)) == (1, 1)
    assert store.search_log_totals(DAY - dt.timedelta(days=1000), 2)["searches"] == 1
    assert store.search_click_positions(DAY - dt.timedelta(days=1000), 2)[1]["clicked"] == 1
    assert store.prune_search_log(DAY - dt.timedelta(days=365)) == (0, 0)


def test_recording_searches_and_clicks_does_not_raise_the_generation(store):
    # The log is not what searches read: a rising generation would empty every server's result
    # cache at each flush of the insights queue.
    import datetime as dt

    before = store.change_generation()
    ids = searches(store, "klimatanpassning", [0, 1])
    store.record_clicks([{"search_id": ids[0], "position": 1, "doc_id": "a", "day": DAY.isoformat()}])
    store.prune_search_log(DAY)
    assert store.search_log_totals(DAY - dt.timedelta(days=5), 2)["searches"] == 1
    assert store.change_generation() == before
