"""The storage interface: what search, ingest, curation and accounts ask of a backend.

Two backends implement it: `sqlite.SQLiteStore` (the embedded default, next to a FAISS index)
and `postgres.PostgresStore` (PostgreSQL + pgvector, shared by several servers). Both are run
against one contract test suite (tests/test_storage_contract.py), so a behaviour the search is
calibrated on — above all the BM25 of the lexical candidates — means the same in each.

Values crossing the interface are plain: dicts for document, revision and account rows (JSON
columns decoded), `ChunkRow` for chunks, numpy arrays for vectors and id sets, and the search's
`Filters` value object, which each backend compiles into its own SQL.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections import Counter
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Protocol, Sequence, runtime_checkable

import numpy as np

if TYPE_CHECKING:   # a value object of the search package; imported for the annotation only
    from ..search.request import Filters

JSON_COLUMNS = ("themes", "tags", "extra", "curation_notes")
PUBLIC = "published"

# The BM25 of SQLite FTS5 (fts5_aux.c), which the fusion weights were calibrated on: every
# backend scores a term exactly so. idf = ln((N - n + 0.5) / (n + 0.5)), or 1e-6 when that is
# not positive; tf = the term's occurrences weighted by column (title weight, body 1.0);
# D = the row's tokens in all columns, avgdl = all tokens / N.
BM25_K1 = 1.2
BM25_B = 0.75
BM25_MIN_IDF = 1e-6

# Columns of the save journal that a caller may set (curation's revision rows).
REVISION_COLUMNS = ("doc_id", "path", "action", "username", "created_at", "previous_content", "content",
                    "previous_sidecar", "sidecar", "note", "state", "target", "error", "idempotency_key")


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass
class ChunkRow:
    id: int
    doc_id: str
    order: int
    text: str
    heading: str | None
    page: int | None


def json_default(column: str):
    return {} if column == "extra" else []


def encode_record(record: dict) -> dict:
    """A document record with its JSON columns as JSON text (as both backends store them)."""
    record = dict(record)
    for column in JSON_COLUMNS:
        record[column] = json.dumps(record.get(column) or json_default(column), ensure_ascii=False)
    return record


def decode_row(row: dict) -> dict:
    """A document row with its JSON columns decoded (empty ones as [] or {})."""
    for column in JSON_COLUMNS:
        if column in row:
            value = row[column]
            row[column] = json.loads(value) if isinstance(value, str) and value else (
                value if value else json_default(column))
    return row


def kommungrupp_organisations(codes: Sequence[str]) -> list[str]:
    """The organisations in SKR's municipality groups `codes` (A1..C9): what a kommungrupp filter
    selects. Reference data, not a column: a municipality's group changes when SKR revises it,
    not when a document does."""
    from ..reference import organisations_in_kommungrupper

    return list(organisations_in_kommungrupper(codes))


# FTS5's unicode61 token characters: letters (L*), numbers (N*) and private use (Co). `[^\W_]`
# is exactly L* and N* in Python's Unicode regexes (checked against unicodedata over every code
# point: tests/test_lexical_postings.py).
TOKEN_CHARS = re.compile(r"(?:[^\W_]|[\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd])+")


def lexical_tokens(text: str) -> list[str]:
    """The tokens FTS5's unicode61 tokenizer (remove_diacritics 0) finds in an analysed text:
    runs of letters, digits and private-use characters, case-folded. A backend that scores BM25
    itself counts these, so its term frequencies and lengths are those SQLite counts."""
    words = text.split()                 # whitespace never belongs to a token
    if all(map(str.isalnum, words)):     # letters and numbers only: an analysed text, as a rule
        return text.lower().split()
    tokens = []
    for word in words:
        tokens.extend(token.lower() for token in (TOKEN_CHARS.findall(word) if not word.isalnum() else [word]))
    return tokens


def mask_url(url: str) -> str:
    """A database URL (or libpq keyword string) with its password replaced by ***, for messages."""
    url = re.sub(r"^([a-z][a-z0-9+.-]*://[^:/@?#]*):[^@/?#]*@", r"\1:***@", url, flags=re.IGNORECASE)
    return re.sub(r"(password=)[^&\s]*", r"\1***", url, flags=re.IGNORECASE)


# Postings are kept in the order of this key, so that a term's best rows are read first and a
# search reads at most `limit` of them however common the term is (impact-ordered postings:
# the cost of a term no longer follows the length of its posting list). The key is BM25's
# term-frequency part with the shipped title weight and a fixed length norm; the score itself
# is computed when the rows are read, with the current totals and idf, so a row's score is
# exact and only the order near the `limit` of a very common term is approximate.
ORDER_TITLE_WEIGHT = 2.0   # RankingParams.title_weight as shipped
ORDER_AVGDL = 100.0        # about the analysed length of a 90-word chunk with its title


def impact_key(title_tf: int, body_tf: int, length: int) -> float:
    """The order of a posting within its term (higher first)."""
    freq = ORDER_TITLE_WEIGHT * title_tf + body_tf
    return round(freq * (BM25_K1 + 1.0) / (freq + BM25_K1 * (1.0 - BM25_B + BM25_B * length / ORDER_AVGDL)), 9)


LEXICAL_BATCH = 2000   # lexical rows whose postings are built and written at once (re-derived in bulk)


def batched(rows: Iterable, size: int) -> Iterable[list]:
    """`rows` in lists of `size` (the last one shorter)."""
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def analysed_postings(title: str, body: str) -> tuple[int, list[tuple[str, int, int]]]:
    """An analysed lexical row as FTS5 counts it: its length in tokens and, per distinct term,
    (term, frequency in the title, frequency in the body)."""
    title_tf, body_tf = Counter(lexical_tokens(title)), Counter(lexical_tokens(body))
    length = sum(title_tf.values()) + sum(body_tf.values())
    return length, [(term, title_tf[term], body_tf[term]) for term in sorted(title_tf.keys() | body_tf.keys())]


def bm25_idf(rows: int, df: int) -> float:
    """FTS5's idf: log((N − n + 0.5) / (n + 0.5)), and a tiny positive value where that is ≤ 0."""
    idf = math.log((rows - df + 0.5) / (df + 0.5)) if rows else 0.0
    return idf if idf > 0 else BM25_MIN_IDF


