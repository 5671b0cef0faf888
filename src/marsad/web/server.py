"""Running the app: uvicorn on one process, or several worker processes sharing the settings by environment."""

from __future__ import annotations

import os
import sys

from .settings import WebSettings


def url_of(host: str, port: int) -> str:
    """The address to open in a browser."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)
    return f"http://{shown}:{port}/"


def serve(settings: WebSettings, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          log_level: str = "info", announce=print) -> None:
    """Serve marsad with uvicorn until interrupted; *announce* gets the URL to open."""
    import uvicorn

    announce(f"marsad is serving {settings.db} at {url_of(host, port)}  (API docs: {url_of(host, port)}docs; "
             "Ctrl-C stops)")
    # Below "info" the access log prints nothing, yet uvicorn would still build each line's arguments.
    options = {"host": host, "port": port, "log_level": log_level, "proxy_headers": False,
               "server_header": False, "timeout_graceful_shutdown": 5,
               "access_log": log_level in ("trace", "debug", "info")}
    if workers > 1:
        # Worker processes import the app themselves; they rebuild the same settings from the environment.
        os.environ.update(settings.to_env())
        uvicorn.run("marsad.web.app:app_from_env", factory=True, workers=workers, **options)
    else:
        from .app import create_app

        uvicorn.run(create_app(settings), **options)
    sys.stdout.flush()
