"""marsad (مرصد): an Arabic-first news aggregation and monitoring platform."""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import MarsadError, NotFound, ParseError, Rejected, StoreError  # noqa: E402
from .models import Article, Link, Source  # noqa: E402
from .pipeline import IngestReport, ingest  # noqa: E402
from .store import Store, open_store  # noqa: E402
from . import search  # noqa: E402  (a callable package: marsad.search(db, query, ...))

__all__ = [
    "Article", "IngestReport", "Link", "MarsadError", "NotFound", "ParseError", "Rejected", "Source",
    "Store", "StoreError", "ingest", "open_store", "search",
]
