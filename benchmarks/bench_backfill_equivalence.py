"""Backfill through Dask against `marsad ingest` in one process, on the real corpus.

    python benchmarks/bench_backfill_equivalence.py [--articles N] [--shards 8] [--workers 2] [--postgres]

Cuts SaudiNewsNet (the first N records, default all) into shards, ingests them in one process
into SQLite (no enrichment: the duplicate and story stage runs), backfills the same shards on a
Dask LocalCluster into SQLite (and, with --postgres, into a throwaway PostgreSQL cluster), and
prints whether the articles and the duplicate groups are the same, with the times.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))


def shard(corpus: Path, folder: Path, limit: int | None, shards: int) -> list[str]:
    with gzip.open(corpus, "rt", encoding="utf-8") as fh:
        lines = [line for line in fh if line.strip()]
    lines = lines[:limit] if limit else lines
    size = -(-len(lines) // shards)
    out = []
    for i in range(shards):
        path = folder / f"snn-{i:03d}.jsonl.gz"
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.writelines(lines[i * size : (i + 1) * size])
        out.append(str(path))
    return out


def sqlite_groups(db: str) -> set[frozenset[str]]:
    from marsad.dedup import duplicate_groups
    from marsad.store.sqlite import SQLiteStore

    with SQLiteStore(db) as store:
        return duplicate_groups(store)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=None)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    data = Path(os.environ.get("MARSAD_SHARED_DATA") or REPO.parent / "shared" / "data")

    from marsad.backfill import backfill
    from marsad.pipeline import ingest
    from marsad.store.sqlite import SQLiteStore

    with tempfile.TemporaryDirectory(prefix="marsad-bfeq-") as tmp:
        folder = Path(tmp)
        paths = shard(data / "saudinewsnet.jsonl.gz", folder, args.articles, args.shards)
        one = str(folder / "one.db")
        started = time.perf_counter()
        with SQLiteStore(one) as store:
            ingest(store, paths, enrich=False)
            ids = [a.id for a in store.iter_articles()]
        ingest_s = time.perf_counter() - started
        expected = sqlite_groups(one)
        print(f"one-process ingest (SQLite, story stage on): {len(ids)} articles, {len(expected)} duplicate groups "
              f"({sum(len(g) - 1 for g in expected)} copies) in {ingest_s:.1f} s ({len(ids) / ingest_s:.0f} art/s)")

        db = str(folder / "backfill.db")
        started = time.perf_counter()
        report = backfill(paths, db, workers=args.workers, state_dir=str(folder / "state-sqlite"))
        took = time.perf_counter() - started
        with SQLiteStore(db) as store:
            same_order = [a.id for a in store.iter_articles()] == ids
        groups = {frozenset(g) for g in report.duplicate_groups}
        print(f"backfill -> SQLite, {args.workers} workers: {report.new} new in {took:.1f} s "
              f"({report.new / took:.0f} art/s); same articles in the same order: {same_order}; "
              f"same duplicate groups: {groups == expected} ({len(groups)}); "
              f"the client's story stage agrees: {sqlite_groups(db) == expected}; failed: {len(report.failed)}")
        if groups != expected:
            print(f"  only in ingest: {len(expected - groups)}, only in backfill: {len(groups - expected)}")

        if args.postgres:
            from pg import Cluster, find_bindir, fresh_database

            from marsad.store.postgres import PostgresStore

            cluster = Cluster(find_bindir())
            try:
                dsn = fresh_database(cluster.start())
                started = time.perf_counter()
                report = backfill(paths, dsn, workers=args.workers, state_dir=str(folder / "state-pg"))
                took = time.perf_counter() - started
                with PostgresStore(dsn) as store:
                    stored = sorted(a.id for a in store.iter_articles())
                groups = {frozenset(g) for g in report.duplicate_groups}
                print(f"backfill -> PostgreSQL, {args.workers} workers: {report.new} new in {took:.1f} s "
                      f"({report.new / took:.0f} art/s); same articles: {stored == sorted(ids)}; "
                      f"same duplicate groups: {groups == expected}; failed: {len(report.failed)}")
            finally:
                cluster.stop()


if __name__ == "__main__":
    main()
