"""`marsad migrate --from A --to B`: copy a whole marsad database between backends, then verify it.

    report = migrate("sqlite:///marsad.db", "postgresql://marsad@db/marsad")

In order:
1. open both stores (each is migrated to the latest schema version, so both hold the same tables);
   the target must hold no articles;
2. sources and articles (with their tags) through the `Store` interface, in pk order (so the target
   builds its own search index, and its pks keep the source's order);
3. every other table row by row (links, crawler state, raw responses, entities, duplicate groups,
   stories and the story stage's mark), mapping every column that holds an article pk through
   article ids (`PK_COLUMNS`), since each database numbers its rows itself;
4. verify: per table, the row count and an order-independent checksum of the rows must be equal.

Not copied: `search_state` (the target's search index is its own, built as articles are stored).
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from .errors import StoreError
from .store import open_store
from .store.sqlite import _iso, _version_hash

BATCH_SIZE = 2000
# Copied row by row after sources and articles, parents before children.
TABLES = ("links", "feeds", "frontier", "raw_responses", "entities", "entity_aliases", "tag_entities",
          "mentions", "enrichments", "dedup_articles", "stories", "story_articles", "story_merges", "story_links",
          "story_state")
VERIFIED_ONLY = ("article_tags",)  # written with the articles; checked like the copied tables
# Columns holding article pks: a story's key, and so its group and link columns, is its first article's pk.
PK_COLUMNS = {
    "article_tags": ("article_pk",),
    "mentions": ("article_pk",),
    "enrichments": ("article_pk",),
    "dedup_articles": ("article_pk", "group_pk", "match_pk"),
    "stories": ("pk", "lead_pk", "merged_into"),
    "story_articles": ("article_pk", "story_pk"),
    "story_merges": ("from_story", "into_story", "article_pk"),
    "story_links": ("story_a", "story_b"),
}
STAGE_TABLES = ("dedup_articles", "stories", "story_articles", "story_merges", "story_links", "story_state")
ENRICH_TABLES = ("entities", "entity_aliases", "tag_entities", "mentions", "enrichments")
UNORDERED_PAIRS = {"story_links": ("story_a", "story_b")}  # kept as (smaller, larger)
MARK_KEY = ("story_state", "mark")  # the story stage's high-water mark: the last article pk it processed
_IDENTITY_TABLES = {"entities": "id", "story_merges": "pk"}  # kept as they are; PostgreSQL's sequence moves past


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


class ArticleKeys:
    """One database's article pks and ids, to move pk columns to another database or label them by id.

    A pk column may name a deleted article (a story's first article, a group's first copy): such a
    value has no id; it is kept negative (-|pk|) in a copy, where no article pk can take it, and
    labelled "~|pk|" on both sides.
    """

    def __init__(self, store):
        self.pks = _article_pks(store)
        self.ids = {pk: i for i, pk in self.pks.items()}
        self._sorted = sorted(self.ids)

    def label(self, pk: int | None) -> str | None:
        """The article id a pk column names, comparable across databases."""
        if pk is None:
            return None
        found = self.ids.get(pk)
        return found if found is not None else f"~{abs(pk)}"

    def to(self, other: "ArticleKeys", pk: int | None) -> int | None:
        """The pk in *other*'s database of the article that *pk* names here."""
        if pk is None:
            return None
        found = self.ids.get(pk)
        return other.pks[found] if found is not None else -abs(pk)

    def last_at(self, mark: int) -> str:
        """The id of the last article at or below a pk mark ("" when none): what the mark means by id."""
        at = bisect_right(self._sorted, mark)
        return self.ids[self._sorted[at - 1]] if at else ""

    def mark_to(self, other: "ArticleKeys", mark: int) -> int:
        """The mark in *other*'s database: its pk of the last article at or below *mark* here (0: none).
        Right only where the copy keeps pk order, as `migrate` does."""
        last = self.last_at(mark)
        return other.pks[last] if last else 0


def _mapper(table: str, columns: list[str], value_of: Callable[[int | None], object],
            mark_of: Callable[[int], object]) -> Callable[[tuple], tuple]:
    """A function rewriting one row of *table*: each pk column through *value_of*, the story mark through
    *mark_of*, unordered pairs put in order."""
    at = [columns.index(c) for c in PK_COLUMNS.get(table, ()) if c in columns]
    pair = [columns.index(c) for c in UNORDERED_PAIRS.get(table, ()) if c in columns]
    is_state = table == MARK_KEY[0] and columns[:2] == ["key", "value"]
    if not at and not is_state:
        return tuple

    def rewrite(row: tuple) -> tuple:
        row = list(row)
        for i in at:
            row[i] = value_of(row[i])
        if len(pair) == 2 and row[pair[0]] is not None and row[pair[1]] is not None \
                and row[pair[1]] < row[pair[0]]:
            row[pair[0]], row[pair[1]] = row[pair[1]], row[pair[0]]
        if is_state and row[0] == MARK_KEY[1]:
            row[1] = str(mark_of(int(row[1])))
        return tuple(row)

    return rewrite


