"""Scale-out figures, all in one run: backfill throughput (one process vs a Dask cluster) and
PostgreSQL vs SQLite (bulk load rate, search p50/p99, concurrent-reader throughput), and
marsad's search terms against PostgreSQL's built-in 'arabic' text-search configuration.

The corpus is synthesised from SaudiNewsNet: records are cycled with a numbered URL and a
numbered title suffix so each copy is a distinct article, and every `--dup-every`th record is
a planted near-duplicate (an earlier article with one paragraph dropped and a new URL).

    python benchmarks/bench_scale.py --articles 1000000      # the issue's size (hours on 2 cores)
    python benchmarks/bench_scale.py --articles 50000        # a quick run
    python benchmarks/bench_scale.py --articles 1000000 --parts backfill --out scale.json   # part by part:
    python benchmarks/bench_scale.py --articles 1000000 --parts bulk,search --out scale.json # figures merge

Parts: backfill (one process vs Dask, SQLite and PostgreSQL), bulk (bulk load rates), search
(p50/p99, concurrent readers, the `arabic` configuration). Each part loads what it needs
itself when no earlier part of the same run did.

PostgreSQL is a throwaway cluster started here (tests/pg.py), unless --pg-dsn names one.
Prints one JSON object; `--out FILE` also writes it.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "saudinewsnet.jsonl.gz"
QUERIES = ["السعودية", "وزارة الداخلية", '"ولي العهد"', "النفط OR الطاقة", "حرس الحدود -تدريب", "مكة", "اقتصا*",
           "الهلال النصر", "الأمم المتحدة", "سوريا source:aawsat", "التعليم from:2015-08-01", "أمطار جدة"]


def synthesise(corpus: Path, folder: Path, articles: int, shards: int, dup_every: int) -> list[Path]:
    """Write *articles* records as *shards* JSONL.gz files; returns their paths."""
    with gzip.open(corpus, "rt", encoding="utf-8") as fh:
        base = [json.loads(line) for line in fh if line.strip()]
    rng = random.Random(7)
    paths = [folder / f"shard-{n:04d}.jsonl.gz" for n in range(shards)]
    outs = [gzip.open(p, "wt", encoding="utf-8", compresslevel=1) for p in paths]
    try:
        for n in range(articles):
            record = dict(base[n % len(base)])
            cycle = n // len(base)
            if dup_every and n % dup_every == dup_every - 1 and n > len(base):
                earlier = dict(base[rng.randrange(len(base))])
                paragraphs = earlier["text"].split("\n")
                record = {**earlier, "text": "\n".join(paragraphs[:-1] or paragraphs)}
                cycle = f"dup{n}"
            if cycle:
                record["url"] = f"{record.get('url') or 'https://example.com/a'}?copy={cycle}"
                record["title"] = f"{record.get('title', '')} ({cycle})"
            record["id"] = f"syn-{n}"
            outs[n % shards].write(json.dumps(record, ensure_ascii=False) + "\n")
    finally:
        for out in outs:
            out.close()
    return paths


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def search_latency(store, rounds: int) -> dict:
    from marsad.search import search

    times = []
    for _ in range(rounds):
        for q in QUERIES:
            started = time.perf_counter()
            search(store, q, limit=10)
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"queries": len(times), "p50_ms": round(statistics.median(times), 2),
            "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 2)}


def concurrent_readers(open_one, threads: int, seconds: float) -> dict:
    """Queries per second with *threads* readers, each with its own store, for *seconds*."""
    from marsad.search import search

    counts = [0] * threads
    stop = time.perf_counter() + seconds

    def reader(i: int) -> None:
        with open_one() as store:
            n = 0
            while time.perf_counter() < stop:
                search(store, QUERIES[n % len(QUERIES)], limit=10, snippets=False)
                n += 1
            counts[i] = n

    workers = [threading.Thread(target=reader, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return {"threads": threads, "seconds": seconds, "qps": round(sum(counts) / seconds, 1)}


TSCONFIG_SAMPLE = 30_000  # articles: the 'arabic' column is built for these only (30 s here; 1M would take 20 min)


def tsconfig_comparison(store) -> dict:
    """marsad's analysed terms (simple, as stored) against PostgreSQL's built-in 'arabic' configuration,
    on the first TSCONFIG_SAMPLE articles (both indexes are compared on the same ones)."""
    with store.connection() as conn:
        started = time.perf_counter()
        conn.execute("ALTER TABLE articles ADD COLUMN IF NOT EXISTS tsv_arabic tsvector")
        conn.execute("UPDATE articles SET tsv_arabic = setweight(to_tsvector('arabic', title), 'A') "
                     "|| to_tsvector('arabic', text) WHERE pk <= %s", (TSCONFIG_SAMPLE,))
        conn.execute("CREATE INDEX IF NOT EXISTS articles_tsv_arabic ON articles USING gin (tsv_arabic)")
        build_s = time.perf_counter() - started
        # marsad's terms indexed over the same sample, for a like-for-like size.
        conn.execute("CREATE INDEX IF NOT EXISTS articles_search_sample ON articles USING gin (search_tsv) "
                     f"WHERE pk <= {TSCONFIG_SAMPLE}")
        sizes = dict(conn.execute("SELECT relname, pg_relation_size(oid) FROM pg_class "
                                  "WHERE relname IN ('articles_search_sample', 'articles_tsv_arabic')").fetchall())
        hits = {}
        for word in ("الامريكيه", "والداخلية", "قواته", "مكه", "السعوديه"):
            marsad = store._one("SELECT count(*) FROM articles WHERE search_tsv @@ %s::tsquery AND pk <= %s",
                                (_marsad_tsquery(word), TSCONFIG_SAMPLE))
            arabic = store._one("SELECT count(*) FROM articles WHERE tsv_arabic @@ plainto_tsquery('arabic', %s)",
                                (word,))
            hits[word] = {"marsad": marsad, "arabic": arabic}
        conn.execute("DROP INDEX articles_tsv_arabic")
        conn.execute("DROP INDEX articles_search_sample")
        conn.execute("ALTER TABLE articles DROP COLUMN tsv_arabic")
    return {"sample_articles": TSCONFIG_SAMPLE, "arabic_build_s": round(build_s, 1), "index_bytes": sizes,
            "matches_by_spelling": hits}


def _marsad_tsquery(word: str) -> str:
    from marsad.search import parse_query
    from marsad.search.analyzer import default_analyzer
    from marsad.search.postgres import compile_tsquery

    return compile_tsquery(parse_query(word).expr, default_analyzer())


PARTS = ("backfill", "bulk", "search")


def part_backfill(inputs: list[str], folder: Path, admin: str, workers: int,
                  stores: tuple[str, ...] = ("sqlite", "postgresql"), one_process: bool = True) -> dict:
    """One process (`marsad.ingest`) against a Dask cluster, into SQLite and into PostgreSQL (*stores*).

    With *one_process* False the one-process store an earlier run left in *folder* is kept and only
    summarised (an hour at 1,000,000 articles is not spent again to compare against it).
    """
    from pg import fresh_database

    from marsad.backfill import backfill
    from marsad.pipeline import ingest
    from marsad.store.sqlite import SQLiteStore

    results: dict = {}
    kept = not one_process and (folder / "one.db.done").exists()
    stale = ["dask.db", "dask.db-wal", "dask.db-shm"] + ([] if kept else ["one.db", "one.db-wal", "one.db-shm",
                                                                          "one.db.done"])
    for name in stale:
        (folder / name).unlink(missing_ok=True)  # a kept workdir: time fresh loads, not re-runs
    for name in ("sqlite", "postgresql"):
        shutil.rmtree(folder / f"state-{name}", ignore_errors=True)
    if kept:
        results["one_process_sqlite_kept"] = {"stored": _stored_summary(folder / "one.db")}
    else:
        with SQLiteStore(folder / "one.db") as store:
            report, seconds = timed(lambda: ingest(store, inputs, enrich=False))
        (folder / "one.db.done").write_text("")
        results["ingest_one_process_sqlite"] = {"seconds": round(seconds, 1),
                                                "rate": round(report.seen / seconds, 1),
                                                "stages_s": {k: round(v, 1) for k, v in report.seconds.items()},
                                                "stored": _stored_summary(folder / "one.db")}
    print(json.dumps(results, ensure_ascii=False), file=sys.stderr, flush=True)
    targets = {"sqlite": lambda: str(folder / "dask.db"), "postgresql": lambda: fresh_database(admin)}
    for name in stores:
        db = targets[name]()
        report, seconds = timed(lambda: backfill(inputs, db, workers=workers, state_dir=str(folder / f"state-{name}"),
                                                 enrich=False))
        # The rate includes the story stage that ends a backfill (one process, in the client).
        results[f"backfill_dask_{workers}w_{name}"] = {"seconds": round(seconds, 1),
                                                      "rate": round(report.seen / seconds, 1),
                                                      "stages_s": report.stage_seconds,
                                                      "stories": report.stories}
        if name == "sqlite":  # the same articles, copies and stories as the one process?
            results[f"backfill_dask_{workers}w_{name}"]["stored"] = _stored_summary(folder / "dask.db")
        print(json.dumps(results, ensure_ascii=False), file=sys.stderr, flush=True)
        if name == "postgresql":
            _pg_marker(folder, admin).write_text(db)  # the corpus on PostgreSQL, for the search part
    return results


def _stored_summary(path: Path) -> dict:
    """Counts and a checksum of what a SQLite store holds after a backfill part's run, to compare runs."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        digest = hashlib.sha1()
        for row in conn.execute("SELECT a.id, d.group_pk, s.story_pk FROM articles a "
                                "LEFT JOIN dedup_articles d ON d.article_pk = a.pk "
                                "LEFT JOIN story_articles s ON s.article_pk = a.pk ORDER BY a.pk"):
            digest.update(repr(tuple(row)).encode())
        one = conn.execute
        return {
            "articles": one("SELECT count(*) FROM articles").fetchone()[0],
            "copies": one("SELECT count(*) FROM dedup_articles WHERE article_pk != group_pk").fetchone()[0],
            "stories": one("SELECT count(*) FROM stories WHERE merged_into IS NULL").fetchone()[0],
            "merges": one("SELECT count(*) FROM story_merges").fetchone()[0],
            "sha1_articles_groups_stories": digest.hexdigest(),
        }
    finally:
        conn.close()


