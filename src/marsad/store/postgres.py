"""The shared store: PostgreSQL through psycopg 3 and a connection pool.

Selected by a URL (``--db postgresql://user@host/db`` or ``MARSAD_DB``). Same
`Store` protocol and the same versioned migrations as SQLite (`pg_schema.MIGRATIONS`,
recorded in `schema_migrations`). Several processes may write at once: article
writes are ``INSERT ... ON CONFLICT (id) DO UPDATE ... WHERE the version changed``, so
two crawlers storing the same article leave one row and report it new only once;
migrations run under an advisory lock.

Code written against `SQLiteStore.conn` and `transaction()` (crawler state, web lists, the
entity store, the story stage) runs here unchanged: `conn` and `transaction()` take SQLite's
dialect (`sqlite_to_postgres`), and `transaction()` is serialised across processes by an
advisory lock, as SQLite's ``BEGIN IMMEDIATE`` is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from decimal import Decimal

from ..errors import NotFound, StoreError
from ..models import Article, Link, Source
from ..enrich.entity_store import EntityQueries
from .pg_schema import MIGRATIONS
from .base import BATCH_SIZE, UpsertResult
from .sqlite import _batched, _iso, _now, _version_hash

DEADLOCK_RETRIES = 5
STORY_LOCK = 0x6D61_7374  # pg_advisory_xact_lock key of `transaction()` (the story stage's writer lock)
MIGRATION_LOCK = 0x6D61_7273  # pg_advisory_xact_lock key ("mars") serialising concurrent migrators

_ARTICLE_SELECT = """
    SELECT a.pk, a.id, a.url, a.canonical_url, a.source, a.source_inferred, a.title, a.text, a.published_at,
           a.date_precision, a.language, a.author, a.fetched_at, a.origin, a.content_hash,
           coalesce((SELECT array_agg(t.tag ORDER BY t.position) FROM article_tags t WHERE t.article_pk = a.pk),
                    '{}') AS tags,
           coalesce((SELECT array_agg(l.to_id ORDER BY l.to_id) FROM links l
                     WHERE l.from_id = a.id AND l.kind = 'read_also'), '{}') AS read_also
    FROM articles a
"""

_INSERT = """
    INSERT INTO articles (id, url, canonical_url, source, source_inferred, title, text, published_at,
        date_precision, language, author, fetched_at, origin, content_hash, version_hash, search_tsv,
        stored_at, updated_at)
"""
# Only a changed version overwrites a stored row; RETURNING says which rows were inserted (xmax = 0).
_ON_CONFLICT = """
    ON CONFLICT (id) DO UPDATE SET url = excluded.url, canonical_url = excluded.canonical_url,
        source = excluded.source, source_inferred = excluded.source_inferred, title = excluded.title,
        text = excluded.text, published_at = excluded.published_at, date_precision = excluded.date_precision,
        language = excluded.language, author = excluded.author, content_hash = excluded.content_hash,
        version_hash = excluded.version_hash, search_tsv = excluded.search_tsv, updated_at = excluded.updated_at
    WHERE articles.version_hash <> excluded.version_hash
    RETURNING id, pk, (xmax = 0) AS inserted
"""
_UPSERT = _INSERT + """
    VALUES (%s,%s,%s,%s,%s,%s,%s,%s::timestamptz, %s,%s,%s,%s::timestamptz,%s,%s,%s,%s::tsvector,
            %s::timestamptz,%s::timestamptz)
""" + _ON_CONFLICT
_FROM_STAGE = """
    SELECT id, url, canonical_url, source, source_inferred, title, text, published_at, date_precision, language,
           author, fetched_at, origin, content_hash, version_hash, search_tsv, %s::timestamptz, %s::timestamptz
    FROM marsad_stage ORDER BY ord
"""
_UPSERT_FROM_STAGE = _INSERT + _FROM_STAGE + _ON_CONFLICT
# A backfill's workers store partitions at once; the pks reserved for them keep the input's order.
_UPSERT_PINNED_FROM_STAGE = (_INSERT.replace("(id,", "(pk, id,", 1) + " OVERRIDING SYSTEM VALUE"
                             + _FROM_STAGE.replace("SELECT id,", "SELECT pk, id,", 1) + _ON_CONFLICT)


def redact(dsn: str) -> str:
    """The DSN without its password, for messages and `stats()`."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", dsn)


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(timezone.utc) if value is not None else None


