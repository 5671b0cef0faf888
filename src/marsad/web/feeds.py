"""Feeds out: RSS 2.0 and Atom 1.0 for the latest articles, any search, tag, outlet or story.

The writer builds the XML with ElementTree (so every text is escaped) and drops the
control characters XML 1.0 forbids; feedparser reads the result without complaint.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from .. import __version__
from ..errors import NotFound, StoreError
from ..search import search
from . import compat, queries
from .i18n import translate
from .render import article_url, source_url, story_url, tag_url

FEED_SIZE = 50
MEDIA_TYPES = {"rss": "application/rss+xml; charset=utf-8", "atom": "application/atom+xml; charset=utf-8"}
ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
ET.register_namespace("atom", ATOM_NS)
ET.register_namespace("dc", DC_NS)

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _clean(text: str | None) -> str:
    return _NOT_XML.sub("", text or "")


@dataclass
class FeedItem:
    """One entry: `link` is absolute; `id` is a stable, unique URI."""

    id: str
    title: str
    link: str
    published: datetime | None = None
    summary: str = ""
    author: str | None = None
    categories: list[str] = field(default_factory=list)
    original: str | None = None


@dataclass
class Feed:
    """A feed: its title, the page it mirrors (`link`), its own address (`self_url`) and entries."""

    title: str
    link: str
    self_url: str
    description: str = ""
    language: str = "ar"
    items: list[FeedItem] = field(default_factory=list)

    @property
    def updated(self) -> datetime:
        """The newest entry's date (or now, for an empty feed)."""
        dates = [i.published for i in self.items if i.published]
        return max(dates) if dates else datetime.now(timezone.utc)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, tag, {k: _clean(v) for k, v in attrs.items()})
    if text is not None:
        node.text = _clean(text)
    return node


def _rfc3339(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_rss(feed: Feed) -> bytes:
    """The feed as RSS 2.0 (with atom:link rel=self, as the RSS Advisory Board recommends)."""
    rss = ET.Element("rss", {"version": "2.0"})
    channel = _sub(rss, "channel")
    _sub(channel, "title", feed.title)
    _sub(channel, "link", feed.link)
    _sub(channel, "description", feed.description or feed.title)
    _sub(channel, "language", feed.language)
    _sub(channel, "lastBuildDate", format_datetime(feed.updated.astimezone(timezone.utc), usegmt=True))
    _sub(channel, "generator", f"marsad {__version__}")
    _sub(channel, f"{{{ATOM_NS}}}link", href=feed.self_url, rel="self", type="application/rss+xml")
    for item in feed.items:
        node = _sub(channel, "item")
        _sub(node, "title", item.title)
        _sub(node, "link", item.link)
        _sub(node, "guid", item.id, isPermaLink="true" if item.id == item.link else "false")
        if item.published:
            _sub(node, "pubDate", format_datetime(item.published.astimezone(timezone.utc), usegmt=True))
        if item.summary:
            _sub(node, "description", item.summary)
        if item.author:
            _sub(node, f"{{{DC_NS}}}creator", item.author)
        for category in item.categories:
            _sub(node, "category", category)
    return ET.tostring(rss, encoding="utf-8", xml_declaration=True)


def write_atom(feed: Feed) -> bytes:
    """The feed as Atom 1.0 (RFC 4287)."""
    root = ET.Element(f"{{{ATOM_NS}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": feed.language})
    _sub(root, f"{{{ATOM_NS}}}id", feed.self_url)
    _sub(root, f"{{{ATOM_NS}}}title", feed.title)
    if feed.description:
        _sub(root, f"{{{ATOM_NS}}}subtitle", feed.description)
    _sub(root, f"{{{ATOM_NS}}}updated", _rfc3339(feed.updated))
    _sub(root, f"{{{ATOM_NS}}}link", href=feed.self_url, rel="self", type="application/atom+xml")
    _sub(root, f"{{{ATOM_NS}}}link", href=feed.link, rel="alternate", type="text/html")
    author = _sub(root, f"{{{ATOM_NS}}}author")
    _sub(author, f"{{{ATOM_NS}}}name", "marsad")
    _sub(root, f"{{{ATOM_NS}}}generator", "marsad", version=__version__)
    for item in feed.items:
        entry = _sub(root, f"{{{ATOM_NS}}}entry")
        _sub(entry, f"{{{ATOM_NS}}}id", item.id)
        _sub(entry, f"{{{ATOM_NS}}}title", item.title)
        _sub(entry, f"{{{ATOM_NS}}}link", href=item.link, rel="alternate", type="text/html")
        if item.original:
            _sub(entry, f"{{{ATOM_NS}}}link", href=item.original, rel="related", type="text/html")
        when = item.published or feed.updated
        _sub(entry, f"{{{ATOM_NS}}}updated", _rfc3339(when))
        if item.published:
            _sub(entry, f"{{{ATOM_NS}}}published", _rfc3339(item.published))
        if item.author:
            entry_author = _sub(entry, f"{{{ATOM_NS}}}author")
            _sub(entry_author, f"{{{ATOM_NS}}}name", item.author)
        for category in item.categories:
            _sub(entry, f"{{{ATOM_NS}}}category", term=category)
        if item.summary:
            _sub(entry, f"{{{ATOM_NS}}}summary", item.summary, type="text")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


