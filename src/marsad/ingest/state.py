"""The crawler's durable state in the store: feeds and their schedule, the entry frontier, raw responses.

Every change that must survive a crash is one transaction: a feed's new entries go into
the frontier in the same transaction that records the feed's new ETag and content hash,
so a crawl killed at any point either saw the feed (and has its entries queued) or did
not (and fetches it again). Articles are upserted by content-derived id before their
frontier row is marked done, so redoing an entry after a crash changes nothing.

The same SQL runs on both backends (on PostgreSQL through `PostgresStore.conn`, which takes
sqlite3's `?` placeholders; inserts that may meet an existing row say ``ON CONFLICT DO NOTHING``,
which both accept).
On PostgreSQL several crawlers may share one database: `Claims` gives each feed and each
frontier entry to one crawler at a time with session advisory locks (released when the
crawler finishes the item, or by the server when its connection dies), and re-reads the
row after locking, so an item another crawler has just finished is skipped.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from ..errors import NotFound
from ..store.sqlite import SQLiteStore

CRAWL_FEED_LOCKS = 0x6D61_7266  # advisory lock namespaces (first key): feeds being polled ...
CRAWL_ENTRY_LOCKS = 0x6D61_7265  # ... and frontier entries being fetched; the second key is hashtext(url)

try:  # zstd compresses pages ~25% smaller than zlib, and faster; zlib is the fallback
    import zstandard
except ImportError:  # pragma: no cover - zstandard comes with httpx[zstd]
    zstandard = None


def now_utc() -> datetime:
    """The current time, aware UTC, to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0)


def iso(value: datetime | None) -> str | None:
    """A datetime as the store writes it (UTC, ISO 8601, Z)."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def from_iso(value: str | None) -> datetime | None:
    """The inverse of `iso`."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def compress(data: bytes) -> tuple[str, bytes]:
    """Compress a raw response: ("zstd", bytes) or ("zlib", bytes)."""
    if zstandard is not None:
        return "zstd", zstandard.ZstdCompressor(level=10).compress(data)
    return "zlib", zlib.compress(data, 6)


def decompress(codec: str, data: bytes) -> bytes:
    """The inverse of `compress`."""
    if codec == "zstd":
        if zstandard is None:  # pragma: no cover
            raise RuntimeError("this raw response is zstd-compressed: install zstandard")
        return zstandard.ZstdDecompressor().decompress(data)
    if codec == "zlib":
        return zlib.decompress(data)
    if codec == "none":
        return data
    raise ValueError(f"unknown codec {codec!r}")


@dataclass
class FeedState:
    """One feed's row: where it is, whose it is, and its crawl schedule and health."""

    url: str
    source: str
    kind: str = "feed"
    title: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    last_fetched: datetime | None = None
    last_new: datetime | None = None
    next_due: datetime | None = None
    interval_s: int = 1800
    fetches: int = 0
    unchanged: int = 0
    entries_seen: int = 0
    error_count: int = 0
    errors_total: int = 0
    last_error: str | None = None
    last_error_kind: str | None = None
    disabled: bool = False

    @classmethod
    def from_row(cls, row) -> "FeedState":
        data = {k: row[k] for k in row.keys() if k in cls.__dataclass_fields__}
        for key in ("last_fetched", "last_new", "next_due"):
            data[key] = from_iso(data.get(key))
        data["disabled"] = bool(data.get("disabled"))
        return cls(**data)


@dataclass
class FrontierItem:
    """An entry URL waiting for (or done with) its page fetch."""

    url: str
    source: str | None
    feed_url: str | None
    entry: dict
    state: str
    attempts: int
    article_id: str | None = None


