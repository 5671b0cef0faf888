"""`marsad migrate --from A --to B`: copy a whole marsad database between backends, then verify it.

    report = migrate("sqlite:///marsad.db", "postgresql://marsad@db/marsad")

In order:
1. open both stores (each is migrated to the latest schema version, so both hold the same tables);
   the target must hold no articles;
2. sources and articles through the `Store` interface (so the target builds its own search index);
3. every other table row by row (links, crawler state, raw responses, entities), mapping
   `article_pk` columns through article ids, since each database numbers its rows itself;
4. verify: per table, the row count and an order-independent checksum of the rows must be equal.

Not copied yet: the duplicate and story tables (`marsad.stories`), which hold article pks in
several columns; they are derived data, rebuilt by running the story stage on the target.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from .errors import StoreError
from .store import open_store
from .store.sqlite import _iso, _version_hash

BATCH_SIZE = 2000
# Copied row by row after sources and articles, parents before children.
TABLES = ("links", "feeds", "frontier", "raw_responses", "entities", "entity_aliases", "tag_entities",
          "mentions", "enrichments")
_IDENTITY_TABLES = {"entities": "id"}  # ids kept as they are; PostgreSQL's sequence is moved past them


@dataclass
class TableCheck:
    """One table's row count and checksum on each side."""

    table: str
    source_rows: int
    target_rows: int
    source_checksum: str
    target_checksum: str

    @property
    def ok(self) -> bool:
        """Counts and checksums agree."""
        return self.source_rows == self.target_rows and self.source_checksum == self.target_checksum


@dataclass
class MigrationReport:
    """What `migrate` copied and how verification went."""

    source: str
    target: str
    tables: list[TableCheck] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Every table verified."""
        return all(t.ok for t in self.tables)


def _is_pg(store) -> bool:
    return getattr(store, "backend", "sqlite") == "postgresql"


def _columns(store, table: str) -> list[str]:
    if _is_pg(store):
        rows = store._rows("SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                           "AND table_schema = current_schema() ORDER BY ordinal_position", (table,))
        return [r[0] for r in rows]
    return [r[1] for r in store.conn.execute(f"PRAGMA table_info({table})")]


def _read(store, table: str, columns: list[str], *, batch_size: int = BATCH_SIZE) -> Iterator[list[tuple]]:
    """A table's rows in batches (a server-side cursor on PostgreSQL, so memory stays flat)."""
    sql = f"SELECT {', '.join(columns)} FROM {table}"
    if _is_pg(store):
        with store.atomic() as conn, conn.cursor(name=f"marsad_copy_{table}") as cur:
            cur.itersize = batch_size
            cur.execute(sql)
            while rows := cur.fetchmany(batch_size):
                yield rows
        return
    cursor = store.conn.execute(sql)
    while rows := cursor.fetchmany(batch_size):
        yield [tuple(r) for r in rows]


def _write(store, table: str, columns: list[str], rows: list[tuple]) -> None:
    if not rows:
        return
    if _is_pg(store):
        sql = (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
               "ON CONFLICT DO NOTHING")
        with store.atomic() as conn, conn.cursor() as cur:
            cur.executemany(sql, rows)
    else:
        sql = f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        with store.transaction() as conn:
            conn.executemany(sql, rows)


def _article_pks(store) -> dict[str, int]:
    if _is_pg(store):
        return dict(store._rows("SELECT id, pk FROM articles"))
    return {r[0]: r[1] for r in store.conn.execute("SELECT id, pk FROM articles")}


def _value(value) -> str:
    """A column value in a form both backends give alike (dates as ISO text, booleans as 0/1)."""
    if value is None:
        return "\x00"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (bytes, memoryview)):
        return hashlib.sha1(bytes(value)).hexdigest()
    if isinstance(value, float):
        return repr(round(value, 9))
    if isinstance(value, datetime):
        return _iso(value) or ""
    return str(value)


class _Checksum:
    """An order-independent checksum: the sum of each row's SHA-256, modulo 2**128."""

    def __init__(self) -> None:
        self.rows = 0
        self.total = 0

    def add(self, values) -> None:
        digest = hashlib.sha256("\x1f".join(map(_value, values)).encode("utf-8")).digest()
        self.total = (self.total + int.from_bytes(digest[:16], "big")) % (1 << 128)
        self.rows += 1

    def hexdigest(self) -> str:
        return f"{self.total:032x}"


def _articles_checksum(store) -> _Checksum:
    check = _Checksum()
    for a in store.iter_articles(batch_size=BATCH_SIZE):
        check.add((a.id, _version_hash(a), a.content_hash, a.canonical_url, a.origin, _iso(a.fetched_at),
                   "\x1e".join(a.read_also)))
    return check


