"""Enrichment: who and where an article is about.

    mentions   the shipped CRF tags PERS / LOC / ORG / MISC (marsad.enrich.ner)
    entities   mentions grouped into canonical entities (marsad.enrich.entities)
    places     LOC entities resolved to countries and cities (marsad.enrich.places)
    tags       tags suggested, or publisher tags linked to entities (marsad.enrich.autotags)

`enrich_article` is pure (an Article in, an Enrichment out): `tag_article` (NER and key
phrases, the article alone) then `enrichment_from_mentions` (entities, against the aliases a
store has learnt); `enrich_articles`, `save_tagged` and `enrich_store` write to a store;
the read functions below are what the CLI, the search module and the reader call.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from ..models import Article
from .records import EntityDetail, EntityMention, EntityRef, EntitySummary, Enrichment, StoredMention, TaggedArticle

__all__ = [
    "ArticleEntities", "EntityDetail", "EntityMention", "EntityRef", "EntitySummary", "Enrichment",
    "StoredMention", "TaggedArticle", "articles_for_entity", "enrich_article", "enrich_articles", "enrich_store",
    "enrichment_from_mentions", "entities_for_article", "entity_detail", "find_entities", "list_entities",
    "model_version", "save_tagged", "tag_article", "tag_articles",
]


@cache
def model_version() -> str:
    """An id of the shipped model, its data and its decoding rules: a change makes `enrich` redo every article."""
    from .consistency import VERSION as consistency_version
    from .gazetteer import data_path

    digest = hashlib.sha1(consistency_version.encode())
    for name in ("bilstm.npz", "bilstm.emb.npz", "selftrain.bilstm.tsv.gz", "model.crfsuite", "entity_aliases.tsv",
                 "country_aliases.tsv"):
        path = data_path(name)
        if path.exists():
            digest.update(path.read_bytes())
    return "ner-" + digest.hexdigest()[:10]


def tag_article(article: Article) -> TaggedArticle:
    """The store-independent part of enrichment: NER mentions of the title and text (the expensive
    part) and, for an article without publisher tags, its key phrases. Pure and picklable, so a
    backfill runs it on its workers; `enrichment_from_mentions` finishes the job."""
    return tag_articles([article])[0]


def tag_articles(articles: Sequence[Article]) -> list[TaggedArticle]:
    """`tag_article` of many articles, their sentences tagged together (a fuller network pass per
    step: about a third faster than article by article, with the same mentions)."""
    from .autotags import key_phrases
    from .ner import default_tagger

    # An article's title and text are one document for label consistency.
    found = default_tagger().mentions_many([text for a in articles for text in (a.title, a.text)],
                                           [n for n in range(len(articles)) for _ in (0, 1)])
    tagged = []
    for n, article in enumerate(articles):
        raw = [("title", m.start, m.end, m.text, m.type) for m in found[2 * n]]
        raw += [("text", m.start, m.end, m.text, m.type) for m in found[2 * n + 1]]
        # Auto tags are suggested only without publisher tags; their key phrases ignore the entities.
        phrases = () if article.tags else tuple(key_phrases(article.title + "\n" + article.text))
        tagged.append(TaggedArticle(article.id, article.content_hash, tuple(raw), tuple(article.tags), phrases))
    return tagged


def enrichment_from_mentions(tagged: TaggedArticle, *, lookup_aliases: Callable | None = None) -> Enrichment:
    """Canonical entities, places and tags of a tagged article (nothing is stored).

    *lookup_aliases* (a store's `known_entity_aliases`) lets a lone surname join the full name
    that earlier articles paired it with; so this step depends on what is stored already.
    """
    from .autotags import choose_tags, link_tags
    from .entities import link_mentions

    mentions, learnt = link_mentions(tagged.mentions, lookup_aliases=lookup_aliases)
    enrichment = Enrichment(tagged.article_id, tagged.content_hash, model_version(), mentions, aliases=learnt)
    if tagged.tags:
        enrichment.tag_entities = link_tags(tagged.tags, mentions)
    else:
        enrichment.auto_tags = choose_tags(mentions, tagged.phrases)
    return enrichment


def enrich_article(article: Article, *, lookup_aliases: Callable | None = None) -> Enrichment:
    """Mentions, canonical entities, places and tags of one article (nothing is stored):
    `tag_article`, then `enrichment_from_mentions`."""
    return enrichment_from_mentions(tag_article(article), lookup_aliases=lookup_aliases)


def enrich_articles(store, articles: Iterable[Article]) -> int:
    """Enrich articles already in *store* and save the results; returns how many were saved."""
    return save_tagged(store, tag_articles(list(articles)))


def save_tagged(store, tagged: Iterable[TaggedArticle]) -> int:
    """Link tagged articles against *store* and save them in one go; returns how many were saved.

    Every article is linked before any is saved, so aliases learnt by one article of the batch
    are not seen by the others (what `marsad ingest` does per batch, and a backfill reproduces).
    """
    results = [enrichment_from_mentions(t, lookup_aliases=store.known_entity_aliases) for t in tagged]
    return store.save_enrichments(results)


def enrich_store(store, *, batch_size: int = 200, limit: int | None = None, everything: bool = False,
                 on_batch: Callable[[int, int], None] | None = None) -> int:
    """Enrich the stored articles that need it (never enriched, changed, or by an older model).

    *everything* redoes all articles. `on_batch(done, total)` reports progress. Returns how
    many articles were enriched.
    """
    if everything:
        ids = [a.id for a in store.iter_articles()]
    else:
        ids = store.pending_enrichment(model_version(), limit=limit)
    if limit is not None:
        ids = ids[:limit]
    done = 0
    for start in range(0, len(ids), batch_size):
        done += enrich_articles(store, store.get_articles(ids[start : start + batch_size]))
        if on_batch:
            on_batch(done, len(ids))
    return done


@dataclass
class ArticleEntities:
    """What an article is about: its mentions, its entities by frequency, and its tags."""

    article_id: str
    mentions: list[StoredMention]
    entities: list[tuple[int, str, str, int]]  # (entity id, type, name, mentions)
    auto_tags: list[str] | None  # None: never enriched; [] : nothing to suggest or has publisher tags
    tag_entities: dict[str, int]  # publisher tag -> entity id


def entities_for_article(store, article_id: str) -> ArticleEntities:
    """The stored entities of one article (for `marsad show`, the reader and the API)."""
    article = store.get_article(article_id)
    mentions = store.article_mentions(article.id)
    counts: dict[int, list] = {}
    for m in mentions:
        entry = counts.setdefault(m.entity_id, [m.entity_id, m.type, m.entity_name, 0])
        entry[3] += 1
    ranked = sorted((tuple(v) for v in counts.values()), key=lambda e: (-e[3], e[0]))
    return ArticleEntities(article.id, mentions, ranked, store.article_auto_tags(article.id),
                           store.tag_entities(article.tags) if article.tags else {})


def list_entities(store, *, type: str | None = None, country: str | None = None, prefix: str | None = None,
                  since: str | None = None, source: str | None = None, limit: int = 50,
                  offset: int = 0) -> list[EntitySummary]:
    """Entities by number of articles, filtered by type, country (ISO), name prefix, date or outlet."""
    from .entities import name_key

    return store.list_entities(type=type, country=country, key_prefix=name_key(prefix) if prefix else None,
                               since=since, source=source, limit=limit, offset=offset)


def find_entities(store, name: str, *, type: str | None = None) -> list[EntitySummary]:
    """Entities a written name refers to, through spelling, clitics and aliases (for `entity:"..."`)."""
    from .entities import alias_table, clean_name, name_key

    key = clean_name(name)[0]
    keys = [key]
    alias = alias_table().get(key)
    if alias:
        keys.append(name_key(alias[1]))
    found = store.find_entities(keys, type=type)
    if not found:
        aliases = store.known_entity_aliases({(t, key) for t in ([type] if type else ["PERS", "ORG"])})
        if aliases:
            found = store.find_entities(list(aliases.values()), type=type)
    return found


def entity_detail(store, entity_id: int, *, limit: int = 20) -> EntityDetail:
    """An entity page: spellings, mentions a day, outlets, co-occurring entities, latest articles."""
    return store.entity_detail(entity_id, limit=limit)


def articles_for_entity(store, entity_ids: int | Iterable[int]) -> list[str]:
    """Ids of the articles mentioning an entity (or any of several), newest first: a search filter."""
    ids = [entity_ids] if isinstance(entity_ids, int) else list(entity_ids)
    return store.entity_article_ids(ids)
