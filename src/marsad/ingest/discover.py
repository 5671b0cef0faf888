"""Finding a site's feeds from whatever URL a user gives: a feed, a homepage, an article page.

In order: the URL itself if it is a feed or sitemap; `<link rel="alternate">` feeds in
its HTML; common feed paths (/feed, /rss.xml ...); the sitemaps that robots.txt lists
(news sitemaps first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import lxml.html

from ..errors import ParseError, Rejected
from .feeds import ParsedFeed, parse_feed, sniff
from .fetch import FetchError, Fetcher, decode_body
from .safety import Blocked
from .textutil import clean_space, language_code

FEED_LINK_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/json",
                   "application/rdf+xml", "text/xml", "application/xml")
COMMON_FEED_PATHS = ("/feed", "/rss", "/rss.xml", "/feed.xml", "/atom.xml", "/index.xml", "/feeds/posts/default",
                     "/rss/index.xml", "/?feed=rss2")
DISCOVER_ACCEPT = "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,*/*;q=0.5"


@dataclass
class FoundFeed:
    """A feed or sitemap found for a site."""

    url: str
    kind: str  # feed | sitemap
    title: str | None = None
    entries: int = 0


@dataclass
class Discovery:
    """What was learnt about a site from one URL."""

    url: str
    homepage: str | None = None
    name: str | None = None
    language: str | None = None
    feeds: list[FoundFeed] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was tried and failed


def _feed_kind(parsed: ParsedFeed) -> str:
    return "sitemap" if parsed.kind in ("sitemap", "sitemapindex") else "feed"


async def _try_feed(fetcher: Fetcher, url: str, notes: list[str]) -> tuple[FoundFeed, ParsedFeed] | None:
    try:
        response = await fetcher.fetch(url, accept=DISCOVER_ACCEPT)
        parsed = parse_feed(response.content, url=response.final_url, content_type=response.headers.get("content-type"))
    except Blocked:
        raise
    except (FetchError, ParseError) as exc:
        notes.append(f"{url}: {exc.message}")
        return None
    count = len(parsed.entries) + len(parsed.sitemaps)
    return FoundFeed(response.final_url, _feed_kind(parsed), parsed.title or None, count), parsed


def feed_links(html: str, base: str) -> list[tuple[str, str | None]]:
    """(url, title) of the feeds an HTML page advertises with <link rel="alternate">."""
    try:
        tree = lxml.html.document_fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return []
    found: list[tuple[str, str | None]] = []
    for link in tree.xpath("//link[@href]"):
        rels = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        if "alternate" in rels and kind in FEED_LINK_TYPES:
            href = urljoin(base, link.get("href").strip())
            title = link.get("title")
            # Comment feeds are not news: skip them when the page offers others.
            if href not in [f[0] for f in found]:
                found.append((href, title))
    main = [f for f in found if "comment" not in (f[0] + (f[1] or "")).lower() and "تعليق" not in (f[1] or "")]
    return main or found


def page_identity(html: str) -> tuple[str | None, str | None]:
    """(site name, language) a homepage declares."""
    try:
        tree = lxml.html.document_fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return None, None
    name = next((clean_space(v) for v in tree.xpath("//meta[@property='og:site_name']/@content") if v.strip()), None)
    if not name:
        title = tree.xpath("//title")
        name = clean_space(title[0].text_content()) if title else None
    lang = tree.xpath("/html/@lang")
    return name or None, language_code(lang[0]) if lang else None


async def discover(url: str, fetcher: Fetcher) -> Discovery:
    """Find the feeds of the site at *url*; raises Rejected when none is found."""
    found = Discovery(url=url)
    parts = urlsplit(url)
    root = f"{parts.scheme}://{parts.netloc}"
    # 1. the URL itself
    try:
        response = await fetcher.fetch(url, accept=DISCOVER_ACCEPT)
    except FetchError as exc:
        raise Rejected(f"cannot read {url}: {exc.message}", subject=url) from exc
    kind = sniff(response.content)
    if kind != "html":
        try:
            parsed = parse_feed(response.content, url=response.final_url,
                                content_type=response.headers.get("content-type"))
        except ParseError as exc:
            found.notes.append(f"{url}: {exc.message}")
        else:
            found.feeds.append(FoundFeed(response.final_url, _feed_kind(parsed), parsed.title or None,
                                         len(parsed.entries) + len(parsed.sitemaps)))
            found.name = parsed.title or None
            found.homepage = parsed.link if parsed.link and parsed.link.startswith("http") else root + "/"
            found.language = parsed.language
            return found
    html = decode_body(response.content, response.headers.get("content-type"), subject=url)[0]
    found.homepage = root + "/"
    found.name, found.language = page_identity(html)
    base = response.final_url
    # 2. <link rel="alternate"> feeds
    for href, title in feed_links(html, base):
        result = await _try_feed(fetcher, href, found.notes)
        if result:
            feed, _ = result
            feed.title = feed.title or title
            found.feeds.append(feed)
    if found.feeds:
        return found
    # 3. common feed paths
    final_root = "{0.scheme}://{0.netloc}".format(urlsplit(base))
    for path in COMMON_FEED_PATHS:
        result = await _try_feed(fetcher, final_root + path, found.notes)
        if result:
            found.feeds.append(result[0])
            return found
    # 4. sitemaps from robots.txt, news sitemaps first
    robots = await fetcher.robots(base)
    sitemaps = sorted(robots.sitemaps, key=lambda u: "news" not in u.lower())
    for sitemap in sitemaps[:5]:
        result = await _try_feed(fetcher, sitemap, found.notes)
        if result:
            found.feeds.append(result[0])
            if result[1].is_news or "news" in sitemap.lower():
                break
    if not found.feeds:
        raise Rejected(f"no feed or sitemap found at {url} (tried <link rel=alternate>, "
                       f"{len(COMMON_FEED_PATHS)} common paths and robots.txt sitemaps); "
                       "give the feed's URL instead", subject=url)
    return found
