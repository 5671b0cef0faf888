"""Shared fixtures: real data paths, fresh stores, CLI runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from marsad.store.sqlite import SQLiteStore

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _shared_data() -> Path:
    return Path(os.environ.get("MARSAD_SHARED_DATA") or REPO.parent / "shared" / "data")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The project's real data folder (../shared/data); required in CI, skipped without it elsewhere."""
    path = _shared_data()
    if not (path / "saudinewsnet.jsonl.gz").exists():
        if os.environ.get("CI"):
            pytest.fail(f"shared data not found at {path}")
        pytest.skip(f"shared data not found at {path} (set MARSAD_SHARED_DATA)")
    return path


@pytest.fixture
def seed_page() -> Path:
    """The page marsad started from (a copy kept in the test fixtures)."""
    return FIXTURES / "pages" / "seed.txt"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A path for a fresh database file."""
    return tmp_path / "test.db"


@pytest.fixture
def store(db_path: Path):
    """A fresh SQLite store in a temporary file, closed after the test."""
    with SQLiteStore(db_path) as opened:
        yield opened


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL cluster (tests/pg.py) for the whole run; its admin DSN.

    Required under CI; skipped elsewhere when PostgreSQL or psycopg is missing (`make test` installs both).
    """
    from pg import Cluster, find_bindir

    bindir = find_bindir()
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError as exc:
        bindir, why = None, f"psycopg is not installed ({exc})"
    else:
        why = "PostgreSQL (initdb, pg_ctl) not found; `make postgres` installs it"
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    import signal

    def interrupt(*_):  # a killed run (SIGTERM) still stops and removes the cluster, as Ctrl-C does
        raise KeyboardInterrupt

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, interrupt)
    cluster = Cluster(bindir)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture
def pg_dsn(pg_cluster):
    """The DSN of a fresh, empty database in the throwaway cluster, dropped after the test."""
    from pg import drop_database, fresh_database

    dsn = fresh_database(pg_cluster)
    yield dsn
    drop_database(pg_cluster, dsn)


@pytest.fixture
def pg_store(pg_dsn):
    """A fresh PostgresStore, closed after the test."""
    from marsad.store.postgres import PostgresStore

    with PostgresStore(pg_dsn) as opened:
        yield opened


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, tmp_path: Path):
    """A fresh store of each backend in turn: tests using it run against SQLite and PostgreSQL."""
    if request.param == "sqlite":
        with SQLiteStore(tmp_path / "test.db") as opened:
            yield opened
    else:
        yield request.getfixturevalue("pg_store")
