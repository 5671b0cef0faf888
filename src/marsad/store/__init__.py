"""Storage: one interface (`Store`), one implementation per database."""

from __future__ import annotations

import os
from pathlib import Path

from .base import Store, UpsertResult
from .sqlite import SQLiteStore

DEFAULT_DB = "marsad.db"


def resolve_db(db: str | os.PathLike | None = None) -> str:
    """The database to use: the argument, else $MARSAD_DB, else ./marsad.db."""
    return str(db or os.environ.get("MARSAD_DB") or DEFAULT_DB)


def open_store(db: str | os.PathLike | None = None) -> Store:
    """Open (creating and migrating if needed) the store named by a path or URL."""
    target = resolve_db(db)
    if target.startswith("sqlite:///"):
        target = target[len("sqlite:///"):]
    elif target.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        return PostgresStore(target)
    elif "://" in target:
        scheme = target.split("://", 1)[0]
        from ..errors import StoreError

        raise StoreError(f"unsupported database URL scheme {scheme!r} "
                         "(supported: a file path, sqlite:///PATH or postgresql://...)")
    return SQLiteStore(Path(target))


__all__ = ["DEFAULT_DB", "SQLiteStore", "Store", "UpsertResult", "open_store", "resolve_db"]
