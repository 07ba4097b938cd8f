"""The query pipeline, one code path for the CLI, the API, the pages and `kunskap eval`.

`Searcher` (searcher.py) is the facade over planner, lexical, dense, ranking and results; the
request and its filters are plain values (request.py); cache.py keeps what is derived from the
index per generation of the knowledge base.
"""

from .planner import QueryPlan
from .ranking import RankingParams
from .request import MAX_QUERY_CHARS, MODES, SORTS, Filters, SearchRequest, validate_request
from .results import Hit, SearchResult
from .searcher import Searcher

__all__ = ["MAX_QUERY_CHARS", "MODES", "SORTS", "Filters", "Hit", "QueryPlan", "RankingParams", "SearchRequest",
           "SearchResult", "Searcher", "validate_request"]
