"""Article pages to clean fields: title, paragraphs, dates, author, tags, language, canonical URL, image.

The order, written down once:

    1. parse the HTML once (lxml) and read the page's own metadata:
       JSON-LD (NewsArticle & co.), OpenGraph / article:*, <meta>, <link rel=canonical>, <html lang>;
    2. drop per-site noise listed in data/extract_rules.json (per-site knowledge is data);
    3. main text with trafilatura (whose metadata pass runs htmldate for the date);
    4. choose each field from the most reliable place that has it (JSON-LD, then
       OpenGraph/meta, then trafilatura/htmldate), with site-name affixes cut from titles;
    5. fall back to the feed entry's own fields for whatever the page lacks.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cache
from importlib import resources
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html

from ..errors import ParseError
from ..models import Precision
from ..normalize import fold
from ..parse.language import detect_language
from .feeds import FeedEntry
from .textutil import clean_space, language_code, local_when, parse_when

ARTICLE_TYPES = {"newsarticle", "article", "reportagenewsarticle", "analysisnewsarticle", "blogposting",
                 "opinionnewsarticle", "backgroundnewsarticle", "reviewnewsarticle", "liveblogposting",
                 "socialmediaposting", "webpage"}
DATE_META = ("article:published_time", "datepublished", "pubdate", "publishdate", "publish-date",
             "publication_date", "dc.date.issued", "dcterms.issued", "sailthru.date", "parsely-pub-date",
             "og:published_time", "date", "datecreated")
_TITLE_SEPARATORS = re.compile(r"\s+[-|–—:»«]\s+|\s*\|\s*")
_EARLIEST = datetime(1990, 1, 1, tzinfo=timezone.utc)


@dataclass
class ExtractedPage:
    """What one article page yields; `*_source` fields say where a value came from."""

    url: str
    title: str = ""
    paragraphs: list[str] = field(default_factory=list)
    published_at: datetime | None = None  # UTC
    published_local: datetime | None = None  # as the page wrote it, with its own UTC offset
    date_precision: Precision | None = None
    date_source: str | None = None
    author: str | None = None
    tags: list[str] = field(default_factory=list)
    language: str | None = None
    canonical_url: str | None = None
    image: str | None = None
    description: str | None = None
    site_name: str | None = None
    text_source: str | None = None  # trafilatura | json-ld | feed


# -- per-site rules ---------------------------------------------------------------------------------


@cache
def _rules() -> dict[str, dict]:
    raw = json.loads(resources.files("marsad").joinpath("data/extract_rules.json").read_text(encoding="utf-8"))
    return {domain.lower(): rule for domain, rule in raw.get("sites", {}).items()}


def site_rule(url: str) -> dict:
    """The extraction rule for *url*'s site (matched on the host and its parent domains)."""
    host = (urlsplit(url).hostname or "").lower()
    parts = host.split(".")
    for start in range(len(parts) - 1):
        rule = _rules().get(".".join(parts[start:]))
        if rule:
            return rule
    return {}


# -- page metadata -----------------------------------------------------------------------------------


def _json_ld_objects(tree: lxml.html.HtmlElement) -> list[dict]:
    objects: list[dict] = []

    def walk(node: object) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            objects.append(node)
            if "@graph" in node:
                walk(node["@graph"])

    for script in tree.xpath('//script[@type="application/ld+json"]'):
        text = (script.text or "").strip()
        if not text:
            continue
        text = re.sub(r"^\s*(<!--|<!\[CDATA\[)|(-->|\]\]>)\s*$", "", text)
        try:
            walk(json.loads(text))
        except json.JSONDecodeError:
            try:  # raw control characters inside strings are the usual fault
                walk(json.loads(re.sub(r"[\x00-\x1f]+", " ", text)))
            except json.JSONDecodeError:
                continue
    return objects


def _ld_types(obj: dict) -> set[str]:
    value = obj.get("@type", [])
    return {str(v).lower() for v in (value if isinstance(value, list) else [value])}


