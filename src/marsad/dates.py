"""Publication dates in the many shapes Arabic news pages write them.

Entry point: `parse_date(text, reference=...)` -> `ParsedDate | None`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .models import Precision


@dataclass(frozen=True)
class ParsedDate:
    """A point in time (timezone-aware UTC) and how precisely the source gave it."""

    value: datetime
    precision: Precision


def parse_date(text: str, *, reference: datetime | None = None) -> ParsedDate | None:
    """Parse a date string; None when it holds no date. Never raises on bad input."""
    raise NotImplementedError  # being written