# -- sqlite3's dialect, for code written against SQLiteStore.conn ------------------------------------

_JSON_GROUP_ARRAY = re.compile(r"json_group_array\(\s*((?:DISTINCT\s+)?[\w.]+)\s*\)", re.IGNORECASE)
_SCALAR_MAX_MIN = re.compile(r"\b(max|min)\(([^(),]+),([^(),]+)\)", re.IGNORECASE)  # SQLite's 2-argument max/min
_AGGREGATE_OVER_SUBQUERY = re.compile(r"((?:json_group_array|group_concat)\([^()]*\)\s+FROM\s+\([^()]*\))",
                                      re.IGNORECASE)  # PostgreSQL 15 wants an alias on a FROM subquery
_GROUP_CONCAT = re.compile(r"group_concat\(", re.IGNORECASE)
_WHERE_ONE = re.compile(r"\bWHERE\s+1\b(?!\s*[=<>])", re.IGNORECASE)
_DATE_ORDER = re.compile(r"(\bpublished_at)\s+(DESC|ASC)\b(?!\s+NULLS)", re.IGNORECASE)
_SQLITE_MASTER = re.compile(r"FROM\s+sqlite_master\s+WHERE\s+type\s*=\s*'table'\s+AND\s+name\s*=", re.IGNORECASE)
_INSERT_OR_REPLACE = re.compile(r"\bINSERT\s+OR\s+REPLACE\s+INTO\s+(\w+)\s*\(([^)]*)\)", re.IGNORECASE)
_SUBSTR_DATE = re.compile(r"substr\(\s*([\w.]*published_at)\s*,", re.IGNORECASE)
_INSERT_RETURNING = re.compile(r"^\s*INSERT\s+INTO\s+(entities)\b", re.IGNORECASE)
# What `INSERT OR REPLACE` replaces on: the primary key of each table it is used on.
REPLACE_COLUMNS = {  # tables that `INSERT OR REPLACE INTO t VALUES (...)` fills without naming columns
    "dedup_articles": "article_pk, group_pk, match_pk, kind, score, text_fp, titled_fp, bands",
    "story_articles": "article_pk, story_pk, similarity, seen_at, vector, terms",
}
REPLACE_KEYS = {"mentions": ("article_pk", "field", "char_start"), "tag_entities": ("tag",),
                "enrichments": ("article_pk",), "story_state": ("key",), "search_state": ("key",),
                "dedup_articles": ("article_pk",), "story_articles": ("article_pk",)}
_INSERT_OR_IGNORE = re.compile(r"\bINSERT\s+OR\s+IGNORE\b", re.IGNORECASE)


