"""Impact-ordered postings (SQLite): a search reads at most `limit` rows of a term, and the BM25
it computes from them is FTS5's own `bm25()`, row for row, after ingest, saves and deletions.
Real SQLite, FTS5 and ingest; the hashing embedder (the vectors play no part here)."""

from __future__ import annotations

import pytest

from kunskap.ingest import ingest

from .conftest import write_case
from .test_ingest import postings_agree


def fts5_bm25(db, term: str, title_weight: float) -> list[tuple[int, float]]:
    """What the FTS5 table itself answers for a one-term query, best first."""
    quoted = '"' + term.replace('"', '""') + '"'
    return db.execute("SELECT rowid, -bm25(chunks_fts, ?, 1.0) FROM chunks_fts WHERE chunks_fts MATCH ? "
                      "ORDER BY bm25(chunks_fts, ?, 1.0), rowid", [title_weight, quoted, title_weight]).fetchall()


def same_as_fts5(store, title_weight: float = 2.0) -> int:
    """Every term of the index scored as FTS5 scores it; returns how many terms were compared."""
    terms = [r[0] for r in store.db.execute("SELECT term FROM lexical_terms").fetchall()]
    for term in terms:
        expected = fts5_bm25(store.db, term, title_weight)
        found = store.fts_term(term, title_weight, 10_000)
        assert [c for c, _ in found] == [c for c, _ in expected], term
        assert [s for _, s in found] == pytest.approx([s for _, s in expected], rel=1e-9), term
        assert store.term_document_frequency(term) == len(expected), term
    return len(terms)


def test_postings_score_every_term_as_fts5_does_after_ingest_saves_and_deletions(corpus, kb_factory):
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    assert same_as_fts5(kb.store) > 100 and same_as_fts5(kb.store, title_weight=1.0) > 100
    postings_agree(kb.store.db)

    # A changed document, a new one and a removed one: the postings follow each save.
    removed = [c.id for c in kb.store.chunks_of("vaxjo-buss")]
    only_there = {r[0] for r in kb.store.db.execute(
        f"SELECT term FROM lexical_postings GROUP BY term HAVING min(chunk_id IN ({','.join('?' * len(removed))})) = 1",
        removed).fetchall()}
    assert removed and only_there
    path = corpus / "lund-cykel.md"
    path.write_text(path.read_text("utf-8").replace("lånecyklar för nyinflyttade", "lastcyklar för förskolor"),
                    encoding="utf-8")
    write_case(corpus, "gavle-sol.md", "Solceller på Gävles skolor", "Gävle kommun",
               "Skolorna fick solceller på taken och eleverna följer produktionen.")
    (corpus / "vaxjo-buss.md").unlink()
    report = ingest(kb, corpus, prune=True)
    assert report.removed == ["vaxjo-buss"] and report.added == ["gavle-sol"] and report.updated == ["lund-cykel"]
    postings_agree(kb.store.db)
    assert same_as_fts5(kb.store) > 80
    assert kb.store.fts_term("solcell", 2.0, 10)
    assert not any(kb.store.fts_term(term, 2.0, 10) for term in only_there)
    assert not kb.store.db.execute(f"SELECT count(*) FROM lexical_postings WHERE chunk_id IN "
                                   f"({','.join('?' * len(removed))})", removed).fetchone()[0]


def test_a_limited_read_is_the_best_rows_of_the_term(corpus, kb_factory):
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    store = kb.store
    term, df = store.db.execute("SELECT term, df FROM lexical_terms ORDER BY df DESC, term LIMIT 1").fetchone()
    assert df >= 4
    full = store.fts_term(term, 2.0, 10_000)
    assert len(full) == df
    limited = store.fts_term(term, 2.0, 2)
    assert limited == full[:2]
    assert store.fts_term("finns-inte-alls", 2.0, 10) == [] and store.term_document_frequency("finns-inte-alls") == 0


