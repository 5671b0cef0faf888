"""Crawling: poll due feeds, queue their new entries, fetch and extract each entry's page, store.

One pass, in order (`crawl()`):

    1. feeds that are due: conditional GET; 304 or identical bytes = unchanged; parse
       (RSS/Atom/JSON Feed/sitemaps); queue new entries in the frontier in the same
       transaction that saves the feed's ETag/hash and its next due time;
    2. the frontier (including what a killed run left): fetch each page politely,
       extract (trafilatura + page metadata), fall back to the feed's fields when the
       page cannot be fetched or read, and store in small batches through
       `pipeline.store_articles` then `pipeline.enrich_stored` (so the later pipeline stages
       run on crawled articles too), keeping the raw response;
    3. mark the batch's entries done.

Stopping (Ctrl-C, SIGTERM, SIGKILL) at any point loses nothing: unfinished entries stay
queued, and article ids are content-derived, so redoing an entry stores nothing twice.
`watch()` repeats passes, sleeping until the next feed is due; each feed's interval
follows how often it publishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import signal
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any

from ..errors import MarsadError, ParseError
from ..models import Article
from .. import pipeline
from ..store.sqlite import SQLiteStore
from ..urls import canonicalize_url
from .extract import ExtractedPage, extract_page, page_from_entry
from .feeds import FeedEntry, ParsedFeed, parse_feed
from .fetch import FetchError, Fetcher, FetchSettings, Response, decode_body
from .safety import Blocked
from .state import Claims, CrawlState, FeedState, FrontierItem, now_utc

FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, "
               "text/xml;q=0.9, */*;q=0.5")
PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "")

Progress = Callable[..., None]


@dataclass(frozen=True)
class CrawlSettings:
    """What a crawl does besides fetching (see FetchSettings for politeness and safety)."""

    fetch: FetchSettings = field(default_factory=FetchSettings.from_env)
    min_interval: int = 300  # a feed is polled at most every 5 minutes ...
    max_interval: int = 86400  # ... and at least daily
    default_interval: int = 1800
    max_entries_per_feed: int = 200  # newest first; a sitemap can list thousands
    max_entry_age_days: float = 3.0  # sitemap entries older than this are not fetched
    sitemap_children: int = 3  # newest child sitemaps read from a sitemap index
    page_attempts: int = 3  # retryable page failures before falling back to the feed's fields
    fetch_pages: bool = True
    keep_raw: bool = True
    enrich: bool = True  # run the pipeline's enrichment stage on each stored batch
    batch_size: int = 20
    stop_grace: float = 5.0  # seconds in-flight pages get to finish after a stop request


@dataclass
class CrawlReport:
    """What a pass did, for the closing summary."""

    feeds: int = 0
    feeds_unchanged: int = 0
    feeds_failed: int = 0
    entries_queued: int = 0
    pages: int = 0
    from_feed: int = 0  # stored from the feed's own fields (page unavailable or unreadable)
    retry_later: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: Counter = field(default_factory=Counter)  # kind -> count
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (url, kind, message)
    requests: int = 0
    stopped: bool = False

    def error(self, url: str, kind: str, message: str) -> None:
        self.errors[kind] += 1
        if len(self.failures) < 500:
            self.failures.append((url, kind, message))

    def summary(self) -> str:
        """One line: feeds, articles, errors by kind."""
        text = (f"{self.feeds} feed(s) polled ({self.feeds_unchanged} unchanged, {self.feeds_failed} failed), "
                f"{self.entries_queued} new entries; {self.pages} page(s): {self.new} new article(s), "
                f"{self.updated} updated, {self.unchanged} unchanged, {self.from_feed} from feed fields only")
        if self.retry_later:
            text += f", {self.retry_later} to retry"
        if self.errors:
            text += "; errors: " + ", ".join(f"{k} {v}" for k, v in self.errors.most_common())
        return text + (" (stopped early)" if self.stopped else "")


# -- scheduling ---------------------------------------------------------------------------------


def adapt_interval(current: int, *, queued: int, dates: list[datetime], now: datetime,
                   settings: CrawlSettings) -> int:
    """The feed's next polling interval, from how often it publishes.

    With dated entries (as miniflux's "entry frequency" scheduler): the mean gap between the
    entries of the last week (measured up to now, since a feed shows only its latest items),
    halved so a typical new item waits half a gap. Without dates: halve after new entries,
    grow by half after none.
    """
    week = now - timedelta(days=7)
    recent = [d for d in dates if week <= d <= now + timedelta(hours=1)]
    if recent:
        window = max((now - min(recent)).total_seconds(), 3600.0)
        interval = window / len(recent) / 2
    elif dates:
        interval = settings.max_interval
    elif queued:
        interval = current / 2
    else:
        interval = current * 1.5
    return int(min(settings.max_interval, max(settings.min_interval, interval)))


def error_interval(current: int, errors: int, settings: CrawlSettings) -> int:
    """Back off exponentially after consecutive errors (with jitter), up to the maximum interval."""
    backoff = settings.min_interval * 2 ** min(errors, 12) * random.uniform(0.8, 1.2)
    return int(min(settings.max_interval, max(current, backoff)))


# -- building articles -----------------------------------------------------------------------------


def article_from_page(page: ExtractedPage, entry: FeedEntry, *, source: str | None, feed_url: str | None,
                      final_url: str | None, fetched_at: datetime | None, article_id: str | None = None) -> Article:
    """The Article to store for one entry, from its extracted page (or the feed's fields)."""
    url = final_url or entry.url
    title = page.title or entry.title or (page.paragraphs[0][:120] if page.paragraphs else url)
    return Article(
        title=title,
        paragraphs=list(page.paragraphs),
        url=url,
        canonical_url=canonicalize_url(page.canonical_url or url),
        source=source,
        published_at=page.published_at,
        date_precision=page.date_precision,
        tags=list(page.tags),
        language=page.language,
        author=page.author,
        fetched_at=fetched_at,
        origin=feed_url or "",
        id=article_id or "",
    )


def page_for(response: Response, entry: FeedEntry, source: str | None) -> ExtractedPage:
    """Extract an article page (CPU-bound: the crawler runs it in its parsing thread)."""
    if response.content_type not in HTML_TYPES:
        raise ParseError(f"not an HTML page ({response.content_type})", subject=response.final_url)
    text, _ = decode_body(response.content, response.headers.get("content-type"), subject=response.final_url)
    return extract_page(text, response.final_url, site_names=[source] if source else [], entry=entry)


def _interleave_by_host(items: list[FrontierItem]) -> list[FrontierItem]:
    """Round-robin over hosts, so that workers do not all queue behind one slow site."""
    from urllib.parse import urlsplit

    by_host: dict[str, list[FrontierItem]] = defaultdict(list)
    for item in items:
        by_host[urlsplit(item.url).netloc].append(item)
    queues = list(by_host.values())
    out: list[FrontierItem] = []
    while queues:
        queues = [q for q in queues if q]
        for q in queues:
            out.append(q.pop(0))
    return out


# -- the pass -----------------------------------------------------------------------------------


class Crawler:
    """One crawl pass over a store (see the module docstring for the order)."""

    def __init__(self, store: SQLiteStore, settings: CrawlSettings | None = None, *,
                 progress: Progress | None = None, stop: asyncio.Event | None = None):
        self.store = store
        self.state = CrawlState(store)
        self.settings = settings or CrawlSettings()
        self.progress = progress or (lambda *a, **k: None)
        self.stop = stop or asyncio.Event()
        self.report = CrawlReport()
        self.known_sources = {s.name for s in store.list_sources()}
        self._done: list[tuple[FrontierItem, Article | None, dict | None, str | None, str | None]] = []

    async def run(self, sources: Iterable[str] | None = None, *, all_feeds: bool = False,
                  fetcher: Fetcher | None = None) -> CrawlReport:
        """Poll due feeds, then fetch every queued entry; returns the report.

        Pass a *fetcher* to share its connections, robots.txt cache and host delays across passes.
        """
        names = list(sources or [])
        # One parsing thread: lxml parsers that libraries keep at module level (trafilatura's)
        # must not be used by two threads at once, and the GIL leaves little to gain anyway.
        self._cpu = ThreadPoolExecutor(max_workers=1, thread_name_prefix="marsad-extract")
        # Several crawlers may share a PostgreSQL database: each feed and entry is claimed first.
        self.claims = Claims(self.state)
        try:
            async with contextlib.AsyncExitStack() as stack:
                if fetcher is None:
                    fetcher = await stack.enter_async_context(Fetcher(self.settings.fetch))
                self.fetcher = fetcher
                requests_before = fetcher.requests
                started = now_utc()
                feeds = self.state.due_feeds(started, names, all_feeds=all_feeds)
                self.progress("feeds", total=len(feeds))
                await self._bounded([self._claimed_poll(feed, started, all_feeds) for feed in feeds])
                if self.settings.fetch_pages and not self.stop.is_set():
                    await self._drain(names)
                self.report.requests = fetcher.requests - requests_before
        finally:
            self._cpu.shutdown(wait=True, cancel_futures=True)
            self.claims.close()
        self.report.stopped = self.stop.is_set()
        return self.report

    async def _in_cpu_thread(self, func: Callable, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._cpu, partial(func, *args, **kwargs))

    async def _bounded(self, coroutines: list) -> None:
        """Run coroutines with the fetcher's concurrency, stopping to start new ones on a stop request."""
        limit = asyncio.Semaphore(max(1, self.settings.fetch.concurrency))

        async def one(coro):
            async with limit:
                if self.stop.is_set():
                    coro.close()
                    return
                await coro

        await asyncio.gather(*(one(c) for c in coroutines))

    # -- 1. feeds --------------------------------------------------------------------------------

    async def _claimed_poll(self, feed: FeedState, started: datetime, all_feeds: bool) -> None:
        """Poll the feed unless another crawler has it now or polled it since this pass began."""
        current = self.claims.feed(feed, now=started, all_feeds=all_feeds, since=started)
        if current is None:
            return
        try:
            await self._poll(current)
        finally:
            self.claims.release_feed(feed.url)

    async def _poll(self, feed: FeedState) -> None:
        report, settings = self.report, self.settings
        report.feeds += 1
        now = now_utc()
        try:
            response = await self.fetcher.fetch(feed.url, etag=feed.etag, last_modified=feed.last_modified,
                                                accept=FEED_ACCEPT)
            if response.not_modified:
                interval = adapt_interval(feed.interval_s, queued=0, dates=[], now=now, settings=settings)
                self.state.record_feed(feed, entries=[], etag=response.etag or feed.etag,
                                       last_modified=response.last_modified or feed.last_modified,
                                       content_hash=None, interval_s=interval,
                                       next_due=now + timedelta(seconds=interval), unchanged=True)
                report.feeds_unchanged += 1
                self.progress("feed", url=feed.url, outcome="unchanged")
                return
            digest = hashlib.sha1(response.content).hexdigest()
            if digest == feed.content_hash:
                interval = adapt_interval(feed.interval_s, queued=0, dates=[], now=now, settings=settings)
                self.state.record_feed(feed, entries=[], etag=response.etag, last_modified=response.last_modified,
                                       content_hash=digest, interval_s=interval,
                                       next_due=now + timedelta(seconds=interval), unchanged=True)
                report.feeds_unchanged += 1
                self.progress("feed", url=feed.url, outcome="unchanged")
                return
            parsed = await self._in_cpu_thread(parse_feed, response.content, url=response.final_url,
                                               content_type=response.headers.get("content-type"))
            if parsed.kind == "sitemapindex":
                parsed = await self._read_index(parsed)
        except (FetchError, Blocked, ParseError) as exc:
            kind = getattr(exc, "kind", None) or ("blocked" if isinstance(exc, Blocked) else "parse")
            interval = error_interval(feed.interval_s, feed.error_count + 1, settings)
            self.state.record_feed_error(feed, kind=kind, message=exc.message, interval_s=interval,
                                         next_due=now + timedelta(seconds=interval))
            report.feeds_failed += 1
            report.error(feed.url, kind, exc.message)
            self.progress("feed", url=feed.url, outcome=kind)
            return
        entries = self._select(parsed, now)
        dates = [e.published_at for e in parsed.entries if e.published_at]
        queued = self.state.record_feed(
            feed, entries=[(canonicalize_url(e.url), e.to_json()) for e in entries], etag=response.etag,
            last_modified=response.last_modified, content_hash=digest,
            interval_s=(interval := adapt_interval(feed.interval_s, queued=len(entries), dates=dates, now=now,
                                                   settings=settings)),
            next_due=now + timedelta(seconds=interval), unchanged=False, title=parsed.title or None)
        report.entries_queued += queued
        self.progress("feed", url=feed.url, outcome=f"{queued} new")

    async def _read_index(self, index: ParsedFeed) -> ParsedFeed:
        """Read the newest few child sitemaps of a sitemap index into one entry list."""
        children = sorted(index.sitemaps, key=lambda c: (c[1][0] if c[1] else datetime.min.replace(
            tzinfo=timezone.utc)), reverse=True)[: self.settings.sitemap_children]
        merged = ParsedFeed(url=index.url, kind="sitemap")
        for url, _ in children:
            try:
                response = await self.fetcher.fetch(url, accept=FEED_ACCEPT)
                child = await self._in_cpu_thread(parse_feed, response.content, url=response.final_url)
            except (FetchError, Blocked, ParseError) as exc:
                self.report.error(url, getattr(exc, "kind", "parse"), exc.message)
                continue
            merged.entries += child.entries
        return merged

    def _select(self, parsed: ParsedFeed, now: datetime) -> list[FeedEntry]:
        """The entries worth queueing: deduplicated, not too old (sitemaps), newest first, capped."""
        seen: set[str] = set()
        entries = []
        oldest = now - timedelta(days=self.settings.max_entry_age_days)
        for entry in parsed.entries:
            key = canonicalize_url(entry.url)
            if key in seen:
                continue
            seen.add(key)
            if parsed.kind == "sitemap" and entry.published_at and entry.published_at < oldest:
                continue
            entries.append(entry)
        if len(entries) > self.settings.max_entries_per_feed:
            floor = datetime.min.replace(tzinfo=timezone.utc)
            entries.sort(key=lambda e: e.published_at or floor, reverse=True)
            entries = entries[: self.settings.max_entries_per_feed]
        return entries

    # -- 2. pages ----------------------------------------------------------------------------------

    async def _drain(self, names: list[str]) -> None:
        items = _interleave_by_host(self.state.pending(now_utc(), names))
        self.progress("pages", total=len(items))
        queue: asyncio.Queue[FrontierItem] = asyncio.Queue()
        for item in items:
            queue.put_nowait(item)

        async def worker() -> None:
            while not self.stop.is_set():
                try:
                    item = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                if not self.claims.entry(item):  # another crawler has it, or has done it
                    continue
                await self._page(item)
                if len(self._done) >= self.settings.batch_size:
                    self._flush()

        workers = [asyncio.create_task(worker()) for _ in range(max(1, min(self.settings.fetch.concurrency,
                                                                           len(items))))]
        stopper = asyncio.create_task(self.stop.wait())
        try:
            running = set(workers)
            while running and not self.stop.is_set():
                _, waiting = await asyncio.wait(running | {stopper}, return_when=asyncio.FIRST_COMPLETED)
                running = waiting - {stopper}
            if running:
                # Stop requested: pages in flight get a moment, then are cancelled (they stay queued).
                _, late = await asyncio.wait(running, timeout=self.settings.stop_grace)
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
        finally:
            stopper.cancel()
            for task in workers:
                if not task.done():
                    task.cancel()
            self._flush()
        for task in workers:
            if task.done() and not task.cancelled() and task.exception():
                raise task.exception()  # type: ignore[misc]

    async def _page(self, item: FrontierItem) -> None:
        entry = FeedEntry.from_json(item.entry)
        report, settings = self.report, self.settings
        error_kind = error_message = None
        raw = None
        response = None
        try:
            response = await self.fetcher.fetch(entry.url, accept=PAGE_ACCEPT)
            page = await self._in_cpu_thread(page_for, response, entry, item.source)
            report.pages += 1
        except (FetchError, Blocked, ParseError) as exc:
            error_kind = getattr(exc, "kind", None) or ("blocked" if isinstance(exc, Blocked) else "parse")
            error_message = exc.message
            report.error(entry.url, error_kind, exc.message)
            if isinstance(exc, FetchError) and exc.retryable and item.attempts + 1 < settings.page_attempts:
                wait = exc.retry_after or settings.fetch.backoff_base * 30 * 2 ** item.attempts
                self.state.retry_later(item.url, when=now_utc() + timedelta(seconds=wait), kind=error_kind,
                                       message=exc.message)
                self.claims.release_entries([item.url])
                report.retry_later += 1
                self.progress("page", url=entry.url, outcome=f"retry ({error_kind})")
                return
            try:
                page = page_from_entry(entry)
            except ParseError as inner:
                self._done.append((item, None, None, error_kind, f"{error_message}; {inner.message}"))
                self.progress("page", url=entry.url, outcome=error_kind)
                return
            report.from_feed += 1
        if response is not None and settings.keep_raw:
            raw = {"url": item.url, "final_url": response.final_url, "status": response.status,
                   "headers": response.headers, "content": response.content, "source": item.source,
                   "fetched_at": response.fetched_at}
        article = article_from_page(page, entry, source=item.source, feed_url=item.feed_url,
                                    final_url=response.final_url if response is not None and error_kind is None
                                    else None, fetched_at=response.fetched_at if response else now_utc())
        self._done.append((item, article, raw, error_kind, error_message))
        self.progress("page", url=entry.url, outcome=error_kind or "ok")

    def _flush(self) -> None:
        """Store the finished batch: raw responses, articles (through the pipeline), then frontier marks."""
        if not self._done:
            return
        batch, self._done = self._done, []
        articles = [article for _, article, _, _, _ in batch if article is not None]
        raws = []
        for _, article, raw, _, _ in batch:
            if raw is not None:
                raw["article_id"] = article.id if article else None
                raws.append(raw)
        self.state.save_raw(raws)
        if articles:
            result = pipeline.store_articles(self.store, articles, known_sources=self.known_sources)
            if self.settings.enrich and hasattr(pipeline, "enrich_stored"):
                pipeline.enrich_stored(self.store, articles, result)  # the pipeline's next stage
            self.report.new += len(result.new)
            self.report.updated += len(result.updated)
            self.report.unchanged += len(result.unchanged)
        self.state.finish([(item.url, article.id if article else None, kind, message)
                           for item, article, _, kind, message in batch])
        self.claims.release_entries(item.url for item, *_ in batch)


# -- entry points -------------------------------------------------------------------------------


def _install_stop_handlers(stop: asyncio.Event) -> Callable[[], None]:
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
            pass

    def remove() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return remove


async def crawl_async(store: SQLiteStore, settings: CrawlSettings | None = None, *,
                      sources: Iterable[str] | None = None, all_feeds: bool = False,
                      progress: Progress | None = None, stop: asyncio.Event | None = None,
                      handle_signals: bool = False) -> CrawlReport:
    """One crawl pass (async)."""
    stop = stop or asyncio.Event()
    remove = _install_stop_handlers(stop) if handle_signals else (lambda: None)
    try:
        return await Crawler(store, settings, progress=progress, stop=stop).run(sources, all_feeds=all_feeds)
    finally:
        remove()


def crawl(store: SQLiteStore, settings: CrawlSettings | None = None, **options: Any) -> CrawlReport:
    """One crawl pass over every due feed and every queued entry; Ctrl-C/SIGTERM stop it cleanly."""
    options.setdefault("handle_signals", True)
    return asyncio.run(crawl_async(store, settings, **options))


async def watch_async(store: SQLiteStore, settings: CrawlSettings | None = None, *,
                      sources: Iterable[str] | None = None, progress: Progress | None = None,
                      on_pass: Callable[[CrawlReport], None] | None = None, stop: asyncio.Event | None = None,
                      max_passes: int | None = None, max_sleep: float = 60.0, handle_signals: bool = True) -> int:
    """Crawl repeatedly until stopped, sleeping until the next feed or entry is due; returns passes run."""
    stop = stop or asyncio.Event()
    remove = _install_stop_handlers(stop) if handle_signals else (lambda: None)
    settings = settings or CrawlSettings()
    passes = 0
    try:
        fetcher = Fetcher(settings.fetch)
    except BaseException:
        remove()
        raise
    try:
        while not stop.is_set() and (max_passes is None or passes < max_passes):
            report = await Crawler(store, settings, progress=progress, stop=stop).run(sources, fetcher=fetcher)
            passes += 1
            if on_pass:
                on_pass(report)
            if max_passes is not None and passes >= max_passes:
                break
            due = CrawlState(store).next_due()
            wait = max_sleep if due is None else (due - now_utc()).total_seconds()
            try:
                await asyncio.wait_for(stop.wait(), timeout=min(max(wait, 1.0), max_sleep))
            except TimeoutError:
                pass
    finally:
        await fetcher.aclose()
        remove()
    return passes


def watch(store: SQLiteStore, settings: CrawlSettings | None = None, **options: Any) -> int:
    """Keep crawling until Ctrl-C or SIGTERM; returns how many passes ran."""
    return asyncio.run(watch_async(store, settings, **options))


# -- reparse ------------------------------------------------------------------------------------


@dataclass
class ReparseReport:
    """What `reparse` did."""

    pages: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def reparse(store: SQLiteStore, *, sources: Iterable[str] | None = None, enrich: bool = True,
            on_item: Callable[[str], None] | None = None) -> ReparseReport:
    """Re-extract every kept raw response with the current extractor and update the stored articles.

    Each article keeps the id it was stored under, so improving the extractor never duplicates.
    """
    state = CrawlState(store)
    report = ReparseReport()
    known = {s.name for s in store.list_sources()}
    batch: list[Article] = []

    def flush() -> None:
        if batch:
            result = pipeline.store_articles(store, batch, known_sources=known)
            if enrich and hasattr(pipeline, "enrich_stored"):
                pipeline.enrich_stored(store, batch, result)
            report.new += len(result.new)
            report.updated += len(result.updated)
            report.unchanged += len(result.unchanged)
            batch.clear()

    for raw in state.iter_raw(sources):
        report.pages += 1
        if on_item:
            on_item(raw["url"])
        item = state.frontier_entry(raw["url"])
        entry = FeedEntry.from_json(item.entry) if item else FeedEntry(url=raw["url"])
        response = Response(url=raw["url"], final_url=raw["final_url"], status=raw["status"],
                            headers=raw["headers"], content=raw["content"], fetched_at=raw["fetched_at"])
        try:
            page = page_for(response, entry, raw["source"])
        except MarsadError as exc:
            report.failed.append((raw["url"], exc.message))
            continue
        batch.append(article_from_page(page, entry, source=raw["source"], feed_url=item.feed_url if item else None,
                                       final_url=raw["final_url"], fetched_at=raw["fetched_at"],
                                       article_id=raw["article_id"] or (item.article_id if item else None)))
        if len(batch) >= 100:
            flush()
    flush()
    return report