def _pg_marker(folder: Path, admin: str) -> Path:
    """Names the database holding the corpus on the PostgreSQL server *admin* (a throwaway server's differs each run)."""
    return folder / f"pg-{hashlib.sha1(admin.encode()).hexdigest()[:10]}.dsn"


def _parsed(inputs: list[str]):
    """The articles of the inputs, parsed, one at a time."""
    from marsad.ingest.files import read_input

    return (a for path in inputs for item in read_input(Path(path)) if not item.error for a in item.articles)


def part_bulk(inputs: list[str], folder: Path, admin: str) -> dict:
    """Bulk load of already parsed articles through the Store interface: SQLite, PostgreSQL, PostgreSQL COPY.

    Articles are parsed 5,000 at a time (not timed) and each chunk is loaded into the three stores
    in turn; only the loads are timed, so 1,000,000 parsed articles never sit in memory at once.
    """
    from itertools import islice

    from pg import fresh_database

    from marsad.store.postgres import PostgresStore
    from marsad.store.sqlite import SQLiteStore

    for stale in ("bulk.db", "bulk.db-wal", "bulk.db-shm"):
        (folder / stale).unlink(missing_ok=True)
    copy_dsn = fresh_database(admin)
    seconds = {"sqlite": 0.0, "postgresql": 0.0, "postgresql_copy": 0.0}
    loaded = 0
    with SQLiteStore(folder / "bulk.db") as lite, PostgresStore(fresh_database(admin)) as pg, \
            PostgresStore(copy_dsn) as copy:
        articles = _parsed(inputs)
        while chunk := list(islice(articles, 5000)):
            for name, load in (("sqlite", lite.upsert_articles), ("postgresql", pg.upsert_articles),
                               ("postgresql_copy", copy.copy_articles)):
                seconds[name] += timed(lambda: load(chunk))[1]
            loaded += len(chunk)
    if not _pg_marker(folder, admin).exists():
        _pg_marker(folder, admin).write_text(copy_dsn)
    return {"articles_loaded": loaded,
            **{f"bulk_load_{name}": {"rate": round(loaded / s, 1), "seconds": round(s, 1)} for name, s in seconds.items()}}


