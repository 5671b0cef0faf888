"""The JSON API under /api/v1: articles, search, stories, sources and tags, with cursors and error objects.

Each handler parses its parameters, makes one library call and shapes the answer; the
OpenAPI document at /openapi.json describes every answer, errors included.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date, datetime

from fastapi import APIRouter, Depends, Path, Query, Request, Response, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from pydantic_core import to_json

from ..errors import MarsadError, NotFound, StoreError
from ..export import article_to_record
from ..search import search
from . import compat, queries
from . import entities as entity_views
from .format import iso
from .render import article_url, entity_url, source_url, story_url, tag_url

MAX_LIMIT = 100
MAX_QUERY = 500
CURSOR_PATTERN = "^[A-Za-z0-9_-]+$"
CURSOR = Query(None, max_length=500, pattern=CURSOR_PATTERN, description="`next_cursor` of the previous page")


class Unauthorized(MarsadError):
    """A request without the API key this server asks for."""
    status = 401


class Unavailable(MarsadError):
    """A part of marsad this request needs is not there (stories not built, search index being rebuilt)."""
    status = 503


# -- models ------------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    """What went wrong."""

    status: int = Field(description="HTTP status")
    code: str = Field(description="machine-readable reason, e.g. not_found, invalid_query, invalid_cursor")
    message: str = Field(description="what went wrong, in English")
    message_ar: str = Field(description="what went wrong, in Arabic")


class ErrorOut(BaseModel):
    """Every error answer."""

    error: ErrorDetail


class ArticleSummary(BaseModel):
    """An article as lists show it."""

    id: str
    title: str
    source: str | None = None
    published_at: str | None = Field(None, description="ISO 8601, UTC")
    date_precision: str | None = None
    url: str | None = Field(None, description="the original article")
    lead: str = Field("", description="the opening of the text")
    html_url: str = Field(description="the article's page on this server")


class ArticleList(BaseModel):
    """A page of articles."""

    items: list[ArticleSummary]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next page; null at the end")


class ArticleOut(BaseModel):
    """A stored article, text included."""

    id: str
    url: str | None = None
    title: str
    published_at: str | None = None
    source: str | None = None
    source_inferred: bool = False
    tags: list[str] = []
    text: str = ""
    read_also: list[str] = Field([], description="titles of the read-also articles")
    read_also_ids: list[str] = []
    origin: str = ""
    date_precision: str | None = None
    language: str | None = None
    author: str | None = None
    canonical_url: str | None = None
    fetched_at: str | None = None
    content_hash: str = ""
    html_url: str


class RelatedOut(BaseModel):
    """An article to read next, and why."""

    kind: str = Field(description="same_story, similar or read_also")
    score: float
    article: ArticleSummary


class RelatedList(BaseModel):
    """Articles to read next."""

    items: list[RelatedOut]


class SearchHitOut(BaseModel):
    """One search result."""

    id: str
    title: str
    title_html: str = Field(description="the title, HTML-escaped, matched words in <mark>")
    source: str | None = None
    published_at: str | None = None
    score: float
    url: str | None = None
    snippet: str = Field(description="a passage, HTML-escaped, matched words in <mark>")
    snippet_text: str
    html_url: str


class FacetCount(BaseModel):
    """A facet value and how many results have it."""

    value: str
    count: int


class EntityFacet(BaseModel):
    """A named entity and how many results name it."""

    id: int
    type: str = Field(description="PERS, LOC, ORG or MISC")
    name: str
    count: int
    html_url: str


class PlaceFacet(BaseModel):
    """A country and how many results name a place in it."""

    value: str = Field(description="ISO 3166 alpha-2 code (filter with country:)")
    name: str = Field(description="the country's Arabic name")
    count: int


class FacetsOut(BaseModel):
    """Counts over the whole result set."""

    source: list[FacetCount]
    tag: list[FacetCount]
    month: list[FacetCount]
    entity: list[EntityFacet] = Field([], description="the entities of each type named in most results "
                                      "(PERS, then LOC, ORG, MISC)")
    place: list[PlaceFacet] = Field([], description="countries whose places the results name")
    entity_sample: int | None = Field(None, description="when set, `entity` and `place` count only this many "
                                      "of the newest results (a large result set); null: every result")
    sample: int | None = Field(None, description="when set, every facet counts only this many of the newest "
                               "results (`total_exact` is false); null: every result")


class SearchOut(BaseModel):
    """A page of search results."""

    query: str = Field(description="the query as run, filters included")
    total: int
    total_exact: bool = Field(True, description="false: `total` is a lower bound (PostgreSQL counts the matches "
                              "only up to its ranking window, 5,000)")
    relaxed: bool = Field(description="true: no article had every word; these match some of them")
    sort: str
    took_ms: float
    hits: list[SearchHitOut]
    facets: FacetsOut | None = None
    next_cursor: str | None = None


class EntityOut(BaseModel):
    """A canonical named entity: one person, place, organisation or other name, whatever its spelling."""

    id: int
    type: str = Field(description="PERS, LOC, ORG or MISC")
    name: str
    country: str | None = Field(None, description="ISO 3166 alpha-2, for places")
    country_name: str | None = None
    place_kind: str | None = Field(None, description="country or city, for resolved places")
    latitude: float | None = None
    longitude: float | None = None
    articles: int = Field(description="articles that name it")
    mentions: int
    first_seen: str | None = Field(None, description="publication date of the first article naming it")
    last_seen: str | None = None
    html_url: str


class EntityList(BaseModel):
    """A page of entities, most named first."""

    items: list[EntityOut]
    next_cursor: str | None = None


class SpellingOut(BaseModel):
    """A way the entity was written, and how often."""

    text: str
    count: int


class DayCount(BaseModel):
    """Mentions on one day."""

    day: str = Field(description="YYYY-MM-DD")
    count: int


class OutletCount(BaseModel):
    """An outlet and how many of its articles name the entity."""

    source: str
    articles: int
    html_url: str


class CooccurringOut(BaseModel):
    """Another entity named in the same articles."""

    entity: EntityOut
    shared: int = Field(description="articles naming both")


class EntityDetailOut(EntityOut):
    """An entity with its spellings, mentions per day, company, outlets and latest articles."""

    spellings: list[SpellingOut]
    timeline: list[DayCount]
    cooccurring: list[CooccurringOut]
    outlets: list[OutletCount]
    latest: list[ArticleSummary]


class StoryOut(BaseModel):
    """A story: articles about one event."""

    id: str
    title: str
    article_ids: list[str]
    outlets: list[str]
    first_seen: str | None = None
    last_seen: str | None = None
    article_count: int
    growth: float
    lead_article_id: str | None = None
    html_url: str


class StoryList(BaseModel):
    """A page of stories."""

    items: list[StoryOut]
    next_cursor: str | None = None


class TimelinePoint(BaseModel):
    """How many of a story's articles appeared at a time."""

    at: str
    count: int