def test_lexical_candidates_are_bounded_to_the_best_documents(corpus, kb_factory, monkeypatch):
    """However many documents share a query's words, fusion sees the LEXICAL_DOCS best of them,
    and a term read only in part still has its real document frequency (idf, evidence)."""
    from kunskap.search import SearchRequest, Searcher, lexical

    kb = kb_factory(corpus)
    ingest(kb, corpus)
    searcher = Searcher(kb)
    request = SearchRequest("kommunen minskar utsläppen från trafik och energi", mode="lexical")
    full = searcher.candidates(request)
    assert len(full.lexical) >= 4
    best = sorted(full.lexical, key=lambda d: (-full.lexical[d], d))

    monkeypatch.setattr(lexical, "LEXICAL_DOCS", 2)
    bounded = searcher.candidates(request)
    assert sorted(bounded.lexical) == sorted(best[:2])
    assert set(bounded.lexical_best) == set(bounded.lexical) and set(bounded.typed_evidence) <= set(bounded.lexical)
    assert bounded.evidence == full.evidence

    monkeypatch.setattr(lexical, "LEXICAL_DOCS", 1000)
    monkeypatch.setattr(lexical, "TERM_CHUNKS", 1)   # every term read in part: its df from the store
    monkeypatch.setattr(lexical, "RESCORE_CHUNKS", 0)
    partial = searcher.candidates(request)           # the sums of what was read
    assert partial.lexical and set(partial.lexical) <= set(full.lexical)
    assert all(partial.lexical[d] <= full.lexical[d] + 1e-9 for d in partial.lexical)
    monkeypatch.setattr(lexical, "RESCORE_CHUNKS", 500)
    rescored = searcher.candidates(request)          # the best chunks scored over every term
    assert set(rescored.lexical) == set(partial.lexical)
    assert rescored.lexical == pytest.approx({d: full.lexical[d] for d in rescored.lexical}, rel=1e-9)
    assert rescored.evidence == pytest.approx(full.evidence)


def test_a_selective_filter_reads_every_posting_of_its_own_documents(corpus, kb_factory, monkeypatch):
    """A term's best postings in the whole corpus may all lie outside a filter: a filter passing
    few chunks is searched among its own chunks instead, so what it finds does not depend on
    the read limit (here 1 chunk a term, as for a term common in a large corpus)."""
    from kunskap.search import SearchRequest, Searcher, lexical
    from kunskap.search.request import Filters

    kb = kb_factory(corpus)
    ingest(kb, corpus)
    searcher = Searcher(kb)
    request = SearchRequest("kommunen minskar utsläppen från trafik och energi", mode="lexical",
                            filters=Filters(county=["Skåne län"]))
    exact = searcher.candidates(request)
    assert sorted(exact.lexical) == ["lund-cykel", "malmo-energi"]   # skane-mat shares none of the words

    monkeypatch.setattr(lexical, "TERM_CHUNKS", 1)
    assert searcher.candidates(request).lexical == pytest.approx(exact.lexical)
    monkeypatch.setattr(lexical, "FILTER_EXACT_CHUNKS", 0)   # the same filter read by best postings
    assert len(searcher.candidates(request).lexical) < 2


def test_lexical_tokens_split_where_fts5s_unicode61_does_for_every_code_point():
    """unicode61 keeps letters, numbers and private-use characters together and splits at
    everything else; the tokenizer that counts the postings must do the same for every code
    point (surrogates cannot occur in text)."""
    import unicodedata

    from kunskap.storage.base import lexical_tokens

    kept = 0
    for code in range(0x110000):
        if 0xD800 <= code < 0xE000:
            continue
        char = chr(code)
        category = unicodedata.category(char)
        token_char = category[0] in "LN" or category == "Co"
        kept += token_char
        assert len(lexical_tokens(f"a{char}b")) == (1 if token_char else 2), hex(code)
    assert kept > 100_000
    assert lexical_tokens("Växjö_kommun: 2030-målet, ÅTGÄRD\u0301x") == ["växjö", "kommun", "2030", "målet", "åtgärd", "x"]


def test_a_chunk_found_through_one_term_is_scored_over_every_term(tmp_path, kb_factory, monkeypatch):
    """W is the best chunk for "cykel" but not for "buss" (Z holds it more often): a read of one
    posting a term sees W only through "cykel"; the rescoring adds its "buss"."""
    from kunskap.search import SearchRequest, Searcher, lexical

    corpus = tmp_path / "korpus"
    write_case(corpus, "w.md", "Cyklar", "Lunds kommun", "Cykel cykel cykel och en buss.")
    write_case(corpus, "z.md", "Bussar", "Växjö kommun", "Buss buss buss buss.")
    write_case(corpus, "y.md", "Annat", "Umeå kommun", "Mat och energi i skolan.")
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    searcher = Searcher(kb)
    request = SearchRequest("cykel buss", mode="lexical")
    full = searcher.candidates(request)
    assert set(full.lexical) == {"w", "z"}
    monkeypatch.setattr(lexical, "TERM_CHUNKS", 1)
    monkeypatch.setattr(lexical, "RESCORE_CHUNKS", 0)
    partial = searcher.candidates(request)
    assert partial.lexical["w"] < full.lexical["w"] - 1e-9          # its "buss" was not read
    monkeypatch.setattr(lexical, "RESCORE_CHUNKS", 500)
    assert searcher.candidates(request).lexical == pytest.approx(full.lexical, rel=1e-9)
