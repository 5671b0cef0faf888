"""A polite, safe HTTP fetcher (httpx + asyncio) shared by discovery, feeds and article pages.

Every request goes through `Fetcher.fetch()`, which, in order:

1. checks the URL against the SSRF guard (scheme, credentials, literal internal IPs);
2. checks the site's robots.txt (cached per host; Crawl-delay raises the host's delay);
3. waits for a per-host slot (concurrency limit and minimum delay between requests);
4. sends the request (conditional headers when known) under connect/read/total timeouts,
   reads at most `max_bytes` of the decoded body, and follows redirects itself, so that
   every hop goes through steps 1-3 again;
5. retries timeouts, connection errors and 5xx with exponential backoff and jitter, and
   honours `Retry-After` on 429/503 (for the whole host, not just this request).

Connections are only opened to addresses the `NetworkPolicy` allows, checked after DNS
resolution (see `safety.py`).
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import httpcore
import httpx

from .. import __version__
from ..errors import MarsadError, ParseError
from .robots import MAX_ROBOTS_BYTES, Robots, parse_robots
from .safety import Blocked, NetworkPolicy, SafeNetworkBackend, check_url

DEFAULT_USER_AGENT = f"marsad/{__version__} (Arabic news aggregator; obeys robots.txt)"
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
RETRY_STATUSES = (429, 500, 502, 503, 504)
ROBOTS_TTL = 3600.0


class FetchError(MarsadError):
    """A fetch failed; `kind` names the failure for summaries and retry decisions.

    Kinds: timeout, connect, http, too_large, redirects, blocked, robots,
    rate_limited, bad_response.
    """

    status = 502

    def __init__(self, message: str, *, kind: str, subject: str | None = None, http_status: int | None = None,
                 retry_after: float | None = None, retryable: bool = False):
        self.kind = kind
        self.http_status = http_status
        self.retry_after = retry_after
        self.retryable = retryable
        super().__init__(message, subject=subject)


def _env_float(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        return float(env[name]) if env.get(name) else default
    except ValueError:
        return default


@dataclass(frozen=True)
class FetchSettings:
    """How marsad fetches: identity, timeouts, limits, politeness and safety."""

    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0  # one attempt, headers and body together
    max_bytes: int = 10 * 1024 * 1024  # decoded body; larger responses are refused
    max_redirects: int = 5
    retries: int = 3  # extra attempts after the first, on timeouts / connection errors / 5xx / 429
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    max_retry_after: float = 120.0  # a longer Retry-After ends the fetch (the crawler tries later)
    concurrency: int = 32  # requests in flight, all hosts together
    per_host_concurrency: int = 2
    per_host_delay: float = 1.0  # minimum seconds between two requests to one host
    max_crawl_delay: float = 30.0  # robots.txt Crawl-delay is obeyed up to this
    obey_robots: bool = True
    network: NetworkPolicy = field(default_factory=NetworkPolicy)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "FetchSettings":
        """Settings from MARSAD_* environment variables, then *overrides* (None values ignored)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {
            "network": NetworkPolicy.from_env(env),
            "per_host_delay": _env_float(env, "MARSAD_CRAWL_DELAY", cls.per_host_delay),
            "total_timeout": _env_float(env, "MARSAD_FETCH_TIMEOUT", cls.total_timeout),
            "max_bytes": int(_env_float(env, "MARSAD_MAX_BYTES", cls.max_bytes)),
        }
        if env.get("MARSAD_USER_AGENT"):
            values["user_agent"] = env["MARSAD_USER_AGENT"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        if isinstance(values.get("network"), (str, bool)):
            values["network"] = NetworkPolicy.from_setting(values["network"])
        return cls(**values)

    def but(self, **changes: Any) -> "FetchSettings":
        """A copy with some settings changed."""
        return replace(self, **changes)


@dataclass
class Response:
    """One fetched resource: the final URL after redirects, status, headers and body bytes."""

    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    content: bytes
    fetched_at: datetime
    redirects: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def not_modified(self) -> bool:
        """True for a 304 answer to a conditional request."""
        return self.status == 304

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-case ("" when absent)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    def text(self) -> str:
        """The body decoded (header charset, then meta/XML charset, then detection)."""
        return decode_body(self.content, self.headers.get("content-type"), subject=self.final_url)[0]


# -- charsets ------------------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.I)
# Declarations that are usually a server default or a lie on Arabic pages: detect instead.
_DEFAULT_LIARS = {"cp1256", "iso8859-6", "latin-1", "iso8859-1", "cp1252", "ascii", "utf-8", "iso8859-15"}


def _codec(name: str | None) -> str | None:
    import codecs

    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None


def declared_charset(content: bytes, content_type: str | None) -> str | None:
    """The charset a response declares: Content-Type header, else XML prolog or <meta>."""
    if content_type:
        match = re.search(r"charset\s*=\s*[\"']?([^\s;\"']+)", content_type, re.I)
        if match and _codec(match.group(1)):
            return _codec(match.group(1))
    head = content[:4096]
    match = _XML_ENCODING.search(head.lstrip()) or _META_CHARSET.search(head)
    return _codec(match.group(1).decode("ascii", "ignore")) if match else None


def decode_body(content: bytes, content_type: str | None = None, *, subject: str = "") -> tuple[str, str]:
    """Decode a body to text; returns (text, encoding used).

    Declarations lie often on Arabic sites (a server default of ISO-8859-1 or UTF-8
    over a windows-1256 page), so: bytes that are valid UTF-8 are UTF-8; otherwise the
    Arabic code pages are scored against each other (`parse.encoding.decode_bytes`); only
    a specific non-default declaration (koi8-r, shift_jis ...) that fits the bytes is believed.
    """
    if content.startswith(b"\xef\xbb\xbf"):
        return content[3:].decode("utf-8", "replace"), "utf-8"
    try:
        return content.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    declared = declared_charset(content, content_type)
    if declared and declared not in _DEFAULT_LIARS:
        # A specific, non-default declaration (shift_jis, koi8-r ...) is believed when the bytes fit it.
        try:
            return content.decode(declared), declared
        except UnicodeDecodeError:
            pass
    return _detect(content, subject), "detected"


_MARKUP = re.compile(rb"(?is)<script.*?</script>|<style.*?</style>|<!--.*?-->|<[^>]+>|&#?\w+;")


def _detect(content: bytes, subject: str) -> str:
    """Detect the encoding of a whole page from its text alone.

    Markup and scripts are ASCII in every candidate encoding, but their Latin letters
    drown the Arabic ones a detector scores; so detection runs on the text between
    tags, and the page is decoded with the code page that reproduces that text.
    """
    from ..parse.encoding import ARABIC_CODE_PAGES, decode_bytes

    probe = _MARKUP.sub(b" ", content)
    if probe.strip() and len(probe) < len(content):
        try:
            text = decode_bytes(probe, subject=subject)
        except ParseError:
            text = None
        for encoding in (*ARABIC_CODE_PAGES, "utf-8"):
            try:
                if text is not None and probe.decode(encoding) == text:
                    return content.decode(encoding, errors="replace")
            except UnicodeDecodeError:
                continue
    return decode_bytes(content, subject=subject)


# -- hosts and politeness -----------------------------------------------------------


def host_key(url: str) -> str:
    """The politeness key of a URL: lower-case host and port."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{(parts.hostname or '').lower()}:{port}"


class _Host:
    """Per-host politeness state: a concurrency limit and the earliest next request time."""

    def __init__(self, concurrency: int, delay: float):
        self.slots = asyncio.Semaphore(concurrency)
        self.delay = delay
        self.next_at = 0.0
        self.lock = asyncio.Lock()
        self.robots: Robots | None = None
        self.robots_expires = 0.0
        self.robots_lock = asyncio.Lock()

    async def turn(self) -> None:
        """Wait until this host may receive another request, and book the following slot."""
        async with self.lock:
            now = time.monotonic()
            wait = self.next_at - now
            if wait > 0:
                await asyncio.sleep(wait)
            self.next_at = max(now, self.next_at) + self.delay

    def pause(self, seconds: float) -> None:
        """Send nothing to this host for *seconds* (Retry-After)."""
        self.next_at = max(self.next_at, time.monotonic() + seconds)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class _SafeTransport(httpx.AsyncHTTPTransport):
    """httpx transport whose connection pool only connects where the policy allows."""

    def __init__(self, policy: NetworkPolicy, limits: httpx.Limits):
        super().__init__(limits=limits, retries=0)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=SafeNetworkBackend(policy),
        )


class Fetcher:
    """Fetches URLs politely and safely; use as `async with Fetcher(settings) as f: await f.fetch(url)`."""

    def __init__(self, settings: FetchSettings | None = None):
        self.settings = settings or FetchSettings.from_env()
        s = self.settings
        limits = httpx.Limits(max_connections=max(s.concurrency, 1) * 2,
                              max_keepalive_connections=max(s.concurrency, 1))
        self.client = httpx.AsyncClient(
            transport=_SafeTransport(s.network, limits),
            headers={"User-Agent": s.user_agent},
            timeout=httpx.Timeout(connect=s.connect_timeout, read=s.read_timeout, write=s.read_timeout,
                                  pool=s.total_timeout),
            follow_redirects=False,
            trust_env=False,  # a proxy from the environment would bypass the address checks
        )
        self._global = asyncio.Semaphore(max(s.concurrency, 1))
        self._hosts: dict[str, _Host] = {}
        self.requests = 0  # HTTP requests sent, robots.txt included

    async def __aenter__(self) -> "Fetcher":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self.client.aclose()

    def _host(self, url: str) -> _Host:
        key = host_key(url)
        if key not in self._hosts:
            self._hosts[key] = _Host(self.settings.per_host_concurrency, self.settings.per_host_delay)
        return self._hosts[key]

    # -- robots.txt ---------------------------------------------------------------

    async def robots(self, url: str) -> Robots:
        """The robots.txt rules of *url*'s site (fetched once per hour per host)."""
        host = self._host(url)
        async with host.robots_lock:
            if host.robots is not None and host.robots_expires > time.monotonic():
                return host.robots
            parts = urlsplit(url)
            robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
            try:
                response = await self._fetch(robots_url, headers={}, max_bytes=MAX_ROBOTS_BYTES,
                                             check_robots=False, retries=1)
            except Blocked:
                raise
            except FetchError as exc:
                if exc.kind == "too_large":
                    rules = Robots.allowing("robots.txt too large")
                elif exc.http_status and 400 <= exc.http_status < 500:
                    rules = Robots.allowing(f"robots.txt answered {exc.http_status}")
                else:  # RFC 9309: unreachable or 5xx means "assume complete disallow" for now
                    rules = Robots.forbidding(f"robots.txt unreachable: {exc.message}")
            else:
                if 400 <= response.status < 500:
                    rules = Robots.allowing(f"robots.txt answered {response.status}")
                elif not response.content.strip():
                    rules = Robots.allowing("robots.txt empty")
                else:
                    try:
                        rules = parse_robots(decode_body(response.content, response.headers.get("content-type"),
                                                         subject=robots_url)[0])
                    except ParseError:
                        rules = Robots.allowing("robots.txt unreadable")
            delay = rules.crawl_delay(self.settings.user_agent)
            if delay is not None:
                host.delay = max(self.settings.per_host_delay, min(delay, self.settings.max_crawl_delay))
            host.robots = rules
            host.robots_expires = time.monotonic() + (ROBOTS_TTL if not rules.disallow_all else 300)
            return rules

    # -- fetching -------------------------------------------------------------------

    async def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
                    accept: str | None = None, max_bytes: int | None = None) -> Response:
        """Fetch *url* (GET), following redirects; raises FetchError or Blocked.

        With *etag* / *last_modified*, sends a conditional request; a 304 comes back as
        a Response with `not_modified` True and an empty body.
        """
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if accept:
            headers["Accept"] = accept
        return await self._fetch(url, headers=headers, max_bytes=max_bytes or self.settings.max_bytes,
                                 check_robots=self.settings.obey_robots, retries=self.settings.retries)

    async def _fetch(self, url: str, *, headers: dict[str, str], max_bytes: int, check_robots: bool,
                     retries: int) -> Response:
        attempt = 0
        while True:
            try:
                return await self._follow(url, headers, max_bytes, check_robots)
            except FetchError as exc:
                if not exc.retryable or attempt >= retries:
                    raise
                if exc.retry_after is not None:
                    if exc.retry_after > self.settings.max_retry_after:
                        raise
                    wait = exc.retry_after
                else:
                    # Exponential backoff with "equal jitter": half fixed, half random.
                    ceiling = min(self.settings.backoff_max, self.settings.backoff_base * 2 ** attempt)
                    wait = ceiling / 2 + random.uniform(0, ceiling / 2)
                attempt += 1
                await asyncio.sleep(wait)

    async def _follow(self, url: str, headers: dict[str, str], max_bytes: int, check_robots: bool) -> Response:
        started = time.monotonic()
        url = urldefrag(url)[0]  # fragments are never sent; keep them out of final_url too
        current, seen, redirects = url, {url}, []
        while True:
            check_url(current, self.settings.network)
            if check_robots:
                rules = await self.robots(current)
                if not rules.allowed(current, self.settings.user_agent):
                    why = f" ({rules.note})" if rules.note else ""
                    raise FetchError(f"disallowed by robots.txt{why}", kind="robots", subject=current)
            status, response_headers, body = await self._one(current, headers, max_bytes)
            if status in REDIRECT_STATUSES and "location" in response_headers:
                target = urldefrag(urljoin(current, response_headers["location"].strip()))[0]
                if len(redirects) >= self.settings.max_redirects:
                    raise FetchError(f"more than {self.settings.max_redirects} redirects", kind="redirects",
                                     subject=url)
                if target in seen:
                    raise FetchError(f"redirect loop at {target}", kind="redirects", subject=url)
                seen.add(target)
                redirects.append(target)
                current = target
                continue
            if status == 304 and headers.keys() & {"If-None-Match", "If-Modified-Since"}:
                pass
            elif status in RETRY_STATUSES:
                retry_after = parse_retry_after(response_headers.get("retry-after"))
                if retry_after is not None:
                    self._host(current).pause(min(retry_after, self.settings.max_retry_after))
                kind = "rate_limited" if status == 429 else "http"
                raise FetchError(f"HTTP {status}", kind=kind, subject=current, http_status=status,
                                 retry_after=retry_after, retryable=True)
            elif status >= 400 or status < 200:
                raise FetchError(f"HTTP {status}", kind="http", subject=current, http_status=status)
            return Response(url=url, final_url=current, status=status, headers=response_headers, content=body,
                            fetched_at=datetime.now(timezone.utc), redirects=redirects,
                            elapsed=time.monotonic() - started)

    async def _one(self, url: str, headers: dict[str, str], max_bytes: int) -> tuple[int, dict[str, str], bytes]:
        """One HTTP exchange under the host's politeness limits and the total timeout."""
        host = self._host(url)
        async with self._global, host.slots:
            await host.turn()
            self.requests += 1
            try:
                async with asyncio.timeout(self.settings.total_timeout):
                    async with self.client.stream("GET", url, headers=headers) as response:
                        response_headers = {k.lower(): v for k, v in response.headers.items()}
                        if response.status_code in REDIRECT_STATUSES or response.status_code >= 400:
                            return response.status_code, response_headers, b""
                        declared = response_headers.get("content-length", "")
                        if declared.isdigit() and int(declared) > max_bytes:
                            raise FetchError(f"response of {int(declared)} bytes is over the {max_bytes}-byte cap",
                                             kind="too_large", subject=url)
                        chunks, size = [], 0
                        async for chunk in response.aiter_bytes():
                            size += len(chunk)
                            if size > max_bytes:
                                raise FetchError(f"response is over the {max_bytes}-byte cap", kind="too_large",
                                                 subject=url)
                            chunks.append(chunk)
                        return response.status_code, response_headers, b"".join(chunks)
            except TimeoutError as exc:
                raise FetchError(f"no complete answer within {self.settings.total_timeout:g} s", kind="timeout",
                                 subject=url, retryable=True) from exc
            except httpx.TimeoutException as exc:
                raise FetchError(f"timed out ({type(exc).__name__})", kind="timeout", subject=url,
                                 retryable=True) from exc
            except httpx.DecodingError as exc:
                raise FetchError(f"undecodable body ({exc})", kind="bad_response", subject=url) from exc
            except (httpx.TransportError, OSError) as exc:
                raise FetchError(f"{type(exc).__name__}: {exc}", kind="connect", subject=url,
                                 retryable=True) from exc
            except httpx.InvalidURL as exc:
                raise Blocked(f"invalid URL ({exc})", subject=url) from exc
