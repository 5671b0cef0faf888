"""Entities on PostgreSQL: the entity store's queries give what they give on SQLite.

Enrichments are made by hand (no tagger needed): the same ones are saved into a store of
each backend and every entity query must answer the same.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest

from marsad.enrich.records import EntityMention, EntityRef, Enrichment
from marsad.errors import NotFound
from marsad.models import Article
from marsad.store.postgres import PostgresStore
from marsad.store.sqlite import SQLiteStore

RIYADH = EntityRef("LOC", "رياض", "الرياض", country="SA", place_kind="city", place_id="108410",
                   latitude=24.69, longitude=46.72)
SPA = EntityRef("ORG", "وكاله انباء سعوديه", "وكالة الأنباء السعودية")
PRINCE = EntityRef("PERS", "فيصل بن بندر", "فيصل بن بندر")

ARTICLES = [
    Article(title="أمير الرياض يفتتح مهرجان التمور", paragraphs=["افتتح فيصل بن بندر مهرجان التمور في الرياض."],
            url="https://spa.example/1", source="واس", tags=["الرياض"],
            published_at=datetime(2015, 8, 12, 9, 30, tzinfo=timezone.utc)),
    Article(title="الرياض تستقبل زوار المهرجان", paragraphs=["قالت وكالة الأنباء السعودية إن الرياض استقبلت الزوار."],
            url="https://spa.example/2", source="واس", published_at=datetime(2015, 8, 13, 7, 0, tzinfo=timezone.utc)),
    Article(title="خبر بلا كيانات", paragraphs=["نص قصير لا يذكر أحدا."], url="https://spa.example/3", source="سبق"),
]


def _enrichments() -> list[Enrichment]:
    a, b, _ = ARTICLES
    return [
        Enrichment(a.id, a.content_hash, "test-1",
                   mentions=[EntityMention("title", 5, 11, "الرياض", "LOC", RIYADH),
                             EntityMention("text", 6, 18, "فيصل بن بندر", "PERS", PRINCE),
                             EntityMention("text", 38, 44, "الرياض", "LOC", RIYADH)],
                   auto_tags=["مهرجان التمور"], tag_entities={"الرياض": RIYADH},
                   aliases=[("PERS", "بندر", PRINCE.key)]),
        Enrichment(b.id, b.content_hash, "test-1",
                   mentions=[EntityMention("title", 0, 6, "الرياض", "LOC", RIYADH),
                             EntityMention("text", 5, 27, "وكالة الأنباء السعودية", "ORG", SPA)],
                   auto_tags=["الرياض", "زوار"]),
    ]


def _answers(store) -> dict:
    a, b, c = ARTICLES
    entities = store.list_entities()
    by_key = {e.key: e for e in entities}
    riyadh = by_key[RIYADH.key]
    plain = lambda e: (e.type, e.key, e.name, e.country, e.articles, e.mentions, e.first_seen,  # noqa: E731
                       e.last_seen)
    detail = store.entity_detail(riyadh.id)
    return {
        "list": [plain(e) for e in entities],
        "list_loc": [plain(e) for e in store.list_entities(type="LOC")],
        "list_since": [plain(e) for e in store.list_entities(since="2015-08-13")],
        "find": [plain(e) for e in store.find_entities([RIYADH.key, SPA.key])],
        "mentions": [(m.field, m.start, m.end, m.text, m.type, m.entity_name, m.entity_key) for m in store.article_mentions(a.id)],
        "auto_tags": [store.article_auto_tags(a.id), store.article_auto_tags(c.id)],
        "tag_entities": {t: by_id_key(store, i) for t, i in store.tag_entities(["الرياض", "لا شيء"]).items()},
        "aliases": store.known_entity_aliases([("PERS", "بندر"), ("PERS", "غيره")]),
        "pending": store.pending_enrichment("test-1"),
        "pending_other_model": store.pending_enrichment("test-2"),
        "detail": (plain(detail.entity), detail.spellings, detail.timeline, detail.outlets,
                   [(plain(e), n) for e, n in detail.cooccurring], detail.articles),
        "article_ids": store.entity_article_ids([riyadh.id]),
        "facets": [(plain(e), n) for e, n in store.entity_facets([a.id, b.id])],
    }


def by_id_key(store, entity_id: int) -> str:
    return next(e.key for e in store.list_entities(limit=100) if e.id == entity_id)


def _fill(store) -> None:
    store.upsert_articles(ARTICLES)
    assert store.save_enrichments(_enrichments()) == 2


def test_entity_queries_answer_as_on_sqlite(pg_store, tmp_path):
    with SQLiteStore(tmp_path / "e.db") as lite:
        _fill(lite)
        expected = _answers(lite)
    _fill(pg_store)
    got = _answers(pg_store)
    for key in expected:
        assert got[key] == expected[key], key
    assert expected["pending"] == [ARTICLES[2].id] and expected["detail"][2] == [("2015-08-12", 2), ("2015-08-13", 1)]
    with pytest.raises(NotFound):
        pg_store.entity_detail(10**9)
    # Saving again replaces (no duplicate mentions, counts unchanged).
    assert pg_store.save_enrichments(_enrichments()) == 2
    assert _answers(pg_store)["list"] == expected["list"]


def test_two_writers_creating_the_same_entities_at_once(pg_dsn):
    with PostgresStore(pg_dsn) as store:
        store.upsert_articles(ARTICLES)
    errors: list = []
    start = threading.Barrier(2)

    def write():
        try:
            with PostgresStore(pg_dsn, max_size=2) as store:
                start.wait(30)
                for _ in range(5):
                    store.save_enrichments(_enrichments())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    with PostgresStore(pg_dsn) as store:
        assert store._one("SELECT count(*) FROM entities") == 3
        assert store._one("SELECT count(*) FROM mentions") == 5
