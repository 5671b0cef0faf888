"""The reader's pages: server-rendered HTML at stable, shareable URLs (no JavaScript needed)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse

from ..errors import NotFound, StoreError
from ..search import InvalidQuery, search
from . import compat, queries
from . import entities as entity_views
from .i18n import translate
from .render import PREFS_COOKIE, Prefs, article_url, prefs_of, source_url
from .security import error_response

log = logging.getLogger("marsad.web")
router = APIRouter(include_in_schema=False)

SEARCH_PAGE_SIZE = 10
HOME_STORIES = 12
HOME_GROWING = 6
HOME_ARTICLES = 21
HOME_ARTICLES_WITH_STORIES = 10
LIST_PAGE_SIZE = 20


def _web(request: Request):
    return request.app.state.web


def _render(request: Request, template: str, **context):
    return _web(request).renderer.render(request, template, **context)


def _cached(request: Request, key, compute):
    return _web(request).cache.get_or_compute(key, compute)


def _outlets(request: Request) -> list[queries.Outlet]:
    web = _web(request)
    return web.cache.get_or_compute(("outlets",), lambda: queries.outlets(web.pool.get()))


def _top_tags(request: Request, limit: int = 24) -> list[tuple[str, int]]:
    web = _web(request)
    return web.cache.get_or_compute(("tags", limit), lambda: queries.tag_counts(web.pool.get(), limit=limit))


# -- home ----------------------------------------------------------------------------------


def _home(store) -> dict:
    recent = compat.list_stories(store, order="recent", limit=HOME_STORIES)
    if recent:
        growing = compat.list_stories(store, order="growing", limit=HOME_GROWING) or []
        leads = {t.id: t for t in queries.teasers(store, [s.lead_article_id for s in [*recent, *growing]
                                                          if s.lead_article_id])}
        return {"stories": recent, "growing": growing, "leads": leads,
                "articles": queries.latest_mix(store, limit=HOME_ARTICLES_WITH_STORIES)}
    return {"stories": [], "growing": [], "leads": {}, "articles": queries.latest_mix(store, limit=HOME_ARTICLES)}


@router.get("/")
def home(request: Request):
    """Latest and fastest-growing stories (or the latest articles), outlets and tags."""
    web = _web(request)
    data = web.cache.get_or_compute(("home",), lambda: _home(web.pool.get()))
    return _render(request, "home.html", outlets=_outlets(request)[:16], top_tags=_top_tags(request, 20),
                   total=sum(o.articles for o in _outlets(request)), **data)


@router.get("/latest")
def latest_page(request: Request, cursor: str | None = Query(None, max_length=200)):
    """Every article, newest first, a page at a time."""
    web = _web(request)
    page = web.cache.get_or_compute(("latest", None, None, cursor),
                                    lambda: queries.latest(web.pool.get(), cursor=cursor, limit=LIST_PAGE_SIZE))
    return _render(request, "list.html", kind="latest", heading=None, page=page, cursor=cursor,
                   outlet=None, tags=[], feed="/feed")


# -- search --------------------------------------------------------------------------------


@router.get("/search")
async def search_page(
    request: Request,
    q: str = Query("", max_length=500),
    source: str | None = Query(None, max_length=100),
    tag: str | None = Query(None, max_length=100),
    date_from: str | None = Query(None, alias="from", max_length=10),
    date_to: str | None = Query(None, alias="to", max_length=10),
    sort: str = Query("relevance", pattern="^(relevance|date|recent)$"),
    page: int = Query(1, ge=1, le=1000),
):
    """The search form, results with highlights, facets and pages."""
    # one trip to a worker thread, taken in turn with the API's searches (see Web.compute)
    return await _web(request).compute(
        lambda: _search_page(request, q, source, tag, date_from, date_to, sort, page))


def _search_page(request: Request, q: str, source: str | None, tag: str | None, date_from: str | None,
                 date_to: str | None, sort: str, page: int):
    web = _web(request)
    form = {"q": q, "source": source or "", "tag": tag or "", "from": date_from or "", "to": date_to or "",
            "sort": sort}
    context = {"form": form, "results": None, "error": None, "page": page, "outlets": _outlets(request),
               "page_size": SEARCH_PAGE_SIZE}
    status = 200
    try:
        text = queries.full_query(q, source=source, tag=tag, date_from=queries.check_date(date_from, "from"),
                          date_to=queries.check_date(date_to, "to"))
        if text:
            offset = (page - 1) * SEARCH_PAGE_SIZE
            context["results"] = web.cache.get_or_compute(
                ("search", text, sort, offset),
                lambda: search(web.pool.get(), text, limit=SEARCH_PAGE_SIZE, offset=offset, sort=sort, facets=True))
            context["query_text"] = text
            facets = context["results"].facets
            context["country_names"] = {code: entity_views.country_name(code) for code, _ in
                                        (facets.place if facets else [])}
    except InvalidQuery as exc:
        context["error"] = exc.message_ar if prefs_of(request).lang == "ar" else exc.message
        status = 400
    except StoreError as exc:  # the index is stale or being rebuilt: say so, keep the page usable
        log.warning("search unavailable: %s", exc)
        context["error"] = translate(prefs_of(request).lang, "search.unavailable")
        status = 503
    return web.renderer.render(request, "search.html", status=status, **context)


# -- articles, stories, outlets, tags ------------------------------------------------------


def _article_view(store, article_id: str, titles) -> dict:
    article = store.get_article(article_id)
    found = compat.article_entities(store, article.id)
    entities = [(entity_id, name, kind, n) for entity_id, kind, name, n in (found.entities if found else [])][:24]
    outlet = None
    if article.source:
        try:
            outlet = store.get_source(article.source)
        except NotFound:
            outlet = None
    return {"article": article, "related": queries.related(store, article, titles=titles), "entities": entities,
            "suggested_tags": (found.auto_tags or []) if found and not article.tags else [], "outlet": outlet}


@router.get("/articles/{article_id}")
def article_page(request: Request, article_id: str):
    """One article with its tags, entities, related and read-also articles."""
    web = _web(request)
    if len(article_id) > 64:
        raise NotFound("no such article", subject=article_id[:64])
    view = web.cache.get_or_compute(("article", article_id),
                                    lambda: _article_view(web.pool.get(), article_id, web.titles))
    if view["article"].id != article_id:  # a unique id prefix: send the reader to the full, shareable URL
        return RedirectResponse(article_url(view["article"].id), status_code=301)
    return _render(request, "article.html", **view)


def _story_view(store, story_id: str) -> dict | None:
    detail = compat.get_story(store, story_id)
    if detail is None:
        return None
    by_outlet: dict[str, list] = {}
    for article in detail.articles:
        by_outlet.setdefault(article.source or "", []).append(article)
    ids = {a.id for a in detail.articles}
    copy_of: dict[str, str | None] = {}
    for key, copies in (detail.copies or {}).items():
        for copy in copies:
            copy_of[copy] = key if key in ids else None
    peak = max((n for _, n in detail.timeline), default=0)
    return {"story": detail, "by_outlet": sorted(by_outlet.items(), key=lambda kv: (-len(kv[1]), kv[0])),
            "copy_of": copy_of, "titles": {a.id: a.title for a in detail.articles}, "peak": peak}


@router.get("/stories")
def stories_page(request: Request, order: str = Query("recent", pattern="^(recent|growing|size)$"),
                 page: int = Query(1, ge=1, le=500)):
    """Stories, by recency, growth or size."""
    web = _web(request)

    def compute():
        store = web.pool.get()
        found = compat.list_stories(store, order=order, limit=LIST_PAGE_SIZE + 1,
                                    offset=(page - 1) * LIST_PAGE_SIZE)
        if found is None:
            return None
        leads = {t.id: t for t in queries.teasers(store, [s.lead_article_id for s in found if s.lead_article_id])}
        return {"stories": found[:LIST_PAGE_SIZE], "more": len(found) > LIST_PAGE_SIZE, "leads": leads}

    data = web.cache.get_or_compute(("stories", order, page), compute)
    if data is None:
        return error_response(request, 404, detail="stories are not available yet")
    return _render(request, "stories.html", order=order, page=page, **data)


@router.get("/stories/{story_id}")
def story_page(request: Request, story_id: str):
    """One story: its articles by outlet and its timeline."""
    web = _web(request)
    if len(story_id) > 64:
        raise NotFound("no such story", subject=story_id[:64])
    view = web.cache.get_or_compute(("story", story_id), lambda: _story_view(web.pool.get(), story_id))
    if view is None:
        return error_response(request, 404, detail="stories are not available yet")
    return _render(request, "story.html", **view)


@router.get("/sources")
def sources_page(request: Request):
    """Every outlet."""
    return _render(request, "sources.html", outlets=_outlets(request))


@router.get("/sources/{name:path}")
def source_page(request: Request, name: str, cursor: str | None = Query(None, max_length=200)):
    """One outlet's articles, newest first."""
    web = _web(request)

    def compute():
        store = web.pool.get()
        found = queries.outlet(store, name)
        return {"outlet": found, "page": queries.latest(store, source=found.source.name, cursor=cursor,
                                                        limit=LIST_PAGE_SIZE),
                "tags": queries.tag_counts(store, source=found.source.name, limit=16)}

    data = web.cache.get_or_compute(("source", name, cursor), compute)
    if data["outlet"].source.name != name:
        return RedirectResponse(source_url(data["outlet"].source.name), status_code=301)
    return _render(request, "list.html", kind="source", heading=name, cursor=cursor,
                   feed=f"{source_url(name)}/feed", **data)


