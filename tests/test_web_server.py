"""`marsad serve --workers N`: worker processes on SO_REUSEPORT sockets under one supervisor."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from webapp import build_db

pytestmark = pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT") or not os.path.isdir("/proc"),
                                reason="SO_REUSEPORT workers and /proc are Linux features")


@pytest.fixture(scope="module")
def server_db(tmp_path_factory):
    return build_db(tmp_path_factory.mktemp("server") / "server.db")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(db, port: int, workers: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARSAD_")}
    return subprocess.Popen([sys.executable, "-m", "marsad.cli", "--db", str(db), "serve", "--port", str(port),
                             "--workers", str(workers), "--log-level", "warning"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.add(int(entry))
            except OSError:
                continue
    return found


def answers(port: int, path: str = "/healthz") -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status
    except OSError:
        return None


def test_workers_serve_one_port_and_stop_with_the_supervisor(server_db):
    port = free_port()
    process = serve(server_db, port, 2)
    try:
        deadline = time.monotonic() + 60
        while answers(port) != 200:
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        workers = {pid for pid in children(process.pid)
                   if "spawn_main" in open(f"/proc/{pid}/cmdline").read().replace("\0", " ")}
        assert len(workers) == 2
        assert answers(port, "/api/v1/search?q=%D8%A7%D9%84%D8%B1%D9%8A%D8%A7%D8%B6") == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert not any(os.path.exists(f"/proc/{pid}") and open(f"/proc/{pid}/stat").read().split()[2] != "Z"
                   for pid in workers)
    assert answers(port) is None


def test_a_worker_that_cannot_start_stops_the_server(tmp_path):
    missing = tmp_path / "no-such-folder" / "marsad.db"
    process = serve(missing, free_port(), 2)
    try:
        assert process.wait(timeout=60) != 0
    finally:
        if process.poll() is None:
            process.kill()


def test_a_port_another_server_holds_is_refused(server_db):
    port = free_port()
    with socket.socket() as other:  # another server on the port, itself bound with SO_REUSEPORT
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", port))
        other.listen()
        process = serve(server_db, port, 2)
        try:
            assert process.wait(timeout=60) != 0
        finally:
            if process.poll() is None:
                process.kill()
        assert f"cannot listen on 127.0.0.1:{port}" in process.stderr.read().decode()
