from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import pytest

from marsad.errors import NotFound, StoreError
from marsad.models import Article, Link, Source
from marsad.store import open_store
from marsad.store.sqlite import MIGRATIONS, SQLiteStore

WHEN = datetime(2024, 4, 20, tzinfo=timezone.utc)


def make(title="أمريكا توافق على سحب قواتها من النيجر", paragraphs=("وافقت الولايات المتحدة على سحب قوّاتها.",), **kw):
    return Article(title=title, paragraphs=list(paragraphs), **kw)


def test_fresh_file_is_migrated_to_the_latest_version_in_wal_mode(db_path):
    with SQLiteStore(db_path) as store:
        assert store.schema_version == len(MIGRATIONS)
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with SQLiteStore(db_path) as again:
        assert again.migrate() == 0


def test_new_file_gets_8k_pages_and_a_search_buffer_of_one_batch_while_an_old_file_keeps_its_pages(tmp_path):
    from marsad.search.index import FTS_TABLE, INGEST_HASHSIZE

    with SQLiteStore(tmp_path / "new.db") as store:
        assert store.conn.execute("PRAGMA page_size").fetchone()[0] == 8192
        config = dict(store.conn.execute(f"SELECT k, v FROM {FTS_TABLE}_config"))
        assert config["hashsize"] == INGEST_HASHSIZE == 64 * 1024 * 1024
    old = sqlite3.connect(tmp_path / "old.db")
    old.execute("CREATE TABLE kept (x)")  # a file made before: its page size cannot change
    old.close()
    with SQLiteStore(tmp_path / "old.db") as store:
        assert store.conn.execute("PRAGMA page_size").fetchone()[0] == 4096
        assert store.schema_version == len(MIGRATIONS)


def test_newer_schema_is_refused(db_path):
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        SQLiteStore(db_path)


def test_garbage_file_is_a_clear_store_error(tmp_path):
    bad = tmp_path / "not-a-db.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not-a-db.db"):
        SQLiteStore(bad)


def test_round_trip_keeps_every_field(any_store):
    article = make(
        url="https://www.elbalad.news/6149133?utm_source=x",
        source="صدى البلد",
        published_at=WHEN,
        date_precision="day",
        tags=["النيجر", "الولايات المتحدة"],
        language="ar",
        author="وكالات",
        fetched_at=WHEN,
        origin="seed.txt",
    )
    assert any_store.upsert_articles([article]).new == [article.id]
    stored = any_store.get_article(article.id)
    assert stored == article
    assert stored.paragraphs == ["وافقت الولايات المتحدة على سحب قوّاتها."]  # diacritics kept
    assert stored.canonical_url == "https://www.elbalad.news/6149133"


def test_upsert_is_idempotent_and_detects_changes(any_store):
    first = make(url="https://example.com/a")
    assert len(any_store.upsert_articles([first]).new) == 1
    again = any_store.upsert_articles([make(url="https://example.com/a")])
    assert (again.new, again.updated, again.unchanged) == ([], [], [first.id])
    edited = make(url="https://example.com/a", paragraphs=["نص معدل"], tags=["غزة"])
    result = any_store.upsert_articles([edited])
    assert result.updated == [first.id]
    assert any_store.get_article(first.id).paragraphs == ["نص معدل"]
    assert any_store.get_article(first.id).tags == ["غزة"]
    assert any_store.count_articles() == 1


def test_duplicate_within_one_batch_is_stored_once(any_store):
    result = any_store.upsert_articles([make(), make()])
    assert len(result.new) == 1 and len(result.unchanged) == 1
    assert any_store.count_articles() == 1


def test_get_by_prefix_and_not_found(any_store):
    article = make()
    any_store.upsert_articles([article])
    assert any_store.get_article(article.id[:6]).id == article.id
    with pytest.raises(NotFound):
        any_store.get_article("ffffffffffffffff")


def test_links_are_stored_and_cascade_on_delete(any_store):
    main, other = make(title="الخبر الرئيسي"), make(title="خبر آخر")
    main.read_also = [other.id]
    any_store.upsert_articles([main, other])
    any_store.add_links([Link(main.id, other.id), Link(main.id, other.id)])
    assert any_store.get_article(main.id).read_also == [other.id]
    assert any_store.links_to(other.id) == [Link(main.id, other.id, "read_also")]
    assert any_store.delete_articles([other.id]) == 1
    assert any_store.links_from(main.id) == []


def test_iter_articles_pages_through_everything_in_order(any_store):
    articles = [make(title=f"خبر رقم {i}") for i in range(25)]
    any_store.upsert_articles(articles)
    assert [a.id for a in any_store.iter_articles(batch_size=7)] == [a.id for a in articles]


def test_sources_upsert_and_lookup(any_store):
    any_store.upsert_sources([Source("عكاظ", homepage="https://www.okaz.com.sa", country="SA", aliases=["okaz"])])
    any_store.upsert_sources([Source("عكاظ", homepage="https://okaz.com.sa", country="SA")])
    assert any_store.get_source("عكاظ").homepage == "https://okaz.com.sa"
    assert [s.name for s in any_store.list_sources()] == ["عكاظ"]
    with pytest.raises(NotFound):
        any_store.get_source("لا يوجد")


def test_stats(any_store):
    any_store.upsert_articles([make(source="عكاظ", published_at=WHEN, tags=["غزة"]), make(title="بلا مصدر")])
    stats = any_store.stats()
    assert stats["articles"] == 2
    assert stats["articles_with_date"] == 1
    assert stats["distinct_tags"] == 1
    assert stats["by_source"] == {"عكاظ": 1, "": 1}
    assert stats["first_published"] == "2024-04-20T00:00:00Z"


def test_open_store_resolves_paths_urls_and_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MARSAD_DB", str(tmp_path / "env.db"))
    with open_store() as store:
        assert store.path == tmp_path / "env.db"
    with open_store(f"sqlite:///{tmp_path / 'url.db'}") as store:
        assert store.path == tmp_path / "url.db"
    with pytest.raises(StoreError, match="unsupported"):
        open_store("mysql://localhost/x")


def test_failed_batch_rolls_back_entirely(any_store):
    good = make(title="سليم")
    bad = make(title="معطوب")
    bad.published_at = "not a datetime"  # fails after the first row was written
    with pytest.raises(AttributeError):
        any_store.upsert_articles([good, bad])
    assert any_store.count_articles() == 0
