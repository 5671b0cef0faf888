"""`marsad migrate`: SQLite -> PostgreSQL -> SQLite keeps every row, verified by counts and checksums."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from marsad.cli import cli
from marsad.enrich import enrich_articles
from marsad.errors import StoreError
from marsad.migrate import migrate
from marsad.models import Link, Source
from marsad.search import search
from marsad.store.postgres import PostgresStore
from marsad.store.sqlite import SQLiteStore
from test_search import ARTICLES


def _fill(store: SQLiteStore) -> None:
    store.upsert_sources([Source("عكاظ", homepage="https://www.okaz.com.sa", country="SA", aliases=["okaz"])])
    store.upsert_articles(ARTICLES)
    store.add_links([Link(ARTICLES[0].id, ARTICLES[1].id), Link(ARTICLES[2].id, ARTICLES[3].id, "similar")])
    enrich_articles(store, ARTICLES)
    with store.transaction() as conn:
        conn.execute("UPDATE sources SET disabled = 1, added_at = '2024-01-01T00:00:00Z' WHERE name = 'عكاظ'")
        conn.execute("""INSERT INTO feeds (url, source, added_at, etag) VALUES
                        ('https://www.okaz.com.sa/rss', 'عكاظ', '2024-01-01T00:00:00Z', 'W/"1"')""")
        conn.execute("""INSERT INTO frontier (url, source, entry, discovered_at) VALUES
                        ('https://www.okaz.com.sa/a/1', 'عكاظ', '{}', '2024-01-01T00:00:00Z')""")
        conn.execute("""INSERT INTO raw_responses (url, final_url, status, headers, codec, body, size, fetched_at)
                        VALUES ('https://x/1', 'https://x/1', 200, '{}', 'zstd', ?, 3, '2024-01-01T00:00:00Z')""",
                     (b"\x00\xff\x10",))


def test_sqlite_to_postgres_and_back(tmp_path, pg_dsn):
    source = tmp_path / "a.db"
    with SQLiteStore(source) as store:
        _fill(store)
        mentions = store.conn.execute("SELECT count(*) FROM mentions").fetchone()[0]
    report = migrate(f"sqlite:///{source}", pg_dsn)
    assert report.ok, report.tables
    counts = {t.table: t.target_rows for t in report.tables}
    assert counts["articles"] == len(ARTICLES) and counts["links"] == 2 and counts["mentions"] == mentions
    assert counts["feeds"] == counts["frontier"] == counts["raw_responses"] == 1
    with PostgresStore(pg_dsn) as pg, SQLiteStore(source) as lite:
        for query in ("حرس", "مكة OR جازان", "tag:أمن"):
            assert [h.id for h in search(pg, query, sort="date").hits] == [h.id for h in search(lite, query, sort="date").hits]
        assert pg.get_source("عكاظ").aliases == ["okaz"]
    back = tmp_path / "b.db"
    again = migrate(pg_dsn, f"sqlite:///{back}")
    assert again.ok, again.tables
    with SQLiteStore(back) as copy:
        assert copy.conn.execute("SELECT disabled FROM sources WHERE name = 'عكاظ'").fetchone()[0] == 1
        assert copy.conn.execute("SELECT body FROM raw_responses").fetchone()[0] == b"\x00\xff\x10"


def test_refuses_a_target_that_holds_articles(tmp_path):
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    for path in (a, b):
        with SQLiteStore(path) as store:
            store.upsert_articles(ARTICLES[:1])
    with pytest.raises(StoreError, match="empty"):
        migrate(str(a), str(b))


def test_cli_migrate(tmp_path, pg_dsn):
    source = tmp_path / "a.db"
    with SQLiteStore(source) as store:
        store.upsert_articles(ARTICLES)
    out = CliRunner().invoke(cli, ["migrate", "--from", f"sqlite:///{source}", "--to", pg_dsn])
    assert out.exit_code == 0, out.output
    assert "verified" in out.output and "articles" in out.output
