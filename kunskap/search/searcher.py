"""The searcher: a thin facade over the query pipeline, one code path for the CLI, the API, the
pages and `kunskap eval`.

query -> planner.py   Swedish analysis (stems, compound parts, theme synonyms, typo corrections)
      -> dense.py     dense candidates (FAISS, exact filter by IDSelector)
      -> lexical.py   lexical candidates (FTS5 BM25, weighted per term), for weakly matching
                      Swedish queries with expansions from the dense side (feedback.py)
      -> ranking.py   fusion per document, theme boost, hit set, sort
      -> results.py   page hydrated in one snapshot, snippets with highlights, facets over the hit set

The fusion ("calibrated") was chosen by measurement: eval/README.md. Paraphrases with no shared
content words fall back to dense; questions that share rare words with one passage are decided
lexically. What the pipeline derives from the index is kept in one generation-keyed cache
(cache.py).
"""

from __future__ import annotations

import dataclasses

from ..embeddings import text_hash
from ..errors import NotFoundError
from ..knowledgebase import KnowledgeBase
from ..storage import PUBLIC
from .cache import GenerationCache
from .dense import (
    DENSE_CHUNKS,
    ChunkTable,
    DocumentMeans,
    DocumentSummaries,
    QueryVectors,
    best_per_document,
    dense_candidates,
    summary_text,
)
from .feedback import feedback_chunks, select_terms
from .lexical import lexical_candidates
from .planner import QueryPlanner, SynonymTable, Vocabulary, generic_stems, has_search_words, synonym_table
from .ranking import Candidates, RankingParams, rank, sort_newest
from .request import MAX_QUERY_CHARS, Filters, SearchRequest, validate_request
from .results import (
    Hit,
    SearchResult,
    empty_query_hint,
    facet_counts,
    hydrate,
    newest_first,
    no_hits_hint,
    summary_hit,
)

ENGLISH_LEXICAL_FACTOR = 0.1  # lexical evidence kept for an English query (names still count)
# Filter combinations whose allowed documents and chunks, and whose browse listing, are kept.
# Each holds up to one entry per document or chunk passing the filter, so few are kept: at 1M
# chunks a broad filter's entry is ~10 MB.
FILTER_CACHE_SIZE = 32
# After a change of at most this many documents, the lookups are patched from the previous
# generation's (GenerationCache); a larger one recomputes them.
PATCH_MAX_DOCUMENTS = 2000
PATCH_MAX_WORDS = 50_000
FACET_COLUMNS = ("id", "organisation", "organisation_type", "county", "kind", "year", "themes", "published",
                 "updated_at")   # what store.document_facet_rows gives (storage/_sql.FACET_ROWS)

# Kinds of values in the generation cache
(RESULTS, CHUNK_DOCS, CHUNK_TABLE, VOCABULARY, SYNONYMS, DOCUMENT_COUNT, DOCUMENT_ROWS, DOCUMENT_THEMES,
 DOCUMENT_MEANS, GENERIC, ALLOWED, ALLOWED_CHUNKS, BROWSE, SUMMARIES, TERM_DF, ORGANISATION_TERMS) = (
    "results", "chunk_docs", "chunk_table", "vocabulary", "synonyms", "document_count", "document_rows",
    "document_themes", "document_means", "generic", "allowed", "allowed_chunks", "browse", "summaries", "term_df",
    "organisation_terms")


