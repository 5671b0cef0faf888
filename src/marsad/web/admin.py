"""The admin page: add and remove outlets, import OPML, see crawl status and errors.

Protected by the admin token from the settings (MARSAD_ADMIN_TOKEN); off when there is none.
Signing in sets a signed, HttpOnly session cookie; every form carries a CSRF token (an
HMAC of a random cookie) and cross-site POSTs are refused. The work is done by
marsad.ingest.sources, the same functions `marsad sources ...` calls.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import sqlite3
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from ..errors import MarsadError, NotFound
from . import queries
from .security import CSRF_COOKIE, csrf_ok, csrf_token, error_response, new_csrf_cookie

log = logging.getLogger("marsad.web")
router = APIRouter(prefix="/admin", include_in_schema=False)

SESSION_COOKIE = "marsad_admin"
SESSION_SECONDS = 12 * 3600
OK_MESSAGES = ("added", "removed", "disabled", "enabled", "imported")


def _web(request: Request):
    return request.app.state.web


def _sign(secret: bytes, text: str) -> str:
    return hmac.new(secret, b"admin\x00" + text.encode(), hashlib.sha256).hexdigest()


def _session_value(secret: bytes) -> str:
    expires = str(int(time.time()) + SESSION_SECONDS)
    return f"{expires}.{_sign(secret, expires)}"


def signed_in(request: Request) -> bool:
    """Whether the request carries a valid, unexpired admin session."""
    value = request.cookies.get(SESSION_COOKIE, "")
    expires, _, signature = value.partition(".")
    if not expires.isdigit() or int(expires) < time.time():
        return False
    return hmac.compare_digest(_sign(_web(request).settings.secret, expires), signature)


def _same_origin(request: Request) -> bool:
    """False for a POST a browser sent from another site (no Origin or Referer at all: not a browser form)."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin is None:
        return True
    if origin == "null":
        return False
    return urlsplit(origin).netloc == request.headers.get("host", urlsplit(str(request.base_url)).netloc)


def _enabled(request: Request) -> Response | None:
    if not _web(request).settings.admin_token:
        return error_response(request, 404, detail="the admin page is off (set MARSAD_ADMIN_TOKEN)")
    return None


def _render(request: Request, template: str, *, status: int = 200, **context) -> Response:
    web = _web(request)
    cookie = request.cookies.get(CSRF_COOKIE) or new_csrf_cookie()
    response = web.renderer.render(request, template, status=status, csrf=csrf_token(web.settings.secret, cookie),
                                   **context)
    response.headers["cache-control"] = "no-store"
    response.set_cookie(CSRF_COOKIE, cookie, httponly=True, samesite="strict", path="/admin",
                        secure=request.url.scheme == "https")
    return response


def _check_post(request: Request, token: str) -> Response | None:
    """Refuse a POST that is cross-site or lacks the CSRF token (403), or is not signed in (401)."""
    if (off := _enabled(request)) is not None:
        return off
    if not _same_origin(request) or not csrf_ok(_web(request).settings.secret, request.cookies.get(CSRF_COOKIE), token):
        if not signed_in(request):
            return _render(request, "admin_login.html", status=403, message=None, failure="admin.bad_csrf")
        return _render(request, "admin.html", status=403, message=None, failure="admin.bad_csrf",
                       **_dashboard(request))
    return None


def _back(message: str, subject: str) -> RedirectResponse:
    return RedirectResponse("/admin?" + urlencode({"ok": message, "subject": subject[:200]}), status_code=303)


def _has_table(store, name: str) -> bool:
    return store.conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() \
        is not None


def _dashboard(request: Request) -> dict:
    """Sources with their feeds and crawl health, the page queue, recent failures."""
    store = _web(request).pool.get()
    crawler = _has_table(store, "feeds") and _has_table(store, "frontier")
    statuses, frontier, failures = [], [], []
    if crawler:
        try:
            from ..ingest.sources import list_sources

            statuses = list_sources(store)
        except (ImportError, sqlite3.Error) as exc:
            log.warning("crawl state unavailable: %s", exc)
            crawler = False
        else:
            frontier = store.conn.execute(
                "SELECT state, count(*) FROM frontier GROUP BY state ORDER BY state").fetchall()
            failures = store.conn.execute(
                "SELECT url, source, error_kind, last_error, attempts FROM frontier WHERE last_error IS NOT NULL "
                "ORDER BY coalesce(done_at, discovered_at) DESC LIMIT 20").fetchall()
    outlets = {o.source.name: o for o in queries.outlets(store)}
    return {"crawler": crawler, "statuses": statuses, "frontier": frontier, "failures": failures,
            "outlets": outlets}


