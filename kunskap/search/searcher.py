"""The query pipeline, one code path for the CLI, the API, the pages and `kunskap eval`.

query -> Swedish analysis (stems, compound parts, theme synonyms, typo corrections)
      -> lexical candidates (FTS5 BM25, weighted per term)   ┐
      -> dense candidates (FAISS, exact filter by IDSelector) ┘ -> fusion per document
      -> hit set -> facets, sort, page -> snippets with stem- and compound-aware highlights.

Fusion is in `fusion.py` ("calibrated", chosen by measurement: eval/README.md). Paraphrases with
no shared content words fall back to dense; questions that share rare words with one passage are
decided lexically.
"""

from __future__ import annotations

import bisect
import html
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass

from ..analysis import tokenise
from ..errors import NotFoundError, OverloadedError
from ..knowledgebase import KnowledgeBase
from ..store import PUBLIC
from .dense import DENSE_CHUNKS, QueryVectors, allowed_chunk_ids, best_per_document, dense_candidates
from .lexical import lexical_candidates
from .planner import QueryPlan, QueryPlanner, SynonymTable, Vocabulary, synonym_table
from .ranking import Candidates, Ranking, RankingParams, rank, sort_newest
from .request import MAX_QUERY_CHARS, Filters, SearchRequest, validate_request

ENGLISH_LEXICAL_FACTOR = 0.1  # lexical evidence kept for an English query (names still count)
FACET_ROWS_CACHE_SIZE = 256   # filter combinations whose facet rows are kept


@dataclass
class Hit:
    doc_id: str
    score: float
    document: dict
    snippet: str            # HTML-safe, highlights in <mark>
    chunk_id: int | None
    page: int | None
    heading: str | None


@dataclass
class SearchResult:
    query: str
    searched_for: str | None     # the corrected query, when typos were corrected
    hits: list[Hit]
    total: int
    page: int
    limit: int
    facets: dict[str, list[tuple[str, int]]]
    hint: str | None = None


