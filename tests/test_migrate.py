"""`marsad migrate`: SQLite -> PostgreSQL -> SQLite keeps every row, verified by counts and checksums."""

from __future__ import annotations

import gzip
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from marsad.cli import cli
from marsad.enrich import enrich_articles
from marsad.errors import StoreError
from marsad.migrate import STAGE_TABLES, migrate, stage_rows
from marsad.models import Link, Source
from marsad.pipeline import ingest
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


def _sample_files(folder: Path, *cuts: int) -> list[str]:
    """The bundled SaudiNewsNet sample cut into JSONL files at *cuts*."""
    sample = Path(str(resources.files("marsad").joinpath("sample"))) / "saudinewsnet-sample.jsonl.gz"
    lines = gzip.open(sample, "rt", encoding="utf-8").read().splitlines()
    bounds = [0, *cuts, len(lines)]
    out = []
    for n, (start, end) in enumerate(zip(bounds, bounds[1:])):
        path = folder / f"sample-{n}.jsonl"
        path.write_text("\n".join(lines[start:end]) + "\n", encoding="utf-8")
        out.append(str(path))
    return out


def test_duplicate_and_story_tables_are_copied_through_article_ids(tmp_path, pg_dsn):
    source = tmp_path / "a.db"
    with SQLiteStore(source) as lite:
        ingest(lite, _sample_files(tmp_path, 200)[:1], enrich=False)
        # Deleted articles leave their pks behind in the story tables (a story's key is its first
        # article's pk), and pks with gaps, so the copy's pks differ from the original's.
        story, first_id = lite.conn.execute("""SELECT s.pk, a.id FROM stories s JOIN articles a ON a.pk = s.pk
                                               ORDER BY s.article_count DESC, s.pk LIMIT 1""").fetchone()
        group, group_id = lite.conn.execute("""SELECT d.group_pk, a.id FROM dedup_articles d
                                               JOIN articles a ON a.pk = d.group_pk
                                               WHERE d.group_pk <> d.article_pk ORDER BY d.group_pk LIMIT 1""").fetchone()
        other = lite.conn.execute("SELECT max(pk) FROM stories WHERE pk <> ?", (story,)).fetchone()[0]
        with lite.transaction() as conn:  # no merge happens in the sample; one planted
            conn.execute("INSERT INTO story_merges (from_story, into_story, similarity, article_pk, at) "
                         "VALUES (?, ?, 0.61, ?, 1439235535.0)", (other, story, other))
        assert lite.delete_articles([first_id, group_id]) == 2
        expected = stage_rows(lite)
        counts = {t: lite.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in (*STAGE_TABLES, "article_tags")}
        last_id = lite.conn.execute("SELECT id FROM articles WHERE pk = 200").fetchone()[0]
        orphaned = lite.conn.execute("SELECT count(*) FROM dedup_articles WHERE group_pk = ?", (group,)).fetchone()[0]
    assert counts["story_articles"] == counts["dedup_articles"] == 198 and counts["story_merges"] == 1
    assert orphaned >= 1  # the group's other members still name it
    assert ("mark", last_id) in expected["story_state"]  # the mark, by the id of the last article processed

    report = migrate(f"sqlite:///{source}", pg_dsn)
    assert report.ok, report.tables
    checked = {t.table: (t.source_rows, t.target_rows) for t in report.tables}
    assert {t: checked[t] for t in counts} == {t: (n, n) for t, n in counts.items()}
    with PostgresStore(pg_dsn) as pg:
        assert stage_rows(pg) == expected
        # The dense copy: 198 articles numbered 1..198, the mark on the last; the orphaned story kept, negative.
        assert pg._one("SELECT value FROM story_state WHERE key = 'mark'") == "198"
        assert pg._one("SELECT id FROM stories WHERE pk = %s", (-story,)) == "s" + first_id
        assert pg._one("SELECT count(*) FROM dedup_articles WHERE group_pk = %s", (-group,)) == orphaned
        assert pg._one("SELECT count(*) FROM story_articles") == 198
    back = tmp_path / "b.db"
    again = migrate(pg_dsn, f"sqlite:///{back}")
    assert again.ok, again.tables
    with SQLiteStore(back) as copy:
        assert stage_rows(copy) == expected
        assert copy.conn.execute("SELECT pk FROM stories WHERE id = ?", ("s" + first_id,)).fetchone()[0] == -story


def test_the_story_stage_carries_on_after_a_migration(tmp_path, pg_dsn):
    """Migrated half way, then fed the rest: the copy's duplicates and stories are the original's."""
    first, rest = _sample_files(tmp_path, 200)
    source = tmp_path / "a.db"
    with SQLiteStore(source) as lite:
        ingest(lite, [first], enrich=False)
    assert migrate(f"sqlite:///{source}", pg_dsn).ok
    with SQLiteStore(source) as lite, PostgresStore(pg_dsn) as pg:
        assert ingest(lite, [rest], enrich=False).new == ingest(pg, [rest], enrich=False).new == 103
        expected = stage_rows(lite, skip=("updated_at",))  # when a story row was last written
        assert sum(expected["story_articles"].values()) == 303
        assert stage_rows(pg, skip=("updated_at",)) == expected