def sqlite_to_postgres(sql: str) -> str:
    """SQLite SQL as PostgreSQL runs it, for the shared read queries (web, crawler state).

    `?` placeholders become `%s` (and a literal `%` becomes `%%`), `json_group_array(x)` a text
    `json_agg`, `group_concat` `string_agg`, `WHERE 1` `WHERE true`, a table lookup in `sqlite_master`
    one in `information_schema.tables`, `INSERT OR IGNORE` an
    ``ON CONFLICT DO NOTHING`` insert, and dates sort with NULLs where SQLite puts them
    (last when descending). Anything else must already be portable.
    """
    sql = sql.replace("%", "%%").replace("?", "%s")
    sql = _AGGREGATE_OVER_SUBQUERY.sub(r"\1 AS sub", sql)
    sql = _JSON_GROUP_ARRAY.sub(r"coalesce(json_agg(\1)::text, '[]')", sql)
    sql = _GROUP_CONCAT.sub("string_agg(", sql)
    sql = _WHERE_ONE.sub("WHERE true", sql)
    sql = _SQLITE_MASTER.sub("FROM information_schema.tables WHERE table_schema = current_schema() AND table_name =",
                             sql)
    sql = _DATE_ORDER.sub(
        lambda m: f"{m.group(1)} {m.group(2)} NULLS {'LAST' if m.group(2).upper() == 'DESC' else 'FIRST'}", sql)
    sql = _SCALAR_MAX_MIN.sub(lambda m: f"{'greatest' if m.group(1).lower() == 'max' else 'least'}"
                                        f"({m.group(2)},{m.group(3)})", sql)
    sql = re.sub(r"\bINSERT\s+OR\s+REPLACE\s+INTO\s+(\w+)\s+VALUES\b",
                 lambda m: f"INSERT OR REPLACE INTO {m.group(1)} ({REPLACE_COLUMNS[m.group(1).lower()]}) VALUES"
                 if m.group(1).lower() in REPLACE_COLUMNS else m.group(0), sql, flags=re.IGNORECASE)
    target = re.match(r"\s*INSERT\s+(?:OR\s+\w+\s+)?INTO\s+(\w+)", sql, re.IGNORECASE)
    if target:  # SQLite's upsert may name the stored row's column bare; PostgreSQL wants it qualified
        sql = re.sub(r"(DO\s+UPDATE\s+SET\s+(\w+)\s*=\s*(?:\w+\()?)\2\b", rf"\g<1>{target.group(1)}.\g<2>", sql,
                     flags=re.IGNORECASE)
    sql = _SUBSTR_DATE.sub(r"substr(\1::text,", sql)  # timestamptz as text: 'YYYY-MM-DD hh:mm:ss+00' (UTC)
    replace = _INSERT_OR_REPLACE.search(sql)
    if replace and replace.group(1).lower() in REPLACE_KEYS:
        table, columns = replace.group(1).lower(), [c.strip() for c in replace.group(2).split(",")]
        keys = REPLACE_KEYS[table]
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
        sql = _INSERT_OR_REPLACE.sub(lambda m: f"INSERT INTO {m.group(1)} ({m.group(2)})", sql).rstrip().rstrip(";")
        sql += f" ON CONFLICT ({', '.join(keys)}) DO " + (f"UPDATE SET {updates}" if updates else "NOTHING")
    if _INSERT_RETURNING.search(sql) and "RETURNING" not in sql.upper():
        sql = sql.rstrip().rstrip(";") + " RETURNING id"  # for sqlite3's cursor.lastrowid
    if _INSERT_OR_IGNORE.search(sql):
        sql = _INSERT_OR_IGNORE.sub("INSERT", sql).rstrip().rstrip(";") + " ON CONFLICT DO NOTHING"
    return sql


def _sqlite_value(value):
    """A PostgreSQL value as SQLiteStore would have returned it (dates as ISO text, booleans as 0/1)."""
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


class Row:
    """A result row readable by column name or position, as `sqlite3.Row` is."""

    __slots__ = ("_names", "_values")

    def __init__(self, names: dict[str, int], values: tuple):
        self._names = names
        self._values = values

    def __getitem__(self, key):
        return self._values[key] if isinstance(key, (int, slice)) else self._values[self._names[key]]

    def keys(self) -> list[str]:
        return list(self._names)

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self):
        return iter(self._values)

    def __eq__(self, other) -> bool:
        return tuple(self) == tuple(other) if isinstance(other, (Row, tuple)) else NotImplemented

    def __hash__(self) -> int:
        return hash(self._values)

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._names, self._values))!r})"


def _row_factory(cursor):
    if cursor.description is None:
        return tuple
    names = {column.name: i for i, column in enumerate(cursor.description)}
    return lambda values: Row(names, tuple(_sqlite_value(v) for v in values))


class Result:
    """The rows of one statement, fetched at once (the pooled connection goes back at once)."""

    def __init__(self, rows: list, rowcount: int, lastrowid: int | None = None):
        self._rows = rows
        self.rowcount = rowcount
        self.lastrowid = lastrowid

    def fetchone(self):
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list:
        return self._rows

    def fetchmany(self, size: int = 1) -> list:
        taken, self._rows = self._rows[:size], self._rows[size:]
        return taken

    def __iter__(self):
        return iter(self._rows)


