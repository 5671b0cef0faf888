"""A response cache in front of the app: finished pages, feeds and API answers, kept until the database changes.

Readers mostly open the same few pages (today's articles, popular searches); serving the
bytes rendered for the previous reader skips routing, the queries and the templates. Entries
are keyed by host, path, query and the reader's preferences (they change the HTML), expire
after `seconds`, are dropped whenever the database's generation changes (a commit by any
process), and their total size is bounded. Only 200 answers without cookies are kept.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from starlette.requests import cookie_parser

from .render import PREFS_COOKIE, Prefs

CACHEABLE = ("/latest", "/articles/", "/stories", "/sources", "/tags", "/search", "/feed.", "/api/v1/")


class PageCache:
    """ASGI middleware: answers repeated GETs of cacheable paths from memory."""

    def __init__(self, app, web, max_bytes: int = 64 * 1024 * 1024):
        self.app = app
        self.web = web
        self.max_bytes = max_bytes
        self.seconds = web.settings.cache_seconds
        self.enabled = web.settings.cache_entries > 0
        self._entries: OrderedDict[tuple, tuple[float, tuple, int, list, bytes]] = OrderedDict()
        self._bytes = 0

    def _key(self, scope) -> tuple | None:
        path = scope["path"]
        if path != "/" and not path.startswith(CACHEABLE):
            return None
        if path.startswith("/api/") and self.web.settings.api_key:
            return None  # answers depend on the key check
        host, prefs = b"", ""
        for name, value in scope.get("headers", ()):
            if name == b"host":
                host = value
            elif name == b"cookie":
                prefs = Prefs.parse(cookie_parser(value.decode("latin-1")).get(PREFS_COOKIE)).dump()
        return host, path, scope.get("query_string", b""), prefs

    def _evict(self) -> None:
        while self._bytes > self.max_bytes and self._entries:
            _, (_, _, _, _, body) = self._entries.popitem(last=False)
            self._bytes -= len(body)

    async def __call__(self, scope, receive, send):
        if not self.enabled or scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        key = self._key(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        generation = self.web.pool.generation()
        now = time.monotonic()
        found = self._entries.get(key)
        if found is not None and found[1] == generation and now - found[0] < self.seconds:
            self._entries.move_to_end(key)
            _, _, status, headers, body = found
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return

        start: dict = {}
        chunks: list[bytes] = []

        async def capture(message):
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    self._store(key, generation, now, start, b"".join(chunks))
            await send(message)

        await self.app(scope, receive, capture)

    def _store(self, key: tuple, generation: tuple, now: float, start: dict, body: bytes) -> None:
        headers = list(start.get("headers", []))
        if start.get("status") != 200 or any(name.lower() == b"set-cookie" for name, _ in headers):
            return
        if len(body) > self.max_bytes // 16:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old[4])
        self._entries[key] = (now, generation, 200, headers, body)
        self._bytes += len(body)
        self._evict()

    def clear(self) -> None:
        """Forget every kept answer."""
        self._entries.clear()
        self._bytes = 0