class Searcher:
    def __init__(self, kb: KnowledgeBase, params: RankingParams | None = None, query_cache_size: int = 1024):
        self.kb = kb
        self.params = params or RankingParams()
        self.query_vector = QueryVectors(self._encode, query_cache_size)
        self._cache_lock = threading.Lock()
        self._lookups_lock = threading.Lock()
        self._chunk_docs: dict[int, str] | None = None
        self._vocabulary: Vocabulary | None = None
        self._synonyms: SynonymTable | None = None
        self._facet_rows: dict[tuple, list[dict]] = {}
        self._document_themes: dict[str, frozenset[str]] | None = None
        self._generation = kb.generation
        self._result_cache: OrderedDict[str, SearchResult] = OrderedDict()
        self.result_cache_size = kb.settings.result_cache_size
        self.max_pending = kb.settings.max_pending_searches
        self._pending = 0
        self._pending_lock = threading.Lock()
        self.embed_seconds = 0.0

    # -- cached lookups (refreshed after writes) -------------------------------------------
    def invalidate(self) -> None:
        with self._cache_lock:
            self._result_cache.clear()
        with self._lookups_lock:
            self._chunk_docs = None
            self._vocabulary = None
            self._synonyms = None
            self._facet_rows = {}
            self._document_themes = None

    def refresh(self) -> None:
        """Drop cached lookups when the knowledge base has changed since they were made (here, or
        by a `kunskap ingest` in another process)."""
        self.kb.reload_if_changed()
        if self._generation != self.kb.generation:
            self._generation = self.kb.generation
            self.invalidate()

    def chunk_docs(self) -> dict[int, str]:
        with self._lookups_lock:
            if self._chunk_docs is None:
                self._chunk_docs = self.kb.store.chunk_doc_map()
            return self._chunk_docs

    def vocabulary(self) -> Vocabulary:
        with self._lookups_lock:
            if self._vocabulary is None:
                self._vocabulary = Vocabulary(self.kb.store.vocabulary())
            return self._vocabulary

    def synonyms(self) -> SynonymTable:
        with self._lookups_lock:
            if self._synonyms is None:
                self._synonyms = synonym_table(self.kb.themes.expansion_phrases(), self.kb.analyzer)
            return self._synonyms

    def planner(self) -> QueryPlanner:
        """A planner over the current analyzer, vocabulary and theme synonyms."""
        return QueryPlanner(self.kb.analyzer, self.vocabulary(), self.synonyms(),
                            self.kb.store.term_document_frequency, self.params.expansion)

    # -- candidates ------------------------------------------------------------------------
    def _encode(self, texts):
        import time

        started = time.perf_counter()
        vectors = self.kb.embedder.encode_queries(texts)
        with self._cache_lock:
            self.embed_seconds += time.perf_counter() - started
        return vectors

    # -- the pipeline ----------------------------------------------------------------------
    def allowed_documents(self, filters: Filters, public_only: bool = True) -> set[str] | None:
        if not filters.active() and not public_only:
            return None
        return set(self.kb.store.filtered_document_ids(filters, public_only))

    def candidates(self, request: SearchRequest) -> Candidates:
        """Lexical and dense candidates (per document, best chunk) for a request."""
        q = request.q.strip()[:MAX_QUERY_CHARS]
        plan = self.planner().plan(q, request.correct_typos)
        allowed = self.allowed_documents(request.filters)
        found = Candidates(plan=plan)
        if request.mode in ("hybrid", "lexical") and plan.terms:
            found.lexical, found.lexical_best, found.evidence = lexical_candidates(
                self.kb.store, plan, self.chunk_docs(), allowed, self.params.title_weight)
            if plan.english and request.mode == "hybrid":
                found.evidence *= ENGLISH_LEXICAL_FACTOR   # the multilingual model carries English queries
        if request.mode in ("hybrid", "dense") and plan.typed:
            allowed_chunks = allowed_chunk_ids(self.kb.store, allowed, request.filters.active())
            found.dense, found.dense_best = dense_candidates(self.kb.vectors, self.query_vector, plan.text_for_dense,
                                                             allowed_chunks, self.chunk_docs())
        return found

    def rank(self, request: SearchRequest) -> tuple[Ranking, QueryPlan]:
        """The ranked hit set of a request, and its query plan."""
        found = self.candidates(request)
        return rank(found, request.mode, self.params, self.document_themes), found.plan

    def cached(self, request: SearchRequest) -> SearchResult | None:
        """The cached result of an identical request, if the knowledge base has not changed (here or
        through another process's ingest; then the full path reloads first)."""
        if self._generation != self.kb.generation or self.kb.index_changed():
            return None
        with self._cache_lock:
            result = self._result_cache.get(repr(request))
            if result is not None:
                self._result_cache.move_to_end(repr(request))
            return result

    @contextmanager
    def admission(self):
        """Admit one search that is not cached (it will wait for the model), or raise
        OverloadedError when `max_pending_searches` are already waiting or running."""
        with self._pending_lock:
            if self.max_pending and self._pending >= self.max_pending:
                raise OverloadedError("Tjänsten har många sökningar just nu. Försök igen om en liten stund.")
            self._pending += 1
        try:
            yield
        finally:
            with self._pending_lock:
                self._pending -= 1

    def search(self, request: SearchRequest) -> SearchResult:
        """Search, with an LRU of whole results for repeated requests (emptied on any change)."""
        validate_request(request)
        self.refresh()
        key = repr(request)
        with self._cache_lock:
            cached = self._result_cache.get(key)
            if cached is not None:
                self._result_cache.move_to_end(key)
                return cached
        generation = self.kb.generation
        result = self._search(request)
        with self._cache_lock:
            if generation == self.kb.generation and self.result_cache_size:
                self._result_cache[key] = result
                if len(self._result_cache) > self.result_cache_size:
                    self._result_cache.popitem(last=False)
        return result

    def _search(self, request: SearchRequest) -> SearchResult:
        q = request.q.strip()
        if not any(t.text not in self.kb.analyzer.stopwords for t in tokenise(q)):
            hint = ("Skriv ett eller flera sökord, till exempel ”rättvis omställning” eller ”laddstolpar”."
                    if not q else "Sökningen innehöll inga sökbara ord. Prova med andra ord.")
            return SearchResult(q, None, [], 0, request.page, request.limit, self.facets(set(), request.filters), hint)
        ranked, plan = self.rank(request)
        ranking, best, hit_set = ranked.ranking, ranked.best_chunks, ranked.hit_set
        if request.sort == "newest":
            sort_newest(ranking, self.kb.store.get_documents([d for d, _ in ranking]))
        total = len(ranking)
        start = (request.page - 1) * request.limit
        page = ranking[start : start + request.limit]
        highlight_terms = set(plan.terms)
        store = self.kb.store
        with store.snapshot():   # documents and chunks from one consistent state (live edits)
            documents = store.get_documents([d for d, _ in page])
            chunks = store.get_chunks([best[d] for d, _ in page if best.get(d) is not None])
            for doc_id, _ in page:
                if doc_id in documents and best.get(doc_id) not in chunks:
                    # Replaced by a concurrent edit: take the document's current best chunk.
                    current = store.chunks_of(doc_id)
                    if current:
                        pick = max(current, key=lambda c: len(self.kb.analyzer.term_spans(c.text, highlight_terms)))
                        chunks[pick.id] = pick
                        best[doc_id] = pick.id
        page = [(d, s) for d, s in page if d in documents]   # removed by a concurrent delete
        hits = []
        for doc_id, score in page:
            chunk = chunks.get(best.get(doc_id))
            text = chunk.text if chunk else (documents[doc_id].get("summary") or "")
            hits.append(Hit(
                doc_id=doc_id, score=round(float(score), 4), document=hit_fields(documents[doc_id]),
                snippet=self.snippet(text, highlight_terms), chunk_id=chunk.id if chunk else None,
                page=chunk.page if chunk else None, heading=chunk.heading if chunk else None,
            ))
        searched_for = plan.searched_for
        hint = None
        if not hits:
            hint = ("Inga träffar med de valda filtren. Ta bort ett filter eller prova andra ord."
                    if request.filters.active() else "Inga träffar. Prova andra eller färre ord.")
        return SearchResult(q, searched_for, hits, total, request.page, request.limit,
                            self.facets(hit_set, request.filters), hint)

    # -- facets ----------------------------------------------------------------------------
    def facets(self, hit_set: set[str], filters: Filters) -> dict[str, list[tuple[str, int]]]:
        """Counts over the hit set (the documents the query matched, with every filter applied).
        With no query (browse), over every public document that passes the filters."""
        rows = [r for r in self.facet_rows(filters) if r["id"] in hit_set]
        return facet_counts(rows, self.kb)

    def document_themes(self) -> dict[str, frozenset[str]]:
        """Public document -> its theme tags (kept until the knowledge base changes)."""
        with self._lookups_lock:
            if self._document_themes is None:
                rows = self._facet_rows_locked(Filters())
                self._document_themes = {row["id"]: frozenset(row["themes"]) for row in rows}
            return self._document_themes

    def facet_rows(self, filters: Filters) -> list[dict]:
        """The facet columns of the public documents passing `filters` (themes decoded), kept
        until the knowledge base changes: every search counts facets over them. Read under the
        lookups lock, like the other lookups, so that `invalidate` cannot be overtaken by rows
        read before a change."""
        with self._lookups_lock:
            return self._facet_rows_locked(filters)

    def _facet_rows_locked(self, filters: Filters) -> list[dict]:
        key = filters.key()
        rows = self._facet_rows.get(key)
        if rows is None:
            rows = self.kb.store.document_facet_rows(filters, public_only=True)
            if len(self._facet_rows) >= FACET_ROWS_CACHE_SIZE:
                self._facet_rows.clear()
            self._facet_rows[key] = rows
        return rows

    def browse(self, filters: Filters, page: int = 1, limit: int = 10, sort: str = "newest") -> SearchResult:
        """All public documents passing the filters (no query), newest first."""
        rows = self.facet_rows(filters)
        ids = sorted(rows, key=lambda r: (-(r["year"] or 0), r["id"]))
        ids = [r["id"] for r in ids]
        start = (page - 1) * limit
        documents = self.kb.store.get_documents(ids[start : start + limit])
        hits = [Hit(d, 0.0, hit_fields(documents[d]), html.escape(documents[d].get("summary") or ""), None, None, None)
                for d in ids[start : start + limit]]
        return SearchResult("", None, hits, len(ids), page, limit, facet_counts(rows, self.kb))

    # -- snippets --------------------------------------------------------------------------
    def snippet(self, text: str, terms: set[str], words: int = 45) -> str:
        spans = self.kb.analyzer.term_spans(text, terms)
        tokens = self.kb.analyzer.analysed_text(text).word_spans()
        if not tokens:
            return ""
        # Choose the window of `words` words holding the most highlighted words.
        starts = [s for s, _ in tokens]
        hit_index = sorted({bisect.bisect_right(starts, a) - 1 for a, _ in spans})
        begin = 0
        if hit_index:
            best_count = -1
            for i in hit_index:
                lo = max(0, i - 8)
                count = bisect.bisect_left(hit_index, lo + words) - bisect.bisect_left(hit_index, lo)
                if count > best_count:
                    best_count, begin = count, lo
        end = min(len(tokens), begin + words)
        char_start, char_end = starts[begin], tokens[end - 1][1]
        out = ["… " if begin > 0 else ""]
        cursor = char_start
        for a, b in spans:
            if b <= char_start or a >= char_end:
                continue
            a, b = max(a, char_start), min(b, char_end)
            out.append(html.escape(text[cursor:a]))
            out.append(f"<mark>{html.escape(text[a:b])}</mark>")
            cursor = b
        out.append(html.escape(text[cursor:char_end]))
        if end < len(tokens):
            out.append(" …")
        return " ".join("".join(out).split())

    # -- similar documents -----------------------------------------------------------------
    def similar(self, doc_id: str, limit: int = 5, other_organisations: bool = True) -> list[Hit]:
        self.refresh()
        store = self.kb.store
        document = store.get_document(doc_id)
        if document is None or document["status"] != PUBLIC:
            raise NotFoundError(f"Dokumentet '{doc_id}' finns inte")
        centroid = self.kb.document_vector(doc_id)
        if centroid is None:
            return []
        allowed = self.allowed_documents(Filters())
        allowed.discard(doc_id)
        if other_organisations:
            docs = store.get_documents(sorted(allowed))
            allowed = {d for d, row in docs.items() if row["organisation"] != document["organisation"]}
        if not allowed:
            return []
        ids, scores = self.kb.vectors.search(centroid, DENSE_CHUNKS,
                                             allowed_ids=store.chunk_ids_for_documents(sorted(allowed)))
        best = best_per_document(ids, scores, self.chunk_docs())
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][1], kv[0]))[:limit]
        documents = store.get_documents([d for d, _ in ranked])
        return [Hit(d, round(s, 4), hit_fields(documents[d]), html.escape(documents[d].get("summary") or ""), c, None, None)
                for d, (c, s) in ranked]


HIT_FIELDS = ("id", "title", "organisation", "organisation_type", "county", "year", "themes", "kind", "summary",
              "published", "source_url", "language", "tags")


def hit_fields(document: dict) -> dict:
    """The document fields a result shows. Results are cached, and whole rows (body, curation
    notes, hashes) made a cached result 70 kB."""
    return {key: document.get(key) for key in HIT_FIELDS}


def facet_counts(rows: list[dict], kb: KnowledgeBase) -> dict[str, list[tuple[str, int]]]:
    from collections import Counter

    counters = {name: Counter() for name in ("theme", "organisation", "organisation_type", "county", "kind", "year")}
    for row in rows:
        for column in ("organisation", "organisation_type", "county", "kind", "year"):
            if row.get(column) not in (None, ""):
                counters[column][str(row[column])] += 1
        for slug in row["themes"]:
            counters["theme"][slug] += 1
    out = {}
    for name, counter in counters.items():
        if name == "year":
            out[name] = sorted(counter.items(), key=lambda kv: kv[0], reverse=True)
        else:
            out[name] = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    return out