class StoryDetailOut(StoryOut):
    """A story with its articles, timeline and copies."""

    articles: list[ArticleSummary]
    timeline: list[TimelinePoint]
    copies: dict[str, list[str]]


class SourceOut(BaseModel):
    """An outlet."""

    name: str
    homepage: str | None = None
    language: str | None = None
    country: str | None = None
    aliases: list[str] = []
    articles: int
    last_published: str | None = None
    html_url: str


class SourceList(BaseModel):
    """Every outlet."""

    items: list[SourceOut]


class TagOut(BaseModel):
    """A tag and how many articles carry it."""

    tag: str
    articles: int
    html_url: str


class TagList(BaseModel):
    """A page of tags."""

    items: list[TagOut]
    next_cursor: str | None = None


# -- access ------------------------------------------------------------------------------------

_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                           description="needed only when the server sets an API key")
_bearer = HTTPBearer(auto_error=False, description="the API key as a bearer token (alternative to X-API-Key)")


async def require_key(request: Request, key: str | None = Security(_key_header),
                      bearer: HTTPAuthorizationCredentials | None = Security(_bearer)) -> None:
    """Refuse the request when the server has an API key and the request does not carry it.

    A coroutine, so that FastAPI checks it on the event loop instead of a trip to a worker thread.
    """
    wanted = request.app.state.web.settings.api_key
    if not wanted:
        return
    given = key or (bearer.credentials if bearer else None) or ""
    if not hmac.compare_digest(given.encode(), wanted.encode()):
        raise Unauthorized("missing or wrong API key (send it as X-API-Key)")


