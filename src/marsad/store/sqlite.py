"""The default store: one SQLite file, WAL mode, versioned migrations, batched writes."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path

from ..errors import NotFound, StoreError
from ..models import Article, Link, Source
from ..search import index as search_index
from ..enrich import entity_store
from ..stories import schema as stories_schema
from .base import BATCH_SIZE, UpsertResult

# Ordered, append-only (as miniflux's schema list): the schema version is
# len(MIGRATIONS), recorded in PRAGMA user_version. Add new migrations at the end;
# never edit one that has shipped.
MIGRATIONS: list[str] = [
    # 1: articles, sources, tags, links
    """
    CREATE TABLE sources (
        name      TEXT PRIMARY KEY,
        homepage  TEXT,
        feeds     TEXT NOT NULL DEFAULT '[]',
        language  TEXT,
        country   TEXT,
        aliases   TEXT NOT NULL DEFAULT '[]'
    );
    CREATE TABLE articles (
        pk              INTEGER PRIMARY KEY,
        id              TEXT NOT NULL UNIQUE,
        url             TEXT,
        canonical_url   TEXT,
        source          TEXT,
        source_inferred INTEGER NOT NULL DEFAULT 0,
        title           TEXT NOT NULL,
        text            TEXT NOT NULL,
        published_at    TEXT,
        date_precision  TEXT,
        language        TEXT,
        author          TEXT,
        fetched_at      TEXT,
        origin          TEXT NOT NULL DEFAULT '',
        content_hash    TEXT NOT NULL,
        version_hash    TEXT NOT NULL,
        stored_at       TEXT NOT NULL,
        updated_at      TEXT NOT NULL
    );
    CREATE INDEX articles_published_at ON articles(published_at);
    CREATE INDEX articles_source ON articles(source, published_at);
    CREATE INDEX articles_content_hash ON articles(content_hash);
    CREATE INDEX articles_canonical_url ON articles(canonical_url);
    CREATE TABLE article_tags (
        article_pk INTEGER NOT NULL REFERENCES articles(pk) ON DELETE CASCADE,
        position   INTEGER NOT NULL,
        tag        TEXT NOT NULL,
        PRIMARY KEY (article_pk, position)
    ) WITHOUT ROWID;
    CREATE INDEX article_tags_tag ON article_tags(tag);
    CREATE TABLE links (
        from_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        to_id   TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        kind    TEXT NOT NULL,
        PRIMARY KEY (from_id, to_id, kind)
    ) WITHOUT ROWID;
    CREATE INDEX links_to ON links(to_id);
    """,
    # 2: full-text search index (marsad.search.index)
    search_index.MIGRATION,
    # crawler: per-source switches, feeds with their crawl state, the entry frontier
    # (so a killed crawl resumes), and compressed raw responses (for `marsad reparse`)
    """
    ALTER TABLE sources ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sources ADD COLUMN added_at TEXT;
    CREATE TABLE feeds (
        url             TEXT PRIMARY KEY,
        source          TEXT NOT NULL REFERENCES sources(name) ON DELETE CASCADE,
        kind            TEXT NOT NULL DEFAULT 'feed',
        title           TEXT,
        etag            TEXT,
        last_modified   TEXT,
        content_hash    TEXT,
        last_fetched    TEXT,
        last_new        TEXT,
        next_due        TEXT,
        interval_s      INTEGER NOT NULL DEFAULT 1800,
        fetches         INTEGER NOT NULL DEFAULT 0,
        unchanged       INTEGER NOT NULL DEFAULT 0,
        entries_seen    INTEGER NOT NULL DEFAULT 0,
        error_count     INTEGER NOT NULL DEFAULT 0,
        errors_total    INTEGER NOT NULL DEFAULT 0,
        last_error      TEXT,
        last_error_kind TEXT,
        disabled        INTEGER NOT NULL DEFAULT 0,
        added_at        TEXT NOT NULL
    );
    CREATE INDEX feeds_due ON feeds(disabled, next_due);
    CREATE INDEX feeds_source ON feeds(source);
    CREATE TABLE frontier (
        url           TEXT PRIMARY KEY,
        source        TEXT,
        feed_url      TEXT,
        entry         TEXT NOT NULL,
        state         TEXT NOT NULL DEFAULT 'pending',
        attempts      INTEGER NOT NULL DEFAULT 0,
        next_try      TEXT,
        error_kind    TEXT,
        last_error    TEXT,
        article_id    TEXT,
        discovered_at TEXT NOT NULL,
        done_at       TEXT
    );
    CREATE INDEX frontier_state ON frontier(state, next_try);
    CREATE INDEX frontier_source ON frontier(source);
    CREATE TABLE raw_responses (
        url         TEXT PRIMARY KEY,
        final_url   TEXT NOT NULL,
        status      INTEGER NOT NULL,
        headers     TEXT NOT NULL,
        codec       TEXT NOT NULL,
        body        BLOB NOT NULL,
        size        INTEGER NOT NULL,
        source      TEXT,
        article_id  TEXT,
        fetched_at  TEXT NOT NULL
    );
    CREATE INDEX raw_responses_article ON raw_responses(article_id);
    """,
    # named entities, their mentions in articles, learnt aliases, auto tags (marsad.enrich)
    entity_store.MIGRATION,
    # duplicate groups with LSH band keys, stories, their members, merges and links (marsad.stories)
    stories_schema.MIGRATION,
    # 6: the search index gains the exact forms of the words beside their stems (marsad.search.index)
    search_index.MIGRATION_EXACT_FORMS,
    # 7: PostgreSQL gained an index for newest-first pages (published_at DESC NULLS LAST). Nothing
    # here: SQLite puts NULLs last in descending order already and reads articles_published_at backwards.
    "SELECT 1;",
    # 8: a pending-terms buffer that holds one stored batch, so each batch is one index segment
    search_index.MIGRATION_HASHSIZE,
    # 9: that buffer grown with the stored batch (2,000 articles)
    search_index.MIGRATION_HASHSIZE_BATCH,
]

PAGE_SIZE = 8192  # bytes, for new database files
CACHE_KIB = 32 * 1024  # page cache per connection

_ARTICLE_COLUMNS = (
    "id, url, canonical_url, source, source_inferred, title, text, published_at, "
    "date_precision, language, author, fetched_at, origin, content_hash"
)
_SELECT_ARTICLE = f"""
    SELECT {_ARTICLE_COLUMNS},
           (SELECT json_group_array(tag) FROM
               (SELECT tag FROM article_tags WHERE article_pk = a.pk ORDER BY position)) AS tags,
           (SELECT json_group_array(to_id) FROM links
               WHERE from_id = a.id AND kind = 'read_also') AS read_also
    FROM articles a