def _sources_checksum(store) -> _Checksum:
    check = _Checksum()
    for s in store.list_sources():
        check.add((s.name, s.homepage, "\x1e".join(s.feeds), s.language, s.country, "\x1e".join(s.aliases)))
    return check


def _table_checksum(store, table: str, columns: list[str], ids_by_pk: dict[int, str] | None) -> _Checksum:
    check = _Checksum()
    pk_at = columns.index("article_pk") if "article_pk" in columns else None
    for rows in _read(store, table, columns):
        for row in rows:
            if pk_at is not None and ids_by_pk is not None:
                row = (*row[:pk_at], ids_by_pk.get(row[pk_at], "?"), *row[pk_at + 1:])
            check.add(row)
    return check


def migrate(source_url: str, target_url: str, *, batch_size: int = BATCH_SIZE,
            on_progress: Callable[[str, int], None] | None = None) -> MigrationReport:
    """Copy everything from one marsad database to another (empty) one and verify counts and checksums.

    :param on_progress: called as (table, rows copied so far) after each batch.
    :raises StoreError: the target already holds articles.
    """
    import time

    started = time.perf_counter()
    with open_store(source_url) as source, open_store(target_url) as target:
        if target.count_articles():
            raise StoreError("the target database already holds articles; migrate into an empty one",
                             subject=str(getattr(target, "path", target_url)))
        report = MigrationReport(str(getattr(source, "path", source_url)), str(getattr(target, "path", target_url)))
        progress = on_progress or (lambda table, done: None)

        # 1. sources (with the crawler's per-source columns), then articles, through the Store interface
        target.upsert_sources(source.list_sources())
        extra = [c for c in ("disabled", "added_at") if c in _columns(source, "sources") and c in _columns(target, "sources")]
        if extra:
            for rows in _read(source, "sources", ["name", *extra]):
                _set_source_columns(target, extra, rows)
        progress("sources", len(source.list_sources()))
        done, batch = 0, []
        for article in source.iter_articles(batch_size=batch_size):
            batch.append(article)
            if len(batch) >= batch_size:
                target.upsert_articles(batch)
                done += len(batch)
                batch = []
                progress("articles", done)
        if batch:
            target.upsert_articles(batch)
            done += len(batch)
            progress("articles", done)

        # 2. every other table, article_pk mapped through article ids
        source_ids = {pk: i for i, pk in _article_pks(source).items()}
        target_pks = _article_pks(target)
        columns_of: dict[str, list[str]] = {}
        for table in TABLES:
            theirs = set(_columns(target, table))
            columns = [c for c in _columns(source, table) if c in theirs]
            columns_of[table] = columns
            if not columns:
                continue
            pk_at = columns.index("article_pk") if "article_pk" in columns else None
            copied = 0
            for rows in _read(source, table, columns, batch_size=batch_size):
                if pk_at is not None:
                    rows = [(*r[:pk_at], target_pks[source_ids[r[pk_at]]], *r[pk_at + 1:]) for r in rows]
                _write(target, table, columns, rows)
                copied += len(rows)
                progress(table, copied)
            if table in _IDENTITY_TABLES and _is_pg(target):
                column = _IDENTITY_TABLES[table]
                with target.atomic() as conn:
                    conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                                 f"coalesce((SELECT max({column}) FROM {table}), 0) + 1, false)")

        # 3. verify
        target_ids = {pk: i for i, pk in target_pks.items()}
        checks = [("sources", _sources_checksum(source), _sources_checksum(target)),
                  ("articles", _articles_checksum(source), _articles_checksum(target))]
        for table in TABLES:
            if columns_of[table]:
                checks.append((table, _table_checksum(source, table, columns_of[table], source_ids),
                               _table_checksum(target, table, columns_of[table], target_ids)))
        report.tables = [TableCheck(name, a.rows, b.rows, a.hexdigest(), b.hexdigest()) for name, a, b in checks]
    report.seconds = round(time.perf_counter() - started, 2)
    return report


def _set_source_columns(target, columns: list[str], rows: list[tuple]) -> None:
    if _is_pg(target):
        sql = f"UPDATE sources SET {', '.join(f'{c} = %s' for c in columns)} WHERE name = %s"
        with target.atomic() as conn, conn.cursor() as cur:
            cur.executemany(sql, [(*r[1:], r[0]) for r in rows])
    else:
        sql = f"UPDATE sources SET {', '.join(f'{c} = ?' for c in columns)} WHERE name = ?"
        with target.transaction() as conn:
            conn.executemany(sql, [(*r[1:], r[0]) for r in rows])
