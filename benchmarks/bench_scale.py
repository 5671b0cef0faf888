"""Scale-out figures, all in one run: backfill throughput (one process vs a Dask cluster) and
PostgreSQL vs SQLite (bulk load rate, search p50/p99, concurrent-reader throughput), and
marsad's search terms against PostgreSQL's built-in 'arabic' text-search configuration.

The corpus is synthesised from SaudiNewsNet: records are cycled with a numbered URL and a
numbered title suffix so each copy is a distinct article, and every `--dup-every`th record is
a planted near-duplicate (an earlier article with one paragraph dropped and a new URL).

    python benchmarks/bench_scale.py --articles 1000000      # the issue's size (hours on 2 cores)
    python benchmarks/bench_scale.py --articles 50000        # a quick run

PostgreSQL is a throwaway cluster started here (tests/pg.py), unless --pg-dsn names one.
Prints one JSON object; `--out FILE` also writes it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
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


def tsconfig_comparison(store) -> dict:
    """marsad's analysed terms (simple, as stored) against PostgreSQL's built-in 'arabic' configuration."""
    with store.connection() as conn:
        started = time.perf_counter()
        conn.execute("ALTER TABLE articles ADD COLUMN IF NOT EXISTS tsv_arabic tsvector")
        conn.execute("UPDATE articles SET tsv_arabic = setweight(to_tsvector('arabic', title), 'A') "
                     "|| to_tsvector('arabic', text)")
        conn.execute("CREATE INDEX IF NOT EXISTS articles_tsv_arabic ON articles USING gin (tsv_arabic)")
        build_s = time.perf_counter() - started
        sizes = dict(conn.execute("SELECT relname, pg_relation_size(oid) FROM pg_class "
                                  "WHERE relname IN ('articles_search', 'articles_tsv_arabic')").fetchall())
        hits = {}
        for word in ("الامريكيه", "والداخلية", "قواته", "مكه", "السعوديه"):
            marsad = store._one("SELECT count(*) FROM articles WHERE search_tsv @@ %s::tsquery",
                                (_marsad_tsquery(word),))
            arabic = store._one("SELECT count(*) FROM articles WHERE tsv_arabic @@ plainto_tsquery('arabic', %s)",
                                (word,))
            hits[word] = {"marsad": marsad, "arabic": arabic}
        conn.execute("DROP INDEX articles_tsv_arabic")
        conn.execute("ALTER TABLE articles DROP COLUMN tsv_arabic")
    return {"arabic_build_s": round(build_s, 1), "index_bytes": sizes, "matches_by_spelling": hits}


def _marsad_tsquery(word: str) -> str:
    from marsad.search import parse_query
    from marsad.search.analyzer import default_analyzer
    from marsad.search.postgres import compile_tsquery

    return compile_tsquery(parse_query(word).expr, default_analyzer())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--dup-every", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--pg-dsn", default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    from marsad.backfill import backfill
    from marsad.pipeline import ingest
    from marsad.store.postgres import PostgresStore
    from marsad.store.sqlite import SQLiteStore

    cluster = None
    admin = args.pg_dsn
    if admin is None:
        from pg import Cluster, find_bindir

        cluster = Cluster(find_bindir())
        admin = cluster.start()
    from pg import fresh_database

    results: dict = {"articles": args.articles, "shards": args.shards, "cores": os.cpu_count()}
    try:
        with tempfile.TemporaryDirectory(prefix="marsad-bench-") as tmp:
            folder = Path(tmp)
            shards, seconds = timed(lambda: synthesise(Path(args.corpus), folder, args.articles, args.shards,
                                                       args.dup_every))
            inputs = [str(p) for p in shards]
            results["synthesise_s"] = round(seconds, 1)

            # 1. backfill: one process (marsad.ingest) vs Dask, into SQLite and into PostgreSQL
            with SQLiteStore(folder / "one.db") as store:
                report, seconds = timed(lambda: ingest(store, inputs, enrich=False))
            results["ingest_one_process_sqlite"] = {"seconds": round(seconds, 1),
                                                    "rate": round(report.seen / seconds, 1)}
            for name, db in (("sqlite", str(folder / "dask.db")), ("postgresql", fresh_database(admin))):
                report, seconds = timed(lambda: backfill(inputs, db, workers=args.workers,
                                                         state_dir=str(folder / f"state-{name}")))
                # The rate includes the story stage that ends a backfill (one process, in the client).
                results[f"backfill_dask_{args.workers}w_{name}"] = {"seconds": round(seconds, 1),
                                                                    "rate": round(report.seen / seconds, 1),
                                                                    "stories": report.stories}
            pg_dsn = db

            # 2. bulk load through the Store interface (articles read back from the SQLite copy)
            with SQLiteStore(folder / "one.db") as source:
                articles = list(source.iter_articles(batch_size=5000))
            with SQLiteStore(folder / "bulk.db") as lite:
                _, seconds = timed(lambda: lite.upsert_articles(articles))
            results["bulk_load_sqlite"] = {"rate": round(len(articles) / seconds, 1)}
            bulk_dsn = fresh_database(admin)
            with PostgresStore(bulk_dsn) as pg:
                _, seconds = timed(lambda: pg.upsert_articles(articles))
            results["bulk_load_postgresql"] = {"rate": round(len(articles) / seconds, 1)}
            with PostgresStore(fresh_database(admin)) as pg:
                _, seconds = timed(lambda: pg.copy_articles(articles))
            results["bulk_load_postgresql_copy"] = {"rate": round(len(articles) / seconds, 1)}

            # 3. search latency and concurrent readers, same corpus on both
            with SQLiteStore(folder / "one.db") as lite:
                results["search_sqlite"] = search_latency(lite, 5)
            with PostgresStore(pg_dsn) as pg:
                pg._rows("SELECT 1")
                with pg.connection() as conn:
                    conn.execute("VACUUM ANALYZE articles")
                results["search_postgresql"] = search_latency(pg, 5)
            results["readers_sqlite"] = concurrent_readers(lambda: SQLiteStore(folder / "one.db"), args.readers, 10)
            results["readers_postgresql"] = concurrent_readers(lambda: PostgresStore(pg_dsn, max_size=1),
                                                               args.readers, 10)
            with PostgresStore(pg_dsn) as pg:
                results["tsconfig"] = tsconfig_comparison(pg)
    finally:
        if cluster is not None:
            cluster.stop()
    text = json.dumps(results, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