class SQLiteStyle:
    """sqlite3's `execute`/`executemany` over PostgreSQL: `PostgresStore.conn`, for code written for SQLite.

    On the pool (``store.conn``) each statement runs on its own in autocommit; on one connection
    (``store.sqlite_style(conn)`` inside ``store.atomic()``) statements share its transaction.
    The SQL is translated by `sqlite_to_postgres`; rows are `Row`s with SQLite's value types.
    """

    def __init__(self, *, pool=None, conn=None):
        self._pool = pool
        self._conn = conn

    @contextmanager
    def _connection(self):
        if self._conn is not None:
            yield self._conn
        else:
            with self._pool.connection() as conn:
                yield conn

    def execute(self, sql: str, params: Iterable = ()) -> Result:
        with self._connection() as conn, conn.cursor(row_factory=_row_factory) as cur:
            translated = sqlite_to_postgres(sql)
            cur.execute(translated, list(params))
            rows = cur.fetchall() if cur.description is not None else []
            lastrowid = rows[0][0] if rows and translated.endswith(" RETURNING id") else None
            return Result(rows, cur.rowcount, lastrowid)

    def executemany(self, sql: str, rows: Iterable) -> Result:
        with self._connection() as conn, conn.cursor() as cur:
            cur.executemany(sqlite_to_postgres(sql), [list(r) for r in rows])
            return Result([], cur.rowcount)


