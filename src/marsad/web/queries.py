"""Read-side queries the pages, the API and the feeds share: lists with cursors, counts, related articles.

Each function takes a store and returns plain dataclasses, so the HTML pages, the JSON
API and the RSS/Atom feeds show the same articles in the same order.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import sqlite3
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from urllib.parse import quote

from ..errors import MarsadError, NotFound
from ..models import Article, Source
from ..search.fts5 import compile_filters
from ..search.query import Filters
from ..store.sqlite import SQLiteStore
from . import compat
from .similar import TitleIndex

log = logging.getLogger("marsad.web")

LEAD_CHARS = 320  # how much of an article's text a teaser carries


class InvalidCursor(MarsadError):
    """A pagination cursor that this server did not hand out (or for another list)."""

    status = 400


@dataclass
class Teaser:
    """An article as a list shows it: title, outlet, date and the opening of its text."""

    id: str
    title: str
    source: str | None
    published_at: datetime | None
    date_precision: str | None = None
    url: str | None = None
    lead: str = ""
    tags: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, article: Article) -> "Teaser":
        """The teaser of a full article."""
        return cls(article.id, article.title, article.source, article.published_at, article.date_precision,
                   article.url, _lead(article.text, title=article.title), list(article.tags))


@dataclass
class Page:
    """One page of a list, and the cursor of the next page (None at the end)."""

    items: list
    next_cursor: str | None = None


@dataclass
class RelatedItem:
    """An article shown beside another, and why: same_story, similar or read_also."""

    teaser: Teaser
    kind: str
    score: float = 0.0


_URL = re.compile(r"(?:https?://|www\.)\S+")


def _lead(text: str, limit: int = LEAD_CHARS, title: str = "") -> str:
    """The opening of an article for a teaser: paragraphs that repeat the title, bare links and
    scraps ("تعليقات ()") are skipped; cut at a word boundary."""
    kept = []
    for paragraph in text.split("\n"):
        if "http" in paragraph or "www." in paragraph:  # the regex only when it can match (most have no link)
            paragraph = _URL.sub(" ", paragraph)
        paragraph = " ".join(paragraph.split())
        if not paragraph or paragraph == title.strip() or len(paragraph.split()) < 4:
            continue
        kept.append(paragraph)
        if sum(len(k) for k in kept) > limit:
            break
    text = " ".join(kept)
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit] + " …"


def encode_cursor(data: dict) -> str:
    """An opaque, URL-safe cursor."""
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, kind: str) -> dict | None:
    """The data of a cursor made by `encode_cursor` for a list of *kind*; raises InvalidCursor."""
    if not cursor:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursor("malformed cursor", subject=cursor[:40]) from exc
    if not isinstance(data, dict) or data.get("t") != kind:
        raise InvalidCursor("cursor belongs to another list", subject=cursor[:40])
    return data


def _teasers(rows: list[sqlite3.Row]) -> list[Teaser]:
    return [Teaser(r["id"], r["title"], r["source"], datetime.fromisoformat(r["published_at"])
                   if r["published_at"] else None, r["date_precision"], r["url"], _lead(r["head"], title=r["title"]),
                   json.loads(r["tags"]))
            for r in rows]


_TEASER_COLUMNS = (
    "a.pk, a.id, a.title, a.source, a.published_at, a.date_precision, a.url, "
    f"substr(a.text, 1, {LEAD_CHARS * 3}) AS head, "
    "(SELECT json_group_array(tag) FROM "
    "(SELECT tag FROM article_tags WHERE article_pk = a.pk ORDER BY position)) AS tags"
)


def known_sources(store: SQLiteStore) -> dict[str, str]:
    """Folded outlet names and aliases -> stored name (what `source:` filters accept)."""
    known: dict[str, str] = {}
    for source in store.list_sources():
        for alias in [source.name, *source.aliases]:
            known[alias.casefold()] = source.name
    return known


def latest(store: SQLiteStore, *, source: str | None = None, tag: str | None = None,
           date_from: date | None = None, date_to: date | None = None, cursor: str | None = None,
           limit: int = 20) -> Page:
    """Articles newest first (undated ones last), filtered by outlet, tag and date, a page at a time."""
    filters = Filters(sources=(source,) if source else (), tags=(tag,) if tag else (),
                      date_from=date_from, date_to=date_to)
    where = compile_filters(filters, known_sources(store) if source else None)
    conditions, params = list(where.conditions), list(where.params)
    after = decode_cursor(cursor, "articles")
    if after is not None:
        try:
            day, pk = after["d"], int(after["k"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidCursor("malformed cursor", subject=cursor) from exc
        if day is None:
            conditions.append("a.published_at IS NULL AND a.pk < ?")
            params.append(pk)
        else:
            conditions.append("(a.published_at < ? OR (a.published_at = ? AND a.pk < ?) OR a.published_at IS NULL)")
            params += [str(day), str(day), pk]
    sql = (f"SELECT {_TEASER_COLUMNS} FROM articles a WHERE {' AND '.join(conditions) or '1'} "
           "ORDER BY a.published_at DESC, a.pk DESC LIMIT ?")
    rows = store.conn.execute(sql, [*params, limit + 1]).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor({"t": "articles", "d": rows[-1]["published_at"], "k": rows[-1]["pk"]}) \
        if more and rows else None
    return Page(_teasers(rows), next_cursor)


def latest_mix(store: SQLiteStore, *, limit: int = 21, per_source: int = 3, pool: int = 300) -> list[Teaser]:
    """The newest articles with at most *per_source* from one outlet, so one busy outlet cannot fill the front page."""
    picked, counts, rest = [], {}, []
    for teaser in latest(store, limit=pool).items:
        if counts.get(teaser.source, 0) < per_source:
            counts[teaser.source] = counts.get(teaser.source, 0) + 1
            picked.append(teaser)
        else:
            rest.append(teaser)
        if len(picked) >= limit:
            break
    return (picked + rest)[:limit]


def teasers(store: SQLiteStore, ids: list[str]) -> list[Teaser]:
    """Teasers of these articles, in the order asked (missing ids skipped)."""
    found: dict[str, Teaser] = {}
    for start in range(0, len(ids), 900):
        part = ids[start : start + 900]
        marks = ",".join("?" * len(part))
        for teaser in _teasers(store.conn.execute(
                f"SELECT {_TEASER_COLUMNS} FROM articles a WHERE a.id IN ({marks})", part).fetchall()):
            found[teaser.id] = teaser
    return [found[i] for i in ids if i in found]


@dataclass
class Outlet:
    """An outlet with how many stored articles it has and its newest date."""

    source: Source
    articles: int = 0
    last_published: datetime | None = None


def outlets(store: SQLiteStore) -> list[Outlet]:
    """Every outlet that is registered or has articles, most articles first."""
    counts = {r[0]: (r[1], r[2]) for r in store.conn.execute(
        "SELECT source, count(*), max(published_at) FROM articles WHERE source IS NOT NULL GROUP BY source")}
    known = {s.name: s for s in store.list_sources()}
    out = []
    for name in set(known) | set(counts):
        n, last = counts.get(name, (0, None))
        out.append(Outlet(known.get(name) or Source(name=name), n, datetime.fromisoformat(last) if last else None))
    return sorted(out, key=lambda o: (-o.articles, o.source.name))


def outlet(store: SQLiteStore, name: str) -> Outlet:
    """One outlet by its stored name (or an alias); raises NotFound."""
    for item in outlets(store):
        if item.source.name == name:
            return item
    resolved = known_sources(store).get(name.casefold())
    if resolved and resolved != name:
        return outlet(store, resolved)
    raise NotFound("no such outlet", subject=name)


def tag_counts(store: SQLiteStore, *, prefix: str | None = None, source: str | None = None, limit: int = 50,
               offset: int = 0) -> list[tuple[str, int]]:
    """Tags with how many articles carry them, most used first."""
    conditions, params = [], []
    if prefix:
        conditions.append("t.tag >= ? AND t.tag < ?")
        params += [prefix, prefix + "\uffff"]
    join = ""
    if source:
        join = "JOIN articles a ON a.pk = t.article_pk"
        conditions.append("a.source = ?")
        params.append(source)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = store.conn.execute(
        f"SELECT t.tag, count(*) AS n FROM article_tags t {join} {where} GROUP BY t.tag ORDER BY n DESC, t.tag "
        "LIMIT ? OFFSET ?", [*params, limit, offset]).fetchall()
    return [(r[0], r[1]) for r in rows]


def tag_count(store: SQLiteStore, tag: str) -> int:
    """How many articles carry *tag*."""
    return store.conn.execute("SELECT count(*) FROM article_tags WHERE tag = ?", (tag,)).fetchone()[0]


def hit_record(hit) -> dict:
    """A search hit as the API answers it: `SearchHit.to_dict()` plus `html_url`, built with a shallow copy
    (`to_dict` uses dataclasses.asdict, which deep-copies every field: 8x slower, ~0.2 ms a page)."""
    record = {f.name: getattr(hit, f.name) for f in fields(hit)}
    published = hit.published_at
    record["published_at"] = published.strftime("%Y-%m-%dT%H:%M:%SZ") if published else None
    record["score"] = round(hit.score, 4)
    record["html_url"] = f"/articles/{quote(hit.id, safe='')}"
    return record


# -- search forms ------------------------------------------------------------------------


def _quoted(value: str) -> str:
    value = value.replace('"', " ").strip()
    return f'"{value}"' if any(c.isspace() for c in value) or ":" in value else value


def full_query(q: str, *, source: str | None = None, tag: str | None = None, date_from: str | None = None,
               date_to: str | None = None) -> str:
    """The query-language text for a search box plus the form's filters."""
    parts = [q.strip()] if q and q.strip() else []
    if source:
        parts.append(f"source:{_quoted(source)}")
    if tag:
        parts.append(f"tag:{_quoted(tag)}")
    if date_from:
        parts.append(f"from:{date_from}")
    if date_to:
        parts.append(f"to:{date_to}")
    return " ".join(parts)



