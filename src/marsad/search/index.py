"""The SQLite full-text index: an FTS5 table of analysed terms, kept in step with `articles`.

`search_fts` is contentless (``content=''``): it stores only the inverted index of
the analyser's terms, with rowid = articles.pk: the stems of title and body, then the
exact (normalised, unstemmed) forms of their words (`Analyzer.exact_text`). The
original text stays in `articles` and is never touched. Removing a row from a
contentless table needs the terms it was indexed with, so deletes re-analyse the
stored (old) text; that is only correct with the analyzer that built the index,
which `search_state` records. An index built by another analyzer version is left
alone by the sync hooks and reported stale until `marsad reindex` rebuilds it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence

from .analyzer import Analyzer, default_analyzer

FTS_TABLE = "search_fts"

# Appended to marsad.store.sqlite.MIGRATIONS. The analyzer field starts '' (an empty
# index any analyzer may claim) or 'stale' when articles already exist (they need
# `marsad reindex`). The covering index lets filters and facets read source, date and
# language for a match without touching the wide article rows.
MIGRATION = f"""
    CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(
        title, body, content='', tokenize='ascii', prefix='3'
    );
    CREATE TABLE search_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO search_state (key, value)
        SELECT 'analyzer', CASE WHEN EXISTS (SELECT 1 FROM articles) THEN 'stale' ELSE '' END;
    CREATE INDEX articles_search_cover ON articles(pk, published_at, source, language);
"""

# Appended to the migrations after MIGRATION: the exact-form columns. An FTS5 table
# cannot gain columns, so it is made again, empty; an existing index is then stale
# until `marsad reindex` (it was built by an older analyzer anyway). The prefix index
# (prefix='3') goes: it would index the exact forms' prefixes too, which no query
# reads, for a third of the build time and 36 MB at 31k articles; it only ever served
# prefix queries of exactly three letters, which now merge their terms' lists
# (1.2-2.7x slower; longer prefixes never used it).
MIGRATION_EXACT_FORMS = f"""
    DROP TABLE {FTS_TABLE};
    CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(
        title, body, title_exact, body_exact, content='', tokenize='ascii'
    );
    UPDATE search_state SET value = CASE WHEN EXISTS (SELECT 1 FROM articles) THEN 'stale' ELSE '' END
        WHERE key = 'analyzer';
"""
# Appended after the exact-form migration: FTS5 keeps pending terms in memory up to 'hashsize'
# bytes (1 MB by default) and writes a new index segment whenever that fills, and at every commit.
# A stored batch of 500 SaudiNewsNet articles holds about 4 MB of terms: with the default it became
# about four small segments to merge later, with this one segment per batch (the option is persistent;
# memory is bounded by one batch). Measured writing the full corpus's index: 8.7 -> 7.5 s of CPU.
MIGRATION_HASHSIZE = f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rank) VALUES ('hashsize', {16 * 1024 * 1024});"
# Appended after that when stored batches grew from 500 to 2,000 articles (`marsad.store.base.BATCH_SIZE`):
# room for one batch again (about 16 MB of terms; the buffer is a ceiling, not an allocation).
INGEST_HASHSIZE = 64 * 1024 * 1024
MIGRATION_HASHSIZE_BATCH = f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rank) VALUES ('hashsize', {INGEST_HASHSIZE});"
_COLUMNS = "rowid, title, title_exact, body, body_exact"  # the order analyse_rows gives them in
_VALUES = "?,?,?,?,?"

Row = tuple[int, str, str]  # (pk, title, text)
IndexRow = tuple[int, str, str, str, str]  # (pk, title terms, title forms, body terms, body forms)
BULK_HASHSIZE = 64 * 1024 * 1024  # FTS5 pending-terms buffer while reindexing (default 1 MB)


def index_state(conn: sqlite3.Connection) -> str:
    """The analyzer version the index was built with ('' empty and unclaimed, 'stale', 'reindexing')."""
    try:
        row = conn.execute("SELECT value FROM search_state WHERE key = 'analyzer'").fetchone()
    except sqlite3.OperationalError:  # a schema from before search (mid-migration)
        return "stale"
    return row[0] if row else "stale"


def _set_state(conn: sqlite3.Connection, value: str) -> None:
    conn.execute("INSERT OR REPLACE INTO search_state (key, value) VALUES ('analyzer', ?)", (value,))


def _in_sync(conn: sqlite3.Connection, analyzer: Analyzer) -> bool:
    state = index_state(conn)
    if state == "":
        _set_state(conn, analyzer.version)
        return True
    return state == analyzer.version


def analyse_rows(rows: Iterable[Row], analyzer: Analyzer | None = None) -> list[IndexRow]:
    """(pk, title terms, title forms, body terms, body forms) for each (pk, title, text)."""
    analyzer = analyzer or default_analyzer()
    columns = analyzer.index_columns
    return [(pk, *columns(title), *columns(text)) for pk, title, text in rows]


def index_rows(conn: sqlite3.Connection, rows: Sequence[Row], analyzer: Analyzer | None = None) -> None:
    """Add newly stored articles to the index (inside the caller's transaction)."""
    analyzer = analyzer or default_analyzer()
    if rows and _in_sync(conn, analyzer):
        conn.executemany(f"INSERT INTO {FTS_TABLE} ({_COLUMNS}) VALUES ({_VALUES})", analyse_rows(rows, analyzer))


def unindex_rows(conn: sqlite3.Connection, rows: Sequence[Row], analyzer: Analyzer | None = None) -> None:
    """Remove articles from the index, given their text *as it was indexed* (before an update or delete)."""
    analyzer = analyzer or default_analyzer()
    if rows and _in_sync(conn, analyzer):
        conn.executemany(
            f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, {_COLUMNS}) VALUES ('delete', {_VALUES})",
            analyse_rows(rows, analyzer),
        )


