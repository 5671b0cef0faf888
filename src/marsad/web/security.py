"""Security headers, size limits, and error responses (a JSON object for the API, a friendly page otherwise)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import MarsadError
from .i18n import translate

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
# /docs is Swagger UI: its script and stylesheet are served from /static (see app.py), its icons are data:
# images, and it starts with one inline script, which its page's policy allows by hash (docs_csp).
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)


def docs_csp(html: bytes) -> str:
    """The docs page's policy: CSP, plus the hashes of the page's own inline scripts (no 'unsafe-inline')."""
    hashes = " ".join("'sha256-" + base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode() + "'"
                      for m in _INLINE_SCRIPT.finditer(html))
    return CSP.replace("script-src 'self'", f"script-src 'self' {hashes}" if hashes else "script-src 'self'")


HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]

CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         406: "not_acceptable", 413: "too_large", 414: "uri_too_long", 422: "invalid_request",
         429: "too_many_requests", 500: "internal_error", 501: "not_implemented", 503: "unavailable"}


class SecurityHeaders:
    """ASGI middleware: security headers on every response; over-long query strings refused with 414."""

    def __init__(self, app, max_query_bytes: int = 4096):
        self.app = app
        self.max_query_bytes = max_query_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = CSP.encode()

        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in HEADERS if k not in names]
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", csp))
                message["headers"] = headers
            await send(message)

        if len(scope.get("query_string", b"")) > self.max_query_bytes:
            response = error_response(Request(scope), 414)
            await response(scope, receive, with_headers)
            return
        await self.app(scope, receive, with_headers)


def wants_json(request: Request) -> bool:
    """API paths answer errors with JSON objects; everything else with a page."""
    return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"


def error_body(status: int, *, error: MarsadError | None = None, code: str | None = None,
               detail: str | None = None) -> dict:
    """The API's error object: status, code, and a message in English and Arabic."""
    code = code or CODES.get(status, "error")
    if error is not None and status != 500:  # a crash's details stay in the log
        message = error.message if not error.subject else f"{error.subject}: {error.message}"
        message_ar = getattr(error, "message_ar", None) or translate("ar", f"error.{status}")
        code = _code_of(error) or code
    else:
        message = (detail if status < 500 and detail else None) or translate("en", f"error.{status}")
        message_ar = translate("ar", f"error.{status}")
        if message_ar == f"error.{status}":
            message_ar = translate("ar", "error.other")
        if message == f"error.{status}":
            message = translate("en", "error.other")
    return {"error": {"status": status, "code": code, "message": message, "message_ar": message_ar}}


def _code_of(error: MarsadError) -> str | None:
    name = type(error).__name__
    return {"InvalidQuery": "invalid_query", "InvalidCursor": "invalid_cursor", "NotFound": "not_found",
            "Rejected": "rejected"}.get(name)


def error_response(request: Request, status: int, *, error: MarsadError | None = None, code: str | None = None,
                   detail: str | None = None, headers: dict | None = None) -> Response:
    """The response for a failed request: JSON for the API, a friendly Arabic page elsewhere (never a traceback)."""
    body = error_body(status, error=error, code=code, detail=detail)
    if wants_json(request):
        return JSONResponse(body, status_code=status, headers=headers)
    web = getattr(request.app.state, "web", None) if "app" in request.scope else None
    if web is None:
        return Response(body["error"]["message_ar"], status_code=status, media_type="text/plain; charset=utf-8")
    return web.renderer.render(request, "error.html", status=status, headers=headers, status_code=status,
                               error=body["error"])


# -- CSRF: a random cookie, and a form field that must carry its HMAC -----------------------

CSRF_COOKIE = "marsad_csrf"


def new_csrf_cookie() -> str:
    """A fresh random value for the CSRF cookie."""
    return secrets.token_urlsafe(24)


def csrf_token(secret: bytes, cookie: str) -> str:
    """The token forms carry: an HMAC of the reader's CSRF cookie (a third site can read neither)."""
    return hmac.new(secret, b"csrf\x00" + cookie.encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret: bytes, cookie: str | None, token: str | None) -> bool:
    """Whether a submitted form's token matches its cookie."""
    if not cookie or not token:
        return False
    return hmac.compare_digest(csrf_token(secret, cookie), token)