"""


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _from_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _now() -> str:
    return _iso(datetime.now(timezone.utc))  # type: ignore[return-value]


def _article_row(article: Article) -> tuple:
    """The stored columns an update may change, in the order the INSERT and UPDATE list them."""
    return (
        article.url,
        article.canonical_url,
        article.source,
        int(article.source_inferred),
        article.title,
        article.text,
        _iso(article.published_at),
        article.date_precision,
        article.language,
        article.author,
        _version_hash(article),
    )


def _version_hash(article: Article) -> str:
    """Hash of every stored field that an update may change (not provenance: origin, fetched_at)."""
    fields = (
        article.title,
        article.text,
        article.url or "",
        article.source or "",
        "1" if article.source_inferred else "0",
        _iso(article.published_at) or "",
        article.date_precision or "",
        "\x1f".join(article.tags),
        article.language or "",
        article.author or "",
    )
    return hashlib.sha1("\x00".join(fields).encode("utf-8")).hexdigest()


def _batched(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class SQLiteStore(entity_store.EntityQueries):
    """marsad's default `Store`: a single SQLite file, safe to reopen and re-ingest into."""

    runs_story_stage = True  # the dedup/story stage (marsad.stories) is written for this backend

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(str(exc), subject=str(self.path)) from exc
        self.conn.row_factory = sqlite3.Row
        # One writer at a time, as datasette funnels writes: SQLite allows a single
        # writer anyway, and the lock keeps threads sharing this store from interleaving
        # statements of two transactions.
        self._write_lock = threading.RLock()
        self._configure()
        self.migrate()

    # -- connection and schema -------------------------------------------------

    def _configure(self) -> None:
        try:
            if self.schema_version == 0:
                # Only takes effect on a new file (before WAL mode and the first table). 8 KB pages
                # hold an article row whole and halve the pages a full-text segment spans: writing
                # the full corpus's search index took 1.2 s less CPU time than with 4 KB pages.
                self.conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            # A larger page cache than the 2 MB default: index segments being merged stay in memory.
            self.conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            if str(self.path) != ":memory:":
                self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.conn.execute("PRAGMA busy_timeout = 10000")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"not a usable SQLite database ({exc})", subject=str(self.path)) from exc

    @property
    def schema_version(self) -> int:
        """The number of migrations applied to this file."""
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> int:
        """Apply pending migrations, each in its own transaction; returns how many ran."""
        applied = 0
        with self._write_lock:
            current = self.schema_version
            if current > len(MIGRATIONS):
                raise StoreError(
                    f"database schema version {current} is newer than this marsad ({len(MIGRATIONS)})",
                    subject=str(self.path),
                )
            for version in range(current, len(MIGRATIONS)):
                with self.transaction() as conn:
                    for statement in _split_sql(MIGRATIONS[version]):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {version + 1}")
                applied += 1
        return applied

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE) that commits on success and rolls back on error."""
        with self._write_lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connection; the file stays consistent (WAL is checkpointed by SQLite)."""
        self.conn.close()

    def __enter__(self) -> "SQLiteStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- articles ---------------------------------------------------------------

    def upsert_articles(self, articles: Iterable[Article]) -> UpsertResult:
        """Insert new articles and update changed ones, BATCH_SIZE per transaction."""
        result = UpsertResult()
        for chunk in _batched(articles, BATCH_SIZE):
            with self.transaction() as conn:
                result += self._upsert_chunk(conn, chunk)
        return result

    def _upsert_chunk(self, conn: sqlite3.Connection, chunk: list[Article]) -> UpsertResult:
        result = UpsertResult()
        ids = list({a.id for a in chunk})
        known: dict[str, tuple[int, str]] = {}
        for start in range(0, len(ids), 900):  # stay under SQLite's bound-parameter limit
            part = ids[start : start + 900]
            marks = ",".join("?" * len(part))
            for row in conn.execute(f"SELECT id, pk, version_hash FROM articles WHERE id IN ({marks})", part):
                known[row["id"]] = (row["pk"], row["version_hash"])
        now = _now()
        # The search index needs the old text of rows whose title or text changes.
        changing = [known[a.id][0] for a in chunk if a.id in known and known[a.id][1] != _version_hash(a)]
        indexed_before = {row[0]: row for row in search_index.stored_rows(conn, changing)} if changing else {}
        indexed_after: dict[int, tuple[int, str, str]] = {}
        tags: list[tuple[int, int, str]] = []
        # New articles go in with one executemany and their pks come back with one SELECT:
        # a statement per article was a tenth of a corpus ingest. A repeat of an id first seen
        # in this chunk is handled after the insert, as an update or an unchanged copy.
        fresh: dict[str, Article] = {}
        repeats: list[Article] = []
        for article in chunk:
            if article.id in known:
                self._update_one(conn, article, known, result, indexed_after, tags, now)
            elif article.id in fresh:
                repeats.append(article)
            else:
                fresh[article.id] = article
        if fresh:
            rows = [_article_row(a) for a in fresh.values()]
            conn.executemany(
                """INSERT INTO articles (url, canonical_url, source, source_inferred, title, text,
                       published_at, date_precision, language, author, version_hash,
                       id, fetched_at, origin, content_hash, stored_at, updated_at)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?, ?,?,?,?,?,?)""",
                [row + (a.id, _iso(a.fetched_at), a.origin, a.content_hash, now, now)
                 for row, a in zip(rows, fresh.values())],
            )
            pks: dict[str, int] = {}
            fresh_ids = list(fresh)
            for start in range(0, len(fresh_ids), 900):
                part = fresh_ids[start : start + 900]
                marks = ",".join("?" * len(part))
                pks.update(conn.execute(f"SELECT id, pk FROM articles WHERE id IN ({marks})", part).fetchall())
            for article, row in zip(fresh.values(), rows):
                pk = pks[article.id]
                known[article.id] = (pk, row[-1])  # _article_row ends with the version hash
                result.new.append(article.id)
                indexed_after[pk] = (pk, article.title, article.text)
                tags += [(pk, i, tag) for i, tag in enumerate(article.tags)]
        for article in repeats:
            self._update_one(conn, article, known, result, indexed_after, tags, now)
        if tags:
            conn.executemany("INSERT INTO article_tags (article_pk, position, tag) VALUES (?,?,?)", tags)
        changed = [pk for pk, row in indexed_after.items() if indexed_before.get(pk) != row]
        search_index.unindex_rows(conn, [indexed_before[pk] for pk in changed if pk in indexed_before])
        search_index.index_rows(conn, [indexed_after[pk] for pk in changed])
        return result

    @staticmethod
    def _update_one(conn, article: Article, known: dict[str, tuple[int, str]], result: UpsertResult,
                    indexed_after: dict[int, tuple[int, str, str]], tags: list[tuple[int, int, str]],
                    now: str) -> None:
        """Update one already-stored article if its stored version differs (else count it unchanged)."""
        pk, stored_version = known[article.id]
        version = _version_hash(article)
        if stored_version == version:
            result.unchanged.append(article.id)
            return
        conn.execute(
            """UPDATE articles SET url=?, canonical_url=?, source=?, source_inferred=?, title=?,
                   text=?, published_at=?, date_precision=?, language=?, author=?, version_hash=?,
                   content_hash=?, updated_at=? WHERE pk=?""",
            _article_row(article) + (article.content_hash, now, pk),
        )
        conn.execute("DELETE FROM article_tags WHERE article_pk = ?", (pk,))
        tags[:] = [t for t in tags if t[0] != pk]  # a version seen earlier in this chunk
        result.updated.append(article.id)
        indexed_after[pk] = (pk, article.title, article.text)
        known[article.id] = (pk, version)
        tags += [(pk, i, tag) for i, tag in enumerate(article.tags)]

    def _article_from_row(self, row: sqlite3.Row) -> Article:
        return Article(
            id=row["id"],
            url=row["url"],
            canonical_url=row["canonical_url"],
            source=row["source"],
            source_inferred=bool(row["source_inferred"]),
            title=row["title"],
            paragraphs=row["text"].split("\n") if row["text"] else [],
            published_at=_from_iso(row["published_at"]),
            date_precision=row["date_precision"],
            language=row["language"],
            author=row["author"],
            fetched_at=_from_iso(row["fetched_at"]),
            origin=row["origin"],
            content_hash=row["content_hash"],
            tags=json.loads(row["tags"]),
            read_also=json.loads(row["read_also"]),
        )

    def get_article(self, article_id: str) -> Article:
        """The stored article with this id or unique id prefix; raises NotFound."""
        rows = self.conn.execute(
            _SELECT_ARTICLE + " WHERE a.id >= ? AND a.id < ? LIMIT 2", (article_id, article_id + "\uffff")
        ).fetchall()
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
        found: dict[str, Article] = {}
        for start in range(0, len(wanted), 900):
            part = wanted[start : start + 900]
            marks = ",".join("?" * len(part))
            for row in self.conn.execute(_SELECT_ARTICLE + f" WHERE a.id IN ({marks})", part):
                found[row["id"]] = self._article_from_row(row)
        return [found[i] for i in wanted if i in found]

    def iter_articles(self, *, batch_size: int = 1000) -> Iterator[Article]:
        """Every stored article in insertion order, read in pages so memory stays flat."""
        last_pk = 0
        while True:
            rows = self.conn.execute(
                _SELECT_ARTICLE.replace("SELECT ", "SELECT a.pk AS pk, ", 1)
                + " WHERE a.pk > ? ORDER BY a.pk LIMIT ?",
                (last_pk, batch_size),
            ).fetchall()
            if not rows:
                return
            for row in rows:
                yield self._article_from_row(row)
            last_pk = rows[-1]["pk"]

    def count_articles(self) -> int:
        """How many articles are stored."""
        return self.conn.execute("SELECT count(*) FROM articles").fetchone()[0]

    def delete_articles(self, ids: Iterable[str]) -> int:
        """Delete articles with their tags and links; returns how many existed."""
        deleted = 0
        for chunk in _batched(ids, 900):
            marks = ",".join("?" * len(chunk))
            with self.transaction() as conn:
                pks = [r[0] for r in conn.execute(f"SELECT pk FROM articles WHERE id IN ({marks})", chunk)]
                search_index.unindex_rows(conn, search_index.stored_rows(conn, pks))
                deleted += conn.execute(f"DELETE FROM articles WHERE id IN ({marks})", chunk).rowcount
        return deleted

    def reindex(self, **options) -> dict:
        """Rebuild the full-text search index from the stored articles (see marsad.search.index.reindex)."""
        return search_index.reindex(self, **options)

    def search_index_current(self) -> bool:
        """Whether the search index was built by this marsad's analyzer (else `reindex` is due)."""
        from ..search.analyzer import default_analyzer

        return default_analyzer().index_built_by_me(search_index.index_state(self.conn))

    # -- sources ----------------------------------------------------------------

    def upsert_sources(self, sources: Iterable[Source]) -> None:
        """Insert or replace outlets by name."""
        with self.transaction() as conn:
            conn.executemany(
                """INSERT INTO sources (name, homepage, feeds, language, country, aliases)
                   VALUES (?,?,?,?,?,?)
                   ON CONFLICT(name) DO UPDATE SET homepage=excluded.homepage, feeds=excluded.feeds,
                       language=excluded.language, country=excluded.country, aliases=excluded.aliases""",
                [
                    (
                        s.name,
                        s.homepage,
                        json.dumps(s.feeds, ensure_ascii=False),
                        s.language,
                        s.country,
                        json.dumps(s.aliases, ensure_ascii=False),
                    )
                    for s in sources
                ],
            )

    @staticmethod
    def _source_from_row(row: sqlite3.Row) -> Source:
        return Source(
            name=row["name"],
            homepage=row["homepage"],
            feeds=json.loads(row["feeds"]),
            language=row["language"],
            country=row["country"],
            aliases=json.loads(row["aliases"]),
        )

    def get_source(self, name: str) -> Source:
        """The outlet with this name; raises NotFound."""
        row = self.conn.execute("SELECT * FROM sources WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFound("no such source", subject=name)
        return self._source_from_row(row)

    def list_sources(self) -> list[Source]:
        """Every known outlet, by name."""
        return [self._source_from_row(r) for r in self.conn.execute("SELECT * FROM sources ORDER BY name")]

    # -- links ------------------------------------------------------------------

    def add_links(self, links: Iterable[Link]) -> None:
        """Record relations between stored articles; duplicates are ignored."""
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO links (from_id, to_id, kind) VALUES (?,?,?)",
                [(link.from_id, link.to_id, link.kind) for link in links],
            )

    def links_from(self, article_id: str) -> list[Link]:
        """Relations starting at an article."""
        rows = self.conn.execute("SELECT * FROM links WHERE from_id = ? ORDER BY kind, to_id", (article_id,))
        return [Link(r["from_id"], r["to_id"], r["kind"]) for r in rows]

    def links_to(self, article_id: str) -> list[Link]:
        """Relations ending at an article."""
        rows = self.conn.execute("SELECT * FROM links WHERE to_id = ? ORDER BY kind, from_id", (article_id,))
        return [Link(r["from_id"], r["to_id"], r["kind"]) for r in rows]

    # -- entities (SQL in marsad.enrich.entity_store; reads from its EntityQueries) ----

    def save_enrichments(self, items: Iterable) -> int:
        """Replace articles' mentions, auto tags and tag links with fresh enrichments; returns how many."""
        with self.transaction() as conn:
            return entity_store.save_enrichments(conn, items)

    # -- summary ----------------------------------------------------------------

    def stats(self) -> dict:
        """Counts for `marsad stats`: articles, sources, tags, links, dates, per-source counts."""
        one = lambda sql: self.conn.execute(sql).fetchone()[0]  # noqa: E731
        first, last = self.conn.execute("SELECT min(published_at), max(published_at) FROM articles").fetchone()
        return {
            "database": str(self.path),
            "schema_version": self.schema_version,
            "articles": one("SELECT count(*) FROM articles"),
            "articles_with_date": one("SELECT count(published_at) FROM articles"),
            "sources": one("SELECT count(*) FROM sources"),
            "distinct_tags": one("SELECT count(DISTINCT tag) FROM article_tags"),
            "links": one("SELECT count(*) FROM links"),
            "first_published": first,
            "last_published": last,
            "by_source": {
                (r[0] or ""): r[1]
                for r in self.conn.execute(
                    "SELECT source, count(*) FROM articles GROUP BY source ORDER BY count(*) DESC, source"
                )
            },
        }


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (sqlite3.executescript would commit our transaction)."""
    statements, current = [], []
    for line in script.splitlines():
        current.append(line)
        candidate = "\n".join(current).strip()
        if candidate.endswith(";") and sqlite3.complete_statement(candidate):
            statements.append(candidate)
            current = []
    rest = "\n".join(current).strip()
    if rest:
        statements.append(rest)
    return statements
