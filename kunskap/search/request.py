"""What a search asks for: the query, the filters, the page. Plain values, no SQL: the storage
layer compiles `Filters` (`Store.filtered_document_ids`, `Store.document_facet_rows`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ValidationError

# The bounds of a search request, defined once: `validate_request` checks them for library
# callers (the CLI), and the web layer's search parameters declare them (web/deps.py).
MAX_QUERY_CHARS = 2000
LIMIT_RANGE = (1, 100)      # results per page
PAGE_RANGE = (1, 1000)
YEAR_RANGE = (1900, 2100)   # year_from / year_to filters
MODES = ("hybrid", "dense", "lexical")
SORTS = ("relevance", "newest")


@dataclass
class Filters:
    """Exact filters on the documents; several values of one field mean "any of"."""

    organisation: list[str] = field(default_factory=list)
    organisation_type: list[str] = field(default_factory=list)
    county: list[str] = field(default_factory=list)
    theme: list[str] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    # SKR's municipality groups (A1..C9): the store compiles them to the municipalities in them.
    kommungrupp: list[str] = field(default_factory=list)
    year_from: int | None = None
    year_to: int | None = None

    def active(self) -> bool:
        return bool(
            self.organisation or self.organisation_type or self.county or self.theme or self.kind or self.kommungrupp
            or self.year_from is not None or self.year_to is not None
        )

    def key(self) -> tuple:
        """A hashable value equal for equal filters (lists keep their order, as the SQL did)."""
        return (tuple(self.organisation), tuple(self.organisation_type), tuple(self.county),
                tuple(self.theme), tuple(self.kind), self.year_from, self.year_to, tuple(self.kommungrupp))


@dataclass
class SearchRequest:
    q: str
    filters: Filters = field(default_factory=Filters)
    page: int = 1
    limit: int = 10
    sort: str = "relevance"
    mode: str = "hybrid"
    correct_typos: bool = True


def validate_request(request: SearchRequest) -> None:
    if len(request.q) > MAX_QUERY_CHARS:
        raise ValidationError("q", f"Sökfrågan får vara högst {MAX_QUERY_CHARS} tecken")
    for name, (low, high) in (("limit", LIMIT_RANGE), ("page", PAGE_RANGE)):
        if not low <= getattr(request, name) <= high:
            raise ValidationError(name, f"{name} ska vara mellan {low} och {high}")
    if request.sort not in SORTS:
        raise ValidationError("sort", "sort ska vara relevance eller newest")
    if request.mode not in MODES:
        raise ValidationError("mode", "mode ska vara hybrid, dense eller lexical")
    f = request.filters
    if f.year_from is not None and f.year_to is not None and f.year_from > f.year_to:
        raise ValidationError("year_from", "year_from kan inte vara större än year_to")