def _names(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return _names(value.get("name"))
    if isinstance(value, list):
        return [name for item in value for name in _names(item)]
    return []


def _first_url(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return _first_url(value.get("url") or value.get("@id"))
    if isinstance(value, list) and value:
        return _first_url(value[0])
    return None


@dataclass
class PageMeta:
    """The metadata a page declares about itself."""

    ld: dict = field(default_factory=dict)  # the best JSON-LD article object
    publisher: list[str] = field(default_factory=list)
    meta: dict[str, list[str]] = field(default_factory=dict)  # lower-cased name/property -> contents
    canonical: str | None = None
    lang: str | None = None
    h1: list[str] = field(default_factory=list)

    def first(self, *keys: str) -> str | None:
        for key in keys:
            for value in self.meta.get(key, []):
                if value.strip():
                    return value.strip()
        return None


def read_metadata(tree: lxml.html.HtmlElement) -> PageMeta:
    """Read JSON-LD, <meta> tags, the canonical link, <html lang> and <h1>s."""
    page = PageMeta()
    best_rank = -1
    for obj in _json_ld_objects(tree):
        types = _ld_types(obj)
        if not types & ARTICLE_TYPES:
            continue
        rank = (2 if types - {"webpage"} else 0) + (1 if obj.get("headline") or obj.get("articleBody") else 0)
        if rank > best_rank:
            page.ld, best_rank = obj, rank
    if page.ld:
        page.publisher = _names(page.ld.get("publisher"))
    for node in tree.xpath("//meta[@content]"):
        key = (node.get("property") or node.get("name") or node.get("itemprop") or node.get("http-equiv") or "")
        if key:
            page.meta.setdefault(key.strip().lower(), []).append(node.get("content") or "")
    for node in tree.xpath("//*[@itemprop='datePublished'][@datetime]|//time[@itemprop='datePublished']"):
        page.meta.setdefault("datepublished", []).append(node.get("datetime") or node.text_content())
    canonical = tree.xpath("//link[translate(@rel,'CANONICAL','canonical')='canonical']/@href")
    page.canonical = canonical[0].strip() if canonical else None
    lang = tree.xpath("/html/@lang") or tree.xpath("/html/@xml:lang")
    page.lang = language_code(lang[0]) if lang else None
    page.h1 = [clean_space(h.text_content()) for h in tree.xpath("//h1")[:3] if clean_space(h.text_content())]
    return page


# -- choosing fields ---------------------------------------------------------------------------------


def _absolute(url: str | None) -> str | None:
    return url if url and url.strip().lower().startswith(("http://", "https://")) else None


def _same_site(a: str, b: str) -> bool:
    ha = (urlsplit(a).hostname or "").lower().removeprefix("www.")
    hb = (urlsplit(b).hostname or "").lower().removeprefix("www.")
    return bool(ha) and (ha == hb or ha.endswith("." + hb) or hb.endswith("." + ha))


def trustworthy_canonical(candidate: str | None, url: str) -> str | None:
    """A declared canonical URL, if it can be believed: same site, an article path, not the homepage."""
    if not candidate:
        return None
    absolute = urljoin(url, candidate.strip())
    parts = urlsplit(absolute)
    if parts.scheme not in ("http", "https") or not _same_site(absolute, url):
        return None
    if parts.path.strip("/") == "" or (urlsplit(url).path.strip("/") and len(parts.path) < 3):
        return None
    return absolute


def strip_site_name(title: str, site_names: list[str]) -> str:
    """Cut " - Site Name" / "Site Name | " affixes from a title."""
    title = clean_space(title)
    names = {fold(n).strip() for n in site_names if n and len(n.strip()) >= 2}
    if not names:
        return title
    for _ in range(2):
        pieces = _TITLE_SEPARATORS.split(title)
        if len(pieces) < 2:
            break
        first, last = fold(pieces[0]).strip(), fold(pieces[-1]).strip()
        if any(last == n or (len(last) > 2 and (last in n or n in last)) for n in names):
            title = title[: title.rfind(pieces[-1])].rstrip(" -|–—:»«")
        elif any(first == n or (len(first) > 2 and (first in n or n in first)) for n in names):
            title = title[len(pieces[0]):].lstrip(" -|–—:»«")
        else:
            break
    return clean_space(title)


def _prefer_h1(title: str, h1s: list[str]) -> str:
    """The page's <h1> when the title is that headline plus a short affix (a site name)."""
    folded = fold(title)
    for h1 in h1s:
        if len(h1) >= 10 and h1 != title and fold(h1) in folded and len(title) - len(h1) <= 40:
            return h1
    return title


def _plausible(when: datetime) -> bool:
    return _EARLIEST <= when <= datetime.now(timezone.utc) + timedelta(days=2)


def _choose_date(page: PageMeta, rule_dates: list[str], htmldate: str | None
                 ) -> tuple[datetime, datetime, Precision, str] | None:
    candidates: list[tuple[object, str]] = []
    if page.ld:
        candidates.append((page.ld.get("datePublished") or page.ld.get("dateCreated"), "json-ld"))
    for key in DATE_META:
        candidates.extend((value, "meta") for value in page.meta.get(key, []))
    candidates.extend((value, "site-rule") for value in rule_dates)
    candidates.append((htmldate, "htmldate"))
    for value, source in candidates:
        if not value or not isinstance(value, str):
            continue
        parsed = parse_when(value)
        if parsed and _plausible(parsed[0]):
            local = local_when(value) if parsed[1] != "day" else parsed[0]
            return parsed[0], (local or parsed[0]), parsed[1], source
    return None


def _split_body(text: str | None) -> list[str]:
    return [clean_space(line) for line in (text or "").splitlines() if clean_space(line)]


def _keywords(values: list[str] | str | None) -> list[str]:
    if not values:
        return []
    items = values if isinstance(values, list) else [values]
    out: list[str] = []
    for item in items:
        for part in re.split(r"[,،;]", str(item)):
            part = clean_space(part)
            if part and part not in out:
                out.append(part)
    return out


def extract_page(html: str | bytes, url: str, *, site_names: list[str] | tuple[str, ...] = (),
                 entry: FeedEntry | None = None) -> ExtractedPage:
    """Extract an article from a page's HTML; the feed *entry* fills what the page lacks.

    Raises ParseError when neither the page nor the entry gives a title and text.
    """
    import trafilatura

    result = ExtractedPage(url=url)
    tree = None
    if html and (html.strip() if isinstance(html, str) else html.strip()):
        try:
            tree = lxml.html.document_fromstring(html)
        except (lxml.etree.ParserError, ValueError):
            tree = None
    doc: dict = {}
    page = PageMeta()
    rule_dates: list[str] = []
    if tree is not None:
        # 1. the page's own metadata
        page = read_metadata(tree)
        # 2. per-site knowledge: where the date is written, what is noise
        rule = site_rule(url)
        rule_dates = [clean_space(node.text_content() if hasattr(node, "text_content") else str(node))
                      for xpath in rule.get("date", []) for node in tree.xpath(xpath)]
        for xpath in rule.get("drop", []):
            for node in tree.xpath(xpath):
                node.drop_tree()
        # 3. main text (trafilatura; its metadata pass runs htmldate)
        extracted = trafilatura.bare_extraction(tree, url=url, with_metadata=True,
                                                include_images=False, deduplicate=False)
        doc = extracted.as_dict() if hasattr(extracted, "as_dict") else (extracted or {})

    # 4. fields, most reliable source first
    ld = page.ld
    result.site_name = next(iter(page.publisher), None) or page.first("og:site_name", "application-name") \
        or doc.get("sitename")
    site_names = [*site_names, *page.publisher, *page.meta.get("og:site_name", []),
                  *page.meta.get("application-name", []), doc.get("sitename") or ""]
    body = _split_body(doc.get("text"))
    ld_body = _split_body(ld.get("articleBody") if isinstance(ld.get("articleBody"), str) else None)
    if len(" ".join(ld_body)) > 2 * len(" ".join(body)) + 200:
        result.paragraphs, result.text_source = ld_body, "json-ld"
    elif body:
        result.paragraphs, result.text_source = body, "trafilatura"

    titles = [ld.get("headline") if isinstance(ld.get("headline"), str) else None,
              page.first("og:title", "twitter:title"), doc.get("title"), *page.h1]
    for candidate in titles:
        if candidate and clean_space(candidate):
            result.title = _prefer_h1(strip_site_name(candidate, site_names), page.h1)
            break
    if result.paragraphs and result.title and fold(result.paragraphs[0]) == fold(result.title):
        result.paragraphs = result.paragraphs[1:]  # a repeated headline is not body text

    chosen = _choose_date(page, rule_dates, doc.get("date"))
    if chosen:
        result.published_at, result.published_local, result.date_precision, result.date_source = chosen

    authors = [a for a in _names(ld.get("author")) if not a.startswith("http")]
    author = ", ".join(dict.fromkeys(clean_space(a) for a in authors if clean_space(a)))
    if not author:
        for key in ("article:author", "author", "dc.creator", "byl", "sailthru.author", "parsely-author"):
            value = page.first(key)
            if value and not value.startswith("http") and fold(value).strip() not in \
                    {fold(n).strip() for n in site_names if n}:
                author = clean_space(value.removeprefix("By ").removeprefix("بقلم"))
                break
    result.author = author or None

    tags = _keywords(ld.get("keywords")) or _keywords(page.meta.get("article:tag")) \
        or _keywords(page.meta.get("news_keywords")) or _keywords(page.meta.get("keywords"))
    if not tags:  # not trafilatura's "categories": on news sites they are the menu
        tags = _keywords(doc.get("tags"))
    result.tags = tags[:30]

    result.description = page.first("og:description", "description") or doc.get("description")
    result.canonical_url = (trustworthy_canonical(page.canonical, url)
                            or trustworthy_canonical(_absolute(page.first("og:url")), url)
                            or trustworthy_canonical(_absolute(_first_url(ld.get("mainEntityOfPage"))
                                                               or _first_url(ld.get("url"))), url))
    image = page.first("og:image", "og:image:url", "twitter:image") or _first_url(ld.get("image")) or doc.get("image")
    result.image = urljoin(url, image) if image else None

    sample = result.title + " " + " ".join(result.paragraphs[:3])
    result.language = (detect_language(sample) if len(sample.strip()) > 40 else None) \
        or language_code(ld.get("inLanguage") if isinstance(ld.get("inLanguage"), str) else None) \
        or page.lang or language_code(page.first("content-language"))

    # 5. the feed's own fields for what the page lacks
    if entry is not None:
        _fill_from_entry(result, entry)
    if not result.title and not result.paragraphs:
        raise ParseError("no article title or text found on the page", subject=url)
    return result


def _fill_from_entry(result: ExtractedPage, entry: FeedEntry) -> None:
    if not result.title and entry.title:
        result.title = entry.title
    feed_text = entry.content or entry.summary
    if feed_text:
        # The page's text is kept unless it is clearly a failed extraction: shorter than
        # half of what the feed itself carries (a menu, a caption, nothing).
        page_size, feed_size = len(" ".join(result.paragraphs)), len(" ".join(feed_text))
        if page_size < feed_size / 2 or (page_size < 80 and feed_size > page_size):
            result.paragraphs, result.text_source = list(feed_text), "feed"
    if entry.published_at is not None and (
            result.published_at is None
            # the page gave only a day, the feed the time on (about) that day: take the feed's
            or (result.date_precision == "day" and entry.date_precision in ("minute", "second")
                and abs(entry.published_at - result.published_at) < timedelta(days=1))):
        result.published_at = result.published_local = entry.published_at
        result.date_precision, result.date_source = entry.date_precision or "second", "feed"
    result.author = result.author or entry.author
    result.tags = result.tags or list(entry.tags)
    result.image = result.image or entry.image
    if not result.language:
        result.language = entry.language or detect_language(result.title + " " + " ".join(result.paragraphs[:2]))


def page_from_entry(entry: FeedEntry) -> ExtractedPage:
    """An article made of the feed entry alone (when its page cannot be fetched or read)."""
    result = ExtractedPage(url=entry.url)
    _fill_from_entry(result, entry)
    if not result.title and not result.paragraphs:
        raise ParseError("the feed entry has neither title nor text", subject=entry.url)
    return result
