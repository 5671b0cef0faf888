"""URL canonicalisation, so that one article reached by several URLs is stored once."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

# Query parameters that identify a campaign or a click, never the article.
_TRACKING_PREFIXES = ("utm_", "fbclid", "gclid", "mc_", "yclid", "igshid", "_hs")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonicalize_url(url: str) -> str:
    """Lower-case scheme and host, drop default port, fragment and tracking parameters.

    Percent-encoding is normalised so an Arabic path written raw or encoded gives
    the same key.
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    netloc = host
    if parts.port and _DEFAULT_PORTS.get(scheme) != parts.port:
        netloc = f"{host}:{parts.port}"
    path = quote(unquote(parts.path), safe="/%:@!$&'()*+,;=-._~") or "/"
    query = urlencode(
        sorted(
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not k.lower().startswith(_TRACKING_PREFIXES)
        )
    )
    return urlunsplit((scheme, netloc, path, query, ""))
