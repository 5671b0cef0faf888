"""OPML subscription lists (what Miniflux, FreshRSS and every feed reader import and export)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime

from lxml import etree

from ..errors import ParseError


@dataclass
class OpmlFeed:
    """One subscription: a feed URL and what the list says about its site."""

    xml_url: str
    title: str | None = None
    html_url: str | None = None
    category: str | None = None
    language: str | None = None
    country: str | None = None


@dataclass
class OpmlSource:
    """An outlet to write out: its name, homepage and feeds."""

    name: str
    homepage: str | None = None
    feeds: list[str] = field(default_factory=list)
    language: str | None = None
    country: str | None = None


def parse_opml(data: bytes, *, subject: str = "") -> list[OpmlFeed]:
    """The feeds an OPML file lists (nested outlines give their category); raises ParseError."""
    # No entities, no network: an OPML file from the internet must not read local files (XXE).
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True, huge_tree=False,
                             remove_comments=True)
    try:
        root = etree.fromstring(data.strip(), parser)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"not a readable OPML file ({exc})", subject=subject) from exc
    if root is None or etree.QName(root.tag).localname.lower() != "opml":
        raise ParseError("not an OPML file (no <opml> root)", subject=subject)
    feeds: list[OpmlFeed] = []

    def walk(node: etree._Element, category: str | None) -> None:
        for outline in node:
            if not isinstance(outline.tag, str) or etree.QName(outline.tag).localname.lower() != "outline":
                continue
            attrs = {k.lower(): v for k, v in outline.attrib.items()}
            url = (attrs.get("xmlurl") or "").strip()
            label = (attrs.get("title") or attrs.get("text") or "").strip() or None
            if url:
                feeds.append(OpmlFeed(url, label, (attrs.get("htmlurl") or "").strip() or None, category,
                                      (attrs.get("language") or "").strip() or None,
                                      (attrs.get("country") or "").strip().upper() or None))
            walk(outline, label if not url else category)

    body = next((c for c in root if isinstance(c.tag, str) and etree.QName(c.tag).localname.lower() == "body"), None)
    if body is not None:
        walk(body, None)
    return feeds


def write_opml(sources: list[OpmlSource], *, title: str = "marsad sources") -> str:
    """An OPML 2.0 document listing every feed, one outline per feed, grouped by outlet."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateCreated").text = format_datetime(datetime.now(timezone.utc), usegmt=True)
    body = etree.SubElement(root, "body")
    for source in sources:
        group = etree.SubElement(body, "outline", text=source.name, title=source.name)
        for url in source.feeds:
            attrs = {"type": "rss", "text": source.name, "title": source.name, "xmlUrl": url}
            if source.homepage:
                attrs["htmlUrl"] = source.homepage
            if source.language:
                attrs["language"] = source.language
            if source.country:
                attrs["country"] = source.country
            etree.SubElement(group, "outline", **attrs)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True).decode("utf-8")