ERRORS = {status: {"model": ErrorOut} for status in (400, 401, 404, 422, 503)}
router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_key)], responses=ERRORS)


def _web(request: Request):
    return request.app.state.web


# -- shaping -------------------------------------------------------------------------------------


def _summary(t: queries.Teaser) -> dict:
    return {"id": t.id, "title": t.title, "source": t.source, "published_at": iso(t.published_at),
            "date_precision": t.date_precision, "url": t.url, "lead": t.lead, "html_url": article_url(t.id)}


def _iso_any(value) -> str | None:
    if value is None:
        return None
    return iso(value) if isinstance(value, datetime) else str(value)


def _story(story) -> dict:
    return {"id": str(story.id), "title": story.title, "article_ids": [str(i) for i in story.article_ids],
            "outlets": [str(o) for o in story.outlets], "first_seen": _iso_any(story.first_seen),
            "last_seen": _iso_any(story.last_seen), "article_count": int(story.article_count),
            "growth": float(story.growth or 0.0),
            "lead_article_id": str(story.lead_article_id) if story.lead_article_id else None,
            "html_url": story_url(story.id)}


def _date_param(value: date | None) -> str | None:
    return value.isoformat() if value else None


# -- routes --------------------------------------------------------------------------------------


@router.get("/articles", response_model=ArticleList, tags=["articles"], summary="List articles, newest first")
def list_articles(
    request: Request,
    source: str | None = Query(None, max_length=100, description="outlet name, code or alias"),
    tag: str | None = Query(None, max_length=100),
    date_from: date | None = Query(None, alias="from", description="inclusive, YYYY-MM-DD"),
    date_to: date | None = Query(None, alias="to", description="inclusive, YYYY-MM-DD"),
    limit: int = Query(20, ge=1, le=MAX_LIMIT),
    cursor: str | None = CURSOR,
):
    """Articles newest first, filtered by outlet, tag and dates; paged with cursors."""
    store = _web(request).pool.get()
    page = queries.latest(store, source=source, tag=tag, date_from=date_from, date_to=date_to, cursor=cursor,
                          limit=limit)
    return {"items": [_summary(t) for t in page.items], "next_cursor": page.next_cursor}


@router.get("/articles/{article_id}", response_model=ArticleOut, tags=["articles"], summary="One article")
def get_article(request: Request, article_id: str = Path(max_length=64)):
    """One stored article (a unique id prefix works too)."""
    store = _web(request).pool.get()
    article = store.get_article(article_id)
    titles = {t.id: t.title for t in queries.teasers(store, article.read_also)}
    record = article_to_record(article, [titles[i] for i in article.read_also if i in titles])
    record["html_url"] = article_url(article.id)
    return record


@router.get("/articles/{article_id}/related", response_model=RelatedList, tags=["articles"],
            summary="Articles to read next: same story, similar, read also")
def get_related(request: Request, article_id: str = Path(max_length=64), limit: int = Query(8, ge=1, le=50)):
    """Articles to read next: the same story, similar headlines, read-also links."""
    web = _web(request)
    store = web.pool.get()
    article = store.get_article(article_id)
    items = web.cache.get_or_compute(("related", article.id, limit),
                                     lambda: queries.related(store, article, limit=limit, titles=web.titles))
    return {"items": [{"kind": i.kind, "score": i.score, "article": _summary(i.teaser)} for i in items]}