@router.get("/tags")
def tags_page(request: Request):
    """The most used tags."""
    return _render(request, "tags.html", tags=_top_tags(request, 300))


@router.get("/tags/{tag:path}")
def tag_page(request: Request, tag: str, cursor: str | None = Query(None, max_length=200)):
    """A tag's articles, newest first."""
    web = _web(request)

    def compute():
        store = web.pool.get()
        count = queries.tag_count(store, tag)
        if not count:
            raise NotFound("no article has this tag", subject=tag)
        return {"count": count, "page": queries.latest(store, tag=tag, cursor=cursor, limit=LIST_PAGE_SIZE)}

    data = web.cache.get_or_compute(("tag", tag, cursor), compute)
    return _render(request, "list.html", kind="tag", heading=tag, cursor=cursor, outlet=None, tags=[],
                   feed=f"/tags/{quote(tag, safe='')}/feed", **data)


# -- named entities ------------------------------------------------------------------------

ENTITY_INDEX_SIZE = 24
ENTITY_PAGE_SIZE = 100


@router.get("/entities")
def entities_page(request: Request, type: str | None = Query(None, pattern="^(PERS|LOC|ORG|MISC)$"),
                  page: int = Query(1, ge=1, le=100)):
    """The most named people, places, organisations and others; one type, a page at a time, with ?type=."""
    web = _web(request)

    def compute():
        store = web.pool.get()
        if type:
            found = entity_views.entities(store, type=type, limit=ENTITY_PAGE_SIZE + 1,
                                          offset=(page - 1) * ENTITY_PAGE_SIZE)
            return {type: found}
        return entity_views.index(store, per_type=ENTITY_INDEX_SIZE)

    try:
        groups = web.cache.get_or_compute(("entities", type, page), compute)
    except StoreError as exc:
        log.warning("entities unavailable: %s", exc)
        return error_response(request, 503, detail="entities are not available on this server")
    more = bool(type) and len(groups[type]) > ENTITY_PAGE_SIZE
    if type:
        groups = {type: groups[type][:ENTITY_PAGE_SIZE]}
    return _render(request, "entities.html", groups=groups, kind=type, page=page, more=more,
                   countries={code: entity_views.country_name(code) for items in groups.values()
                              for code in {e.country for e in items if e.country}})


