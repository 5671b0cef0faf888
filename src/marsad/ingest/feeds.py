"""Feeds to entries: RSS 0.9x/1.0/2.0 and Atom (feedparser), JSON Feed, and sitemaps.

`parse_feed(bytes, url=...)` recognises what it is given and returns a `ParsedFeed`;
what is not a feed at all (an HTML page, an empty body) raises ParseError saying so.
Malformed and truncated feeds give the entries that could be read, with a warning.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urljoin

from ..errors import ParseError
from ..models import Precision
from .textutil import clean_space, html_paragraphs, language_code, parse_when

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/json",
              "application/rdf+xml", "application/xml", "text/xml")


@dataclass
class FeedEntry:
    """One item of a feed or sitemap: where the article is and what the feed says of it."""

    url: str
    title: str = ""
    published_at: datetime | None = None
    date_precision: Precision | None = None
    updated_at: datetime | None = None
    summary: list[str] = field(default_factory=list)  # paragraphs of plain text
    content: list[str] = field(default_factory=list)  # full text when the feed carries it
    author: str | None = None
    tags: list[str] = field(default_factory=list)
    image: str | None = None
    guid: str | None = None
    language: str | None = None

    def to_json(self) -> dict:
        """A JSON-safe dict (for the crawl frontier)."""
        data = dict(self.__dict__)
        for key in ("published_at", "updated_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data

    @classmethod
    def from_json(cls, data: dict) -> "FeedEntry":
        """The inverse of `to_json`."""
        values = dict(data)
        for key in ("published_at", "updated_at"):
            values[key] = datetime.fromisoformat(values[key]) if values.get(key) else None
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})


@dataclass
class ParsedFeed:
    """What a feed or sitemap holds."""

    url: str
    kind: str  # rss | atom | rdf | json | sitemap | sitemapindex
    title: str = ""
    link: str | None = None  # the site's homepage, as the feed gives it
    language: str | None = None
    entries: list[FeedEntry] = field(default_factory=list)
    sitemaps: list[tuple[str, tuple | None]] = field(default_factory=list)  # index children (url, lastmod)
    warnings: list[str] = field(default_factory=list)
    skipped: int = 0  # entries without a usable link
    is_news: bool = False


def sniff(data: bytes) -> str:
    """What bytes look like: "json", "sitemap", "feed", "html" or "unknown"."""
    from .sitemaps import looks_like_sitemap

    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"{"):
        return "json"
    if looks_like_sitemap(data):
        return "sitemap"
    if b"<rss" in head or b"<feed" in head or b"<rdf:rdf" in head or b"<rdf " in head or b"<channel" in head:
        return "feed"
    if b"<html" in head or b"<!doctype html" in head or b"<head" in head or b"<body" in head:
        return "html"
    return "unknown"


def parse_feed(data: bytes, *, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse any supported feed or sitemap; raises ParseError when *data* is not one."""
    if not data.strip():
        raise ParseError("empty response where a feed was expected", subject=url)
    kind = sniff(data)
    if kind == "json":
        return parse_json_feed(data, url=url)
    if kind == "sitemap":
        from .sitemaps import parse_sitemap

        return parse_sitemap(data, url=url)
    if kind == "html":
        raise ParseError("this is an HTML page, not a feed", subject=url)
    return _parse_xml_feed(data, url=url, content_type=content_type)


def _entry_url(entry: dict, base: str) -> str | None:
    link = entry.get("link")
    if not link:
        for candidate in entry.get("links") or []:
            if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
                link = candidate["href"]
                break
    if not link and entry.get("guidislink") is not False and str(entry.get("id", "")).startswith("http"):
        link = entry["id"]
    if not link:
        return None
    absolute = urljoin(base, link.strip())
    return absolute if absolute.startswith(("http://", "https://")) else None


def _entry_image(entry: dict) -> str | None:
    for key in ("media_content", "media_thumbnail"):
        for media in entry.get(key) or []:
            if media.get("url") and (key == "media_thumbnail" or "image" in media.get("type", "image")
                                     or media.get("medium") == "image"):
                return media["url"]
    for link in entry.get("links") or []:
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image") and link.get("href"):
            return link["href"]
    image = entry.get("image")
    return image.get("href") if isinstance(image, dict) else None


def _entry_date(entry: dict, *keys: str) -> tuple[datetime, Precision] | tuple[None, None]:
    for key in keys:
        when = parse_when(entry.get(key))
        if when:
            return when
        parsed = entry.get(f"{key}_parsed")
        if parsed:
            return datetime(*parsed[:6], tzinfo=timezone.utc), "second"
    return None, None


