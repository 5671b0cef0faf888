"""The data that flows through marsad: plain dataclasses, nothing clever."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from .urls import canonicalize_url

Precision = Literal["day", "minute", "second"]


def _digest(*parts: str) -> str:
    return hashlib.sha1("\x00".join(parts).encode("utf-8")).hexdigest()


def content_hash(title: str, paragraphs: list[str]) -> str:
    """Hash of an article's exact title and text (changes when either changes)."""
    return _digest(title, "\n".join(paragraphs))


def article_id(canonical_url: str | None, title: str, paragraphs: list[str]) -> str:
    """Stable id: from the canonical URL when there is one, else from the content.

    Content-derived ids (as sqlite-utils' hash_id and miniflux's entry hash) make
    ingesting the same input twice harmless.
    """
    if canonical_url:
        return _digest("url", canonical_url)[:16]
    return _digest("text", title, "\n".join(paragraphs))[:16]


@dataclass
class Article:
    """One news article as marsad stores it.

    `paragraphs` is the body exactly as published (diacritics and all); matching
    keys are derived elsewhere and never written back here.
    """

    title: str
    paragraphs: list[str] = field(default_factory=list)
    url: str | None = None
    source: str | None = None
    source_inferred: bool = False
    published_at: datetime | None = None  # timezone-aware UTC
    date_precision: Precision | None = None
    tags: list[str] = field(default_factory=list)
    language: str | None = None
    author: str | None = None
    fetched_at: datetime | None = None
    origin: str = ""  # where it came from: "path", "path:line", a feed URL ...
    read_also: list[str] = field(default_factory=list)  # ids of glued read-also articles
    canonical_url: str | None = None
    id: str = ""
    content_hash: str = ""

    def __post_init__(self) -> None:
        if self.canonical_url is None and self.url:
            self.canonical_url = canonicalize_url(self.url)
        if not self.content_hash:
            self.content_hash = content_hash(self.title, self.paragraphs)
        if not self.id:
            self.id = article_id(self.canonical_url, self.title, self.paragraphs)
        if self.published_at is not None and self.published_at.tzinfo is None:
            raise ValueError("published_at must be timezone-aware")

    @property
    def text(self) -> str:
        """The body paragraphs joined with newlines."""
        return "\n".join(self.paragraphs)


@dataclass
class Source:
    """A news outlet."""

    name: str
    homepage: str | None = None
    feeds: list[str] = field(default_factory=list)
    language: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2
    aliases: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Link:
    """A directed relation between two stored articles (e.g. a page's read-also block)."""

    from_id: str
    to_id: str
    kind: str = "read_also"
