"""`marsad backfill`: ingest large archives in parallel partitions on a Dask cluster.

    report = backfill(["archive/*.jsonl.gz"], "postgresql://marsad@db/marsad", workers=2)

In order:
1. discover inputs and cut them into partitions: one per file (sharded JSONL(.gz) and WARC
   files are already shards), folders of text pages in groups of `pages_per_partition`;
   each partition has a key from its files' paths, sizes and modification times;
2. skip partitions whose key is marked done in the state folder (a re-run resumes);
3. on the cluster (`scheduler=tcp://HOST:8786`, or a LocalCluster of `workers` processes):
   parse each partition (marsad.ingest.files.read_input), write it to Parquet, and on
   PostgreSQL store it from the worker (many writers are safe there); a failed partition
   is retried `retries` times; PostgreSQL loads go by COPY (`PostgresStore.copy_articles`);
4. on SQLite (one writer), the client stores each finished partition's articles as they arrive;
5. mark each stored partition done and report progress.

Not yet here (see docs/scaling.md): near-duplicate detection across partitions (LSH band
keys shuffled between workers), story assignment and enrichment run after the load.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import MarsadError
from .ingest.files import discover_inputs, read_input

PAGES_PER_PARTITION = 500
RETRIES = 2


@dataclass(frozen=True)
class Partition:
    """Files processed together by one task; `key` changes when any of them changes."""

    key: str
    paths: tuple[str, ...]


@dataclass
class PartitionResult:
    """What one partition produced."""

    key: str
    articles: list = field(default_factory=list)  # only when the client stores them (SQLite)
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    parquet: str | None = None


@dataclass
class BackfillReport:
    """What a backfill did."""

    partitions: int = 0
    skipped: int = 0  # already done by an earlier run
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def seen(self) -> int:
        """Articles read, whether stored anew or not."""
        return self.new + self.updated + self.unchanged


def partitions(inputs: list[str], *, pages_per_partition: int = PAGES_PER_PARTITION
               ) -> tuple[list[Partition], list[tuple[str, str]]]:
    """Cut the inputs into partitions (and list the inputs that were not found)."""
    paths, missing = discover_inputs(inputs)
    singles = [p for p in paths if p.suffix not in (".txt", ".html", ".htm")]
    pages = [p for p in paths if p not in set(singles)]
    groups = [[p] for p in singles] + [pages[i : i + pages_per_partition]
                                       for i in range(0, len(pages), pages_per_partition)]
    out = []
    for group in groups:
        digest = hashlib.sha1()
        for path in group:
            stat = path.stat()
            digest.update(f"{path.resolve()}\x00{stat.st_size}\x00{stat.st_mtime_ns}\n".encode())
        out.append(Partition(digest.hexdigest()[:20], tuple(str(p) for p in group)))
    return out, missing


def process_partition(partition: Partition, db: str | None, parquet_dir: str | None) -> PartitionResult:
    """Parse one partition; write it to Parquet; store it when *db* is given (a Dask task)."""
    from .export import article_to_record, write_parquet
    from .pipeline import store_articles

    result = PartitionResult(partition.key)
    articles = []
    for path in partition.paths:
        for item in read_input(Path(path)):
            if item.error:
                if not item.skipped:
                    result.failed.append((item.where, item.error))
                continue
            articles.extend(item.articles)
    if parquet_dir:
        target = Path(parquet_dir) / f"part-{partition.key}.parquet"
        partial = target.with_suffix(".parquet.partial")
        write_parquet((article_to_record(a) for a in articles), str(partial))
        os.replace(partial, target)  # a half-written file never looks finished
        result.parquet = str(target)
    if db:
        from .store import open_store

        with open_store(db) as store:
            known = {s.name for s in store.list_sources()}
            for start in range(0, len(articles), 5000):
                outcome = store_articles(store, articles[start : start + 5000], known_sources=known, bulk=True)
                result.new += len(outcome.new)
                result.updated += len(outcome.updated)
                result.unchanged += len(outcome.unchanged)
    else:
        result.articles = articles
    return result


def _state_dir(db: str, parquet_dir: str | None, state_dir: str | None) -> Path:
    if state_dir:
        return Path(state_dir)
    if parquet_dir:
        return Path(parquet_dir) / "_done"
    tag = hashlib.sha1(db.encode()).hexdigest()[:12]
    return Path(".marsad-backfill") / tag


def backfill(
    inputs: list[str],
    db: str,
    *,
    scheduler: str | None = None,
    workers: int = 2,
    parquet_dir: str | None = None,
    state_dir: str | None = None,
    pages_per_partition: int = PAGES_PER_PARTITION,
    retries: int = RETRIES,
    on_progress: Callable[[int, int], None] | None = None,
) -> BackfillReport:
    """Ingest *inputs* into the store *db* (a path or URL) in parallel partitions on Dask.

    :param scheduler: address of a running Dask scheduler; None starts a LocalCluster of *workers* processes.
    :param parquet_dir: also write each partition to ``part-KEY.parquet`` there.
    :param state_dir: where finished partitions are marked (default: PARQUET_DIR/_done, else .marsad-backfill/).
    :param on_progress: called as (partitions done, partitions to do).
    """
    import time

    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:
        raise MarsadError(f"marsad backfill needs Dask ({exc}); run: pip install 'marsad[dask]'") from exc

    from .pipeline import store_articles
    from .store import open_store, resolve_db

    started = time.perf_counter()
    db = resolve_db(db)
    shared_writer = db.startswith(("postgresql://", "postgres://"))
    report = BackfillReport()
    todo, missing = partitions(inputs, pages_per_partition=pages_per_partition)
    report.failed.extend(missing)
    report.partitions = len(todo)
    done_dir = _state_dir(db, parquet_dir, state_dir)
    done_dir.mkdir(parents=True, exist_ok=True)
    if parquet_dir:
        Path(parquet_dir).mkdir(parents=True, exist_ok=True)
    pending = [p for p in todo if not (done_dir / p.key).exists()]
    report.skipped = len(todo) - len(pending)
    if not pending:
        return report
    # The store is opened (and migrated) once here, before workers race to open it.
    with open_store(db) as store:
        known = {s.name for s in store.list_sources()}
        # silence_logs: a local cluster's shutdown races worker heartbeats and logs harmless errors
        cluster = None if scheduler else LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                      dashboard_address=None, silence_logs=logging.CRITICAL)
        try:
            with Client(scheduler or cluster) as client:
                futures = [client.submit(process_partition, p, db if shared_writer else None, parquet_dir,
                                         key=f"marsad-partition-{p.key}", retries=retries, pure=False)
                           for p in pending]
                by_key = {f.key: p for f, p in zip(futures, pending)}
                done = 0
                for future in as_completed(futures):
                    partition = by_key[future.key]
                    try:
                        result: PartitionResult = future.result()
                    except Exception as exc:  # noqa: BLE001 - a partition that failed all its retries
                        report.failed.append((",".join(partition.paths)[:200], f"{type(exc).__name__}: {exc}"))
                        continue
                    if not shared_writer:
                        for start in range(0, len(result.articles), 500):
                            outcome = store_articles(store, result.articles[start : start + 500], known_sources=known)
                            result.new += len(outcome.new)
                            result.updated += len(outcome.updated)
                            result.unchanged += len(outcome.unchanged)
                    report.new += result.new
                    report.updated += result.updated
                    report.unchanged += result.unchanged
                    report.failed.extend(result.failed)
                    (done_dir / partition.key).write_text(",".join(partition.paths) + "\n", encoding="utf-8")
                    done += 1
                    if on_progress:
                        on_progress(done, len(pending))
        finally:
            if cluster is not None:
                cluster.close()
    report.seconds = round(time.perf_counter() - started, 2)
    return report