@router.get("")
def admin_page(request: Request):
    """The sign-in form, or the dashboard: outlets, feeds, crawl queue and errors."""
    if (off := _enabled(request)) is not None:
        return off
    if not signed_in(request):
        return _render(request, "admin_login.html", message=None, failure=None)
    ok = request.query_params.get("ok")
    message = ("admin.ok_" + ok, request.query_params.get("subject", "")[:200]) if ok in OK_MESSAGES else None
    return _render(request, "admin.html", message=message, failure=None, **_dashboard(request))


@router.post("/login")
def login(request: Request, token: str = Form("", max_length=500), csrf: str = Form("", max_length=200)):
    """Check the admin token and open a session."""
    if (refused := _check_post(request, csrf)) is not None:
        return refused
    wanted = _web(request).settings.admin_token or ""
    if not hmac.compare_digest(token.encode(), wanted.encode()):
        return _render(request, "admin_login.html", status=401, message=None, failure="admin.bad_token")
    response = RedirectResponse("/admin", status_code=303)
    response.set_cookie(SESSION_COOKIE, _session_value(_web(request).settings.secret), max_age=SESSION_SECONDS,
                        httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


@router.post("/logout")
def logout(request: Request, csrf: str = Form("", max_length=200)):
    """End the admin session."""
    if (refused := _check_post(request, csrf)) is not None:
        return refused
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _failed(request: Request, exc: Exception) -> Response:
    reason = exc.message if isinstance(exc, MarsadError) else str(exc)
    return _render(request, "admin.html", status=400, message=None, failure=("admin.failed", reason),
                   **_dashboard(request))


@router.post("/sources/add")
async def add(request: Request, url: str = Form(..., max_length=2000), name: str = Form("", max_length=200),
              discover: str = Form(""), csrf: str = Form("", max_length=200)):
    """Register an outlet by its site or feed URL (marsad.ingest.sources.add_source)."""
    if (refused := _check_post(request, csrf)) is not None:
        return refused
    if not signed_in(request):
        return error_response(request, 401)
    from ..ingest.sources import add_source_async

    web = _web(request)
    try:
        result = await add_source_async(web.pool.get(), url, name=name.strip() or None,
                                        discover_feeds=discover == "1")
    except (MarsadError, ValueError) as exc:
        return _failed(request, exc)
    web.cache.clear()
    return _back("added", result.source.name)


@router.post("/sources/remove")
def remove(request: Request, name: str = Form(..., max_length=200), csrf: str = Form("", max_length=200)):
    """Forget an outlet and its feeds; its stored articles stay."""
    if (refused := _check_post(request, csrf)) is not None:
        return refused
    if not signed_in(request):
        return error_response(request, 401)
    from ..ingest.sources import remove_source

    web = _web(request)
    try:
        remove_source(web.pool.get(), name)
    except MarsadError as exc:
        return _failed(request, exc)
    web.cache.clear()
    return _back("removed", name)


@router.post("/sources/disable")
def disable(request: Request, name: str = Form(..., max_length=200), disabled: str = Form("1"),
            csrf: str = Form("", max_length=200)):
    """Pause or resume crawling an outlet."""
    if (refused := _check_post(request, csrf)) is not None:
        return refused
    if not signed_in(request):
        return error_response(request, 401)
    from ..ingest.sources import disable_source

    web = _web(request)
    try:
        resolved = disable_source(web.pool.get(), name, disabled=disabled == "1")
    except MarsadError as exc:
        return _failed(request, exc)
    web.cache.clear()
    return _back("disabled" if disabled == "1" else "enabled", resolved)


@router.post("/opml")
async def import_opml_file(request: Request, file: UploadFile = File(...), csrf: str = Form("", max_length=200)):
    """Register every feed of an uploaded OPML file."""
    if (refused := _check_post(request, csrf)) is not None:
        return refused
    if not signed_in(request):
        return error_response(request, 401)
    from ..ingest.sources import import_opml

    web = _web(request)
    data = await file.read(web.settings.max_upload_bytes + 1)
    if len(data) > web.settings.max_upload_bytes:
        return error_response(request, 413)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "import.opml"
        path.write_bytes(data)
        try:
            report = import_opml(web.pool.get(), path)
        except MarsadError as exc:
            return _failed(request, exc)
    web.cache.clear()
    return _back("imported", f"{report.feeds} / {report.sources}" + (f" ({len(report.skipped)} skipped)"
                                                                     if report.skipped else ""))


@router.get("/opml")
def export(request: Request):
    """Every outlet and feed as an OPML download."""
    if (off := _enabled(request)) is not None:
        return off
    if not signed_in(request):
        return error_response(request, 401)
    from ..ingest.sources import export_opml

    try:
        text = export_opml(_web(request).pool.get())
    except NotFound as exc:
        return error_response(request, 404, error=exc)
    return Response(text, media_type="text/x-opml; charset=utf-8",
                    headers={"content-disposition": 'attachment; filename="marsad-sources.opml"',
                             "cache-control": "no-store"})
