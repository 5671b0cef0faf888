"""The storage interface every backend implements (SQLite now, PostgreSQL later)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ..models import Article, Link, Source

# Articles per write transaction, and per stored batch of `marsad.ingest` (one search-index
# segment, one round of the duplicate and story stages). 2,000 rather than 500 means a quarter
# as many index segments for FTS5 to merge later: writing the corpus's index took 3.6-4.8 s of
# CPU against 4.9-6.2 s (1,000: 4.1-5.7 s); an interrupted run redoes at most one batch.
BATCH_SIZE = 2000


@dataclass
class UpsertResult:
    """What an upsert did: ids of articles that were new, changed, or already stored as they are."""

    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def __iadd__(self, other: "UpsertResult") -> "UpsertResult":
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        return self


@runtime_checkable
class Store(Protocol):
    """A marsad database. Writes are idempotent: storing the same article twice changes nothing."""

    def upsert_articles(self, articles: Iterable[Article]) -> UpsertResult:
        """Insert new articles and update changed ones (matched by id), in batched transactions."""
        ...

    def get_article(self, article_id: str) -> Article:
        """The stored article with this id (a unique prefix is accepted); raises NotFound."""
        ...

    def iter_articles(self, *, batch_size: int = 1000) -> Iterator[Article]:
        """Every stored article, in insertion order."""
        ...

    def count_articles(self) -> int:
        """How many articles are stored."""
        ...

    def delete_articles(self, ids: Iterable[str]) -> int:
        """Delete articles (and their tags and links); returns how many were deleted."""
        ...

    def upsert_sources(self, sources: Iterable[Source]) -> None:
        """Insert or replace outlets by name."""
        ...

    def get_source(self, name: str) -> Source:
        """The outlet with this name; raises NotFound."""
        ...

    def list_sources(self) -> list[Source]:
        """Every known outlet, by name."""
        ...

    def add_links(self, links: Iterable[Link]) -> None:
        """Record relations between stored articles (ignored if already there)."""
        ...

    def links_from(self, article_id: str) -> list[Link]:
        """Relations starting at an article."""
        ...

    def links_to(self, article_id: str) -> list[Link]:
        """Relations ending at an article."""
        ...

    # -- entities (marsad.enrich) ---------------------------------------------------

    def save_enrichments(self, items: Iterable) -> int:
        """Replace articles' mentions, auto tags and tag links (marsad.enrich.Enrichment); returns how many."""
        ...

    def pending_enrichment(self, model: str, *, limit: int | None = None) -> list[str]:
        """Ids of articles never enriched, changed since, or enriched by another model."""
        ...

    def known_entity_aliases(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """(type, short name key) -> key of the full name earlier articles paired it with."""
        ...

    def article_mentions(self, article_id: str) -> list:
        """An article's entity mentions (marsad.enrich.StoredMention) in reading order."""
        ...

    def article_auto_tags(self, article_id: str) -> list[str] | None:
        """Tags suggested for an article; None if it was never enriched."""
        ...

    def tag_entities(self, tags: Iterable[str]) -> dict[str, int]:
        """Publisher tag -> id of the entity it names."""
        ...

    def list_entities(self, **filters) -> list:
        """Entities (marsad.enrich.EntitySummary) by article count; filters: type, country, key_prefix,
        since, source, limit, offset."""
        ...

    def find_entities(self, keys: Iterable[str], *, type: str | None = None) -> list:
        """Entities whose matching key is one of *keys*."""
        ...

    def entity_detail(self, entity_id: int, *, limit: int = 20):
        """An entity page's data (marsad.enrich.EntityDetail); raises NotFound."""
        ...

    def entity_article_ids(self, entity_ids: Iterable[int]) -> list[str]:
        """Ids of articles mentioning any of these entities, newest first."""
        ...

    def entity_facets(self, article_ids: Iterable[str], *, type: str | None = None, limit: int = 20) -> list:
        """(EntitySummary, article count) for the entities most named in these articles."""
        ...

    def stats(self) -> dict:
        """Counts for a summary: articles, sources, tags, links, date range, per-source counts."""
        ...

    def close(self) -> None:
        """Release the connection(s)."""
        ...
