"""The web server's settings: from arguments, else from MARSAD_* environment variables."""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass, field

from ..store import resolve_db


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass
class WebSettings:
    """What `marsad serve` and `create_app` need to know.

    :param db: the SQLite database to serve.
    :param admin_token: the token that opens /admin (the admin page is off without one).
    :param api_key: when set, every /api/v1 request must carry it (``X-API-Key`` or ``Authorization: Bearer``).
    :param secret: signs admin sessions and CSRF tokens (default: derived from the admin token, so
        several worker processes agree; random when there is no token).
    :param timezone: the zone dates are shown in.
    :param public_url: absolute base URL for feeds and shared links (default: the request's own).
    :param compute_threads: searches run at once per process (`Web.compute`); more wait their turn.
    """

    db: str = field(default_factory=resolve_db)
    admin_token: str | None = None
    api_key: str | None = None
    secret: bytes = b""
    timezone: str = "Asia/Riyadh"
    public_url: str | None = None
    page_size: int = 20
    max_page_size: int = 100
    max_query_chars: int = 500
    max_upload_bytes: int = 2 * 1024 * 1024
    cache_entries: int = 4096  # rendered pages and computed results kept per process (0: no caching)
    cache_seconds: float = 60.0
    compute_threads: int = 1

    def __post_init__(self) -> None:
        self.db = str(self.db)
        if not self.secret:
            if self.admin_token:
                self.secret = hashlib.sha256(b"marsad-web-secret\x00" + self.admin_token.encode()).digest()
            else:
                self.secret = secrets.token_bytes(32)

    @classmethod
    def from_env(cls, **overrides) -> "WebSettings":
        """Settings from MARSAD_DB, MARSAD_ADMIN_TOKEN, MARSAD_API_KEY, MARSAD_SECRET, MARSAD_TIMEZONE,
        MARSAD_PUBLIC_URL, MARSAD_CACHE_ENTRIES and MARSAD_COMPUTE_THREADS; keyword arguments that are not
        None win."""
        env = os.environ
        values = {
            "db": resolve_db(),
            "admin_token": env.get("MARSAD_ADMIN_TOKEN") or None,
            "api_key": env.get("MARSAD_API_KEY") or None,
            "secret": env.get("MARSAD_SECRET", "").encode(),
            "timezone": env.get("MARSAD_TIMEZONE") or "Asia/Riyadh",
            "public_url": env.get("MARSAD_PUBLIC_URL") or None,
            "cache_entries": _env_int("MARSAD_CACHE_ENTRIES", 4096),
            "compute_threads": max(1, _env_int("MARSAD_COMPUTE_THREADS", 1)),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The environment that makes `from_env` rebuild these settings (for worker processes)."""
        env = {"MARSAD_DB": self.db, "MARSAD_SECRET": self.secret.hex(),
               "MARSAD_TIMEZONE": self.timezone, "MARSAD_CACHE_ENTRIES": str(self.cache_entries),
               "MARSAD_COMPUTE_THREADS": str(self.compute_threads)}
        if self.admin_token:
            env["MARSAD_ADMIN_TOKEN"] = self.admin_token
        if self.api_key:
            env["MARSAD_API_KEY"] = self.api_key
        if self.public_url:
            env["MARSAD_PUBLIC_URL"] = self.public_url
        return env
