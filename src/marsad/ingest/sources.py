"""The sources registry: outlets a user follows, each with its feeds and crawl state.

Edges (CLI, web) call these functions; each is one library call with plain results.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import NotFound, Rejected
from ..models import Source
from ..store.sqlite import SQLiteStore
from .discover import Discovery, FoundFeed, discover
from .fetch import Fetcher, FetchSettings
from .opml import OpmlSource, parse_opml, write_opml
from .outlets import known_outlets, resolve_outlet
from .safety import check_url
from .state import CrawlState, FeedState


@dataclass
class SourceStatus:
    """A source as `marsad sources list` shows it."""

    source: Source
    disabled: bool
    feeds: list[FeedState]
    articles: int
    pending: int

    @property
    def last_fetched(self) -> datetime | None:
        times = [f.last_fetched for f in self.feeds if f.last_fetched]
        return max(times) if times else None

    @property
    def errors(self) -> int:
        return sum(f.error_count for f in self.feeds)


@dataclass
class AddResult:
    """What `add_source` registered."""

    source: Source
    added_feeds: list[FoundFeed] = field(default_factory=list)
    existing_feeds: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _host(url: str | None) -> str:
    return (urlsplit(url or "").hostname or "").lower().removeprefix("www.")


def _known_by_host(host: str) -> Source | None:
    for outlet in known_outlets():
        if host and _host(outlet.homepage) == host:
            return outlet
    return None


def _country_from_host(host: str) -> str | None:
    import pycountry

    tld = host.rsplit(".", 1)[-1].upper() if "." in host else ""
    if len(tld) == 2 and tld not in ("TV", "FM", "IO", "ME", "CO", "AI") and pycountry.countries.get(alpha_2=tld):
        return tld
    return None


def register(store: SQLiteStore, found: Discovery, *, name: str | None = None, language: str | None = None,
             country: str | None = None) -> AddResult:
    """Store a discovered source and its feeds (merging into an existing source of the same site)."""
    state = CrawlState(store)
    host = _host(found.homepage or found.url)
    known = resolve_outlet(name) if name else None
    known = known or _known_by_host(host)
    existing = {s.name: s for s in store.list_sources()}
    chosen = name or (known.name if known else None) or found.name or host
    if chosen in existing and _host(existing[chosen].homepage) not in ("", host) and not name:
        chosen = f"{chosen} ({host})"
    current = existing.get(chosen)
    if current and current.homepage and _host(current.homepage) != host and name:
        raise Rejected(f"a source named {chosen!r} already exists for {current.homepage}; choose another --name",
                       subject=chosen)
    feeds_before = list(current.feeds) if current else []
    result = AddResult(source=Source(
        name=chosen,
        homepage=(current.homepage if current and current.homepage else None) or found.homepage,
        feeds=feeds_before,
        language=language or (current.language if current else None) or (known.language if known else None)
        or found.language,
        country=(country or (current.country if current else None) or (known.country if known else None)
                 or _country_from_host(host)),
        aliases=(current.aliases if current else None) or (list(known.aliases) if known else []),
    ), notes=list(found.notes))
    for feed in found.feeds:
        owner = state.feed_owner(feed.url)
        if owner is not None:
            result.existing_feeds.append(f"{feed.url} (already a feed of {owner})")
            continue
        result.source.feeds.append(feed.url)
        result.added_feeds.append(feed)
    if not result.added_feeds and not current:
        raise Rejected("every feed found is already registered: " + "; ".join(result.existing_feeds),
                       subject=found.url)
    store.upsert_sources([result.source])
    state.mark_source_added(chosen)
    for feed in result.added_feeds:
        state.add_feed(chosen, feed.url, kind=feed.kind, title=feed.title)
    return result


async def add_source_async(store: SQLiteStore, url: str, *, name: str | None = None, language: str | None = None,
                           country: str | None = None, settings: FetchSettings | None = None,
                           discover_feeds: bool = True) -> AddResult:
    """Register the outlet at *url* (a feed or a site), finding its feeds unless told not to."""
    settings = settings or FetchSettings.from_env()
    url = url.strip()
    if "://" not in url:
        url = "https://" + url
    check_url(url, settings.network)
    if not discover_feeds:
        parts = urlsplit(url)
        found = Discovery(url=url, homepage=f"{parts.scheme}://{parts.netloc}/",
                          feeds=[FoundFeed(url, "sitemap" if "sitemap" in url.lower() else "feed")])
    else:
        async with Fetcher(settings) as fetcher:
            found = await discover(url, fetcher)
    return register(store, found, name=name, language=language, country=country)


def add_source(store: SQLiteStore, url: str, **options) -> AddResult:
    """Register the outlet at *url* (see `add_source_async`)."""
    return asyncio.run(add_source_async(store, url, **options))


def list_sources(store: SQLiteStore) -> list[SourceStatus]:
    """Every source with its feeds, state and counts, by name."""
    state = CrawlState(store)
    disabled = state.source_disabled()
    counts = {r[0]: r[1] for r in state.conn.execute("SELECT source, count(*) FROM articles GROUP BY source")}
    pending = {r[0]: r[1] for r in state.conn.execute(
        "SELECT source, count(*) FROM frontier WHERE state = 'pending' GROUP BY source")}
    feeds: dict[str, list[FeedState]] = {}
    for feed in state.feeds():
        feeds.setdefault(feed.source, []).append(feed)
    return [SourceStatus(s, disabled.get(s.name, False), feeds.get(s.name, []), counts.get(s.name, 0),
                         pending.get(s.name, 0)) for s in store.list_sources()]


def _resolve_name(store: SQLiteStore, name: str) -> str:
    names = [s.name for s in store.list_sources()]
    if name in names:
        return name
    matches = [s.name for s in store.list_sources() if name.lower() in (a.lower() for a in s.aliases)
               or _host(s.homepage) == _host(name if "://" in name else "https://" + name)]
    if len(matches) == 1:
        return matches[0]
    raise NotFound("no such source", subject=name)


def remove_source(store: SQLiteStore, name: str) -> int:
    """Forget a source and its feeds (its stored articles stay); returns how many feeds went."""
    return CrawlState(store).remove_source(_resolve_name(store, name))


def disable_source(store: SQLiteStore, name: str, disabled: bool = True) -> str:
    """Stop (or resume, with disabled=False) crawling a source; returns its name."""
    resolved = _resolve_name(store, name)
    CrawlState(store).set_source_disabled(resolved, disabled)
    return resolved


@dataclass
class ImportReport:
    """What an OPML import registered."""

    sources: int = 0
    feeds: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)


def import_opml(store: SQLiteStore, path: str | Path, *, settings: FetchSettings | None = None) -> ImportReport:
    """Register every feed of an OPML file (no network: feeds are taken as listed)."""
    settings = settings or FetchSettings.from_env()
    data = Path(path).read_bytes()
    report = ImportReport()
    state = CrawlState(store)
    existing = {s.name: s for s in store.list_sources()}
    touched: set[str] = set()
    for item in parse_opml(data, subject=str(path)):
        try:
            check_url(item.xml_url, settings.network)
        except Rejected as exc:
            report.skipped.append((item.xml_url, exc.message))
            continue
        url = item.xml_url
        if state.feed_owner(url) is not None:
            report.skipped.append((url, f"already a feed of {state.feed_owner(url)}"))
            continue
        host = _host(item.html_url or url)
        known = resolve_outlet(item.title) or _known_by_host(host)
        name = (known.name if known else None) or item.title or host
        source = existing.get(name) or Source(
            name=name, homepage=item.html_url or (known.homepage if known else None) or
            "{0.scheme}://{0.netloc}/".format(urlsplit(url)),
            language=item.language or (known.language if known else None),
            country=item.country or (known.country if known else None) or _country_from_host(host),
            aliases=list(known.aliases) if known else [])
        source.feeds = [*source.feeds, url]
        store.upsert_sources([source])
        state.mark_source_added(name)
        state.add_feed(name, url, kind="sitemap" if "sitemap" in url.lower() else "feed", title=item.title)
        existing[name] = source
        touched.add(name)
        report.feeds += 1
    report.sources = len(touched)
    return report


def export_opml(store: SQLiteStore) -> str:
    """Every source and its feeds as an OPML 2.0 document."""
    state = CrawlState(store)
    out = []
    for source in store.list_sources():
        feeds = [f.url for f in state.feeds(source.name)] or list(source.feeds)
        if feeds:
            out.append(OpmlSource(source.name, source.homepage, feeds, source.language, source.country))
    return write_opml(out)