def part_search(inputs: list[str], folder: Path, admin: str, readers: int) -> dict:
    """Search p50/p99 and concurrent readers on the same corpus in both stores (loaded here if no
    earlier part of this run left them), and the `arabic` text-search configuration comparison."""
    from pg import fresh_database

    from marsad.pipeline import ingest
    from marsad.store.postgres import PostgresStore
    from marsad.store.sqlite import SQLiteStore

    results: dict = {}
    if not (folder / "one.db.done").exists():
        (folder / "one.db").unlink(missing_ok=True)
        with SQLiteStore(folder / "one.db") as lite:
            ingest(lite, inputs, enrich=False, stories=False)
        (folder / "one.db.done").write_text("")
    marker = _pg_marker(folder, admin)
    if marker.exists():
        pg_dsn = marker.read_text()
    else:
        pg_dsn = fresh_database(admin)
        with PostgresStore(pg_dsn) as pg:
            pg.copy_articles(_parsed(inputs))
        marker.write_text(pg_dsn)
    with SQLiteStore(folder / "one.db") as lite:
        results["search_sqlite"] = search_latency(lite, 5)
    with PostgresStore(pg_dsn) as pg:
        with pg.connection() as conn:
            conn.execute("VACUUM ANALYZE articles")
        results["search_postgresql"] = search_latency(pg, 5)
    results["readers_sqlite"] = concurrent_readers(lambda: SQLiteStore(folder / "one.db"), readers, 10)
    results["readers_postgresql"] = concurrent_readers(lambda: PostgresStore(pg_dsn, max_size=1), readers, 10)
    with PostgresStore(pg_dsn) as pg:
        results["tsconfig"] = tsconfig_comparison(pg)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--dup-every", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated parts to run, in this order: {', '.join(PARTS)} (default: all)")
    parser.add_argument("--backfill-stores", default="sqlite,postgresql",
                        help="the stores the backfill part's Dask runs write to (default: both; at 1,000,000 "
                             "articles each takes about an hour here)")
    parser.add_argument("--keep-one-process", action="store_true",
                        help="with --workdir: the backfill part reuses the one-process store of an earlier run "
                             "(its figures stay in --out) and times only the Dask runs")
    parser.add_argument("--pg-dsn", default=None, help="a running PostgreSQL (admin DSN) instead of a throwaway one")
    parser.add_argument("--workdir", default=None,
                        help="keep the synthesised shards and the loaded stores here (with --pg-dsn, the "
                             "PostgreSQL copies survive too), so later runs and parts reuse them")
    parser.add_argument("--out", default=None, help="write the figures here too; figures already in the file "
                        "from other parts of a run of the same size are kept")
    args = parser.parse_args()
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s): {', '.join(unknown)} (known: {', '.join(PARTS)})")

    cluster = None
    admin = args.pg_dsn
    if admin is None:
        from pg import Cluster, find_bindir

        cluster = Cluster(find_bindir())
        admin = cluster.start()

    results: dict = {"articles": args.articles, "shards": args.shards, "cores": os.cpu_count()}
    if args.out and Path(args.out).exists():  # a run made part by part (at 1,000,000 each part takes an hour or more)
        earlier = json.loads(Path(args.out).read_text(encoding="utf-8"))
        if (earlier.get("articles"), earlier.get("shards")) == (args.articles, args.shards):
            results = {**earlier, **results}
    try:
        with contextlib.ExitStack() as stack:
            if args.workdir:  # kept: shards and loaded stores are reused by later runs with the same size
                folder = Path(args.workdir) / f"{args.articles}-{args.shards}-{args.dup_every}"
                folder.mkdir(parents=True, exist_ok=True)
            else:
                folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="marsad-bench-")))
            inputs = sorted(str(p) for p in folder.glob("shard-*.jsonl.gz"))
            if not (folder / "shards.done").exists():
                shards, seconds = timed(lambda: synthesise(Path(args.corpus), folder, args.articles, args.shards,
                                                           args.dup_every))
                inputs = [str(p) for p in shards]
                results["synthesise_s"] = round(seconds, 1)
                (folder / "shards.done").write_text("")
            for part in [p for p in PARTS if p in parts]:
                started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
                if part == "backfill":
                    figures = part_backfill(inputs, folder, admin, args.workers,
                                            tuple(s.strip() for s in args.backfill_stores.split(",") if s.strip()),
                                            one_process=not args.keep_one_process)
                elif part == "bulk":
                    figures = part_bulk(inputs, folder, admin)
                else:
                    figures = part_search(inputs, folder, admin, args.readers)
                load = os.getloadavg()[0]
                results.update(figures)
                results.setdefault("parts", {})[part] = {"started_utc": started, "load_at_end": round(load, 2)}
                print(json.dumps({part: figures}, ensure_ascii=False), file=sys.stderr, flush=True)
    finally:
        if cluster is not None:
            cluster.stop()
    text = json.dumps(results, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