def _entry_title(entry: dict) -> str:
    title = entry.get("title", "") or ""
    if "html" in (entry.get("title_detail") or {}).get("type", ""):
        return clean_space(" ".join(html_paragraphs(title)))
    return clean_space(title)


def _parse_xml_feed(data: bytes, *, url: str, content_type: str | None) -> ParsedFeed:
    import feedparser

    headers = {"content-type": content_type} if content_type else {}
    parsed = feedparser.parse(data, response_headers=headers, sanitize_html=False, resolve_relative_uris=False)
    version = parsed.get("version") or ""
    if not version and not parsed.entries:
        reason = parsed.get("bozo_exception")
        raise ParseError(f"not a feed ({reason or 'no RSS/Atom structure found'})", subject=url)
    channel = parsed.feed
    kind = "atom" if version.startswith("atom") else "rdf" if version.startswith("rss09") or version == "rss10" \
        else "rss"
    feed = ParsedFeed(url=url, kind=kind, title=clean_space(channel.get("title", "")),
                      link=channel.get("link"), language=language_code(channel.get("language")))
    if parsed.get("bozo"):
        feed.warnings.append(f"malformed feed, read what could be read ({parsed.get('bozo_exception')})")
    with warnings.catch_warnings():
        # feedparser warns when "updated" is read from an entry that only has "published"
        warnings.simplefilter("ignore", DeprecationWarning)
        for entry in parsed.entries:
            _add_entry(feed, entry, url)
    return feed


def _add_entry(feed: ParsedFeed, entry: dict, url: str) -> None:
    link = _entry_url(entry, feed.link or url)
    if not link:
        feed.skipped += 1
        return
    published, precision = _entry_date(entry, "published", "issued", "created", "updated")
    updated, _ = _entry_date(entry, "updated")
    content = ""
    for block in entry.get("content") or []:
        if len(block.get("value", "")) > len(content):
            content = block["value"]
    authors = [a.get("name") for a in entry.get("authors") or [] if a.get("name")]
    feed.entries.append(FeedEntry(
        url=link,
        title=_entry_title(entry),
        published_at=published,
        date_precision=precision,
        updated_at=updated,
        summary=html_paragraphs(entry.get("summary")),
        content=html_paragraphs(content),
        author=", ".join(authors) or entry.get("author") or None,
        tags=[clean_space(t["term"]) for t in entry.get("tags") or [] if t.get("term")],
        image=_entry_image(entry),
        guid=entry.get("id"),
        language=language_code(entry.get("language")),
    ))
    return feed


def parse_json_feed(data: bytes, *, url: str) -> ParsedFeed:
    """Parse a JSON Feed (version 1 or 1.1)."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"not a readable JSON feed ({exc})", subject=url) from exc
    if not isinstance(doc, dict) or "jsonfeed.org" not in str(doc.get("version", "")) \
            or not isinstance(doc.get("items"), list):
        raise ParseError("JSON, but not a JSON Feed (no jsonfeed.org version or items)", subject=url)
    feed = ParsedFeed(url=url, kind="json", title=clean_space(str(doc.get("title") or "")),
                      link=doc.get("home_page_url"), language=language_code(doc.get("language")))
    for item in doc["items"]:
        if not isinstance(item, dict):
            feed.skipped += 1
            continue
        link = item.get("url") or (item.get("id") if str(item.get("id", "")).startswith("http") else None)
        if not link:
            feed.skipped += 1
            continue
        published = parse_when(item.get("date_published"))
        updated = parse_when(item.get("date_modified"))
        authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
        feed.entries.append(FeedEntry(
            url=urljoin(feed.link or url, str(link)),
            title=clean_space(str(item.get("title") or "")),
            published_at=(published or updated or (None, None))[0],
            date_precision=(published or updated or (None, None))[1],
            updated_at=updated[0] if updated else None,
            summary=html_paragraphs(item.get("summary")),
            content=html_paragraphs(item.get("content_html")) or html_paragraphs(item.get("content_text")),
            author=", ".join(str(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")) or None,
            tags=[str(t) for t in item.get("tags") or []],
            image=item.get("image") or item.get("banner_image"),
            guid=str(item.get("id")) if item.get("id") is not None else None,
            language=language_code(item.get("language")),
        ))
    return feed