def _search_key(text: str, sort: str) -> str:
    return hashlib.sha1(f"{sort}\x00{text}".encode()).hexdigest()[:12]


@router.get("/search", response_model=SearchOut, tags=["search"], summary="Full-text search")
async def search_articles(
    request: Request,
    q: str = Query("", max_length=MAX_QUERY, description='marsad\'s query language: words, "phrases", OR, -word, '
                   "word*, source:, tag:, from:, to:, lang:, entity:, type:, country:"),
    source: str | None = Query(None, max_length=100),
    tag: str | None = Query(None, max_length=100),
    date_from: date | None = Query(None, alias="from"),
    date_to: date | None = Query(None, alias="to"),
    sort: str = Query("relevance", pattern="^(relevance|date|recent)$"),
    limit: int = Query(10, ge=1, le=MAX_LIMIT),
    cursor: str | None = CURSOR,
    facets: bool = Query(False, description="also count the whole result set by outlet, tag, month, entity and "
                         "country (as `marsad search --facets`); off by default: counting every match costs "
                         "about as much again as the search"),
):
    """Search with marsad's query language; the filters may also be given as parameters."""
    web = _web(request)
    text = queries.full_query(q, source=source, tag=tag, date_from=_date_param(date_from), date_to=_date_param(date_to))
    key = _search_key(text, sort)
    offset = 0
    after = queries.decode_cursor(cursor, "search")
    if after is not None:
        if after.get("h") != key or not isinstance(after.get("o"), int) or not 0 <= after["o"] <= 10_000:
            raise queries.InvalidCursor("cursor belongs to another search", subject=cursor)
        offset = after["o"]

    def answer() -> bytes:
        def run():
            return search(web.pool.get(), text, limit=limit, offset=offset, sort=sort, facets=facets)

        try:
            results = web.cache.get_or_compute(("api-search", text, sort, offset, limit, facets), run)
        except StoreError as exc:
            raise Unavailable(exc.message) from exc
        return to_json(_search_out(results, key, offset))

    # The search, the answer's shaping and its encoding take one trip to a worker thread, and the
    # answer is encoded here rather than validated against SearchOut again (it is built to match it).
    return Response(await web.compute(answer), media_type="application/json")


_HIT_FIELDS = tuple(SearchHitOut.model_fields)


def _search_out(results, key: str, offset: int) -> dict:
    """A page of `search()` results as `SearchOut`."""
    end = offset + len(results.hits)
    next_cursor = (queries.encode_cursor({"t": "search", "h": key, "o": end})
                   if results.hits and end < results.total and end <= 10_000 else None)
    hits = []
    for hit in results.hits:
        record = queries.hit_record(hit)
        hits.append({name: record.get(name) for name in _HIT_FIELDS})
    facet_out = None
    if results.facets is not None:
        facet_out = {name: [{"value": str(v), "count": n} for v, n in getattr(results.facets, name)]
                     for name in ("source", "tag", "month")}
        facet_out["entity"] = [{"id": i, "type": t, "name": name, "count": n, "html_url": entity_url(i)}
                               for t, i, name, n in results.facets.entity]
        facet_out["place"] = [{"value": code, "name": _country_name(code), "count": n}
                              for code, n in results.facets.place]
        facet_out["entity_sample"] = results.facets.entity_sample
        facet_out["sample"] = results.facets.sample
    return {"query": results.query, "total": results.total, "total_exact": results.total_exact,
            "relaxed": results.relaxed, "sort": results.sort,
            "took_ms": float(results.took_ms), "hits": hits, "facets": facet_out, "next_cursor": next_cursor}


@router.get("/stories", response_model=StoryList, tags=["stories"],
            summary="Stories: events covered by several articles")
