"""PostgresStore specifics: migrations, URLs, connection errors, concurrent writers, fuzzy source names.

Everything the two backends share is tested once for both (`any_store` in test_store.py
and test_postgres_search.py); this file holds what only PostgreSQL has.
"""

from __future__ import annotations

import multiprocessing
import threading

import pytest

from marsad.errors import StoreError
from marsad.models import Article, Source
from marsad.store import open_store
from marsad.store.base import Store
from marsad.store.pg_schema import MIGRATIONS
from marsad.store.postgres import PostgresStore, redact
from marsad.store.sqlite import MIGRATIONS as SQLITE_MIGRATIONS


def make(i: int, text: str = "نص الخبر") -> Article:
    return Article(title=f"خبر رقم {i}", paragraphs=[text], url=f"https://example.com/{i}", source="سبق")


def test_fresh_database_is_migrated_and_reopening_changes_nothing(pg_dsn):
    with PostgresStore(pg_dsn) as store:
        # the whole Store protocol, entities included (marsad.enrich.entity_store's SQL through PostgresStore.conn)
        assert {n for n in dir(Store) if not n.startswith("_")} - set(dir(store)) == set()
        assert store.schema_version == len(MIGRATIONS) == len(SQLITE_MIGRATIONS)
    with PostgresStore(pg_dsn) as again:
        assert again.migrate() == 0


def test_newer_schema_is_refused(pg_dsn):
    with PostgresStore(pg_dsn) as store, store.atomic() as conn:
        conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (len(MIGRATIONS) + 5,))
    with pytest.raises(StoreError, match="newer"):
        PostgresStore(pg_dsn)


def test_concurrent_openers_migrate_once(pg_dsn):
    errors: list[Exception] = []

    def open_and_close():
        try:
            PostgresStore(pg_dsn, max_size=2).close()
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=open_and_close) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with PostgresStore(pg_dsn) as store:
        assert store._one("SELECT count(*) FROM schema_migrations") == len(MIGRATIONS)


def test_open_store_selects_postgres_by_url_and_environment(pg_dsn, monkeypatch):
    with open_store(pg_dsn) as store:
        assert isinstance(store, PostgresStore)
    monkeypatch.setenv("MARSAD_DB", pg_dsn)
    with open_store() as store:
        assert isinstance(store, PostgresStore) and store.stats()["database"] == redact(pg_dsn)