def score_postings(postings: Sequence[tuple[int, int, int, int]], df: int, rows: int, tokens: int,
                   title_weight: float) -> tuple[np.ndarray, np.ndarray]:
    """FTS5's BM25 of one term for rows (chunk id, title tf, body tf, length), in their order: what
    `bm25(chunks_fts, title_weight, 1.0)` gives for a one-term query. (chunk ids, scores)."""
    if not postings:
        return np.empty(0, np.int64), np.empty(0, np.float64)
    table = np.asarray(postings, dtype=np.float64)
    idf, avgdl = bm25_idf(rows, df), (tokens / rows if rows else 1.0)
    return table[:, 0].astype(np.int64), bm25(title_weight * table[:, 1] + table[:, 2], table[:, 3], avgdl, idf)


def single_terms(terms: Iterable[str]) -> dict[str, str]:
    """Analysed term -> the one token it is to the lexical rows (terms that are not one token
    match nothing: FTS5 would read several as a phrase, which the postings cannot answer)."""
    found = {}
    for term in terms:
        tokens = lexical_tokens(term)
        if len(tokens) == 1:
            found[term] = tokens[0]
    return found


def best_first(ids: np.ndarray, scores: np.ndarray) -> list[tuple[int, float]]:
    """[(chunk id, score)], best first, ties by chunk id."""
    order = np.lexsort((ids, -scores))
    return list(zip(ids[order].tolist(), scores[order].tolist()))


def bm25(freq, length, avgdl: float, idf: float):
    """One term's FTS5 BM25 for a row (or, given arrays, for rows): for tests and for the
    backends, which score their postings in Python."""
    return idf * (freq * (BM25_K1 + 1.0)) / (freq + BM25_K1 * (1.0 - BM25_B + BM25_B * length / avgdl))