def list_stories(
    request: Request,
    order: str = Query("recent", pattern="^(recent|growing|size)$"),
    since: datetime | None = Query(None, description="only stories seen since (ISO 8601)"),
    limit: int = Query(20, ge=1, le=MAX_LIMIT),
    cursor: str | None = CURSOR,
):
    """Stories, most recent, fastest growing or largest first."""
    store = _web(request).pool.get()
    after = queries.decode_cursor(cursor, "stories")
    offset = 0
    if after is not None:
        if after.get("r") != order or not isinstance(after.get("o"), int) or not 0 <= after["o"] <= 100_000:
            raise queries.InvalidCursor("cursor belongs to another list", subject=cursor)
        offset = after["o"]
    found = compat.list_stories(store, since=since, limit=limit + 1, offset=offset, order=order)
    if found is None:
        raise Unavailable("stories are not available on this server yet")
    more = len(found) > limit
    return {"items": [_story(s) for s in found[:limit]],
            "next_cursor": queries.encode_cursor({"t": "stories", "r": order, "o": offset + limit}) if more else None}


@router.get("/stories/{story_id}", response_model=StoryDetailOut, tags=["stories"],
            summary="One story, all its articles")
def get_story(request: Request, story_id: str = Path(max_length=64)):
    """One story with all its articles, its timeline and the copies among them."""
    store = _web(request).pool.get()
    detail = compat.get_story(store, story_id)
    if detail is None:
        raise Unavailable("stories are not available on this server yet")
    out = _story(detail)
    out["articles"] = [_summary(queries.Teaser.of(a)) for a in detail.articles]
    out["timeline"] = [{"at": _iso_any(when), "count": int(n)} for when, n in detail.timeline]
    out["copies"] = {str(k): [str(i) for i in v] for k, v in (detail.copies or {}).items()}
    return out


def _source(o: queries.Outlet) -> dict:
    s = o.source
    return {"name": s.name, "homepage": s.homepage, "language": s.language, "country": s.country,
            "aliases": list(s.aliases), "articles": o.articles, "last_published": iso(o.last_published),
            "html_url": source_url(s.name)}


@router.get("/sources", response_model=SourceList, tags=["sources"], summary="Every outlet, most articles first")
def list_sources(request: Request):
    """Every outlet, most articles first."""
    web = _web(request)
    outlets = web.cache.get_or_compute(("outlets",), lambda: queries.outlets(web.pool.get()))
    return {"items": [_source(o) for o in outlets]}


@router.get("/sources/{name:path}", response_model=SourceOut, tags=["sources"], summary="One outlet")
def get_source(request: Request, name: str = Path(max_length=100)):
    """One outlet, by name, code or alias."""
    return _source(queries.outlet(_web(request).pool.get(), name))


@router.get("/tags", response_model=TagList, tags=["tags"], summary="Tags with their article counts")
def list_tags(
    request: Request,
    prefix: str | None = Query(None, max_length=100, description="only tags starting with this"),
    source: str | None = Query(None, max_length=100, description="only tags of this outlet"),
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
    cursor: str | None = CURSOR,
):
    """Tags with their article counts, most used first."""
    after = queries.decode_cursor(cursor, "tags")
    offset = 0
    if after is not None:
        if not isinstance(after.get("o"), int) or not 0 <= after["o"] <= 1_000_000:
            raise queries.InvalidCursor("malformed cursor", subject=cursor)
        offset = after["o"]
    rows = queries.tag_counts(_web(request).pool.get(), prefix=prefix, source=source, limit=limit + 1, offset=offset)
    more = len(rows) > limit
    return {"items": [{"tag": t, "articles": n, "html_url": tag_url(t)} for t, n in rows[:limit]],
            "next_cursor": queries.encode_cursor({"t": "tags", "o": offset + limit}) if more else None}


