"""The ASGI application: one FastAPI app serving the reader pages, the JSON API and the feeds.

    uvicorn --factory marsad.web.app:app_from_env     # settings from MARSAD_* variables
    marsad serve --db marsad.db                        # the same, from the command line

Every edge here only parses input, calls the library (marsad.search, the store,
marsad.stories, marsad.ingest.sources) and maps errors to HTTP statuses and pages.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import MarsadError
from . import admin, api, feeds, pages
from .db import Cache, StorePool
from .pagecache import PageCache
from .render import Renderer
from .security import SecurityHeaders, docs_csp, error_response
from .settings import WebSettings
from .similar import TitleIndex

log = logging.getLogger("marsad.web")

STATIC = Path(str(resources.files("marsad.web").joinpath("static")))
# Swagger UI's script, stylesheet and icon, shipped by the fastapi-offline package, so /docs works offline.
SWAGGER_STATIC = Path(str(resources.files("fastapi_offline").joinpath("static")))
SWAGGER_URL = "/static/swagger-ui"


class Web:
    """What every handler needs: settings, per-thread stores, the cache and the templates."""

    def __init__(self, settings: WebSettings):
        self.settings = settings
        self.pool = StorePool(settings.db)
        self.cache = Cache(self.pool, settings.cache_entries, settings.cache_seconds)
        self.renderer = Renderer(settings)
        self.titles = TitleIndex()
        self._limiters: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    async def compute(self, func: Callable[[], object]) -> object:
        """Run CPU-bound *func* (a search, say) off the event loop, at most `settings.compute_threads` at once.

        Requests beyond that wait their turn in arrival order. Ten searches sharing one core
        through the GIL all finish late (each after about ten searches' time, and an expensive
        one after ten times its own); taken in turn they finish one after the other, so the
        slowest answers come much sooner, while cached answers never wait behind them.
        """
        loop = asyncio.get_running_loop()  # a limiter belongs to one event loop (test clients start several)
        limiter = self._limiters.get(loop)
        if limiter is None:
            limiter = self._limiters[loop] = anyio.CapacityLimiter(self.settings.compute_threads)
        return await anyio.to_thread.run_sync(func, limiter=limiter)


API_DESCRIPTION = """\
marsad's read API: articles, full-text search (the same query language as `marsad search`),
stories, outlets and tags. Lists are paged with opaque cursors (`next_cursor` → `cursor`).
Errors are `{"error": {"status", "code", "message", "message_ar"}}`.
"""


def create_app(settings: WebSettings | None = None, **overrides) -> FastAPI:
    """The marsad web app for *settings* (default: from the environment; keyword overrides win)."""
    settings = settings or WebSettings.from_env(**overrides)
    web = Web(settings)
    web.pool.get()  # open (creating and migrating) the database now, so a bad path fails at start

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        """Close the per-thread connections when the server stops."""
        yield
        web.pool.close()

    app = FastAPI(
        title="marsad API", version=__version__, description=API_DESCRIPTION, lifespan=lifespan,
        openapi_url="/openapi.json", docs_url=None, redoc_url=None,
        openapi_tags=[{"name": "articles"}, {"name": "search"}, {"name": "stories"}, {"name": "sources"},
                      {"name": "tags"}, {"name": "entities"}],
    )
    app.state.web = web
    app.add_middleware(PageCache, web=web)  # inside SecurityHeaders, so kept answers get fresh headers
    app.add_middleware(SecurityHeaders, max_query_bytes=4096)
    app.mount(SWAGGER_URL, StaticFiles(directory=SWAGGER_STATIC), name="swagger-ui")  # before /static
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request):
        """Swagger UI over /openapi.json, its assets served from this server (nothing from a CDN)."""
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{SWAGGER_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{SWAGGER_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{SWAGGER_URL}/favicon.png", oauth2_redirect_url=None)
        page.headers["content-security-policy"] = docs_csp(page.body)
        return page

    app.include_router(api.router)
    app.include_router(feeds.router)
    app.include_router(admin.router)
    app.include_router(pages.router)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc: StarletteHTTPException):
        """Unknown paths and wrong methods."""
        return error_response(request, exc.status_code, detail=str(exc.detail) if exc.detail else None,
                              headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request, exc: RequestValidationError):
        """Parameters that fail validation."""
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors())
        return error_response(request, 422 if request.url.path.startswith("/api/") else 400,
                              code="invalid_request", detail=problems)

    @app.exception_handler(MarsadError)
    async def marsad_error(request, exc: MarsadError):
        """Errors marsad raised on purpose, with their status."""
        return error_response(request, exc.status, error=exc)

    @app.exception_handler(Exception)
    async def crash(request, exc: Exception):
        """Anything else: logged, and a page or object that says nothing of the cause."""
        log.exception("unhandled error on %s", request.url.path)
        return error_response(request, 500)

    return app


def app_from_env() -> FastAPI:
    """The app with settings from MARSAD_* variables (for `uvicorn --factory` and worker processes)."""
    return create_app(WebSettings.from_env())