def rows_by_id(store, table: str, *, skip: tuple[str, ...] = (), keys: ArticleKeys | None = None
               ) -> Iterator[tuple]:
    """A table's rows with every article pk column (`PK_COLUMNS`) replaced by the article's id, and the
    story stage's mark by the id of the last article it processed: rows that two databases holding the
    same data give alike, whatever their pks. Columns in *skip* are left out."""
    keys = keys or ArticleKeys(store)
    columns = [c for c in _columns(store, table) if c not in skip]
    label = _mapper(table, columns, keys.label, keys.last_at)
    for rows in _read(store, table, columns):
        yield from map(label, rows)


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


def stage_rows(store, *, skip: tuple[str, ...] = ()) -> dict[str, Counter]:
    """The duplicate and story stage's tables (`STAGE_TABLES`), each as a multiset of `rows_by_id` rows:
    equal for two databases whose stage decided the same, whatever their pks."""
    keys = ArticleKeys(store)
    return {table: Counter(rows_by_id(store, table, skip=skip, keys=keys)) for table in STAGE_TABLES}


def enrichment_rows(store, *, skip: tuple[str, ...] = ("enriched_at",)) -> dict[str, Counter]:
    """The enrichment tables (`ENRICH_TABLES`), each as a multiset of `rows_by_id` rows with every entity
    id read as "TYPE:key": equal for two databases that enriched the same articles alike, whatever their
    article pks and entity ids. *skip* leaves columns out (by default `enriched_at`, a wall-clock time)."""
    names = {}
    for rows in _read(store, "entities", ["id", "type", "key"]):
        names.update((entity_id, f"{kind}:{key}") for entity_id, kind, key in rows)
    keys = ArticleKeys(store)
    out = {}
    for table in ENRICH_TABLES:
        columns = [c for c in _columns(store, table) if c not in skip]
        at = [n for n, c in enumerate(columns) if c == "entity_id" or (table == "entities" and c == "id")]
        rows = Counter()
        for row in rows_by_id(store, table, skip=skip, keys=keys):
            row = list(row)
            for n in at:
                row[n] = names.get(row[n], row[n])
            rows[tuple(row)] += 1
        out[table] = rows
    return out


def _table_checksum(store, table: str, columns: list[str], keys: ArticleKeys) -> _Checksum:
    check = _Checksum()
    label = _mapper(table, columns, keys.label, keys.last_at)
    for rows in _read(store, table, columns):
        for row in rows:
            check.add(label(row))
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

        # 2. every other table, article pks mapped through article ids
        source_keys, target_keys = ArticleKeys(source), ArticleKeys(target)
        columns_of: dict[str, list[str]] = {}
        for table in (*TABLES, *VERIFIED_ONLY):
            theirs = set(_columns(target, table))
            columns_of[table] = [c for c in _columns(source, table) if c in theirs]
        for table in TABLES:
            columns = columns_of[table]
            if not columns:
                continue
            move = _mapper(table, columns, lambda pk: source_keys.to(target_keys, pk),
                           lambda mark: source_keys.mark_to(target_keys, mark))
            copied = 0
            for rows in _read(source, table, columns, batch_size=batch_size):
                rows = [move(r) for r in rows]
                _write(target, table, columns, rows)
                copied += len(rows)
                progress(table, copied)
            if table in _IDENTITY_TABLES and _is_pg(target):
                column = _IDENTITY_TABLES[table]
                with target.atomic() as conn:
                    conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                                 f"coalesce((SELECT max({column}) FROM {table}), 0) + 1, false)")

        # 3. verify
        checks = [("sources", _sources_checksum(source), _sources_checksum(target)),
                  ("articles", _articles_checksum(source), _articles_checksum(target))]
        for table in (*VERIFIED_ONLY, *TABLES):
            if columns_of[table]:
                checks.append((table, _table_checksum(source, table, columns_of[table], source_keys),
                               _table_checksum(target, table, columns_of[table], target_keys)))
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
