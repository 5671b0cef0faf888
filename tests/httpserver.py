"""A small real HTTP/1.1 server on loopback addresses, for crawler tests and benchmarks.

It runs an asyncio loop in a background thread and serves canned `Reply`s by
(host, path) or by path: slow replies, dripping bodies, redirects, conditional GET.
Only loopback addresses (127.0.0.0/8) are ever bound.
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate


@dataclass
class Request:
    """What a client sent (enough for handlers and assertions)."""

    method: str
    host: str
    path: str
    headers: dict[str, str]


@dataclass
class Reply:
    """A canned answer: status, body and headers, optionally slow or dripping."""

    body: bytes | str = b""
    status: int = 200
    content_type: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the status line
    drip: float = 0.0  # seconds between body chunks
    chunk: int = 4096
    etag: str | None = None  # answers 304 when If-None-Match matches
    last_modified: str | None = None  # answers 304 when If-Modified-Since matches exactly
    length: int | None = None  # Content-Length to announce (default: the real length)

    def data(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


Handler = Reply | Callable[[Request], Reply]
_REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 304: "Not Modified", 307: "Temporary Redirect",
            308: "Permanent Redirect", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests",
            500: "Internal Server Error", 503: "Service Unavailable"}


class LocalServer:
    """HTTP server bound to loopback addresses; use as a context manager."""

    def __init__(self, hosts: tuple[str, ...] = ("127.0.0.1",)):
        for host in hosts:
            if not ipaddress.ip_address(host).is_loopback:
                raise ValueError(f"test servers bind loopback addresses only, not {host}")
        self.hosts = hosts
        self.routes: dict[tuple[str | None, str], Handler] = {}
        self.hits: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()  # host -> requests being answered now
        self.max_in_flight: Counter[str] = Counter()  # host -> the most seen at once
        self.log: list[Request] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._lock = threading.Lock()

    # -- routes -------------------------------------------------------------------

    def route(self, path: str, handler: Handler, *, host: str | None = None) -> None:
        """Serve *handler* at *path* (with its query string, if any) on *host* or on every host."""
        self.routes[(host, path)] = handler

    def url(self, path: str = "/", host: str | None = None) -> str:
        """The absolute URL of *path* on this server."""
        return f"http://{host or self.hosts[0]}:{self.port}{path}"

    @property
    def base(self) -> str:
        return self.url("")

    # -- lifecycle ------------------------------------------------------------------

    def __enter__(self) -> "LocalServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="local-http", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("test server did not start")

    def stop(self) -> None:
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread:
            self._thread.join(10)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        first = await asyncio.start_server(self._handle, self.hosts[0], 0, backlog=1024)
        self.port = first.sockets[0].getsockname()[1]
        servers = [first]
        for host in self.hosts[1:]:
            servers.append(await asyncio.start_server(self._handle, host, self.port, backlog=256))
        self._ready.set()
        await self._stop.wait()
        for server in servers:
            server.close()
        for task in [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
            task.cancel()

    # -- HTTP -------------------------------------------------------------------------

    def _lookup(self, request: Request) -> Reply:
        bare = request.path.split("?", 1)[0]
        for key in ((request.host, request.path), (None, request.path), (request.host, bare), (None, bare)):
            if key in self.routes:
                handler = self.routes[key]
                return handler(request) if callable(handler) else handler
        return Reply("not found", status=404, content_type="text/plain")

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                try:
                    method, path, _ = line.decode("latin-1").split(" ", 2)
                except ValueError:
                    return
                headers: dict[str, str] = {}
                while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = header.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                host = headers.get("host", "").rsplit(":", 1)[0]
                request = Request(method, host, path, headers)
                with self._lock:
                    self.hits[path] += 1
                    self.log.append(request)
                with self._lock:
                    self.in_flight[host] += 1
                    self.max_in_flight[host] = max(self.max_in_flight[host], self.in_flight[host])
                try:
                    reply = self._lookup(request)
                    if reply.delay:
                        await asyncio.sleep(reply.delay)
                    await self._send(writer, request, reply)
                finally:
                    with self._lock:
                        self.in_flight[host] -= 1
                if headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            writer.close()

    async def _send(self, writer: asyncio.StreamWriter, request: Request, reply: Reply) -> None:
        status, body = reply.status, reply.data()
        fresh = (reply.etag and request.headers.get("if-none-match") == reply.etag) or (
            reply.last_modified and request.headers.get("if-modified-since") == reply.last_modified)
        if fresh:
            status, body = 304, b""
        headers = {"Date": formatdate(usegmt=True), "Server": "marsad-test", **reply.headers}
        if reply.content_type and status != 304:
            headers["Content-Type"] = reply.content_type
        if reply.etag:
            headers["ETag"] = reply.etag
        if reply.last_modified:
            headers["Last-Modified"] = reply.last_modified
        headers["Content-Length"] = str(reply.length if reply.length is not None else len(body))
        head = f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        writer.write(head.encode("latin-1"))
        if request.method != "HEAD":
            if reply.drip:
                for start in range(0, len(body), reply.chunk):
                    writer.write(body[start : start + reply.chunk])
                    await writer.drain()
                    await asyncio.sleep(reply.drip)
            else:
                writer.write(body)
        await writer.drain()


# -- a simulated Arabic news site built from the fixtures ------------------------------------------

from datetime import datetime, timedelta, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures"

# slug -> (fixture page, Content-Type header as the site sends it)
PAGES: dict[str, tuple[str, str]] = {
    "sputnik-egypt-30-cases": ("arabic.sputniknews.com__egypt-30-covid-cases.html", "text/html; charset=utf-8"),
    "almadenah-us-deaths": ("almadenahnews.com__us-covid-deaths-50k.html", "text/html; charset=UTF-8"),
    "albayan-afghan-embassy": ("albayan.ae__afghan-embassy-uae.windows-1256-no-charset.html", "text/html"),
    "alyaum-tehran": ("alyaum.com__tehran-buries-zadeh.windows-1256-meta-says-utf8.html", "text/html; charset=utf-8"),
    "youm7-electric-taxi": ("youm7.com__electric-taxi-new-capital.html", "text/html; charset=utf-8"),
    "beirut-observer-paris": ("beirutobserver.com__saudi-princess-paris-burglary.iso-8859-6-no-charset.html",
                              "text/html"),
    "akhbarelyom-naima-akef": ("akhbarelyom.com__naima-akef.html", "text/html; charset=utf-8"),
    "elbalad-yousra": ("elbaladtv.net__turki-alsheikh-yousra.html", "text/html; charset=utf-8"),
    "youm7-irrigation": ("youm7.com__irrigation-minister-groundwater.html", "text/html; charset=utf-8"),
    "youm7-workers-greece": ("youm7.com__workers-to-greece.html", "text/html; charset=utf-8"),
}
# feed fixture -> the page slugs its entries point at
FEED_PAGES = {
    "rss2_media.xml": ["sputnik-egypt-30-cases", "almadenah-us-deaths", "albayan-afghan-embassy", "alyaum-tehran",
                       "youm7-electric-taxi", "beirut-observer-paris"],
    "atom.xml": ["akhbarelyom-naima-akef", "elbalad-yousra", "youm7-irrigation", "youm7-workers-greece"],
}
FEED_TYPES = {".xml": "application/rss+xml; charset=utf-8", ".json": "application/feed+json"}


def feed_text(name: str, base: str) -> str:
    """A feed fixture with its {BASE} (and {RECENT}) placeholders filled in."""
    recent = (datetime.now(timezone.utc) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    text = (FIXTURES / "feeds" / name).read_text(encoding="utf-8")
    return text.replace("{BASE}", base).replace("{RECENT}", recent)


def page_bytes(slug: str) -> bytes:
    return (FIXTURES / "html" / PAGES[slug][0]).read_bytes()


def serve_news_site(server: LocalServer, *, host: str | None = None, page_delay: float = 0.0,
                    feeds: tuple[str, ...] = ("rss2_media.xml", "atom.xml")) -> dict[str, str]:
    """Serve feeds and the real article pages they list; returns {feed name: feed URL}."""
    base = server.url("", host)
    urls = {}
    for name in feeds:
        path = "/" + name.replace("_", "-")
        server.route(path, Reply(feed_text(name, base), content_type=FEED_TYPES[Path(name).suffix]), host=host)
        urls[name] = base + path
    for slug, (_, content_type) in PAGES.items():
        server.route(f"/news/{slug}", Reply(page_bytes(slug), content_type=content_type, delay=page_delay),
                     host=host)
    server.route("/robots.txt", Reply("User-agent: *\nDisallow: /private/\n", content_type="text/plain"), host=host)
    return urls


# -- pytest fixtures (import them into a test module to use them) ------------------------------------

import pytest  # noqa: E402

LOOPBACK_ONLY = "127.0.0.0/8,::1/128"


@pytest.fixture
def server():
    """A fresh local HTTP server on 127.0.0.1."""
    with LocalServer() as running:
        yield running


@pytest.fixture
def allow_loopback(monkeypatch):
    """Let marsad fetch loopback addresses (and no other internal range) for this test."""
    monkeypatch.setenv("MARSAD_ALLOW_PRIVATE_NETWORKS", LOOPBACK_ONLY)


def fast_settings(**changes):
    """FetchSettings for tests: loopback allowed, no politeness delay, short timeouts, quick retries."""
    from marsad.ingest.fetch import FetchSettings
    from marsad.ingest.safety import NetworkPolicy

    values = dict(per_host_delay=0.0, connect_timeout=2.0, read_timeout=2.0, total_timeout=5.0, retries=1,
                  backoff_base=0.01, backoff_max=0.05, network=NetworkPolicy.from_setting(LOOPBACK_ONLY))
    values.update(changes)
    return FetchSettings(**values)


def fetch(url: str, settings=None, **kwargs):
    """Fetch one URL with a fresh Fetcher (synchronously, for tests)."""
    import asyncio

    from marsad.ingest.fetch import Fetcher

    async def run():
        async with Fetcher(settings or fast_settings()) as fetcher:
            return await fetcher.fetch(url, **kwargs)

    return asyncio.run(run())


def rss_feed(base: str, items: list[tuple[str, str, str]], *, title: str = "موقع تجريبي") -> str:
    """A generated RSS 2.0 feed: (path, title, RFC 822 date) per item."""
    body = "".join(f"<item><title>{t}</title><link>{base}{p}</link><guid>{base}{p}</guid><pubDate>{d}</pubDate>"
                   f"<description>ملخص {t}</description></item>" for p, t, d in items)
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{title}</title>'
            f"<link>{base}/</link><language>ar</language>{body}</channel></rss>")


def serve_many_pages(server: LocalServer, count: int, *, host: str | None = None, page_delay: float = 0.0,
                     title: str = "موقع تجريبي") -> str:
    """A feed of *count* entries, each a real fixture page (cycled); returns the feed URL."""
    base = server.url("", host)
    slugs = list(PAGES)
    items = []
    now = datetime.now(timezone.utc)
    for i in range(count):
        slug = slugs[i % len(slugs)]
        path = f"/story/{i}"
        when = (now - timedelta(hours=i)).strftime("%a, %d %b %Y %H:%M:%S +0000")
        items.append((path, f"خبر رقم {i}", when))
        server.route(path, Reply(page_bytes(slug), content_type=PAGES[slug][1], delay=page_delay), host=host)
    server.route("/feed.xml", Reply(rss_feed(base, items, title=title), content_type="application/rss+xml"),
                 host=host)
    return base + "/feed.xml"