@router.get("/entities/{entity_id}")
def entity_page(request: Request, entity_id: str):
    """One entity: its names, place on the map, mentions per day, company, outlets and latest articles."""
    web = _web(request)
    if not entity_id.isdecimal() or len(entity_id) > 15:
        raise NotFound("no such entity", subject=entity_id[:64])
    number = int(entity_id)
    if str(number) != entity_id:  # /entities/007: one URL per entity
        return RedirectResponse(f"/entities/{number}", status_code=301)
    try:
        view = web.cache.get_or_compute(("entity", number), lambda: entity_views.entity_view(web.pool.get(), number))
    except StoreError as exc:
        log.warning("entities unavailable: %s", exc)
        return error_response(request, 503, detail="entities are not available on this server")
    return _render(request, "entity.html", view=view, entity=view.detail.entity,
                   land=entity_views.land_path() if view.point else "")


# -- reader settings, and the small files browsers ask for ----------------------------------


def _local(path: str | None) -> str:
    """*path* if it is a path on this site, else the home page (no open redirects)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


@router.get("/settings")
def settings_page(request: Request, next: str = Query("/", max_length=2000)):
    """The reader's preferences form."""
    return _render(request, "settings.html", back=_local(next), example_date=datetime.now(timezone.utc))


@router.post("/settings")
def save_settings(request: Request, lang: str = Form("ar"), digits: str = Form("latn"), theme: str = Form("auto"),
                  hijri: str = Form("0"), size: str = Form("m"), next: str = Form("/")):
    """Keep the reader's preferences in a cookie."""
    chosen = Prefs.parse(f"lang={lang}&digits={digits}&theme={theme}&hijri={hijri}&size={size}")
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(PREFS_COOKIE, chosen.dump(), max_age=400 * 86400, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")
    return response


@router.get("/healthz")
def health(request: Request):
    """For load balancers: the app and its database answer."""
    _web(request).pool.get().conn.execute("SELECT 1").fetchone()  # the database answers
    return {"ok": True}


@router.get("/favicon.ico")
def favicon():
    """The icon browsers ask for."""
    from .app import STATIC

    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


@router.get("/robots.txt")
def robots():
    """Crawlers may read the pages, not the admin or the API."""
    return PlainTextResponse("User-agent: *\nDisallow: /admin\nDisallow: /api/\n")