class Searcher:
    """`search`, `cached`, `browse` and `similar` over one knowledge base."""

    def __init__(self, kb: KnowledgeBase, params: RankingParams | None = None, query_cache_size: int = 1024):
        self.kb = kb
        self.params = params or RankingParams()
        self.query_vector = QueryVectors(lambda texts: kb.embedder.encode_queries(texts), query_cache_size)
        # Results and lookups are derived from the index, so they are kept per generation of the
        # knowledge base; query vectors depend only on the text.
        self._cache = GenerationCache(lambda: kb.generation, {
            RESULTS: kb.settings.result_cache_size, ALLOWED: FILTER_CACHE_SIZE, ALLOWED_CHUNKS: FILTER_CACHE_SIZE,
            BROWSE: FILTER_CACHE_SIZE}, changes=self._changes_since)
        # The vocabulary (typo correction) is patched from the words a save changed.
        self._words_cache = GenerationCache(lambda: kb.generation, changes=self._words_since)
        # The current rows of changed documents, read once per patch round (generation)
        self._changed_rows: tuple | None = None

    # -- the facade ------------------------------------------------------------------------
    def search(self, request: SearchRequest) -> SearchResult:
        """Search, with an LRU of whole results for repeated requests (per index generation)."""
        validate_request(request)
        self.kb.reload_if_changed()
        generation, key = self.kb.generation, repr(request)
        result = self._cache.get(RESULTS, key)
        if result is None:
            result = self._search(request)
            self._cache.put(RESULTS, key, result, generation)
        return result

    def cached(self, request: SearchRequest) -> SearchResult | None:
        """The cached result of an identical request, if the knowledge base has not changed (here or
        through another process's ingest; then `search` reloads first)."""
        if self.kb.index_changed():
            return None
        return self._cache.get(RESULTS, repr(request))

    def browse(self, filters: Filters, page: int = 1, limit: int = 10, sort: str = "newest") -> SearchResult:
        """All public documents passing the filters (no query), newest first."""
        self.kb.reload_if_changed()   # another process's ingest reaches browsing too, not only searches
        ids, facets = self._browse_listing(filters)
        shown = ids[(page - 1) * limit : page * limit]
        documents = self.kb.store.get_documents(shown)
        return SearchResult("", None, [summary_hit(documents[d]) for d in shown], len(ids), page, limit, facets)

    def similar(self, doc_id: str, limit: int = 5, other_organisations: bool = True) -> list[Hit]:
        """Public documents nearest to the mean of this document's chunk vectors, by default only
        from other organisations."""
        self.kb.reload_if_changed()
        store = self.kb.store
        document = store.get_document(doc_id)
        if document is None or document["status"] != PUBLIC:
            raise NotFoundError(f"Dokumentet '{doc_id}' finns inte")
        centroid = self.kb.document_vector(doc_id)
        if centroid is None:
            return []
        if other_organisations:
            # the public documents of other organisations (and never this one)
            allowed = self._allowed_documents(Filters(), exclude_organisation=document["organisation"])
        else:
            allowed = self._allowed_documents(Filters()) - {doc_id}
        if not allowed:
            return []
        ids, scores = self.kb.vectors.search(centroid, DENSE_CHUNKS, allowed_ids=self._chunk_table().chunks_of(allowed))
        best = best_per_document(ids, scores, self._chunk_docs())
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][1], kv[0]))[:limit]
        documents = store.get_documents([d for d, _ in ranked])
        return [summary_hit(documents[d], round(s, 4), c) for d, (c, s) in ranked]

    def candidates(self, request: SearchRequest) -> Candidates:
        """Lexical and dense candidates (per document, best chunk) for a request; bench/fusion_grid.py
        fuses them under many settings."""
        q = request.q.strip()[:MAX_QUERY_CHARS]
        plan = self.planner().plan(q, request.correct_typos)
        allowed = self._allowed_documents(request.filters)
        allowed_chunks = self._allowed_chunks(request.filters, allowed)
        found = Candidates(plan=plan)
        if request.mode in ("hybrid", "dense") and plan.typed:
            found.dense, found.dense_best = dense_candidates(self.kb.vectors, self.query_vector, plan.text_for_dense,
                                                             allowed_chunks, self._chunk_docs(), self.params.dense,
                                                             self._document_means, self._document_summaries)
        if request.mode in ("hybrid", "lexical") and plan.terms:
            scale = 1.0
            if plan.english and request.mode == "hybrid":
                scale *= ENGLISH_LEXICAL_FACTOR   # the multilingual model carries English queries
            content = [t for t in plan.typed if t not in plan.generic]
            if self.params.long_query_words and len(content) >= self.params.long_query_words:
                scale *= self.params.long_query_factor   # a description: meaning carries it
            feedback = None
            if (request.mode == "hybrid" and self.params.feedback.docs and found.dense
                    and (self.params.feedback.english or not plan.english)):
                def feedback(evidence: float) -> dict[str, float]:
                    if evidence * scale < self.params.feedback.below_evidence:
                        found.feedback = self._feedback_terms(found)
                    return found.feedback
            found.lexical, found.lexical_best, found.evidence = lexical_candidates(
                self.kb.store, plan, self._chunk_table(), allowed, self.params.title_weight,
                doc_evidence=found.typed_evidence, allowed_chunks=allowed_chunks, feedback=feedback,
                matched=found.matched)
            found.evidence *= scale
        return found

    def _feedback_terms(self, found: Candidates) -> dict[str, float]:
        """Expansions for the lexical side from the best chunks of the top dense documents
        (feedback.py): their stored lexical rows, document frequencies kept per generation."""
        weights = self.params.feedback
        chunks = feedback_chunks(found.dense, found.dense_best, weights.docs)
        known: dict[str, int] = self._cache.lookup(TERM_DF, None, dict)

        def frequencies(terms):
            missing = [t for t in terms if t not in known]
            if missing:
                known.update(self.kb.store.term_document_frequencies(missing))
            return known

        excluded = set(found.plan.terms) | set(found.plan.typed) | self.kb.analyzer.stopwords | self._generic()
        if not weights.organisations:
            excluded |= self._organisation_terms()
        return select_terms(self.kb.store.chunk_term_counts(chunks), frequencies, len(self._chunk_docs()),
                            excluded, weights)

    def planner(self) -> QueryPlanner:
        """A planner over the current analyzer, vocabulary and theme synonyms."""
        generic = self._generic() if self.params.expansion.generic else frozenset()
        return QueryPlanner(self.kb.analyzer, self._vocabulary(), self._synonyms(),
                            self.kb.store.term_document_frequency, self.params.expansion, generic)

    def _organisation_terms(self) -> frozenset[str]:
        """The analysed terms of every public document's organisation ("Luleå kommun": a place, not a topic)."""
        analyzer = self.kb.analyzer

        def terms(rows) -> frozenset[str]:   # each organisation analysed once, however many documents it has
            return frozenset(t for name in {row["organisation"] or "" for row in rows} for t in analyzer.index_terms(name))

        def patch(old: frozenset[str], changed: frozenset) -> frozenset[str]:
            # an organisation whose last document went stays in: a few words fewer to expand with
            rows = self._document_rows()
            return old | terms(rows[d] for d in changed if d in rows)
        return self._cache.lookup(ORGANISATION_TERMS, None, lambda: terms(self._document_rows().values()), patch)

    def _generic(self) -> frozenset[str]:
        """The stems of the generic words (kunskap/data/generic_sv.txt)."""
        return self._cache.lookup(GENERIC, None, lambda: generic_stems(self.kb.analyzer), lambda old, changed: old)

    # -- the pipeline ----------------------------------------------------------------------
    def _search(self, request: SearchRequest) -> SearchResult:
        ranked_as = self._while_building(request)
        result = self._ranked(ranked_as)
        if ranked_as is not request:
            result.semantic_notice = self.kb.semantic_status()["message"]
        return result

    def _while_building(self, request: SearchRequest) -> SearchRequest:
        """Until every passage has its vector (a first start builds them in the background), a
        hybrid search ranks by words alone: a half-built dense side would favour whichever
        documents were embedded first."""
        if request.mode == "hybrid" and not self.kb.vectors_complete:
            return dataclasses.replace(request, mode="lexical")
        return request

    def _ranked(self, request: SearchRequest) -> SearchResult:
        q = request.q.strip()
        if not has_search_words(q, self.kb.analyzer.stopwords):
            return SearchResult(q, None, [], 0, request.page, request.limit, self._facets(set(), request.filters),
                                empty_query_hint(q))
        found = self.candidates(request)
        ranked = rank(found, request.mode, self.params, self._document_themes)
        ranking = ranked.ranking
        if request.sort == "newest":
            sort_newest(ranking, self.kb.store.get_documents([d for d, _ in ranking]), hits=len(ranked.hit_set))
        start = (request.page - 1) * request.limit
        hits = hydrate(self.kb.store, self.kb.analyzer, ranking[start : start + request.limit], ranked.best_chunks,
                       set(found.plan.terms))
        return SearchResult(q, found.plan.searched_for, hits, len(ranked.hit_set), request.page, request.limit,
                            self._facets(ranked.hit_set, request.filters), None if hits else no_hits_hint(request.filters),
                            possible=ranked.possible)

    def hit_ids(self, request: SearchRequest) -> list[str]:
        """Every hit of a search, in the order of its result pages but without the "possible" ones;
        with no query, every public document passing the filters, newest first. What an export or a
        feed lists (the page and limit of the request are ignored)."""
        validate_request(request)
        self.kb.reload_if_changed()
        rows = {r["id"]: r for r in self._facet_rows(request.filters)}
        if not request.q.strip():
            return newest_first(list(rows.values()))
        if not has_search_words(request.q.strip(), self.kb.analyzer.stopwords):
            return []
        request = self._while_building(request)
        ranked = rank(self.candidates(request), request.mode, self.params, self._document_themes)
        ranking = ranked.ranking[: len(ranked.hit_set)]
        if request.sort == "newest":
            sort_newest(ranking, rows)
        return [d for d, _ in ranking if d in rows]

    def hit_set(self, request: SearchRequest) -> set[str]:
        """The documents a search counts as hits (for `kunskap eval`'s hit-set precision/recall)."""
        if not has_search_words(request.q.strip(), self.kb.analyzer.stopwords):
            return set()
        return rank(self.candidates(request), request.mode, self.params, self._document_themes).hit_set

    def _facets(self, hit_set: set[str], filters: Filters) -> dict[str, list[tuple[str, int]]]:
        """Counts over the hit set (the documents the query matched, with every filter applied):
        the rows of the hits only, so the cost follows the hits, not the corpus."""
        rows, allowed = self._document_rows(), self._allowed_documents(filters)
        return facet_counts([rows[d] for d in sorted(hit_set) if d in rows and d in allowed])

    def _allowed_documents(self, filters: Filters, exclude_organisation: str | None = None) -> frozenset[str]:
        """The public documents passing `filters` (kept per filter combination and generation)."""
        key = (filters.key(), exclude_organisation)

        def compute():
            ids = self.kb.store.filtered_document_ids(filters, public_only=True)
            if exclude_organisation is not None:
                rows = self._document_rows()
                ids = [d for d in ids if rows[d]["organisation"] != exclude_organisation]
            return frozenset(ids)

        def patch(old: frozenset, changed: frozenset) -> frozenset:
            if filters.active():     # the filter's SQL decides (kept for FILTER_CACHE_SIZE filters)
                return compute()
            rows = self._document_rows()    # every public document, patched itself
            now = {d for d in changed if d in rows and rows[d]["organisation"] != exclude_organisation}
            return (old - changed) | now
        return self._cache.lookup(ALLOWED, key, compute, patch)

    def _allowed_chunks(self, filters: Filters, allowed: frozenset[str]):
        """The chunk ids FAISS may return, or None when nothing is excluded (no selector needed)."""
        if not filters.active() and len(allowed) == self._cache.lookup(DOCUMENT_COUNT, None,
                                                                       self.kb.store.count_documents):
            return None
        return self._cache.lookup(ALLOWED_CHUNKS, filters.key(), lambda: self._chunk_table().chunks_of(allowed))

    def _browse_listing(self, filters: Filters) -> tuple[list[str], dict]:
        """Every public document passing `filters`, newest first, and their facet counts: what
        browsing pages through, computed once per filter combination and generation."""
        def compute():
            rows = self.kb.store.document_facet_rows(filters, public_only=True)
            return newest_first(rows), facet_counts(rows)
        return self._cache.lookup(BROWSE, filters.key(), compute)

    # -- lookups, kept until the knowledge base changes -----------------------------------
    # Each is patched from the previous generation's after a change of a few documents (the
    # documents a live save changed are known here and, through the vector journal, in other
    # processes): O(change) reads instead of every document's and chunk's row per save.
    def _changes_since(self, generation: int) -> frozenset | None:
        changed = self.kb.changed_documents(generation)
        return changed if changed is not None and len(changed) <= PATCH_MAX_DOCUMENTS else None

    def _now(self, changed: frozenset) -> tuple[dict[str, dict], dict[str, list[int]]]:
        """The stored rows and chunk ids of the `changed` documents (those deleted absent), read
        once per set of changes."""
        key = (self.kb.generation, changed)
        cached = self._changed_rows
        if cached is not None and cached[0] == key:
            return cached[1], cached[2]
        store = self.kb.store
        with store.snapshot():
            rows = store.get_documents(sorted(changed))
            chunks = {d: store.chunk_ids_for_documents([d]).tolist() for d in rows}
        self._changed_rows = (key, rows, chunks)
        return rows, chunks

    def _chunk_docs(self) -> dict[int, str]:
        def patch(old: dict[int, str], changed: frozenset) -> dict[int, str]:
            new = {c: d for c, d in old.items() if d not in changed}
            for doc_id, chunk_ids in self._now(changed)[1].items():
                new.update(dict.fromkeys(chunk_ids, doc_id))
            return new
        return self._cache.lookup(CHUNK_DOCS, None, self.kb.store.chunk_doc_map, patch)

    def _chunk_table(self) -> ChunkTable:
        return self._cache.lookup(CHUNK_TABLE, None, lambda: ChunkTable(self._chunk_docs()),
                                  lambda old, changed: old.patched(changed, self._now(changed)[1]))

    def _document_means(self) -> DocumentMeans:
        def vectors_of(doc_id: str):
            return self.kb.store.chunk_vectors(self.kb.embedder.model_id, self.kb.embedder.dimension, doc_id)[1]
        return self._cache.lookup(DOCUMENT_MEANS, None, lambda: DocumentMeans(vectors_of),
                                  lambda old, changed: old.without(changed))

    def _document_summaries(self) -> DocumentSummaries:
        """The cached vectors of each document's title + summary (embedded by bench/ablation.py)."""
        def vectors_of(documents: dict[str, dict]) -> dict:
            texts = {d: summary_text(row) for d, row in documents.items()}
            hashes = {d: text_hash(t) for d, t in texts.items() if t}
            cached = self.kb.store.cached_vectors(self.kb.embedder.model_id, sorted(set(hashes.values())),
                                                  self.kb.embedder.dimension)
            return {d: cached[h] for d, h in hashes.items() if h in cached}

        def compute():
            store = self.kb.store
            return DocumentSummaries(vectors_of(store.get_documents(sorted(store.document_states()))))
        return self._cache.lookup(SUMMARIES, None, compute,
                                  lambda old, changed: old.patched(changed, vectors_of(self._now(changed)[0])))

    def _words_since(self, generation: int) -> frozenset | None:
        changed = self.kb.changed_words(generation)
        return changed if changed is not None and len(changed) <= PATCH_MAX_WORDS else None

    def _vocabulary(self) -> Vocabulary:
        return self._words_cache.lookup(
            VOCABULARY, None, lambda: Vocabulary(self.kb.store.vocabulary()),
            lambda old, words: old.patched(words, self.kb.store.vocabulary_counts(sorted(words))))

    def _synonyms(self) -> SynonymTable:
        # From the theme table and the analyzer: a change of documents leaves it as it is (a new
        # analyzer comes with a full ingest or another process's whole index: no patch then).
        return self._cache.lookup(SYNONYMS, None,
                                  lambda: synonym_table(self.kb.themes.expansion_phrases(), self.kb.analyzer),
                                  lambda old, changed: old)

    def facet_rows(self, filters: Filters) -> list[dict]:
        """The facet rows (with their dates) of the public documents passing `filters`."""
        self.kb.reload_if_changed()
        return self._facet_rows(filters)

    def _facet_rows(self, filters: Filters) -> list[dict]:
        rows, allowed = self._document_rows(), self._allowed_documents(filters)
        return [rows[d] for d in sorted(allowed) if d in rows]

    def _document_rows(self) -> dict[str, dict]:
        """Public document -> its facet columns (themes decoded): facets of a search are counted
        over the rows of its hits."""
        def patch(old: dict[str, dict], changed: frozenset) -> dict[str, dict]:
            new = dict(old)
            for doc_id in changed:
                new.pop(doc_id, None)
            for doc_id, row in self._now(changed)[0].items():
                if row["status"] == PUBLIC:
                    new[doc_id] = {k: row[k] for k in FACET_COLUMNS}
            return new
        return self._cache.lookup(DOCUMENT_ROWS, None, lambda: {
            row["id"]: row for row in self.kb.store.document_facet_rows(Filters(), public_only=True)}, patch)

    def _document_themes(self) -> dict[str, frozenset[str]]:
        """Public document -> its theme tags."""
        def patch(old: dict[str, frozenset[str]], changed: frozenset) -> dict[str, frozenset[str]]:
            new, rows = dict(old), self._document_rows()
            for doc_id in changed:
                new.pop(doc_id, None)
                if doc_id in rows:
                    new[doc_id] = frozenset(rows[doc_id]["themes"])
            return new
        return self._cache.lookup(DOCUMENT_THEMES, None, lambda: {
            d: frozenset(row["themes"]) for d, row in self._document_rows().items()}, patch)
