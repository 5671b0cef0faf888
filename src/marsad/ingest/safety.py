"""SSRF protection: marsad only fetches public http(s) addresses unless told otherwise.

Two layers, so that no path around one of them reaches an internal address:

1. `check_url()` refuses non-http(s) schemes, credentials in URLs and literal
   internal IPs before a request (and before every redirect) is sent, with a clear reason;
2. `SafeNetworkBackend` resolves every host name at connect time, refuses the
   connection if *any* of its addresses is internal, and connects to the vetted
   address itself, so DNS rebinding between the check and the connect cannot work.

`MARSAD_ALLOW_PRIVATE_NETWORKS=1` (config key `allow_private_networks`) lifts the
ban on every internal range; a comma-separated list of networks
(`127.0.0.0/8,::1/128`) lifts it for those only, which is what marsad's tests use.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore

from ..errors import Rejected

ENV_ALLOW_PRIVATE = "MARSAD_ALLOW_PRIVATE_NETWORKS"
ALLOWED_SCHEMES = ("http", "https")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Ranges that `ipaddress` does not flag on every Python version, named for the message.
_EXTRA_BLOCKED: tuple[tuple[IPNetwork, str], ...] = (
    (ipaddress.ip_network("100.64.0.0/10"), "carrier-grade NAT"),
    (ipaddress.ip_network("192.0.0.0/24"), "IETF protocol assignments"),
    (ipaddress.ip_network("198.18.0.0/15"), "benchmarking"),
    (ipaddress.ip_network("64:ff9b::/96"), "NAT64"),
    (ipaddress.ip_network("64:ff9b:1::/48"), "NAT64"),
    (ipaddress.ip_network("2002::/16"), "6to4"),
    (ipaddress.ip_network("2001::/32"), "Teredo"),
)


class Blocked(Rejected):
    """A URL or address was refused by the SSRF guard; `reason` says which rule refused it."""

    status = 403


def blocked_reason(ip: IPAddress | str) -> str | None:
    """Why *ip* is not a public address ("loopback", "private" ...), or None when it is public."""
    address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if mapped is not None:
            inner = blocked_reason(mapped)
            if inner:
                return inner
    # Order matters: the most specific name first (loopback is also "private").
    for test, name in (
        ("is_unspecified", "unspecified"),
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_reserved", "reserved"),
        ("is_private", "private"),
        ("is_site_local", "site-local"),
    ):
        if getattr(address, test, False):
            return name
    for network, name in _EXTRA_BLOCKED:
        if address.version == network.version and address in network:
            return name
    if not address.is_global:
        return "reserved"
    return None


@dataclass(frozen=True)
class NetworkPolicy:
    """Which internal addresses may be fetched: none (the default), all, or some networks."""

    allow_all: bool = False
    allowed: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_setting(cls, value: str | bool | Iterable[str] | None) -> "NetworkPolicy":
        """Read `MARSAD_ALLOW_PRIVATE_NETWORKS`: "1"/"true"/"yes" (all), CIDRs, or empty (none)."""
        if value is None or value is False:
            return cls()
        if value is True:
            return cls(allow_all=True)
        items = [v.strip() for v in (value.split(",") if isinstance(value, str) else value) if v.strip()]
        if not items or items[0].lower() in ("0", "false", "no", "off"):
            return cls()
        if items[0].lower() in ("1", "true", "yes", "on", "all"):
            return cls(allow_all=True)
        try:
            return cls(allowed=tuple(ipaddress.ip_network(item, strict=False) for item in items))
        except ValueError as exc:
            raise Rejected(f"bad {ENV_ALLOW_PRIVATE} value {value!r}: {exc}") from exc

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "NetworkPolicy":
        """The policy set by the environment (default: refuse every internal address)."""
        return cls.from_setting((os.environ if env is None else env).get(ENV_ALLOW_PRIVATE))

    def refusal(self, ip: IPAddress | str) -> str | None:
        """Why this policy refuses *ip*, or None when it may be fetched."""
        address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
        reason = blocked_reason(address)
        if reason is None or self.allow_all:
            return None
        if any(address.version == net.version and address in net for net in self.allowed):
            return None
        return reason


def _refuse(host: str, ip: str, reason: str) -> Blocked:
    shown = host if host == ip else f"{host} ({ip})"
    return Blocked(
        f"refused to fetch {shown}: it is a {reason} address, not a public one "
        f"(set {ENV_ALLOW_PRIVATE}=1 to allow internal networks)",
        subject=host,
    )


def check_url(url: str, policy: NetworkPolicy) -> str:
    """Refuse URLs marsad must never fetch (bad scheme, credentials, literal internal IPs).

    Returns the host name. Host names are checked again, after resolution, at connect time.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Blocked(f"malformed URL ({exc})", subject=url) from exc
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise Blocked(f"refused scheme {scheme or '(none)'!r}: only http and https are fetched", subject=url)
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise Blocked("URL has no host", subject=url)
    if parts.username is not None or parts.password is not None:
        raise Blocked("URLs with credentials are not fetched", subject=url)
    if port == 0:
        raise Blocked("port 0 is not fetchable", subject=url)
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        reason = policy.refusal(literal)
        if reason:
            raise _refuse(host, str(literal), reason)
    elif host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        if policy.refusal("127.0.0.1"):
            raise _refuse(host, "127.0.0.1", "loopback")
    return host


async def resolve_checked(host: str, port: int, policy: NetworkPolicy) -> list[str]:
    """Resolve *host* and return its addresses; refuse if any one of them is internal.

    All of them, not just the first: a name that resolves to both a public and an
    internal address is how rebinding attacks pick the internal one later.
    """
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror or exc}") from exc
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
    for address in addresses:
        reason = policy.refusal(address.split("%", 1)[0])
        if reason:
            raise _refuse(host, address, reason)
    return addresses


class SafeNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore backend that connects only to addresses the policy allows (checked after DNS)."""

    def __init__(self, policy: NetworkPolicy, inner: httpcore.AsyncNetworkBackend | None = None):
        self.policy = policy
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        addresses = await resolve_checked(host, port, self.policy)
        last_error: Exception | None = None
        for address in addresses:
            try:
                # TLS still verifies and sends SNI for `host`: httpcore passes the
                # request's host name to start_tls, not the address connected to.
                return await self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout, OSError) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise Blocked("unix sockets are never fetched", subject=path)

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)
