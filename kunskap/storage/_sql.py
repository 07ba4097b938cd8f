"""SQL that both backends share, written once: a search's `Filters` as a WHERE clause over
`documents` and the queries that use it, and the embedding cache joined to the chunks. Only the few pieces the two dialects spell differently
(placeholders, "one of these values", "any of these themes", true and false) are the backend's,
given as a `FilterDialect`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import numpy as np

from .base import PUBLIC, kommungrupp_organisations

if TYPE_CHECKING:
    from ..search.request import Filters

FILTERED_IDS = "SELECT id FROM documents WHERE {where}"
# With the dates that order a feed or an export (published, updated_at).
FACET_ROWS = ("SELECT id, organisation, organisation_type, county, kind, year, themes, published, updated_at "
              "FROM documents WHERE {where}")


@dataclass(frozen=True)
class FilterDialect:
    """How one backend writes the parts of a filter that differ between SQL dialects."""

    placeholder: str
    true: str
    false: str
    any_of: Callable[[str, Sequence[str]], tuple[str, list]]   # column, values -> clause, params
    any_theme: Callable[[Sequence[str]], tuple[str, list]]     # theme slugs -> clause, params


def filter_where(filters: Filters, public_only: bool, dialect: FilterDialect) -> tuple[str, list]:
    """The WHERE clause (and its parameters) selecting the documents that pass `filters`."""
    clauses: list[str] = []
    params: list = []

    def add(clause: str, values: Sequence = ()) -> None:
        clauses.append(clause)
        params.extend(values)

    p = dialect.placeholder
    if public_only:
        add(f"status = {p}", [PUBLIC])
    for column, values in (
        ("organisation", filters.organisation), ("organisation_type", filters.organisation_type),
        ("county", filters.county), ("kind", filters.kind),
    ):
        if values:
            add(*dialect.any_of(column, values))
    if filters.theme:
        add(*dialect.any_theme(filters.theme))
    if filters.kommungrupp:
        # The organisations in those groups (reference data, not a column: a municipality's
        # group changes when SKR revises it, not when a document does); none selects nothing.
        names = kommungrupp_organisations(filters.kommungrupp)
        add(*dialect.any_of("organisation", names)) if names else add(dialect.false)
    if filters.year_from is not None:
        add(f"year >= {p}", [filters.year_from])
    if filters.year_to is not None:
        add(f"year <= {p}", [filters.year_to])
    return (" AND ".join(clauses) or dialect.true), params


# -- the embedding cache joined to the chunks ------------------------------------------------------
def chunk_vectors_query(placeholder: str, model_id: str, doc_id: str | None) -> tuple[str, list]:
    """Every chunk (of one document, if given) with its cached vector of `model_id`, or NULL."""
    where, params = (f"WHERE c.doc_id = {placeholder}", [model_id, doc_id]) if doc_id else ("", [model_id])
    return ("SELECT c.id, e.vector FROM chunks c LEFT JOIN embeddings e "
            f"ON e.model_id = {placeholder} AND e.text_hash = c.embed_hash {where} ORDER BY c.id"), params


def unembedded_query(placeholder: str) -> str:
    """Chunks whose embedding of a model (the one parameter) is not cached: ids only."""
    return (f"SELECT c.id FROM chunks c LEFT JOIN embeddings e ON e.model_id = {placeholder} "
            "AND e.text_hash = c.embed_hash WHERE e.text_hash IS NULL ORDER BY c.id")


def split_cached(rows: Iterable[tuple[int, bytes | None]], dimension: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(chunk id, vector bytes or None) rows as (ids, matrix) of those with a vector of this
    dimension, plus the ids of the others (not embedded yet, or by a model of another size)."""
    ids, vectors, missing = [], [], []
    for chunk_id, blob in rows:
        vector = None if blob is None else np.frombuffer(bytes(blob), dtype=np.float32)
        if vector is None or vector.shape[0] != dimension:
            missing.append(chunk_id)
            continue
        ids.append(chunk_id)
        vectors.append(vector)
    matrix = np.vstack(vectors).astype(np.float32) if vectors else np.zeros((0, dimension), np.float32)
    return np.asarray(ids, dtype=np.int64), matrix, missing