def stored_rows(conn: sqlite3.Connection, pks: Sequence[int]) -> list[Row]:
    """(pk, title, text) of stored articles, for unindexing before they change."""
    rows: list[Row] = []
    for start in range(0, len(pks), 900):
        part = list(pks[start : start + 900])
        marks = ",".join("?" * len(part))
        rows += [tuple(r) for r in conn.execute(f"SELECT pk, title, text FROM articles WHERE pk IN ({marks})", part)]
    return rows


def _analyse_batch(batch: list[Row]) -> list[IndexRow]:
    return analyse_rows(batch)


def reindex(
    store,
    *,
    batch_size: int = 2000,
    commit_every: int = 10_000,
    workers: int = 1,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Rebuild the whole index from the stored articles with the current analyzer.

    Articles are read and analysed *batch_size* at a time and committed every
    *commit_every*: FTS5 writes one segment per flush and merges segments
    later, so few large flushes (with a 64 MB pending-terms buffer) halve the
    bytes written compared with small ones. `workers` > 1 analyses batches in
    that many processes while this one writes. `on_progress(done, total)` is
    called after each commit. Returns counts and timing.
    """
    analyzer = default_analyzer()
    conn: sqlite3.Connection = store.conn
    started = time.perf_counter()
    with store.transaction() as tx:
        tx.execute(f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}) VALUES ('delete-all')")
        # Merge segments less eagerly while bulk loading: 'optimize' merges them all at the end.
        tx.execute(f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rank) VALUES ('automerge', 16)")
        tx.execute(f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rank) VALUES ('hashsize', {BULK_HASHSIZE})")
        _set_state(tx, "reindexing")
    total = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    # Read through a second connection where there is a file: the writes below then never
    # share a connection with the reads (which, with workers, run in the pool's feeder thread).
    on_disk = str(getattr(store, "path", ":memory:")) != ":memory:"
    reader = sqlite3.connect(store.path, check_same_thread=False) if on_disk else conn

    def batches():
        last = 0
        while True:
            rows = reader.execute(
                "SELECT pk, title, text FROM articles WHERE pk > ? ORDER BY pk LIMIT ?", (last, batch_size)
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [tuple(r) for r in rows]

    done = 0
    pool = None
    if workers > 1:
        import multiprocessing

        pool = multiprocessing.get_context("fork").Pool(workers)
        analysed = pool.imap(_analyse_batch, batches())
    else:
        analysed = map(_analyse_batch, batches())
    pending: list[IndexRow] = []

    def flush() -> None:
        nonlocal done
        with store.transaction() as tx:
            tx.executemany(f"INSERT INTO {FTS_TABLE} ({_COLUMNS}) VALUES ({_VALUES})", pending)
        done += len(pending)
        pending.clear()
        if on_progress:
            on_progress(done, total)

    try:
        for rows in analysed:
            pending += rows
            if len(pending) >= commit_every:
                flush()
        if pending:
            flush()
    finally:
        if pool is not None:
            pool.close()
            pool.join()
        if reader is not conn:
            reader.close()
    with store.transaction() as tx:
        _set_state(tx, analyzer.version)
        tx.execute(f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}) VALUES ('optimize')")
        # back to the settings of ingest's incremental writes (FTS5's automerge default)
        tx.execute(f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rank) VALUES ('automerge', 4)")
        tx.execute(f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rank) VALUES ('hashsize', {INGEST_HASHSIZE})")
    seconds = time.perf_counter() - started
    return {"articles": done, "seconds": round(seconds, 2), "rate": round(done / seconds, 1) if seconds else 0.0,
            "analyzer": analyzer.version}