def click_positions(by_shown: Iterable[tuple[int, int]], clicked: dict[int, int], max_position: int) -> list[dict]:
    """Per position 1..max_position: searches showing a result there (those that showed at least
    that many) and searches whose result there was clicked."""
    by_shown = list(by_shown)
    return [{"position": p, "shown": sum(n for shown, n in by_shown if shown >= p), "clicked": clicked.get(p, 0)}
            for p in range(1, max_position + 1)]


@runtime_checkable
class Store(Protocol):
    """One knowledge base's database. Writers call it inside `KnowledgeBase.writing()`; every
    write method is atomic on its own and joins an open `transaction()`."""

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None: ...
    def transaction(self) -> AbstractContextManager: ...
    def snapshot(self) -> AbstractContextManager: ...

    # -- documents -----------------------------------------------------------------------------
    def document_states(self) -> dict[str, dict]: ...
    def get_document(self, doc_id: str) -> dict | None: ...
    def get_documents(self, doc_ids: Sequence[str]) -> dict[str, dict]: ...
    def count_documents(self, public_only: bool = False) -> int: ...
    def count_chunks(self) -> int: ...
    def replace_document(self, record: dict, chunks: Sequence[dict],
                         fts_rows: Sequence[tuple[str, str]]) -> tuple[list[int], list[int]]: ...
    def delete_document(self, doc_id: str) -> list[int]: ...
    def set_status(self, doc_id: str, status: str) -> None: ...

    # -- chunks --------------------------------------------------------------------------------
    def get_chunks(self, chunk_ids: Iterable[int]) -> dict[int, ChunkRow]: ...
    def chunks_of(self, doc_id: str) -> list[ChunkRow]: ...
    def embed_texts(self, chunk_ids: Sequence[int]) -> list[tuple[str, str]]: ...
    def chunk_ids(self) -> list[int]: ...
    def chunk_fingerprint(self) -> tuple[int, int, int]: ...
    def cached_chunk_fingerprint(self, model_id: str) -> tuple[int, int, int]: ...
    def chunk_doc_map(self) -> dict[int, str]: ...
    def chunk_ids_for_documents(self, doc_ids: Sequence[str]) -> np.ndarray: ...
    def all_chunk_texts(self) -> Iterable[tuple[str, str]]: ...

    # -- embedding cache -----------------------------------------------------------------------
    def cached_vectors(self, model_id: str, hashes: Sequence[str], dimension: int) -> dict[str, np.ndarray]: ...
    def put_vectors(self, model_id: str, vectors: dict[str, np.ndarray]) -> None: ...
    def unembedded_chunk_ids(self, model_id: str) -> list[int]: ...

    def chunk_vectors(self, model_id: str, dimension: int, doc_id: str | None = None
                      ) -> tuple[np.ndarray, np.ndarray, list[int]]: ...

    # -- revisions and the save journal --------------------------------------------------------
    def last_revision_id(self) -> int: ...
    def revision_paths_since(self, revision_id: int) -> list[str]: ...
    def begin_revision(self, row: dict, files: Sequence[tuple[str, bytes | None, str | None]]) -> int: ...
    def end_revision(self, revision_id: int, state: str, error: str | None = None,
                     note: str | None = None) -> None: ...
    def pending_revisions(self) -> list[dict]: ...
    def revision_for_key(self, username: str, key: str) -> dict | None: ...
    def revision_state(self, revision_id: int) -> dict | None: ...

    # -- curation's reads ----------------------------------------------------------------------
    def curation_documents(self, status: str | None = None) -> list[dict]: ...
    def document_titles(self) -> list[dict]: ...
    def revisions_of(self, doc_id: str) -> list[dict]: ...
    def get_revision(self, revision_id: int) -> dict | None: ...
    def deletions_not_undone(self) -> list[dict]: ...

    # -- vocabulary ----------------------------------------------------------------------------
    def replace_vocabulary(self, counts: Counter) -> None: ...
    def adjust_vocabulary(self, delta: Counter) -> None: ...
    def vocabulary_counts(self, words: Sequence[str]) -> dict[str, int]: ...
    def vocabulary(self) -> dict[str, int]: ...
    def replace_lexicon(self, words: Iterable[str]) -> None: ...
    def lexicon(self) -> set[str]: ...

    # -- lexical -------------------------------------------------------------------------------
    def fts_term(self, term: str, title_weight: float, limit: int) -> list[tuple[int, float]]: ...
    def term_postings(self, term: str, title_weight: float, limit: int) -> tuple[np.ndarray, np.ndarray]: ...
    def postings_within(self, terms: Sequence[str], title_weight: float,
                        chunk_ids: Sequence[int]) -> dict[str, tuple[np.ndarray, np.ndarray]]: ...
    def term_document_frequency(self, term: str) -> int: ...
    def term_document_frequencies(self, terms: Sequence[str]) -> dict[str, int]: ...
    def chunk_term_counts(self, chunk_ids: Sequence[int]) -> dict[int, Counter]: ...
    def lexical_sources(self) -> list[tuple[int, str | None, str, str, str]]: ...
    def replace_lexical_rows(self, rows: Iterable[tuple[int, str, str]]) -> None: ...

    # -- filters and facets --------------------------------------------------------------------
    def filtered_document_ids(self, filters: Filters, public_only: bool = True) -> list[str]: ...
    def document_facet_rows(self, filters: Filters, public_only: bool = True) -> list[dict]: ...

    # -- change generation ---------------------------------------------------------------------
    def change_generation(self) -> int: ...

    # -- accounts, sessions, API tokens, login attempts -----------------------------------------
    def insert_user(self, username: str, display_name: str, password_hash: str, now: str) -> None: ...
    def user_row(self, username: str) -> dict | None: ...
    def user_rows(self) -> list[dict]: ...
    def set_user_active(self, user_id: int, active: bool, now: str) -> None: ...
    def set_password_hash(self, user_id: int, password_hash: str, now: str) -> None: ...
    def count_login_attempts(self, key: str, since: float) -> int: ...
    def add_login_attempt(self, key: str, at: float) -> None: ...
    def clear_login_attempts(self, key: str) -> None: ...
    def insert_session(self, token_hash: str, user_id: int, csrf_token: str, created_at: str,
                       expires_at: str) -> None: ...
    def session_row(self, token_hash: str) -> dict | None: ...
    def delete_session(self, token_hash: str) -> None: ...
    def delete_sessions_of(self, user_id: int) -> None: ...
    def delete_expired_sessions(self, now: str) -> None: ...
    def insert_token(self, token_hash: str, name: str, user_id: int, created_at: str) -> None: ...
    def token_rows(self) -> list[dict]: ...
    def token_row(self, token_hash: str) -> dict | None: ...
    def revoke_token(self, token_id: int) -> bool: ...
    def revoke_tokens_of(self, user_id: int) -> None: ...
    def touch_token(self, token_id: int, now: str) -> None: ...

    # -- search insights: the search log (no personal data; see kunskap/insights.py) ------------
    def record_searches(self, rows: Sequence[dict]) -> None: ...
    def record_clicks(self, rows: Sequence[dict]) -> None: ...
    def prune_search_log(self, before: dt.date) -> tuple[int, int]: ...
    def search_log_totals(self, since: dt.date, few_hits: int) -> dict: ...
    def search_queries(self, since: dt.date, order: str, min_searches: int, min_days: int, few_hits: int,
                       limit: int) -> list[dict]: ...
    def rare_search_queries(self, since: dt.date, min_searches: int, min_days: int, few_hits: int) -> dict: ...
    def search_themes(self, since: dt.date, limit: int) -> list[dict]: ...
    def search_weeks(self, since: dt.date, few_hits: int) -> list[dict]: ...
    def search_click_positions(self, since: dt.date, max_position: int) -> list[dict]: ...
