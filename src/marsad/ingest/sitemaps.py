"""XML sitemaps: Google News sitemaps, plain URL sets and sitemap indexes (gzip or not)."""

from __future__ import annotations

import gzip
import io
import zlib

from lxml import etree

from ..errors import ParseError, Rejected
from .feeds import FeedEntry, ParsedFeed
from .textutil import clean_space, language_code, parse_when

MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the sitemaps.org limit, uncompressed


def gunzip_capped(data: bytes, limit: int = MAX_SITEMAP_BYTES, *, subject: str = "") -> bytes:
    """Decompress gzip data, refusing to inflate past *limit* bytes (a decompression bomb)."""
    out = io.BytesIO()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            while chunk := stream.read(64 * 1024):
                out.write(chunk)
                if out.tell() > limit:
                    raise Rejected(f"gzip sitemap inflates past {limit} bytes", subject=subject)
    except (OSError, EOFError, zlib.error) as exc:
        if out.tell() == 0:
            raise ParseError(f"unreadable gzip sitemap ({exc})", subject=subject) from exc
    return out.getvalue()


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _child_text(element: etree._Element, *path: str) -> str | None:
    node = element
    for name in path:
        node = next((c for c in node if _local(c.tag) == name), None)
        if node is None:
            return None
    return clean_space(node.text or "") or None


def looks_like_sitemap(data: bytes) -> bool:
    """Whether bytes are (probably) a sitemap or sitemap index."""
    if data[:2] == b"\x1f\x8b":
        return True
    head = data[:2048].lower()
    return b"<urlset" in head or b"<sitemapindex" in head


def parse_sitemap(data: bytes, *, url: str) -> ParsedFeed:
    """Parse a sitemap (kind "sitemap", entries) or a sitemap index (kind "sitemapindex", children)."""
    if data[:2] == b"\x1f\x8b":
        data = gunzip_capped(data, subject=url)
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=False,
                             remove_comments=True)
    try:
        root = etree.fromstring(data.lstrip(), parser)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"not a readable sitemap ({exc})", subject=url) from exc
    if root is None:
        raise ParseError("empty sitemap", subject=url)
    kind = _local(root.tag)
    feed = ParsedFeed(url=url, kind="sitemapindex" if kind == "sitemapindex" else "sitemap")
    if kind == "sitemapindex":
        for node in root:
            if _local(node.tag) == "sitemap" and (loc := _child_text(node, "loc")):
                feed.sitemaps.append((loc, parse_when(_child_text(node, "lastmod"))))
        return feed
    if kind != "urlset":
        raise ParseError(f"not a sitemap (root element <{kind}>)", subject=url)
    for node in root:
        if _local(node.tag) != "url" or not (loc := _child_text(node, "loc")):
            continue
        news = next((c for c in node if _local(c.tag) == "news"), None)
        when = parse_when(_child_text(news, "publication_date")) if news is not None else None
        lastmod = parse_when(_child_text(node, "lastmod"))
        keywords = _child_text(news, "keywords") if news is not None else None
        feed.entries.append(FeedEntry(
            url=loc,
            title=(_child_text(news, "title") if news is not None else None) or "",
            published_at=(when or lastmod or (None, None))[0],
            date_precision=(when or lastmod or (None, None))[1],
            updated_at=lastmod[0] if lastmod else None,
            tags=[k.strip() for k in (keywords or "").split(",") if k.strip()],
            language=language_code(_child_text(news, "publication", "language")) if news is not None else None,
            image=_child_text(next((c for c in node if _local(c.tag) == "image"), node), "loc")
            if any(_local(c.tag) == "image" for c in node) else None,
        ))
    feed.is_news = any(_local(c.tag) == "news" for n in root for c in n)
    return feed
