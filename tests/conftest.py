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
