"""Database access for the server: one SQLite connection per thread, and a cache that forgets on writes."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from ..store.sqlite import SQLiteStore


class StorePool:
    """Hands each thread its own `SQLiteStore` (sqlite3 connections are not for sharing across threads).

    Handlers run in a thread pool; each worker thread opens its connection on first use
    and keeps it. `close()` closes them all when the app shuts down.
    """

    def __init__(self, path: str):
        self.path = path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[SQLiteStore] = []

    @property
    def postgres(self) -> bool:
        """Whether the database is PostgreSQL (one thread-safe `PostgresStore` then serves every thread)."""
        return self.path.startswith(("postgresql://", "postgres://"))

    def get(self) -> SQLiteStore:
        """This thread's store."""
        if self.postgres:
            with self._lock:
                if not self._opened:
                    from ..store.postgres import PostgresStore

                    self._opened.append(PostgresStore(self.path))
                return self._opened[0]
        store = getattr(self._local, "store", None)
        if store is None:
            store = SQLiteStore(self.path)
            self._local.store = store
            with self._lock:
                self._opened.append(store)
        return store

    def generation(self) -> tuple:
        """Changes whenever any connection (here or in another process) commits to the database.

        In WAL mode a commit appends to the -wal file and a checkpoint rewrites the main
        file, so their sizes and modification times are a cheap change counter.
        """
        if self.postgres:  # the newest article's pk: new articles show at once, other changes when entries expire
            return (self.get().conn.execute("SELECT coalesce(max(pk), 0) FROM articles").fetchone()[0],)
        marks = []
        for suffix in ("", "-wal"):
            try:
                st = os.stat(self.path + suffix)
                marks.append((st.st_mtime_ns, st.st_size))
            except OSError:
                marks.append(None)
        return tuple(marks)

    def close(self) -> None:
        """Close every connection this pool opened."""
        with self._lock:
            opened, self._opened = self._opened, []
        for store in opened:
            with contextlib.suppress(Exception):  # a connection already closed or busy in a dying thread
                store.close()


class Cache:
    """A small LRU of computed values that expire after `seconds` or when the database changes.

    Keys include the pool's `generation()`, so a new article or a removed source is
    seen on the next request; the time limit bounds staleness for anything else.
    """

    def __init__(self, pool: StorePool, entries: int = 4096, seconds: float = 60.0):
        self.pool = pool
        self.entries = entries
        self.seconds = seconds
        self._data: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The cached value for *key*, computing (and keeping) it when absent or stale."""
        if self.entries <= 0:
            return compute()
        full_key = (key, self.pool.generation())
        now = time.monotonic()
        with self._lock:
            found = self._data.get(full_key)
            if found is not None and now - found[0] < self.seconds:
                self._data.move_to_end(full_key)
                self.hits += 1
                return found[1]
        self.misses += 1
        value = compute()
        with self._lock:
            self._data[full_key] = (now, value)
            self._data.move_to_end(full_key)
            while len(self._data) > self.entries:
                self._data.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget everything (after a write made here, so the next page shows it)."""
        with self._lock:
            self._data.clear()
