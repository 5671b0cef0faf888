"""Scraped aggregator text pages: a title, a date line, paragraphs, metadata lines
and "read also" blocks that glue further articles onto the page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ..models import Article


def read_text_file(path: str | Path) -> str:
    """Read a text page whatever its encoding; raise ParseError naming the file if unreadable."""
    raise NotImplementedError


def parse_text_page(text: str, origin: str = "", *, reference: datetime | None = None) -> list[Article]:
    """Split a page into its main article and its read-also articles, in page order."""
    raise NotImplementedError


def parse_text_file(path: str | Path, *, reference: datetime | None = None) -> list[Article]:
    """Read and parse one text page file."""
    return parse_text_page(read_text_file(path), origin=str(path), reference=reference)