WRITERS = {"rss": write_rss, "atom": write_atom}


# -- routes ------------------------------------------------------------------------------------

router = APIRouter(include_in_schema=False)


def _base(request: Request) -> str:
    public = request.app.state.web.settings.public_url
    return (public or str(request.base_url)).rstrip("/")


def _item(base: str, t: queries.Teaser) -> FeedItem:
    link = base + article_url(t.id)
    return FeedItem(id=link, title=t.title, link=link, published=t.published_at, summary=t.lead, author=t.source,
                    categories=list(t.tags), original=t.url)


def _respond(request: Request, fmt: str, key: tuple, build) -> Response:
    if fmt not in WRITERS:
        raise NotFound("no such feed format (use .rss or .atom)", subject=fmt)
    web = request.app.state.web
    base = _base(request)
    self_url = base + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    body = web.cache.get_or_compute(("feed", fmt, self_url, *key),
                                    lambda: WRITERS[fmt](build(web.pool.get(), base, self_url)))
    return Response(body, media_type=MEDIA_TYPES[fmt])


def _lang(request: Request) -> str:
    from .render import prefs_of

    return prefs_of(request).lang


@router.get("/feed.{fmt}")
def latest_feed(request: Request, fmt: str):
    """The latest articles."""
    lang = _lang(request)

    def build(store, base, self_url):
        page = queries.latest(store, limit=FEED_SIZE)
        return Feed(translate(lang, "feed.latest"), base + "/", self_url, translate(lang, "site.description"),
                    items=[_item(base, t) for t in page.items])

    return _respond(request, fmt, (lang,), build)


@router.get("/search/feed.{fmt}")
def search_feed(request: Request, fmt: str, q: str = Query("", max_length=500),
                source: str | None = Query(None, max_length=100), tag: str | None = Query(None, max_length=100),
                date_from: str | None = Query(None, alias="from", max_length=10),
                date_to: str | None = Query(None, alias="to", max_length=10)):
    """A search, newest first."""
    lang = _lang(request)
    text = queries.full_query(q, source=source, tag=tag, date_from=queries.check_date(date_from, "from"),
                              date_to=queries.check_date(date_to, "to"))
    if not text:
        raise NotFound("a search feed needs a query", subject="q")

    def build(store, base, self_url):
        try:
            results = search(store, text, limit=FEED_SIZE, sort="date", snippets=True)
        except StoreError as exc:
            raise NotFound(exc.message, subject="search") from exc
        items = [FeedItem(id=base + article_url(h.id), title=h.title, link=base + article_url(h.id),
                          published=h.published_at, summary=h.snippet_text, author=h.source, original=h.url)
                 for h in results.hits]
        page = base + "/search?" + urlencode({"q": text, "sort": "date"})
        return Feed(translate(lang, "feed.search", q=text), page, self_url, items=items)

    return _respond(request, fmt, (lang,), build)


@router.get("/tags/{tag:path}/feed.{fmt}")
def tag_feed(request: Request, tag: str, fmt: str):
    """A tag's articles."""
    lang = _lang(request)

    def build(store, base, self_url):
        if not queries.tag_count(store, tag):
            raise NotFound("no article has this tag", subject=tag)
        page = queries.latest(store, tag=tag, limit=FEED_SIZE)
        return Feed(translate(lang, "feed.tag", tag=tag), base + tag_url(tag), self_url,
                    items=[_item(base, t) for t in page.items])

    return _respond(request, fmt, (lang,), build)


@router.get("/sources/{name:path}/feed.{fmt}")
def source_feed(request: Request, name: str, fmt: str):
    """An outlet's articles."""
    lang = _lang(request)

    def build(store, base, self_url):
        outlet = queries.outlet(store, name)
        page = queries.latest(store, source=outlet.source.name, limit=FEED_SIZE)
        return Feed(translate(lang, "feed.source", source=outlet.source.name), base + source_url(outlet.source.name),
                    self_url, language=outlet.source.language or "ar", items=[_item(base, t) for t in page.items])

    return _respond(request, fmt, (lang,), build)


@router.get("/stories/{story_id}/feed.{fmt}")
def story_feed(request: Request, story_id: str, fmt: str):
    """A story's articles."""
    lang = _lang(request)

    def build(store, base, self_url):
        detail = compat.get_story(store, story_id)
        if detail is None:
            raise NotFound("stories are not available yet", subject=story_id)
        ordered = sorted(detail.articles, key=lambda a: a.published_at or datetime.min.replace(tzinfo=timezone.utc),
                         reverse=True)[:FEED_SIZE]
        return Feed(translate(lang, "feed.story", title=detail.title), base + story_url(detail.id), self_url,
                    items=[_item(base, queries.Teaser.of(a)) for a in ordered])

    return _respond(request, fmt, (lang,), build)