class PostgresStore(EntityQueries):
    """marsad's `Store` on PostgreSQL: a psycopg connection pool, upserts safe under concurrent writers."""

    backend = "postgresql"

    def __init__(self, dsn: str, *, min_size: int = 1, max_size: int = 8, timeout: float = 15.0):
        import psycopg
        from psycopg_pool import ConnectionPool, PoolTimeout

        self.dsn = dsn
        self.path = redact(dsn)  # what messages and `stats()` name, like SQLiteStore.path

        def configure(conn: psycopg.Connection) -> None:
            conn.execute("SET TIME ZONE 'UTC'")

        try:
            self.pool = ConnectionPool(dsn, min_size=min_size, max_size=max_size, timeout=timeout, open=True,
                                       kwargs={"autocommit": True}, configure=configure, name="marsad")
            self.pool.wait(timeout=timeout)
        except (PoolTimeout, psycopg.Error) as exc:
            pool = getattr(self, "pool", None)
            if pool is not None:
                pool.close()
            raise StoreError(f"cannot connect to PostgreSQL ({exc})", subject=self.path) from exc
        try:
            self.migrate()
        except BaseException:
            self.pool.close()
            raise

    # -- connection and schema -------------------------------------------------

    runs_story_stage = True  # marsad.stories runs here through `transaction()` (SQLite-style, serialised)

    @contextmanager
    def transaction(self) -> Iterator[SQLiteStyle]:
        """A transaction taking SQLite's dialect, serialised across every process on this database (as
        SQLite's ``BEGIN IMMEDIATE`` is): the duplicate and story stage (marsad.stories) writes in these,
        re-reading its mark first, so several crawlers running it at once take turns."""
        with self.atomic() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (STORY_LOCK,))
            yield SQLiteStyle(conn=conn)

    @contextmanager
    def atomic(self) -> Iterator:
        """A connection inside one transaction: committed on success, rolled back on error."""
        with self.pool.connection() as conn:
            with conn.transaction():
                yield conn

    @property
    def conn(self) -> SQLiteStyle:
        """Statements in SQLite's dialect, each in autocommit on a pooled connection (see `SQLiteStyle`):
        what lets code written for `SQLiteStore.conn` (web lists, crawler state) run here."""
        return SQLiteStyle(pool=self.pool)

    @staticmethod
    def sqlite_style(conn) -> SQLiteStyle:
        """A connection of `atomic()` taking SQLite's dialect, its statements in that transaction."""
        return SQLiteStyle(conn=conn)

    @contextmanager
    def connection(self) -> Iterator:
        """A pooled connection in autocommit mode (each statement its own transaction)."""
        with self.pool.connection() as conn:
            yield conn

    def _rows(self, sql: str, params: Iterable = (), *, dicts: bool = False) -> list:
        from psycopg.rows import dict_row, tuple_row

        with self.pool.connection() as conn:
            with conn.cursor(row_factory=dict_row if dicts else tuple_row) as cur:
                cur.execute(sql, list(params))
                return cur.fetchall()

    def _one(self, sql: str, params: Iterable = ()):
        rows = self._rows(sql, params)
        return rows[0][0] if rows else None

    @property
    def schema_version(self) -> int:
        """The number of migrations applied to this database."""
        return self._one("SELECT coalesce(max(version), 0) FROM schema_migrations") or 0

    def migrate(self) -> int:
        """Apply pending migrations, each in its own transaction under an advisory lock; returns how many ran."""
        applied = 0
        with self.atomic() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute("""CREATE TABLE IF NOT EXISTS schema_migrations (
                                version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())""")
        for version in range(1, len(MIGRATIONS) + 1):
            with self.atomic() as conn:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                current = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]
                if current > len(MIGRATIONS):
                    raise StoreError(
                        f"database schema version {current} is newer than this marsad ({len(MIGRATIONS)})",
                        subject=self.path,
                    )
                if current >= version:
                    continue
                conn.execute(MIGRATIONS[version - 1])
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                applied += 1
        return applied

    def close(self) -> None:
        """Close every pooled connection."""
        self.pool.close()

    def __enter__(self) -> "PostgresStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- articles ---------------------------------------------------------------

    def upsert_articles(self, articles: Iterable[Article]) -> UpsertResult:
        """Insert new articles and update changed ones, BATCH_SIZE per transaction."""
        import psycopg

        result = UpsertResult()
        for chunk in _batched(articles, BATCH_SIZE):
            # Rows go in in the caller's order (pk order is insertion order), so two writers with
            # overlapping batches in different orders can deadlock: PostgreSQL then aborts one of
            # them, which starts its batch again.
            for attempt in range(DEADLOCK_RETRIES + 1):
                try:
                    with self.atomic() as conn:
                        outcome = self._upsert_chunk(conn, chunk)
                    break
                except psycopg.errors.DeadlockDetected:
                    if attempt == DEADLOCK_RETRIES:
                        raise
            result += outcome
        return result

    def _index_analyzer(self, conn):
        """The analyzer to index with, or None when the index belongs to another analyzer version (stale)."""
        from ..search.postgres import claim_index

        return claim_index(conn)

    def _upsert_chunk(self, conn, chunk: list[Article]) -> UpsertResult:
        from ..search.postgres import tsvector_literal

        result = UpsertResult()
        versions = [(a, _version_hash(a)) for a in chunk]
        known = dict(conn.execute("SELECT id, version_hash FROM articles WHERE id = ANY(%s)",
                                  ([a.id for a in chunk],)).fetchall())
        analyzer = self._index_analyzer(conn) if any(known.get(a.id) != v for a, v in versions) else None
        now = _now()
        tags: list[tuple[int, int, str]] = []
        touched: list[int] = []
        outcome: dict[int, str] = {}  # position in chunk -> "new" | "updated" | "unchanged"
        for position, (article, version) in enumerate(versions):
            if known.get(article.id) == version:
                outcome[position] = "unchanged"
                continue
            tsv = tsvector_literal(article.title, article.text, analyzer) if analyzer else None
            row = conn.execute(_UPSERT, (
                article.id, article.url, article.canonical_url, article.source, bool(article.source_inferred),
                article.title, article.text, _iso(article.published_at), article.date_precision, article.language,
                article.author, _iso(article.fetched_at), article.origin, article.content_hash, version, tsv,
                now, now,
            )).fetchone()
            known[article.id] = version
            if row is None:  # another writer stored this very version first
                outcome[position] = "unchanged"
                continue
            _, pk, inserted = row
            outcome[position] = "new" if inserted else "updated"
            if not inserted:
                touched.append(pk)
            tags += [(pk, i, tag) for i, tag in enumerate(article.tags)]
        for position, (article, _) in enumerate(versions):  # reported in the caller's order
            getattr(result, outcome[position]).append(article.id)
        if touched:
            conn.execute("DELETE FROM article_tags WHERE article_pk = ANY(%s)", (touched,))
        if tags:
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO article_tags (article_pk, position, tag) VALUES (%s,%s,%s)", tags)
        return result

    def reserve_pks(self, count: int) -> int:
        """Take *count* consecutive article pks from the sequence (no other writer gets them); returns the first.

        `copy_articles(..., pks=...)` then stores articles under them.
        """
        if count < 1:
            raise ValueError("reserve at least one pk")
        with self.atomic() as conn:
            # Writers take ROW EXCLUSIVE on articles before drawing a pk: none draws between the two calls.
            conn.execute("LOCK TABLE articles IN SHARE ROW EXCLUSIVE MODE")
            sequence = "pg_get_serial_sequence('articles', 'pk')"
            first = conn.execute(f"SELECT nextval({sequence})").fetchone()[0]
            if count > 1:
                conn.execute(f"SELECT setval({sequence}, %s)", (first + count - 1,))
        return first

    def copy_articles(self, articles: Iterable[Article], *, batch_size: int = 5000,
                      pks: dict[str, int] | None = None) -> UpsertResult:
        """`upsert_articles` for bulk loads (backfills): each batch goes in by COPY into a staging table
        and one ``INSERT ... SELECT ... ON CONFLICT``, instead of a statement per article.

        :param pks: article id -> the pk a new article gets (from `reserve_pks`); every article must have one.
            An article already stored keeps its pk.
        """
        import psycopg

        result = UpsertResult()
        for chunk in _batched(articles, batch_size):
            for attempt in range(DEADLOCK_RETRIES + 1):
                try:
                    with self.atomic() as conn:
                        outcome = self._copy_chunk(conn, chunk, pks)
                    break
                except psycopg.errors.DeadlockDetected:
                    if attempt == DEADLOCK_RETRIES:
                        raise
            result += outcome
        return result

    def _copy_chunk(self, conn, chunk: list[Article], pks: dict[str, int] | None = None) -> UpsertResult:
        from ..search.postgres import tsvector_literal

        versions = [_version_hash(a) for a in chunk]
        stored = dict(conn.execute("SELECT id, version_hash FROM articles WHERE id = ANY(%s)",
                                   ([a.id for a in chunk],)).fetchall())
        # What the one-by-one upsert would report, in order; the last version of each id is written.
        outcome: list[str] = []
        last: dict[str, int] = {}
        first_change: dict[str, int] = {}
        current = dict(stored)
        for position, (article, version) in enumerate(zip(chunk, versions)):
            if current.get(article.id) == version:
                outcome.append("unchanged")
                continue
            outcome.append("updated" if article.id in current else "new")
            first_change.setdefault(article.id, position)
            current[article.id] = version
            last[article.id] = position
        writes = sorted(p for i, p in last.items() if current[i] != stored.get(i))
        if not writes:
            return self._outcome(chunk, outcome)
        analyzer = self._index_analyzer(conn)
        now = _now()
        conn.execute("""CREATE TEMP TABLE IF NOT EXISTS marsad_stage (
                            ord INTEGER, id TEXT COLLATE "C", url TEXT, canonical_url TEXT, source TEXT,
                            source_inferred BOOLEAN, title TEXT, text TEXT, published_at TIMESTAMPTZ,
                            date_precision TEXT, language TEXT, author TEXT, fetched_at TIMESTAMPTZ, origin TEXT,
                            content_hash TEXT, version_hash TEXT, search_tsv TSVECTOR, pk BIGINT)
                        ON COMMIT DELETE ROWS""")
        with conn.cursor() as cur:
            with cur.copy("COPY marsad_stage FROM STDIN") as copy:
                for position in writes:
                    a = chunk[position]
                    copy.write_row((
                        position, a.id, a.url, a.canonical_url, a.source, bool(a.source_inferred), a.title, a.text,
                        _iso(a.published_at), a.date_precision, a.language, a.author, _iso(a.fetched_at), a.origin,
                        a.content_hash, versions[position],
                        tsvector_literal(a.title, a.text, analyzer) if analyzer else None,
                        pks[a.id] if pks is not None else None,
                    ))
            written = cur.execute(_UPSERT_FROM_STAGE if pks is None else _UPSERT_PINNED_FROM_STAGE,
                                  (now, now)).fetchall()
        done = {article_id: (pk, inserted) for article_id, pk, inserted in written}
        tags: list[tuple[int, int, str]] = []
        for position in writes:
            article = chunk[position]
            if article.id not in done:  # another writer stored this very version first
                for p, a in enumerate(chunk):
                    if a.id == article.id:
                        outcome[p] = "unchanged"
                continue
            pk, inserted = done[article.id]
            outcome[first_change[article.id]] = "new" if inserted else "updated"
            tags += [(pk, i, tag) for i, tag in enumerate(article.tags)]
        updated = [pk for pk, inserted in done.values() if not inserted]
        if updated:
            conn.execute("DELETE FROM article_tags WHERE article_pk = ANY(%s)", (updated,))
        if tags:
            with conn.cursor() as cur, cur.copy("COPY article_tags (article_pk, position, tag) FROM STDIN") as copy:
                for row in tags:
                    copy.write_row(row)
        return self._outcome(chunk, outcome)

    @staticmethod
    def _outcome(chunk: list[Article], outcome: list[str]) -> UpsertResult:
        result = UpsertResult()
        for article, kind in zip(chunk, outcome):
            getattr(result, kind).append(article.id)
        return result

    @staticmethod
    def _article_from_row(row: dict) -> Article:
        return Article(
            id=row["id"],
            url=row["url"],
            canonical_url=row["canonical_url"],
            source=row["source"],
            source_inferred=bool(row["source_inferred"]),
            title=row["title"],
            paragraphs=row["text"].split("\n") if row["text"] else [],
            published_at=_utc(row["published_at"]),
            date_precision=row["date_precision"],
            language=row["language"],
            author=row["author"],
            fetched_at=_utc(row["fetched_at"]),
            origin=row["origin"],
            content_hash=row["content_hash"],
            tags=list(row["tags"]),
            read_also=list(row["read_also"]),
        )

    def get_article(self, article_id: str) -> Article:
        """The stored article with this id or unique id prefix; raises NotFound."""
        rows = self._rows(_ARTICLE_SELECT + " WHERE a.id >= %s AND a.id < %s ORDER BY a.id LIMIT 2",
                          (article_id, article_id + "\uffff"), dicts=True)
        exact = [r for r in rows if r["id"] == article_id]
        if exact:
            return self._article_from_row(exact[0])
        if len(rows) == 1 and article_id:
            return self._article_from_row(rows[0])
        if rows:
            raise NotFound("id prefix matches several articles", subject=article_id)
        raise NotFound("no such article", subject=article_id)

    def get_articles(self, ids: Iterable[str]) -> list[Article]:
        """The stored articles with these ids, in the order asked (missing ids are skipped)."""
        wanted = list(ids)
        rows = self._rows(_ARTICLE_SELECT + " WHERE a.id = ANY(%s)", (wanted,), dicts=True)
        found = {r["id"]: self._article_from_row(r) for r in rows}
        return [found[i] for i in wanted if i in found]

    def iter_articles(self, *, batch_size: int = 1000) -> Iterator[Article]:
        """Every stored article in insertion order, read in keyset pages so memory stays flat."""
        last_pk = 0
        while True:
            rows = self._rows(_ARTICLE_SELECT + " WHERE a.pk > %s ORDER BY a.pk LIMIT %s", (last_pk, batch_size),
                              dicts=True)
            if not rows:
                return
            for row in rows:
                yield self._article_from_row(row)
            last_pk = rows[-1]["pk"]

    def count_articles(self) -> int:
        """How many articles are stored."""
        return self._one("SELECT count(*) FROM articles")

    def delete_articles(self, ids: Iterable[str]) -> int:
        """Delete articles (tags, links, mentions and index entries go with them); returns how many existed."""
        deleted = 0
        for chunk in _batched(ids, 5000):
            with self.atomic() as conn:
                deleted += conn.execute("DELETE FROM articles WHERE id = ANY(%s)", (chunk,)).rowcount
        return deleted

    def reindex(self, **options) -> dict:
        """Rebuild the search vectors of every article with the current analyzer (marsad.search.postgres)."""
        from ..search.postgres import reindex

        return reindex(self, **options)

    def search_index_current(self) -> bool:
        """Whether the search vectors were computed by this marsad's analyzer (else `reindex` is due)."""
        from ..search.analyzer import default_analyzer
        from ..search.postgres import index_state

        with self.connection() as conn:
            return default_analyzer().index_built_by_me(index_state(conn))

    # -- sources ----------------------------------------------------------------

    def upsert_sources(self, sources: Iterable[Source]) -> None:
        """Insert or replace outlets by name."""
        rows = [(s.name, s.homepage, json.dumps(s.feeds, ensure_ascii=False), s.language, s.country,
                 json.dumps(s.aliases, ensure_ascii=False)) for s in sources]
        if not rows:
            return
        with self.atomic() as conn, conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO sources (name, homepage, feeds, language, country, aliases)
                   VALUES (%s,%s,%s::jsonb,%s,%s,%s::jsonb)
                   ON CONFLICT (name) DO UPDATE SET homepage = excluded.homepage, feeds = excluded.feeds,
                       language = excluded.language, country = excluded.country, aliases = excluded.aliases""",
                rows,
            )

    @staticmethod
    def _source_from_row(row: dict) -> Source:
        return Source(name=row["name"], homepage=row["homepage"], feeds=list(row["feeds"]),
                      language=row["language"], country=row["country"], aliases=list(row["aliases"]))

    def get_source(self, name: str) -> Source:
        """The outlet with this name; raises NotFound."""
        rows = self._rows("SELECT * FROM sources WHERE name = %s", (name,), dicts=True)
        if not rows:
            raise NotFound("no such source", subject=name)
        return self._source_from_row(rows[0])

    def list_sources(self) -> list[Source]:
        """Every known outlet, by name."""
        return [self._source_from_row(r) for r in self._rows('SELECT * FROM sources ORDER BY name COLLATE "C"',
                                                              dicts=True)]

    def similar_sources(self, name: str, *, limit: int = 5, threshold: float = 0.3) -> list[tuple[str, float]]:
        """Outlet names that look like *name* (pg_trgm similarity), best first: for typos in `source:`."""
        rows = self._rows("""SELECT name, similarity(name, %s) AS s FROM sources
                             WHERE similarity(name, %s) >= %s ORDER BY s DESC, name LIMIT %s""",
                          (name, name, threshold, limit))
        return [(n, float(s)) for n, s in rows]

    # -- links ------------------------------------------------------------------

    def add_links(self, links: Iterable[Link]) -> None:
        """Record relations between stored articles; duplicates are ignored."""
        rows = [(link.from_id, link.to_id, link.kind) for link in links]
        if not rows:
            return
        with self.atomic() as conn, conn.cursor() as cur:
            cur.executemany("INSERT INTO links (from_id, to_id, kind) VALUES (%s,%s,%s) ON CONFLICT DO NOTHING", rows)

    def links_from(self, article_id: str) -> list[Link]:
        """Relations starting at an article."""
        rows = self._rows("SELECT from_id, to_id, kind FROM links WHERE from_id = %s ORDER BY kind, to_id",
                          (article_id,))
        return [Link(*r) for r in rows]

    def links_to(self, article_id: str) -> list[Link]:
        """Relations ending at an article."""
        rows = self._rows("SELECT from_id, to_id, kind FROM links WHERE to_id = %s ORDER BY kind, from_id",
                          (article_id,))
        return [Link(*r) for r in rows]

    # -- entities ----------------------------------------------------------------
    # marsad.enrich.entity_store holds the SQL (written for SQLite); here it runs through `SQLiteStyle`
    # (the reads come from its EntityQueries).

    def save_enrichments(self, items: Iterable) -> int:
        """Replace articles' mentions, auto tags and tag links, in one transaction. Two writers creating
        the same entity at once: the loser's transaction is retried, and then finds it."""
        import psycopg

        from ..enrich import entity_store

        items = list(items)
        for attempt in range(DEADLOCK_RETRIES + 1):
            try:
                with self.atomic() as conn:
                    return entity_store.save_enrichments(self.sqlite_style(conn), items)
            except (psycopg.errors.UniqueViolation, psycopg.errors.DeadlockDetected):
                if attempt == DEADLOCK_RETRIES:
                    raise
        return 0

    # -- summary ----------------------------------------------------------------

    def stats(self) -> dict:
        """Counts for `marsad stats`: articles, sources, tags, links, dates, per-source counts."""
        first, last = self._rows("SELECT min(published_at), max(published_at) FROM articles")[0]
        return {
            "database": self.path,
            "schema_version": self.schema_version,
            "articles": self._one("SELECT count(*) FROM articles"),
            "articles_with_date": self._one("SELECT count(published_at) FROM articles"),
            "sources": self._one("SELECT count(*) FROM sources"),
            "distinct_tags": self._one("SELECT count(DISTINCT tag) FROM article_tags"),
            "links": self._one("SELECT count(*) FROM links"),
            "first_published": _iso(first),
            "last_published": _iso(last),
            "by_source": {
                (name or ""): count
                for name, count in self._rows(
                    'SELECT source, count(*) FROM articles GROUP BY source ORDER BY count(*) DESC, source COLLATE "C"'
                )
            },
        }
