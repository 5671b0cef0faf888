"""Crawling end to end against local servers: every entry stored once, politely, whatever fails."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from httpserver import (FIXTURES, LOOPBACK_ONLY, PAGES, Reply, allow_loopback, fast_settings, feed_text,  # noqa: F401
                        rss_feed, serve_many_pages, serve_news_site, server)

from marsad.cli import cli
from marsad.ingest.crawl import CrawlSettings, adapt_interval, crawl, crawl_async, error_interval, reparse, watch_async
from marsad.ingest.sources import add_source
from marsad.ingest.state import CrawlState
from marsad.urls import canonicalize_url

EXPECTED = json.loads((FIXTURES / "html" / "expected.json").read_text(encoding="utf-8"))["pages"]
SLUG_CASE = {slug: next(name for name in EXPECTED if file.startswith(name)) for slug, (file, _) in PAGES.items()}


def settings(**changes) -> CrawlSettings:
    return CrawlSettings(fetch=fast_settings(), **changes)


def run_crawl(store, **options):
    options.setdefault("handle_signals", False)
    return crawl(store, options.pop("crawl_settings", None) or settings(), **options)


def test_cli_sources_add_and_crawl_collects_every_article_once(server, tmp_path, allow_loopback):
    feeds = serve_news_site(server)
    db = str(tmp_path / "crawl.db")
    runner = CliRunner()
    for url in feeds.values():
        result = runner.invoke(cli, ["--db", db, "sources", "add", url, "--delay", "0"])
        assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["--db", db, "crawl", "--delay", "0", "-q"])
    assert result.exit_code == 0, result.output
    assert "10 new article(s)" in result.output

    from marsad.store.sqlite import SQLiteStore

    with SQLiteStore(db) as store:
        articles = list(store.iter_articles())
        assert len(articles) == 10
        assert len({a.canonical_url for a in articles}) == 10
        by_slug = {a.url.rsplit("/", 1)[-1].split("?")[0]: a for a in articles}
        assert set(by_slug) == set(PAGES)
        for slug, article in by_slug.items():
            case = EXPECTED[SLUG_CASE[slug]]
            assert article.title == case["title"], slug
            assert case["first_paragraph"][:40] in article.text, slug
            assert article.language == "ar"
            assert article.published_at is not None
            gold = json.loads((FIXTURES / "html" / f"{SLUG_CASE[slug]}.gold.json").read_text(encoding="utf-8"))
            if gold.get("date"):
                delta = article.published_at.date() - datetime.fromisoformat(gold["date"]).date()
                assert abs(delta.days) <= 1, slug
        # Tracking parameters and fragments are gone from the stored URL key.
        assert by_slug["sputnik-egypt-30-cases"].canonical_url == canonicalize_url(
            server.url("/news/sputnik-egypt-30-cases"))
        assert {a.source for a in articles} == {"أخبار الخليج والعالم", "أخبار مصر"}
        assert by_slug["youm7-irrigation"].source == "أخبار مصر"
        assert CrawlState(store).count_pending() == 0
        assert CrawlState(store).raw_stats()[0] == 10

    # A second pass (every feed forced due) finds nothing new and stores nothing twice.
    result = runner.invoke(cli, ["--db", db, "crawl", "--all", "--delay", "0", "-q"])
    assert result.exit_code == 0 and "2 unchanged" in result.output and "0 new article(s)" in result.output
    assert sum(hits for path, hits in server.hits.items() if path.startswith("/news/")) == 10


def test_conditional_get_and_new_entries_only(server, store):
    base = server.base
    items = [(f"/news/{slug}", f"خبر {i}", "Mon, 20 May 2024 07:00:00 GMT") for i, slug in enumerate(list(PAGES)[:3])]
    for slug, (_, content_type) in PAGES.items():
        server.route(f"/news/{slug}", Reply((FIXTURES / "html" / PAGES[slug][0]).read_bytes(),
                                            content_type=content_type))
    server.route("/feed.xml", Reply(rss_feed(base, items), content_type="application/rss+xml", etag='"a"'))
    add_source(store, server.url("/feed.xml"), settings=fast_settings())
    first = run_crawl(store)
    assert first.new == 3
    second = run_crawl(store, all_feeds=True)
    assert second.feeds_unchanged == 1 and server.log[-1].headers.get("if-none-match") == '"a"'
    items.append(("/news/youm7-irrigation", "خبر جديد", "Tue, 21 May 2024 07:00:00 GMT"))
    server.route("/feed.xml", Reply(rss_feed(base, items), content_type="application/rss+xml", etag='"b"'))
    third = run_crawl(store, all_feeds=True)
    assert third.entries_queued == 1 and third.new == 1 and store.count_articles() == 4
    assert server.hits["/news/youm7-irrigation"] == 1


def test_unchanged_bytes_without_validators_are_skipped(server, store):
    serve_many_pages(server, 2)
    add_source(store, server.url("/feed.xml"), settings=fast_settings())
    run_crawl(store)
    again = run_crawl(store, all_feeds=True)
    assert again.feeds_unchanged == 1 and again.entries_queued == 0


def test_page_failures_fall_back_to_feed_fields(server, store):
    base = server.base
    items = [("/news/gone", "خبر محذوف", "Mon, 20 May 2024 07:00:00 GMT"),
             ("/private/x", "خبر ممنوع", "Mon, 20 May 2024 08:00:00 GMT"),
             ("/news/meta", "خبر يحول", "Mon, 20 May 2024 09:00:00 GMT"),
             ("/news/file.pdf", "ملف", "Mon, 20 May 2024 10:00:00 GMT")]
    server.route("/feed.xml", Reply(rss_feed(base, items), content_type="application/rss+xml"))
    server.route("/robots.txt", Reply("User-agent: *\nDisallow: /private/\n", content_type="text/plain"))
    server.route("/news/meta", Reply(status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}))
    server.route("/news/file.pdf", Reply(b"%PDF-1.4", content_type="application/pdf"))
    add_source(store, server.url("/feed.xml"), settings=fast_settings())
    report = run_crawl(store)
    assert report.new == 4 and report.from_feed == 4
    assert report.errors == {"http": 1, "robots": 1, "blocked": 1, "parse": 1}
    assert server.hits["/private/x"] == 0
    titles = sorted(a.title for a in store.iter_articles())
    assert titles == sorted(t for _, t, _ in items)
    article = next(a for a in store.iter_articles() if a.title == "خبر محذوف")
    assert article.paragraphs == ["ملخص خبر محذوف"]
    assert article.published_at == datetime(2024, 5, 20, 7, tzinfo=timezone.utc)


def test_retryable_page_errors_wait_then_fall_back(server, store):
    base = server.base
    server.route("/feed.xml", Reply(rss_feed(base, [("/news/busy", "خبر مزدحم", "Mon, 20 May 2024 07:00:00 GMT")]),
                                    content_type="application/rss+xml"))
    server.route("/news/busy", Reply("busy", status=503))
    add_source(store, server.url("/feed.xml"), settings=fast_settings(retries=0))
    quick = CrawlSettings(fetch=fast_settings(retries=0, backoff_base=0.0), page_attempts=2)
    first = run_crawl(store, crawl_settings=quick)
    assert first.retry_later == 1 and store.count_articles() == 0
    assert CrawlState(store).count_pending() == 1
    second = run_crawl(store, crawl_settings=quick)
    assert second.from_feed == 1 and store.count_articles() == 1 and CrawlState(store).count_pending() == 0


@pytest.mark.parametrize("reply, kind", [
    (Reply((FIXTURES / "html" / "youm7.com__workers-to-greece.html").read_bytes()), "parse"),
    (Reply("gone", status=404), "http"),
    (Reply("<rss", delay=2.0), "timeout"),
])
def test_feed_errors_are_counted_and_backed_off(server, store, reply, kind):
    server.route("/feed", reply)
    add_source(store, server.url("/feed"), settings=fast_settings(), discover_feeds=False, name="مكسور")
    quick = CrawlSettings(fetch=fast_settings(retries=0, total_timeout=0.5, read_timeout=0.5))
    report = run_crawl(store, crawl_settings=quick)
    assert report.feeds_failed == 1 and report.errors[kind] == 1
    (feed,) = CrawlState(store).feeds()
    assert feed.error_count == 1 and feed.last_error_kind == kind
    assert feed.next_due > datetime.now(timezone.utc) + timedelta(minutes=5)
    assert CrawlState(store).due_feeds(datetime.now(timezone.utc)) == []


def test_sitemap_index_source(server, store):
    server.route("/sitemap_index.xml", Reply(feed_text("sitemap_index.xml", server.base), content_type="text/xml"))
    server.route("/sitemaps/news.xml", Reply(feed_text("news_sitemap.xml", server.base), content_type="text/xml"))
    for name in ("sitemap-1", "sitemap-2"):
        server.route(f"/news/{name}", Reply((FIXTURES / "html" / PAGES["youm7-irrigation"][0]).read_bytes()))
    add_source(store, server.url("/sitemap_index.xml"), settings=fast_settings(), name="خريطة")
    report = run_crawl(store, crawl_settings=settings(sitemap_children=1))
    assert report.entries_queued == 2 and report.new == 2  # the 2015 entry is too old to fetch
    assert server.hits["/sitemaps/old.xml"] == 0 and server.hits["/news/sitemap-old"] == 0


def test_reparse_restores_and_keeps_ids(server, store):
    serve_many_pages(server, 3)
    add_source(store, server.url("/feed.xml"), settings=fast_settings())
    run_crawl(store)
    ids = sorted(a.id for a in store.iter_articles())
    target = ids[0]
    with store.transaction() as conn:
        conn.execute("UPDATE articles SET title = 'تالف', version_hash = 'x' WHERE id = ?", (target,))
    report = reparse(store)
    assert report.pages == 3 and report.updated == 1 and report.unchanged == 2 and report.new == 0
    assert sorted(a.id for a in store.iter_articles()) == ids
    assert store.get_article(target).title != "تالف"
    result = CliRunner().invoke(cli, ["--db", str(store.path), "reparse"])
    assert result.exit_code == 0 and "3 page(s): 0 new, 0 updated, 3 unchanged" in result.output


def test_adapt_interval_follows_publishing_rate():
    s = CrawlSettings(fetch=fast_settings())
    now = datetime(2024, 5, 20, tzinfo=timezone.utc)
    busy = [now - timedelta(minutes=20 * i) for i in range(200)]  # many a day
    quiet = [now - timedelta(days=2 * i) for i in range(4)]  # every other day
    stale = [now - timedelta(days=30 + i) for i in range(5)]
    # 200 items over the last 66 h: a new one every 20 minutes, polled every 10.
    assert 550 <= adapt_interval(1800, queued=5, dates=busy, now=now, settings=s) <= 650
    assert adapt_interval(1800, queued=5, dates=busy * 10, now=now, settings=s) == s.min_interval
    assert adapt_interval(1800, queued=0, dates=quiet, now=now, settings=s) == 6 * 86400 // 4 // 2
    assert adapt_interval(1800, queued=0, dates=stale, now=now, settings=s) == s.max_interval
    assert adapt_interval(1800, queued=0, dates=[], now=now, settings=s) == 2700  # no dates, nothing new
    assert adapt_interval(1800, queued=3, dates=[], now=now, settings=s) == 900
    assert s.min_interval * 2 * 0.8 <= error_interval(300, 1, s) <= s.max_interval
    assert error_interval(300, 30, s) == s.max_interval


def test_politeness_per_host_in_a_crawl(server, store):
    serve_many_pages(server, 6, page_delay=0.05)
    add_source(store, server.url("/feed.xml"), settings=fast_settings())
    run_crawl(store, crawl_settings=CrawlSettings(fetch=fast_settings(per_host_concurrency=1)))
    assert server.max_in_flight["127.0.0.1"] == 1 and store.count_articles() == 6


def test_watch_runs_passes_until_stopped(server, store):
    serve_many_pages(server, 2)
    add_source(store, server.url("/feed.xml"), settings=fast_settings())
    reports = []

    async def run():
        stop = asyncio.Event()

        def on_pass(report):
            reports.append(report)
            if len(reports) == 2:
                stop.set()

        return await watch_async(store, settings(), stop=stop, on_pass=on_pass, max_sleep=0.1,
                                 handle_signals=False)

    assert asyncio.run(run()) == 2
    assert reports[0].new == 2 and reports[1].new == 0 and store.count_articles() == 2


def test_stop_request_mid_pass_keeps_the_rest_queued(server, store):
    serve_many_pages(server, 8, page_delay=0.3)
    add_source(store, server.url("/feed.xml"), settings=fast_settings())

    async def run():
        stop = asyncio.Event()
        seen = []

        def progress(event, **info):
            if event == "page":
                seen.append(info)
                if len(seen) == 2:
                    stop.set()

        return await crawl_async(store, CrawlSettings(fetch=fast_settings(per_host_concurrency=1), stop_grace=0.0,
                                                      batch_size=100), progress=progress, stop=stop)

    report = asyncio.run(run())
    stored = store.count_articles()
    assert report.stopped and 2 <= stored < 8
    assert CrawlState(store).count_pending() == 8 - stored
    run_crawl(store)
    assert store.count_articles() == 8 and CrawlState(store).count_pending() == 0


def _subprocess_env(db: str) -> dict:
    env = dict(os.environ, MARSAD_ALLOW_PRIVATE_NETWORKS=LOOPBACK_ONLY, MARSAD_DB=db, PYTHONUNBUFFERED="1")
    env.pop("MARSAD_CRAWL_DELAY", None)
    return env


def _count(db: str, sql: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def test_kill_9_mid_crawl_then_resume_stores_every_entry_once(server, tmp_path):
    count = 30
    feed = serve_many_pages(server, count, page_delay=0.25)
    db = str(tmp_path / "killed.db")
    env = _subprocess_env(db)
    command = [sys.executable, "-m", "marsad.cli", "crawl", "--delay", "0", "--per-host", "2", "-q"]
    add = subprocess.run([sys.executable, "-m", "marsad.cli", "sources", "add", feed, "--name", "تجربة"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert add.returncode == 0, add.stderr
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        # Kill once a first batch is stored and more pages are in flight.
        while _count(db, "SELECT count(*) FROM articles") == 0 and process.poll() is None:
            assert time.monotonic() < deadline, "crawl stored nothing"
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    assert process.returncode == -signal.SIGKILL
    stored_at_kill = _count(db, "SELECT count(*) FROM articles")
    assert 0 < stored_at_kill < count

    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert _count(db, "SELECT count(*) FROM articles") == count
    assert _count(db, "SELECT count(DISTINCT url) FROM articles") == count
    assert _count(db, "SELECT count(*) FROM frontier WHERE state = 'done'") == count
    assert _count(db, "SELECT count(*) FROM articles WHERE title = '' OR text = ''") == 0
    # Nothing stored twice: one article per entry URL, and every entry has one.
    urls = {canonicalize_url(server.url(f"/story/{i}")) for i in range(count)}
    conn = sqlite3.connect(db)
    assert {r[0] for r in conn.execute("SELECT canonical_url FROM articles")} == urls
    conn.close()


def test_watch_stops_cleanly_on_sigterm(server, tmp_path):
    feed = serve_many_pages(server, 2)
    db = str(tmp_path / "watch.db")
    env = _subprocess_env(db)
    add = subprocess.run([sys.executable, "-m", "marsad.cli", "sources", "add", feed], env=env,
                         capture_output=True, text=True, timeout=60)
    assert add.returncode == 0, add.stderr
    process = subprocess.Popen([sys.executable, "-m", "marsad.cli", "watch", "--delay", "0", "-q",
                                "--max-sleep", "0.2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        deadline = time.monotonic() + 60
        while _count(db, "SELECT count(*) FROM articles") < 2 and process.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "stopped after" in err