def check_date(value: str | None, field: str) -> str | None:
    """A form's date as YYYY-MM-DD (None when empty); raises InvalidQuery when it is not a date."""
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        from ..search import InvalidQuery

        raise InvalidQuery(f"{field} must be a date like 2015-08-11", "التاريخ يكتب هكذا: 2015-08-11") from None


# -- related articles ----------------------------------------------------------------


def related(store: SQLiteStore, article: Article, *, limit: int = 8, titles: TitleIndex | None = None
            ) -> list[RelatedItem]:
    """Articles to read next: marsad.stories' relations when it is there, then read-also links, then
    similar headlines, until *limit*."""
    out: list[RelatedItem] = []
    found = compat.related_refs(store, article.id, limit=limit)
    if found:
        by_id = {t.id: t for t in teasers(store, [i for i, _, _ in found])}
        out = [RelatedItem(by_id[i], kind, score) for i, kind, score in found if i in by_id]
    seen = {article.id, *(item.teaser.id for item in out)}
    if len(out) < limit:
        linked = [link.to_id for link in store.links_from(article.id)]
        linked += [link.from_id for link in store.links_to(article.id) if link.kind == "read_also"]
        out += [RelatedItem(t, "read_also", 1.0)
                for t in teasers(store, [i for i in dict.fromkeys(linked) if i not in seen])]
        seen.update(item.teaser.id for item in out)
    if len(out) < limit and titles is not None:
        titles.refresh(store)
        similar = [(i, score) for i, score in titles.similar(article.id, article.title, article.published_at,
                                                             article.source, limit=limit + len(seen))
                   if i not in seen]
        by_id = {t.id: t for t in teasers(store, [i for i, _ in similar])}
        out += [RelatedItem(by_id[i], "similar", score) for i, score in similar if i in by_id]
    return out[:limit]
