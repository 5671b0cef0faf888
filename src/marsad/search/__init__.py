"""Arabic-aware full-text search: analyzer, query language, SQLite FTS5 index, ranked results with snippets.

    from marsad import search
    results = search("marsad.db", '"وزارة الداخلية" source:sabq from:2015-08-01', limit=10)

The analyzer (`analyzer.py`) and the query parser (`query.py`) are backend-neutral;
`fts5.py` and `index.py` are the SQLite side.
"""

from __future__ import annotations

import sys
import types

from .analyzer import Analyzer, default_analyzer
from .engine import Facets, SearchHit, SearchResults, search
from .query import InvalidQuery, Query, parse_query

__all__ = [
    "Analyzer", "Facets", "InvalidQuery", "Query", "SearchHit", "SearchResults", "default_analyzer",
    "parse_query", "search",
]


class _CallableModule(types.ModuleType):
    """Lets `marsad.search(db, query)` work while `marsad.search` stays this package."""

    def __call__(self, *args, **kwargs) -> SearchResults:
        return search(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
