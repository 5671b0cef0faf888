"""Backfill through Dask against `marsad ingest` in one process, on the real corpus.

    python benchmarks/bench_backfill_equivalence.py [--articles N] [--shards 8] [--workers 2] [--postgres] [--entities]

Cuts SaudiNewsNet (the first N records, default all) into shards, ingests them in one process
into SQLite (no enrichment: the duplicate and story stage runs), backfills the same shards on a
Dask LocalCluster into SQLite and, with --postgres, ingests them in one process and backfills them
into a throwaway PostgreSQL cluster. For each run it prints the articles, the duplicate groups and
the stories, and whether the stage's tables (duplicates, stories, their members, merges, links and
the stage's mark, with article pks read as article ids) are the same as the one-process SQLite
ingest's, with the times. With --entities both enrich too (NER, entities, places, auto tags: slow, about
10 articles/s per core) and the enrichment tables (`marsad.migrate.enrichment_rows`: mentions, entities,
aliases, tag links, auto tags, by article id and entity key) are compared as well.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

VOLATILE = ("updated_at",)  # when a story row was last written: the wall clock of each run


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


def outcome(db: str, entities: bool = False) -> dict:
    """Article ids in pk order, the duplicate and story stage's tables by article id, and with *entities*
    the enrichment tables by article id and entity key."""
    from marsad.migrate import enrichment_rows, stage_rows
    from marsad.store import open_store

    with open_store(db) as store:
        return {"ids": [a.id for a in store.iter_articles()], "stage": stage_rows(store, skip=VOLATILE),
                "enrich": enrichment_rows(store) if entities else {}}


def describe(result: dict) -> str:
    stage = result["stage"]
    groups: dict[str, int] = {}
    for row in stage["dedup_articles"]:  # (article, group, ...)
        groups[row[1]] = groups.get(row[1], 0) + 1
    copies = [n for n in groups.values() if n > 1]
    live = sum(1 for row in stage["stories"] if row[-1] is None)  # merged_into, the last column kept
    several = sum(1 for row in stage["stories"] if row[-1] is None and row[6] > 1)  # article_count
    enrich = result["enrich"]
    entities = (f", {sum(enrich['mentions'].values())} mentions of {sum(enrich['entities'].values())} entities "
                f"in {sum(enrich['enrichments'].values())} enriched articles") if enrich else ""
    return (f"{len(result['ids'])} articles, {len(copies)} duplicate groups ({sum(copies) - len(copies)} copies), "
            f"{live} stories ({several} of two or more articles), {sum(stage['story_merges'].values())} merges"
            + entities)


def compare(name: str, result: dict, expected: dict, seconds: float) -> None:
    same_order = result["ids"] == expected["ids"]
    same_set = sorted(result["ids"]) == sorted(expected["ids"])
    differ = [t for t in expected["stage"] if result["stage"][t] != expected["stage"][t]]
    enrich_differ = [t for t in expected["enrich"] if result["enrich"][t] != expected["enrich"][t]]
    print(f"{name}: {describe(result)} in {seconds:.1f} s ({len(result['ids']) / seconds:.0f} art/s)")
    print(f"  same articles: {same_set} (in the same pk order: {same_order}); same duplicates and stories: "
          f"{not differ}" + (f" (differ: {', '.join(differ)})" if differ else ""))
    if expected["enrich"]:
        print(f"  same enrichment: {not enrich_differ}" +
              (f" (differ: {', '.join(enrich_differ)})" if enrich_differ else ""))
    for kind, table in [("stage", t) for t in differ] + [("enrich", t) for t in enrich_differ]:
        theirs, ours = result[kind][table], expected[kind][table]
        print(f"    {table}: {sum((theirs - ours).values())} rows only here, {sum((ours - theirs).values())} "
              "only in the one-process ingest")


def timed(run: Callable[[], object]) -> tuple[object, float]:
    started = time.perf_counter()
    value = run()
    return value, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=None)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--entities", action="store_true", help="enrich too, and compare the enrichment")
    args = parser.parse_args()
    data = Path(os.environ.get("MARSAD_SHARED_DATA") or REPO.parent / "shared" / "data")

    from marsad.backfill import backfill
    from marsad.pipeline import ingest
    from marsad.store import open_store

    def one_process(db: str) -> None:
        with open_store(db) as store:
            ingest(store, paths, enrich=args.entities)

    def backfilled(db: str, state: str) -> None:
        report = backfill(paths, db, workers=args.workers, state_dir=state, enrich=args.entities)
        if report.failed:
            print(f"  failed: {report.failed[:5]}")

    with tempfile.TemporaryDirectory(prefix="marsad-bfeq-") as tmp:
        folder = Path(tmp)
        paths = shard(data / "saudinewsnet.jsonl.gz", folder, args.articles, args.shards)
        one = str(folder / "one.db")
        _, took = timed(lambda: one_process(one))
        expected = outcome(one, args.entities)
        print(f"one-process ingest -> SQLite (story stage on{', entities' if args.entities else ''}): "
              f"{describe(expected)} in {took:.1f} s "
              f"({len(expected['ids']) / took:.0f} art/s)")

        db = str(folder / "backfill.db")
        _, took = timed(lambda: backfilled(db, str(folder / "state-sqlite")))
        compare(f"backfill -> SQLite, {args.workers} workers", outcome(db, args.entities), expected, took)

        if args.postgres:
            from pg import Cluster, find_bindir, fresh_database

            cluster = Cluster(find_bindir())
            try:
                admin = cluster.start()
                pg_one = fresh_database(admin)
                _, took = timed(lambda: one_process(pg_one))
                compare("one-process ingest -> PostgreSQL", outcome(pg_one, args.entities), expected, took)
                pg_db = fresh_database(admin)
                _, took = timed(lambda: backfilled(pg_db, str(folder / "state-pg")))
                compare(f"backfill -> PostgreSQL, {args.workers} workers", outcome(pg_db, args.entities), expected,
                        took)
            finally:
                cluster.stop()


if __name__ == "__main__":
    main()