def test_unreachable_server_is_a_clear_store_error(pg_cluster):
    port = int(pg_cluster.rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(StoreError, match="cannot connect"):
        PostgresStore(f"postgresql://nobody:secret@127.0.0.1:{port + 1}/x?connect_timeout=2", timeout=3)
    assert redact("postgresql://u:secret@h/db") == "postgresql://u:***@h/db"


def _writer(dsn: str, start: int, results) -> None:
    with PostgresStore(dsn, max_size=2) as store:
        outcome = store.upsert_articles(make(i) for i in range(start, start + 300))
        results.put((len(outcome.new), len(outcome.updated), len(outcome.unchanged)))


def test_two_writer_processes_store_each_article_once(pg_store, pg_dsn):
    # Two processes write overlapping ranges (100..299 both): every article is stored once,
    # and reported new by exactly one of them.
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [context.Process(target=_writer, args=(pg_dsn, start, results)) for start in (0, 100)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    counts = [results.get(timeout=5) for _ in workers]
    assert sum(new for new, _, _ in counts) == 400
    assert sum(updated for _, updated, _ in counts) == 0
    assert pg_store.count_articles() == 400
    assert pg_store._one("SELECT count(*) FROM (SELECT id FROM articles GROUP BY id HAVING count(*) > 1) d") == 0
    assert pg_store._one("SELECT count(*) FROM article_tags") == 0


def test_overlapping_batches_in_opposite_orders_do_not_deadlock(pg_store, pg_dsn):
    articles = [make(i) for i in range(200)]
    outcomes = []

    def write(batch):
        with PostgresStore(pg_dsn, max_size=1) as store:
            outcomes.append(store.upsert_articles(batch))

    threads = [threading.Thread(target=write, args=(order,)) for order in (articles, articles[::-1])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 2  # neither writer died of a deadlock (an aborted batch is retried)
    assert sum(len(o.new) for o in outcomes) == 200 and pg_store.count_articles() == 200
    assert set(outcomes[1].new).isdisjoint(outcomes[0].new)  # each reported new by one writer only


def test_concurrent_updates_are_not_lost(pg_store):
    pg_store.upsert_articles([make(1)])
    edits = [make(1, text=f"نسخة {n}") for n in range(8)]
    threads = [threading.Thread(target=pg_store.upsert_articles, args=([e],)) for e in edits]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = pg_store.get_article(edits[0].id)
    assert stored.paragraphs[0] in {e.paragraphs[0] for e in edits}
    assert pg_store.count_articles() == 1


def test_similar_sources_by_trigrams(pg_store):
    pg_store.upsert_sources([Source("صحيفة سبق"), Source("عكاظ"), Source("الرياض")])
    names = [name for name, _ in pg_store.similar_sources("صحيفه سبق")]
    assert names and names[0] == "صحيفة سبق"


def test_ingest_into_postgres_enriches_as_on_sqlite(pg_store, tmp_path):
    from marsad.enrich import model_version
    from marsad.pipeline import ingest

    corpus = tmp_path / "a.jsonl"
    corpus.write_text('{"title": "خبر أول", "text": "نص الخبر الأول", "source": "sabq"}\n'
                      '{"title": "خبر ثان", "text": "نص الخبر الثاني", "source": "sabq"}\n', encoding="utf-8")
    report = ingest(pg_store, [str(corpus)])
    assert report.new == 2 and report.enriched == 2 and not report.failed
    assert pg_store.pending_enrichment(model_version()) == []
    assert len(pg_store.pending_enrichment("another-model")) == 2  # a new model redoes them
    assert ingest(pg_store, [str(corpus)]).unchanged == 2


def test_entity_queries_on_an_empty_database(pg_store):
    assert pg_store.list_entities() == []  # the full comparison with SQLite: test_postgres_entities.py
    assert pg_store.pending_enrichment("m") == []
    pg_store.upsert_articles([make(1)])
    assert pg_store.pending_enrichment("m") == [make(1).id]
    assert pg_store.article_auto_tags(make(1).id) is None


def test_schema_matches_sqlite_table_for_table(pg_store, tmp_path):
    # Version N means the same tables on both backends (marsad migrate relies on it): a column
    # added to a SQLite migration needs its twin in marsad.store.pg_schema.
    from marsad.store.sqlite import SQLiteStore

    with SQLiteStore(tmp_path / "schema.db") as lite:
        tables = [r[0] for r in lite.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'search_fts%' "
            "AND name NOT LIKE 'sqlite_%'")]
        expected = {t: {r[1] for r in lite.conn.execute(f"PRAGMA table_info({t})")} for t in tables}
    actual = {t: {r[0] for r in pg_store._rows(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (t,))} for t in tables}
    assert {t: cols - {"search_tsv"} for t, cols in actual.items()} == expected


def test_cli_ingest_search_and_stats_on_postgres(pg_dsn, tmp_path):
    from click.testing import CliRunner

    from marsad.cli import cli

    corpus = tmp_path / "a.jsonl"
    corpus.write_text('{"title": "حرس الحدود يحبط تهريب", "text": "أحبط حرس الحدود محاولة تهريب", "source": "sabq"}\n',
                      encoding="utf-8")
    runner = CliRunner()
    out = runner.invoke(cli, ["--db", pg_dsn, "ingest", str(corpus), "-q"])
    assert out.exit_code == 0, out.output
    out = runner.invoke(cli, ["--db", pg_dsn, "search", "الحدود", "--json"])
    assert out.exit_code == 0, out.output
    assert '"total": 1' in out.stdout
    out = runner.invoke(cli, ["--db", pg_dsn, "stats"])
    assert out.exit_code == 0 and "***" not in pg_dsn, out.output


def test_copy_articles_reports_and_stores_what_upsert_does(pg_store):
    from dataclasses import replace

    from marsad.search import search

    first = [make(i) for i in range(5)]
    first[0].tags = ["غزة", "أمن"]
    result = pg_store.copy_articles(first + [make(1)])  # a repeat in the same batch
    assert result.new == [a.id for a in first] and result.unchanged == [make(1).id]
    edited = replace(first[0], paragraphs=["نص معدل عن الحدود"], tags=["حدود"])
    again = pg_store.copy_articles([edited, make(2), edited, replace(edited, title="عنوان جديد")])
    assert again.updated == [edited.id, edited.id] and again.unchanged == [make(2).id, edited.id]
    stored = pg_store.get_article(edited.id)
    assert stored.title == "عنوان جديد" and stored.tags == ["حدود"]
    assert [a.id for a in pg_store.iter_articles()] == [a.id for a in first]  # insertion order kept
    assert search(pg_store, "الحدود").total == 1 and pg_store.count_articles() == 5
    assert pg_store.copy_articles([]).new == []