@router.get("/tags/{tag:path}", response_model=ArticleList, tags=["tags"], summary="Articles with a tag, newest first")
def tag_articles(request: Request, tag: str = Path(max_length=100), limit: int = Query(20, ge=1, le=MAX_LIMIT),
                 cursor: str | None = CURSOR):
    """Articles with a tag, newest first."""
    store = _web(request).pool.get()
    if not queries.tag_count(store, tag):
        raise NotFound("no article has this tag", subject=tag)
    page = queries.latest(store, tag=tag, cursor=cursor, limit=limit)
    return {"items": [_summary(t) for t in page.items], "next_cursor": page.next_cursor}


# -- entities ------------------------------------------------------------------------------------


def _country_name(code: str | None) -> str | None:
    if not code:
        return None
    from ..enrich.places import country_name

    return country_name(code)


def _entity(e) -> dict:
    return {"id": e.id, "type": e.type, "name": e.name, "country": e.country, "country_name": _country_name(e.country),
            "place_kind": e.place_kind, "latitude": e.latitude, "longitude": e.longitude, "articles": e.articles,
            "mentions": e.mentions, "first_seen": _iso_any(e.first_seen), "last_seen": _iso_any(e.last_seen),
            "html_url": entity_url(e.id)}


@router.get("/entities", response_model=EntityList, tags=["entities"],
            summary="Named entities (people, places, organisations), most named first")
def list_entities(
    request: Request,
    type: str | None = Query(None, pattern="^(PERS|LOC|ORG|MISC)$", description="PERS, LOC, ORG or MISC"),
    country: str | None = Query(None, pattern="^[A-Za-z]{2}$", description="ISO 3166 alpha-2: places in it"),
    q: str | None = Query(None, max_length=100, description="names starting with this (spelling folded)"),
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
    cursor: str | None = CURSOR,
):
    """Canonical entities by the number of articles naming them, filtered by type, country and name prefix."""
    after = queries.decode_cursor(cursor, "entities")
    offset = 0
    if after is not None:
        if not isinstance(after.get("o"), int) or not 0 <= after["o"] <= 1_000_000:
            raise queries.InvalidCursor("malformed cursor", subject=cursor)
        offset = after["o"]
    web = _web(request)
    args = (type, country.upper() if country else None, (q or "").strip() or None, limit + 1, offset)

    def run():
        return entity_views.entities(web.pool.get(), type=args[0], country=args[1], prefix=args[2], limit=args[3],
                                offset=args[4])

    try:
        found = web.cache.get_or_compute(("api-entities", *args), run)
    except StoreError as exc:
        raise Unavailable(exc.message) from exc
    more = len(found) > limit
    return {"items": [_entity(e) for e in found[:limit]],
            "next_cursor": queries.encode_cursor({"t": "entities", "o": offset + limit}) if more else None}


@router.get("/entities/{entity_id}", response_model=EntityDetailOut, tags=["entities"],
            summary="One entity: spellings, mentions per day, co-occurring entities, outlets, latest articles")
def get_entity(request: Request, entity_id: int = Path(ge=1, le=2**53)):
    """One entity with its spellings, mentions per day, the entities named beside it, outlets and latest articles."""
    web = _web(request)
    try:
        view = web.cache.get_or_compute(("entity", entity_id),
                                        lambda: entity_views.entity_view(web.pool.get(), entity_id))
    except StoreError as exc:
        raise Unavailable(exc.message) from exc
    detail = view.detail
    out = _entity(detail.entity)
    out["spellings"] = [{"text": t, "count": n} for t, n in detail.spellings]
    out["timeline"] = [{"day": d, "count": n} for d, n in detail.timeline]
    out["cooccurring"] = [{"entity": _entity(e), "shared": n} for e, n in detail.cooccurring]
    out["outlets"] = [{"source": s, "articles": n, "html_url": source_url(s)} for s, n in detail.outlets]
    out["latest"] = [_summary(t) for t in view.latest]
    return out
