"""Running the app: uvicorn on one process, or several worker processes sharing the settings by environment."""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import threading
import time

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
        if hasattr(socket, "SO_REUSEPORT"):
            serve_workers(workers, options)
        else:
            uvicorn.run("marsad.web.app:app_from_env", factory=True, workers=workers, **options)
    else:
        from .app import create_app

        uvicorn.run(create_app(settings), **options)
    sys.stdout.flush()


STARTUP_SECONDS = 10.0


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to *host*:*port* with SO_REUSEPORT, so that several can be bound to the same port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _worker(sock: socket.socket, options: dict) -> None:
    import uvicorn

    config = uvicorn.Config("marsad.web.app:app_from_env", factory=True, **options)
    uvicorn.Server(config).run(sockets=[sock])


def serve_workers(workers: int, options: dict) -> None:
    """Run *workers* uvicorn processes, each accepting on its own SO_REUSEPORT socket, until SIGINT or SIGTERM.

    uvicorn's own workers share one listening socket, and whichever is awake accepts every
    connection waiting: 20 keep-alive clients arriving together were seen split 20/0, 17/3 and
    15/5 between two workers, so one core served them all while the other idled. The kernel
    spreads connections over SO_REUSEPORT sockets by their addresses instead. A worker that
    dies is started again on the same socket (connections wait in its queue meanwhile), unless
    it died within STARTUP_SECONDS of starting: then the app cannot start, and everything stops.
    """
    from ..errors import MarsadError

    # SO_REUSEPORT would also share the port with another server already on it (a second
    # `marsad serve` of the same user), splitting its connections silently: a plain bind first
    # fails as any server's would.
    try:
        with socket.socket(socket.AF_INET6 if ":" in options["host"] else socket.AF_INET) as probe:
            probe.bind((options["host"], options["port"]))
        sockets = [listening_socket(options["host"], options["port"]) for _ in range(workers)]
    except OSError as exc:
        raise MarsadError(f"cannot listen on {options['host']}:{options['port']}: {exc.strerror or exc}") from exc
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()

    def start(sock: socket.socket):
        process = context.Process(target=_worker, args=(sock, options))
        process.start()
        return process, time.monotonic()

    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    processes = [start(sock) for sock in sockets]
    failed = None
    try:
        while not stop.wait(0.5):
            for index, (process, started) in enumerate(processes):
                if process.is_alive():
                    continue
                if time.monotonic() - started < STARTUP_SECONDS:
                    failed = f"a server worker exited at start (exit code {process.exitcode})"
                    stop.set()
                    break
                processes[index] = start(sockets[index])
    finally:
        for process, _ in processes:
            if process.is_alive():
                process.terminate()
        for process, _ in processes:
            process.join()
        for sock in sockets:
            sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if failed:
        raise MarsadError(failed)
