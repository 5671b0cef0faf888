"""The crawler on PostgreSQL: its state there, and two crawlers at once on one database.

Each crawler has its own store (its own pool of connections), as two `marsad crawl`
processes on two machines would; they crawl the same local site on 127.0.0.1. Whatever
the interleaving, every entry is stored once, none is lost, and each page is fetched once
(feeds and entries are claimed with advisory locks, see marsad.ingest.state.Claims).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

import pytest
from httpserver import LOOPBACK_ONLY, fast_settings, serve_many_pages, serve_news_site, server  # noqa: F401

from marsad.ingest.crawl import CrawlSettings, crawl, reparse
from marsad.ingest.sources import add_source, disable_source, list_sources, remove_source
from marsad.ingest.state import CrawlState
from marsad.store.postgres import PostgresStore
from marsad.urls import canonicalize_url


def settings(**changes) -> CrawlSettings:
    changes.setdefault("enrich", False)
    fetch = changes.pop("fetch", None) or fast_settings()
    return CrawlSettings(fetch=fetch, **changes)


def _stored(store: PostgresStore) -> tuple[int, set[str], int]:
    """(articles, their distinct canonical URLs, frontier entries done)."""
    articles = store._one("SELECT count(*) FROM articles")
    urls = {r[0] for r in store._rows("SELECT canonical_url FROM articles")}
    done = store._one("SELECT count(*) FROM frontier WHERE state = 'done'")
    return articles, urls, done


def test_crawl_state_and_sources_on_postgres(server, pg_store):
    feeds = serve_news_site(server)
    for url in feeds.values():
        add_source(pg_store, url, settings=fast_settings())
    state = CrawlState(pg_store)
    # Each feed is due from the second it was added (the two may be a second apart): both are due now.
    assert len(state.feeds()) == 2 and len(state.due_feeds(datetime.now(timezone.utc))) == 2
    report = crawl(pg_store, settings(), handle_signals=False)
    assert report.new == 10 and report.pages == 10, report.summary()
    articles, urls, done = _stored(pg_store)
    assert articles == 10 == len(urls) == done
    assert state.count_pending() == 0
    assert state.raw_stats()[0] == 10 and state.raw_stats()[2] > 0
    statuses = {s.source.name: s for s in list_sources(pg_store)}
    assert sum(s.articles for s in statuses.values()) == 10
    assert all(s.feeds[0].fetches == 1 and s.feeds[0].last_fetched for s in statuses.values())

    # A forced second pass: feeds unchanged, nothing new, nothing fetched twice. Crawl times are
    # kept to the second and a pass skips feeds polled in or after the second it began (another
    # crawler's work), so the pass starts in the next second.
    time.sleep(1.01 - time.time() % 1)
    again = crawl(pg_store, settings(), all_feeds=True, handle_signals=False)
    assert again.feeds == 2 and again.feeds_unchanged == 2 and again.new == 0
    assert sum(hits for path, hits in server.hits.items() if path.startswith("/news/")) == 10

    # Raw responses come back out of BYTEA: reparse keeps every id.
    redone = reparse(pg_store, enrich=False)
    assert redone.pages == 10 and redone.new == 0 and not redone.failed
    name = next(iter(statuses))
    assert disable_source(pg_store, name) == name and state.source_disabled()[name]
    assert remove_source(pg_store, name) == 1 and len(state.feeds()) == 1


def _crawl_in_thread(dsn: str, start: threading.Barrier, reports: list, errors: list, **options) -> None:
    try:
        with PostgresStore(dsn) as store:
            start.wait(timeout=60)
            reports.append(crawl(store, settings(fetch=fast_settings(per_host_concurrency=2)),
                                 handle_signals=False, **options))
    except BaseException as exc:  # noqa: BLE001 - re-raised by the test
        errors.append(exc)
        start.abort()


def _two_crawlers_at_once(pg_dsn: str) -> list:
    """Run two crawlers in threads, released together; their reports (any error fails the test)."""
    start = threading.Barrier(2)
    reports: list = []
    errors: list = []
    threads = [threading.Thread(target=_crawl_in_thread, args=(pg_dsn, start, reports, errors)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    return reports


def test_two_crawlers_at_once_store_every_entry_once(server, pg_dsn):
    count = 40
    feed = serve_many_pages(server, count, page_delay=0.05)
    with PostgresStore(pg_dsn) as store:
        add_source(store, feed, name="تجربة", settings=fast_settings())
    polled_before = server.hits["/feed.xml"]  # discovery read the feed once

    reports = _two_crawlers_at_once(pg_dsn)
    assert len(reports) == 2

    # The feed was polled by one crawler only; every page fetched once, by one of them.
    assert server.hits["/feed.xml"] == polled_before + 1
    assert sum(r.feeds for r in reports) == 1
    assert all(server.hits[f"/story/{i}"] == 1 for i in range(count)), dict(server.hits)
    assert sum(r.pages for r in reports) == count
    assert sum(r.new for r in reports) == count and sum(r.unchanged + r.updated for r in reports) == 0
    with PostgresStore(pg_dsn) as store:
        articles, urls, done = _stored(store)
        assert articles == count and done == count
        assert urls == {canonicalize_url(server.url(f"/story/{i}")) for i in range(count)}
        assert CrawlState(store).count_pending() == 0
        assert store._one("SELECT count(*) FROM raw_responses") == count


def test_two_crawlers_share_a_queued_frontier(server, pg_dsn):
    """Entries already queued (one pass polled the feed without pages) are split between two crawlers."""
    count = 40
    feed = serve_many_pages(server, count, page_delay=0.1)
    with PostgresStore(pg_dsn) as store:
        add_source(store, feed, name="تجربة", settings=fast_settings())
        queued = crawl(store, settings(fetch_pages=False), handle_signals=False)
        assert queued.entries_queued == count and CrawlState(store).count_pending() == count

    reports = _two_crawlers_at_once(pg_dsn)
    # Both crawlers worked (each fetch waits 0.1 s; neither can finish 40 pages before the other starts) ...
    assert all(r.pages > 0 for r in reports), [r.summary() for r in reports]
    # ... and no page was fetched, or article stored, twice.
    assert sum(r.pages for r in reports) == count
    assert all(server.hits[f"/story/{i}"] == 1 for i in range(count))
    assert sum(r.new for r in reports) == count
    with PostgresStore(pg_dsn) as store:
        articles, urls, done = _stored(store)
        assert articles == count == len(urls) == done


def test_two_crawl_processes_at_once(server, pg_dsn):
    """The real CLI, twice at once, against one PostgreSQL database."""
    count = 24
    feed = serve_many_pages(server, count, page_delay=0.05)
    env = dict(os.environ, MARSAD_ALLOW_PRIVATE_NETWORKS=LOOPBACK_ONLY, MARSAD_DB=pg_dsn, PYTHONUNBUFFERED="1")
    env.pop("MARSAD_CRAWL_DELAY", None)
    add = subprocess.run([sys.executable, "-m", "marsad.cli", "sources", "add", feed, "--name", "تجربة"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert add.returncode == 0, add.stderr
    polled_before = server.hits["/feed.xml"]
    command = [sys.executable, "-m", "marsad.cli", "crawl", "--delay", "0", "--per-host", "2", "-q"]
    processes = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in processes]
    for p, (_, err) in zip(processes, outputs):
        assert p.returncode == 0, err
    assert server.hits["/feed.xml"] == polled_before + 1
    assert all(server.hits[f"/story/{i}"] == 1 for i in range(count))
    with PostgresStore(pg_dsn) as store:
        articles, urls, done = _stored(store)
        assert articles == count == len(urls) == done
        assert urls == {canonicalize_url(server.url(f"/story/{i}")) for i in range(count)}


@pytest.mark.parametrize("held", ["feed", "entry"])
def test_an_item_claimed_elsewhere_is_skipped_and_released_with_its_connection(server, pg_store, held):
    from marsad.ingest.state import Claims

    feed = serve_many_pages(server, 2)
    add_source(pg_store, feed, name="تجربة", settings=fast_settings())
    state = CrawlState(pg_store)
    if held == "entry":
        crawl(pg_store, settings(fetch_pages=False), handle_signals=False)
    other = Claims(state)  # another crawler's claims
    if held == "feed":
        (due,) = state.due_feeds(state.next_due())
        assert other.feed(due, now=state.next_due()) is not None
        report = crawl(pg_store, settings(), handle_signals=False)
        assert report.feeds == 0
    else:
        first = state.pending(state.next_due())[0]
        assert other.entry(first)
        report = crawl(pg_store, settings(), handle_signals=False)
        assert report.pages == 1 and state.count_pending() == 1
    other.close()  # a crawler that dies: its locks go with its connection
    report = crawl(pg_store, settings(), handle_signals=False)
    assert state.count_pending() == 0 and pg_store.count_articles() == 2