class CrawlState:
    """Feeds, frontier and raw responses of one SQLite store."""

    def __init__(self, store: SQLiteStore):
        self.store = store
        self.postgres = is_postgres(store)
        self.conn = store.conn  # PostgresStore.conn speaks sqlite3's dialect (marsad.store.postgres.SQLiteStyle)

    @contextmanager
    def _transaction(self) -> Iterator:
        """One transaction on either backend, on a connection taking `?` placeholders."""
        if self.postgres:
            with self.store.atomic() as conn:
                yield self.store.sqlite_style(conn)
        else:
            with self.store.transaction() as conn:
                yield conn

    # -- sources ------------------------------------------------------------------

    def source_row(self, name: str):
        row = self.conn.execute("SELECT * FROM sources WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFound("no such source", subject=name)
        return row

    def mark_source_added(self, name: str) -> None:
        with self._transaction() as conn:
            conn.execute("UPDATE sources SET added_at = coalesce(added_at, ?) WHERE name = ?",
                         (iso(now_utc()), name))

    def set_source_disabled(self, name: str, disabled: bool = True) -> None:
        """Stop (or resume) crawling a source."""
        self.source_row(name)
        with self._transaction() as conn:
            conn.execute("UPDATE sources SET disabled = ? WHERE name = ?", (int(disabled), name))
            if not disabled:
                conn.execute("UPDATE feeds SET next_due = ? WHERE source = ?", (iso(now_utc()), name))

    def remove_source(self, name: str) -> int:
        """Forget a source, its feeds and its queued entries (stored articles stay); returns feeds removed."""
        self.source_row(name)
        with self._transaction() as conn:
            feeds = conn.execute("DELETE FROM feeds WHERE source = ?", (name,)).rowcount
            conn.execute("DELETE FROM frontier WHERE source = ? AND state = 'pending'", (name,))
            conn.execute("DELETE FROM sources WHERE name = ?", (name,))
        return feeds

    def source_disabled(self) -> dict[str, bool]:
        return {r[0]: bool(r[1]) for r in self.conn.execute("SELECT name, disabled FROM sources")}

    # -- feeds --------------------------------------------------------------------------

    def add_feed(self, source: str, url: str, *, kind: str = "feed", title: str | None = None,
                 interval_s: int = 1800) -> bool:
        """Register a feed of *source* (due now); False if the URL was already registered."""
        now = iso(now_utc())
        with self._transaction() as conn:
            cursor = conn.execute(
                """INSERT INTO feeds (url, source, kind, title, next_due, interval_s, added_at)
                   VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING""", (url, source, kind, title, now, interval_s, now))
            return cursor.rowcount == 1

    def feed_owner(self, url: str) -> str | None:
        row = self.conn.execute("SELECT source FROM feeds WHERE url = ?", (url,)).fetchone()
        return row[0] if row else None

    def feeds(self, source: str | None = None) -> list[FeedState]:
        """Every registered feed (of one source), by source then URL."""
        if source:
            rows = self.conn.execute("SELECT * FROM feeds WHERE source = ? ORDER BY url", (source,))
        else:
            rows = self.conn.execute("SELECT * FROM feeds ORDER BY source, url")
        return [FeedState.from_row(r) for r in rows]

    def due_feeds(self, now: datetime, sources: Iterable[str] | None = None, *, all_feeds: bool = False
                  ) -> list[FeedState]:
        """Enabled feeds of enabled sources whose next crawl is due (or all of them with *all_feeds*)."""
        sql = """SELECT f.* FROM feeds f JOIN sources s ON s.name = f.source
                 WHERE f.disabled = 0 AND s.disabled = 0"""
        params: list = []
        if not all_feeds:
            sql += " AND (f.next_due IS NULL OR f.next_due <= ?)"
            params.append(iso(now))
        names = list(sources or [])
        if names:
            sql += f" AND f.source IN ({','.join('?' * len(names))})"
            params += names
        return [FeedState.from_row(r) for r in self.conn.execute(sql + " ORDER BY f.next_due, f.url", params)]

    def next_due(self) -> datetime | None:
        """When the next feed or queued entry is due (None when nothing is scheduled)."""
        row = self.conn.execute(
            """SELECT min(f.next_due) FROM feeds f JOIN sources s ON s.name = f.source
               WHERE f.disabled = 0 AND s.disabled = 0""").fetchone()
        pending = self.conn.execute(
            "SELECT min(coalesce(next_try, discovered_at)) FROM frontier WHERE state = 'pending'").fetchone()
        times = [from_iso(v) for v in (row[0], pending[0]) if v]
        return min(times) if times else None

    def record_feed(self, feed: FeedState, *, entries: list[tuple[str, dict]], etag: str | None,
                    last_modified: str | None, content_hash: str | None, interval_s: int, next_due: datetime,
                    unchanged: bool, title: str | None = None) -> int:
        """Record a successful feed fetch and queue its entries, in one transaction; returns entries queued."""
        now = iso(now_utc())
        with self._transaction() as conn:
            queued = 0
            for url, entry in entries:
                queued += conn.execute(
                    """INSERT INTO frontier (url, source, feed_url, entry, discovered_at)
                       VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING""",
                    (url, feed.source, feed.url, json.dumps(entry, ensure_ascii=False), now)).rowcount
            conn.execute(
                """UPDATE feeds SET etag = ?, last_modified = ?, content_hash = coalesce(?, content_hash),
                       last_fetched = ?, last_new = CASE WHEN ? > 0 THEN ? ELSE last_new END, next_due = ?,
                       interval_s = ?, fetches = fetches + 1, unchanged = unchanged + ?,
                       entries_seen = entries_seen + ?, error_count = 0, last_error = NULL,
                       last_error_kind = NULL, title = coalesce(?, title)
                   WHERE url = ?""",
                (etag, last_modified, content_hash, now, queued, now, iso(next_due), interval_s, int(unchanged),
                 queued, title, feed.url))
        return queued

    def record_feed_error(self, feed: FeedState, *, kind: str, message: str, interval_s: int,
                          next_due: datetime) -> None:
        """Record a failed feed fetch and when to try again."""
        with self._transaction() as conn:
            conn.execute(
                """UPDATE feeds SET last_fetched = ?, next_due = ?, interval_s = ?, error_count = error_count + 1,
                       errors_total = errors_total + 1, last_error = ?, last_error_kind = ?, fetches = fetches + 1
                   WHERE url = ?""",
                (iso(now_utc()), iso(next_due), interval_s, message[:500], kind, feed.url))

    def make_all_due(self, sources: Iterable[str] | None = None) -> None:
        """Make feeds due now (for `marsad crawl --all`)."""
        names = list(sources or [])
        with self._transaction() as conn:
            if names:
                conn.execute(f"UPDATE feeds SET next_due = ? WHERE source IN ({','.join('?' * len(names))})",
                             [iso(now_utc()), *names])
            else:
                conn.execute("UPDATE feeds SET next_due = ?", (iso(now_utc()),))

    # -- frontier ------------------------------------------------------------------------

    def pending(self, now: datetime, sources: Iterable[str] | None = None, limit: int | None = None
                ) -> list[FrontierItem]:
        """Entries whose page is still to fetch (and due), oldest first."""
        sql = """SELECT fr.* FROM frontier fr LEFT JOIN sources s ON s.name = fr.source
                 WHERE fr.state = 'pending' AND (fr.next_try IS NULL OR fr.next_try <= ?)
                   AND coalesce(s.disabled, 0) = 0"""
        params: list = [iso(now)]
        names = list(sources or [])
        if names:
            sql += f" AND fr.source IN ({','.join('?' * len(names))})"
            params += names
        sql += " ORDER BY fr.discovered_at, fr.url"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [FrontierItem(r["url"], r["source"], r["feed_url"], json.loads(r["entry"]), r["state"],
                             r["attempts"], r["article_id"]) for r in self.conn.execute(sql, params)]

    def count_pending(self) -> int:
        return self.conn.execute("SELECT count(*) FROM frontier WHERE state = 'pending'").fetchone()[0]

    def frontier_entry(self, url: str) -> FrontierItem | None:
        r = self.conn.execute("SELECT * FROM frontier WHERE url = ?", (url,)).fetchone()
        if r is None:
            return None
        return FrontierItem(r["url"], r["source"], r["feed_url"], json.loads(r["entry"]), r["state"],
                            r["attempts"], r["article_id"])

    def retry_later(self, url: str, *, when: datetime, kind: str, message: str) -> None:
        """Count a failed page attempt and leave the entry queued until *when*."""
        with self._transaction() as conn:
            conn.execute(
                """UPDATE frontier SET attempts = attempts + 1, next_try = ?, error_kind = ?, last_error = ?
                   WHERE url = ?""", (iso(when), kind, message[:500], url))

    def finish(self, done: list[tuple[str, str | None, str | None, str | None]]) -> None:
        """Mark entries done: (url, article_id, error_kind, message) each."""
        now = iso(now_utc())
        with self._transaction() as conn:
            conn.executemany(
                """UPDATE frontier SET state = 'done', article_id = ?, error_kind = ?, last_error = ?,
                       done_at = ?, attempts = attempts + 1 WHERE url = ?""",
                [(article_id, kind, (message or "")[:500] or None, now, url)
                 for url, article_id, kind, message in done])

    # -- raw responses --------------------------------------------------------------------

    def save_raw(self, rows: list[dict]) -> None:
        """Keep raw page responses, compressed: dicts with url, final_url, status, headers, content..."""
        if not rows:
            return
        values = []
        for row in rows:
            codec, body = compress(row["content"])
            values.append((row["url"], row["final_url"], row["status"], json.dumps(row["headers"]), codec, body,
                           len(row["content"]), row.get("source"), row.get("article_id"), iso(row["fetched_at"])))
        with self._transaction() as conn:
            conn.executemany(
                """INSERT INTO raw_responses (url, final_url, status, headers, codec, body, size, source,
                       article_id, fetched_at) VALUES (?,?,?,?,?,?,?,?,?,?)
                   ON CONFLICT(url) DO UPDATE SET final_url=excluded.final_url, status=excluded.status,
                       headers=excluded.headers, codec=excluded.codec, body=excluded.body, size=excluded.size,
                       source=excluded.source, article_id=excluded.article_id, fetched_at=excluded.fetched_at""",
                values)

    def iter_raw(self, sources: Iterable[str] | None = None, batch: int = 200) -> Iterator[dict]:
        """Stored raw responses (decompressed), in URL order, read in pages."""
        names = list(sources or [])
        last = ""
        while True:
            sql = "SELECT * FROM raw_responses WHERE url > ?"
            params: list = [last]
            if names:
                sql += f" AND source IN ({','.join('?' * len(names))})"
                params += names
            rows = self.conn.execute(sql + f" ORDER BY url LIMIT {batch}", params).fetchall()
            if not rows:
                return
            for r in rows:
                yield {"url": r["url"], "final_url": r["final_url"], "status": r["status"],
                       "headers": json.loads(r["headers"]), "content": decompress(r["codec"], r["body"]),
                       "source": r["source"], "article_id": r["article_id"], "fetched_at": from_iso(r["fetched_at"])}
            last = rows[-1]["url"]

    def raw_stats(self) -> tuple[int, int, int]:
        """(responses, raw bytes, stored bytes)."""
        row = self.conn.execute("SELECT count(*), coalesce(sum(size),0), coalesce(sum(length(body)),0) "
                                "FROM raw_responses").fetchone()
        return row[0], row[1], row[2]



# -- PostgreSQL: the same SQL, and claims for several crawlers on one database ---------------------


def is_postgres(store) -> bool:
    """Whether *store* is a `PostgresStore` (without importing psycopg)."""
    return getattr(store, "backend", None) == "postgresql"


class Claims:
    """Which feeds and frontier entries this crawler may work on now.

    On SQLite there is one writer and every claim succeeds. On PostgreSQL each claim is a
    session advisory lock (`pg_try_advisory_lock(namespace, hashtext(url))`) on a connection
    held for the whole pass: a feed or entry locked by another crawler is skipped (that crawler
    does it), and after locking the row is read again, so work another crawler finished between
    our read and our lock is skipped too. Locks go with `release` once the item's outcome is
    committed, and all at once with `close` (or when a killed crawler's connection drops), so
    nothing a dead crawler held stays blocked.
    """

    def __init__(self, state: CrawlState):
        self.state = state
        self._conn = None
        if state.postgres:
            import psycopg

            self._conn = psycopg.connect(state.store.dsn, autocommit=True)

    def _lock(self, namespace: int, url: str) -> bool:
        if self._conn is None:
            return True
        return bool(self._conn.execute("SELECT pg_try_advisory_lock(%s::int, hashtext(%s))",
                                       (namespace, url)).fetchone()[0])

    def _unlock(self, namespace: int, url: str) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.execute("SELECT pg_advisory_unlock(%s::int, hashtext(%s))", (namespace, url))

    def feed(self, feed: FeedState, *, now: datetime, all_feeds: bool = False,
             since: datetime | None = None) -> FeedState | None:
        """The feed's current row if this crawler may poll it now, else None."""
        if self._conn is None:
            return feed
        if not self._lock(CRAWL_FEED_LOCKS, feed.url):
            return None
        row = self.state.conn.execute("SELECT * FROM feeds WHERE url = ?", (feed.url,)).fetchone()
        current = FeedState.from_row(row) if row is not None else None
        due = current is not None and not current.disabled and (
            (all_feeds and (since is None or current.last_fetched is None or current.last_fetched < since))
            or (not all_feeds and (current.next_due is None or current.next_due <= now)))
        if not due:
            self._unlock(CRAWL_FEED_LOCKS, feed.url)
            return None
        return current

    def release_feed(self, url: str) -> None:
        self._unlock(CRAWL_FEED_LOCKS, url)

    def entry(self, item: FrontierItem) -> bool:
        """Whether this crawler may fetch the entry now (it is still pending and nobody else has it)."""
        if self._conn is None:
            return True
        if not self._lock(CRAWL_ENTRY_LOCKS, item.url):
            return False
        row = self.state.conn.execute("SELECT state, next_try FROM frontier WHERE url = ?", (item.url,)).fetchone()
        if row is None or row["state"] != "pending" or (row["next_try"] and from_iso(row["next_try"]) > now_utc()):
            self._unlock(CRAWL_ENTRY_LOCKS, item.url)
            return False
        return True

    def release_entries(self, urls: Iterable[str]) -> None:
        for url in urls:
            self._unlock(CRAWL_ENTRY_LOCKS, url)

    def close(self) -> None:
        """Release every claim (closing the lock connection)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
