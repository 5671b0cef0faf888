"""Plain dataclasses that enrichment produces and the store keeps (no model code imported here)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class EntityRef:
    """A canonical entity as enrichment names it: type plus matching key, with display data."""

    type: str  # PERS, LOC, ORG, MISC
    key: str  # folded, clitic-free, spelling-variant-free name: what groups mentions
    name: str  # display name (the alias file's canonical name, else the first clean surface form)
    country: str | None = None  # ISO alpha-2, for places
    place_kind: str | None = None  # "country" or "city"
    place_id: str | None = None  # ISO code or GeoNames id
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class EntityMention:
    """One mention in an article: where it is (field + offsets into that field) and what it names."""

    field: str  # "title" or "text" (offsets are into Article.title / Article.text)
    start: int
    end: int
    text: str  # exactly as published
    type: str
    entity: EntityRef


@dataclass(frozen=True)
class TaggedArticle:
    """What tagging found in one article: everything linking needs, without the article's text.

    Tagging (the expensive part) depends on the article alone, so it can run anywhere, e.g. on
    Dask workers; linking depends on the aliases a store has learnt, so it runs where the store is.
    """

    article_id: str
    content_hash: str
    mentions: tuple[tuple[str, int, int, str, str], ...]  # (field, start, end, text, type), title first
    tags: tuple[str, ...] = ()  # the publisher's tags
    phrases: tuple[str, ...] = ()  # key phrases for auto tags (found only when there are no publisher tags)


@dataclass
class Enrichment:
    """Everything enrichment derived from one article."""

    article_id: str
    content_hash: str
    model: str  # the tagger version, so a new model re-enriches
    mentions: list[EntityMention] = field(default_factory=list)
    auto_tags: list[str] = field(default_factory=list)  # suggested when the publisher gave none
    tag_entities: dict[str, EntityRef] = field(default_factory=dict)  # publisher tag -> the entity it names
    aliases: list[tuple[str, str, str]] = field(default_factory=list)  # (type, short key, full key) learnt here


@dataclass(frozen=True)
class EntitySummary:
    """A stored entity with its counts, as lists and facets show it."""

    id: int
    type: str
    key: str
    name: str
    mentions: int = 0
    articles: int = 0
    country: str | None = None
    place_kind: str | None = None
    place_id: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    first_seen: str | None = None
    last_seen: str | None = None


@dataclass
class EntityDetail:
    """An entity page: the entity, its spellings, timeline, outlets, company and latest articles."""

    entity: EntitySummary
    spellings: list[tuple[str, int]] = field(default_factory=list)  # surface forms by frequency
    timeline: list[tuple[str, int]] = field(default_factory=list)  # (YYYY-MM-DD, mentions)
    outlets: list[tuple[str, int]] = field(default_factory=list)  # (source, articles)
    cooccurring: list[tuple[EntitySummary, int]] = field(default_factory=list)  # (entity, shared articles)
    articles: list[str] = field(default_factory=list)  # latest article ids


@dataclass(frozen=True)
class StoredMention:
    """A mention read back from the store, with its entity's id."""

    field: str
    start: int
    end: int
    text: str
    type: str
    entity_id: int
    entity_name: str
    entity_key: str
