"""marsad's web reader, JSON API and feeds: `create_app()` builds the ASGI app, `marsad serve` runs it."""

from __future__ import annotations

from .app import app_from_env, create_app
from .settings import WebSettings

__all__ = ["WebSettings", "app_from_env", "create_app"]
