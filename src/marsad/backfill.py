"""`marsad backfill`: ingest large archives in parallel partitions on a Dask cluster.

    report = backfill(["archive/*.jsonl.gz", "crawl/*.warc.gz"], "postgresql://marsad@db/marsad", workers=2)

In order:
1. discover inputs and cut them into partitions: one per file (sharded JSONL(.gz) and WARC
   files are already shards), folders of text pages in groups of `pages_per_partition`;
   each partition has a key from its files' paths, sizes and modification times;
2. skip storing partitions whose key is marked done in the state folder (a re-run resumes);
3. on the cluster (`scheduler=tcp://HOST:8786`, or a LocalCluster of `workers` processes), one
   task per partition (retried `retries` times when it fails): parse (marsad.ingest.files,
   WARC responses through warcio and the crawler's extractor) and write ``part-KEY.parquet``;
4. store: on PostgreSQL each partition is written by a worker task (COPY, many writers are
   safe there) under article pks the client reserved in input order; on SQLite (one writer) the
   client stores the partitions in input order; either way pks follow the input as in `marsad ingest`;
   a stored partition is let go on the workers unless enrichment reads it;
5. mark each stored partition done and report progress;
6. enrichment, tagging part: the stored articles that need it (`pending_enrichment`: new, changed, or
   left by an interrupted run) are tagged on the workers, one task per partition, each id once (NER and
   key phrases, the expensive part, which depends on the article alone); small records come back;
7. the duplicate and story stage (marsad.stories, sequential by nature: each article is compared with
   every earlier one, across all partitions and what the store held) runs once in the client over the
   new articles, in pk order and in the slices `marsad ingest` would have run it on, so the duplicate
   groups and stories stored are those of a one-process ingest; its per-article analysis (features:
   terms, shingles, fingerprints; MinHash LSH band keys), about half its cost, is computed on the
   workers a few partitions ahead (`FeatureFeed`); the groups it stored are the report's and, with `parquet_dir`,
   ``duplicates.parquet``'s;
8. enrichment, linking part: in the client, in ingest's batches and order, each batch linked against
   the aliases earlier batches stored, then saved at once (`marsad.enrich.save_tagged`), so the
   mentions, entities and tags stored are those of a one-process ingest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .errors import MarsadError
from .ingest.files import InputItem, discover_inputs, read_input

PAGES_PER_PARTITION = 500
RETRIES = 2
TAG_CHUNK = 200  # articles tagged together on a worker (`marsad.enrich.tag_articles`)
FEATURES_AHEAD = 2  # partitions' features computed on the workers ahead of the story stage, per worker
WARC_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")
FAIL_ONCE_ENV = "MARSAD_BACKFILL_FAIL_ONCE"  # tests: a folder; each partition fails once (retries are tested)

log = logging.getLogger("marsad.backfill")


@dataclass(frozen=True)
class Partition:
    """Files processed together by one task; `key` changes when any of them changes.

    `records` = (first, end) limits a partition to those records (0-based; end None: to the end) of its
    one JSONL file.
    """

    key: str
    paths: tuple[str, ...]
    records: tuple[int, int | None] | None = None


@dataclass
class PartitionResult:
    """What one partition produced."""

    key: str
    articles: list = field(default_factory=list)
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    parquet: str | None = None
    items: list[int] = field(default_factory=list)  # articles per input item read (what `marsad ingest` batches)
    new_ids: list[str] = field(default_factory=list)  # ids stored anew by this partition


@dataclass
class BackfillReport:
    """What a backfill did."""

    partitions: int = 0
    skipped: int = 0  # already done by an earlier run
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    duplicate_groups: list[list[str]] = field(default_factory=list)  # article ids, first stored first
    story_articles: int = 0  # articles the duplicate and story stage processed
    features_from_workers: int = 0  # of those, how many had their features computed on the workers
    stories: int = 0  # stories it added (started, less those merged into another)
    enriched: int = 0  # articles whose entities, places and tags were found and saved
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)  # parse_store, stories, enrich_link

    @property
    def seen(self) -> int:
        """Articles read, whether stored anew or not."""
        return self.new + self.updated + self.unchanged

    @property
    def duplicates(self) -> int:
        """Articles that copy an earlier one."""
        return sum(len(g) - 1 for g in self.duplicate_groups)


# -- partitions and reading -----------------------------------------------------------------------


def _is_warc(path: str | Path) -> bool:
    return str(path).lower().endswith(WARC_SUFFIXES)


def _split_warc(inputs: list[str]) -> tuple[list[str], list[Path]]:
    """WARC files named, globbed or inside folders (discover_inputs knows only pages and JSONL)."""
    import glob

    rest, warcs = [], []
    for spec in inputs:
        path = Path(spec)
        if path.is_file() and _is_warc(path):
            warcs.append(path)
        elif path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and _is_warc(p))
            warcs += found
            if not found or any(p.is_file() and not _is_warc(p) for p in path.rglob("*")):
                rest.append(spec)
        elif not path.exists() and any(_is_warc(p) for p in glob.glob(spec, recursive=True)):
            matches = sorted(Path(p) for p in glob.glob(spec, recursive=True) if Path(p).is_file())
            warcs += [p for p in matches if _is_warc(p)]
            if any(not _is_warc(p) for p in matches):
                rest.append(spec)
        else:
            rest.append(spec)
    return rest, list(dict.fromkeys(warcs))


def _count_records(path: Path) -> int:
    """Non-empty lines of a JSONL(.gz) file (what read_input yields one item each for)."""
    import gzip

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            return sum(1 for line in fh if line.strip())
    except (OSError, EOFError):
        return 0  # unreadable: one partition reports why


def partitions(inputs: list[str], *, pages_per_partition: int = PAGES_PER_PARTITION,
               records_per_partition: int | None = None) -> tuple[list[Partition], list[tuple[str, str]]]:
    """Cut the inputs into partitions, in input order (and list the inputs that were not found).

    With *records_per_partition*, a JSONL file holding more records is cut into several partitions
    (each reads the file and keeps its range), so one large dump still spreads over the workers.
    """
    rest, warcs = _split_warc(inputs)
    paths, missing = discover_inputs(rest) if rest else ([], [])
    singles = [p for p in paths if p.suffix not in (".txt", ".html", ".htm")]
    pages = [p for p in paths if p not in set(singles)]
    groups = [[p] for p in singles] + [pages[i : i + pages_per_partition]
                                       for i in range(0, len(pages), pages_per_partition)] + [[w] for w in warcs]
    out = []
    for group in groups:
        digest = hashlib.sha1()
        for path in group:
            stat = path.stat()
            digest.update(f"{path.resolve()}\x00{stat.st_size}\x00{stat.st_mtime_ns}\n".encode())
        key = digest.hexdigest()[:20]
        if records_per_partition and len(group) == 1 and not _is_warc(group[0]) and \
                group[0].suffix not in (".txt", ".html", ".htm"):
            total = _count_records(group[0])
            if total > records_per_partition:
                for first in range(0, total, records_per_partition):
                    end = first + records_per_partition
                    end = end if end < total else None  # the last one reads to the end
                    tag = hashlib.sha1(f"{key}:{first}:{end}".encode()).hexdigest()[:20]
                    out.append(Partition(tag, (str(group[0]),), (first, end)))
                continue
        out.append(Partition(key, tuple(str(p) for p in group)))
    return out, missing


def read_warc(path: str | Path) -> Iterator[InputItem]:
    """Articles from a WARC file's HTML responses (warcio), extracted as the crawler extracts pages."""
    from warcio.archiveiterator import ArchiveIterator

    from .errors import ParseError
    from .ingest.crawl import article_from_page
    from .ingest.extract import extract_page
    from .ingest.feeds import FeedEntry
    from .ingest.fetch import decode_body

    with open(path, "rb") as fh:
        for number, record in enumerate(ArchiveIterator(fh, arc2warc=True)):
            if record.rec_type != "response" or record.http_headers is None:
                continue
            url = record.rec_headers.get_header("WARC-Target-URI") or ""
            where = f"{path}#{number}:{url}"
            status = record.http_headers.get_statuscode()
            content_type = record.http_headers.get_header("Content-Type") or ""
            if status != "200" or ("html" not in content_type.lower() and content_type):
                continue
            body = record.content_stream().read()
            when = record.rec_headers.get_header("WARC-Date")
            try:
                fetched = datetime.fromisoformat(when.replace("Z", "+00:00")) if when else None
            except ValueError:
                fetched = None
            try:
                text, _ = decode_body(body, content_type, subject=url)
                page = extract_page(text, url)
                article = article_from_page(page, FeedEntry(url=url), source=None, feed_url=None, final_url=url,
                                            fetched_at=fetched)
                article.origin = str(path)
            except (ParseError, MarsadError) as exc:
                yield InputItem(where, error=exc.message, skipped=True)
                continue
            yield InputItem(where, articles=[article])


def _items(path: str) -> Iterator[InputItem]:
    return read_warc(path) if _is_warc(path) else read_input(Path(path))


def _fail_once(partition: Partition) -> None:
    folder = os.environ.get(FAIL_ONCE_ENV)
    if folder:
        marker = Path(folder) / partition.key
        if not marker.exists():
            marker.write_text("failed once\n")
            raise RuntimeError(f"injected failure of partition {partition.key} (first attempt)")


def _read_partition(partition: Partition) -> PartitionResult:
    """A partition's articles, parsed, and what failed to parse."""
    result = PartitionResult(partition.key)
    for path in partition.paths:
        items = _items(path)
        if partition.records is not None:
            from itertools import islice

            items = islice(items, *partition.records)
        for item in items:
            if item.error:
                if not item.skipped:
                    result.failed.append((item.where, item.error))
                continue
            result.articles.extend(item.articles)
            result.items.append(len(item.articles))
    return result


def process_partition(partition: Partition, db: str | None, parquet_dir: str | None, *,
                      write_parquet_file: bool = True) -> PartitionResult:
    """Parse one partition and write it to Parquet (a Dask task).

    With *db* the articles are stored from here too (PostgreSQL, where workers write at once).
    """
    from .export import article_to_record, write_parquet

    _fail_once(partition)
    result = _read_partition(partition)
    if parquet_dir and write_parquet_file:
        target = Path(parquet_dir) / f"part-{partition.key}.parquet"
        partial = target.with_suffix(".parquet.partial")
        write_parquet((article_to_record(a) for a in result.articles), str(partial))
        os.replace(partial, target)  # a half-written file never looks finished
        result.parquet = str(target)
    if db:
        store_partition(result, db)
    return result


class _PinnedStore:
    """A PostgresStore whose bulk load gives each new article the pk the client reserved for it."""

    runs_story_stage = False  # the backfill runs the stage once, at the end

    def __init__(self, store, pks: dict[str, int]):
        self._store = store
        self._pks = pks

    def copy_articles(self, articles):
        """`PostgresStore.copy_articles` under the reserved pks."""
        return self._store.copy_articles(articles, pks=self._pks)

    def __getattr__(self, name: str):
        return getattr(self._store, name)


def store_partition(result: PartitionResult, db: str, pks: dict[str, int] | None = None) -> PartitionResult:
    """Store a parsed partition's articles (bulk: COPY on PostgreSQL); counts go into *result*.

    The story stage does not run here (`run_story_stage` runs it once, over every partition).
    :param pks: PostgreSQL: article id -> reserved pk (`PostgresStore.reserve_pks`), so that pk order is
        input order although partitions are stored at once.
    """
    from .pipeline import store_articles
    from .store import open_store

    with open_store(db) as opened:
        opened.runs_story_stage = False
        store = _PinnedStore(opened, pks) if pks is not None else opened
        known = {s.name for s in store.list_sources()}
        for start in range(0, len(result.articles), 5000):
            outcome = store_articles(store, result.articles[start : start + 5000], known_sources=known, bulk=True)
            _count(result, outcome)
    return result


def _count(result: PartitionResult, outcome) -> None:
    result.new += len(outcome.new)
    result.new_ids += outcome.new
    result.updated += len(outcome.updated)
    result.unchanged += len(outcome.unchanged)


def _store_task(result: PartitionResult, db: str, pks: dict[str, int]) -> tuple[list[str], int, int, list]:
    done = store_partition(result, db, pks)
    return done.new_ids, done.updated, done.unchanged, done.failed


def _summary(result: PartitionResult) -> tuple[list[str], list[int]]:
    """A parsed partition's article ids and articles per item, for the client (the articles stay on the worker)."""
    return [a.id for a in result.articles], result.items


# -- the story stage --------------------------------------------------------------------------------


def ingest_batch_ids(summaries: list[tuple[list[str], list[int]]], batch_size: int | None = None
                     ) -> list[list[str]]:
    """The article ids of each batch `marsad ingest` over the same inputs would store, in input order
    (an id repeated in the input is listed at each place).

    *summaries*: (article ids, articles per item) of each partition, in input order. Ingest batches
    items (never splitting one) until a batch holds *batch_size* (`marsad.pipeline.BATCH_SIZE`) articles.
    """
    from .pipeline import BATCH_SIZE

    limit = batch_size or BATCH_SIZE
    batches: list[list[str]] = []
    batch: list[str] = []
    for ids, items in summaries:
        position = 0
        for n in items:
            batch += ids[position : position + n]
            position += n
            if len(batch) >= limit:
                batches.append(batch)
                batch = []
    if batch:
        batches.append(batch)
    return batches


def ingest_batches(summaries: list[tuple[list[str], list[int]]], new_ids: set[str],
                   batch_size: int | None = None) -> list[int]:
    """How many articles each batch of `marsad ingest` over the same inputs would store anew.

    *summaries*: as for `ingest_batch_ids`; *new_ids*: the ids this run stored anew. Ingest runs the
    story stage after each batch on the batch's new articles, and the stage evicts stories at the end
    of each run, so it is run on the same slices here.
    """
    counts: list[int] = []
    counted: set[str] = set()
    for batch in ingest_batch_ids(summaries, batch_size):
        fresh = 0
        for article_id in batch:
            if article_id in new_ids and article_id not in counted:  # new at its first appearance only
                counted.add(article_id)
                fresh += 1
        counts.append(fresh)
    return counts


def run_story_stage(store, batches: list[int], features=None) -> tuple[int, int]:
    """Run the duplicate and story stage on the stored articles it has not seen, in pk order, in slices
    of *batches* articles (`ingest_batches`), then on anything left; returns (articles, stories added).

    *features*: where the stage gets articles' features before computing them itself (`FeatureFeed`)."""
    from .stories import update

    articles = stories = 0
    for limit in [n for n in batches if n] + [None]:
        done = update(store, limit=limit, features=features)
        articles += done.articles
        stories += done.new_stories - done.merges
    return articles, stories


def partition_features(source: PartitionResult | Partition, positions: list[int]) -> list[tuple[str, str, object]]:
    """(article id, content hash, features) of the articles at *positions* of a partition (a Dask task):
    the story stage's analysis of each article (`marsad.dedup.features`), its largest cost, and the
    article's duplicate keys (MinHash LSH band keys and fingerprints), done on a worker. *source* is
    the parsed partition while the workers hold it, else the partition, read again."""
    from .dedup.engine import DedupEngine
    from .stories.indexer import stored_features

    parsed = _read_partition(source) if isinstance(source, Partition) else source
    chosen = [parsed.articles[p] for p in positions]
    computed = stored_features([a.title for a in chosen], [a.text for a in chosen])
    DedupEngine().attach_keys(computed)  # MinHash signatures and LSH band keys, fingerprints
    return [(a.id, a.content_hash, f) for a, f in zip(chosen, computed)]


class FeatureFeed:
    """The story stage's source of features (`marsad.stories.indexer.update(features=...)`): features
    computed by `partition_features` on the workers, a few partitions ahead of the stage.

    The stage reads articles in pk order, which is input order for the articles a backfill stores anew,
    so it needs the partitions one after another: a partition's features are fetched when the stage
    reaches its first article, the next *ahead* are submitted, and earlier ones are dropped. An article
    whose features are not here, or were computed from other content (an id whose later copy in the
    input replaced its text), gets None, and the stage computes it itself.
    """

    def __init__(self, client, jobs: list[tuple[object, list[int], list[str]]], *, ahead: int = 2,
                 retries: int = RETRIES):
        self._client = client
        self._jobs = jobs  # in input order: (parsed partition's future or the Partition, positions, ids)
        self._job_of = {x: k for k, (_, _, ids) in enumerate(jobs) for x in ids}
        self._futures: dict[int, object] = {}
        self._ready: dict[str, tuple[str, object]] = {}  # id -> (content hash, features)
        self._current = -1
        self._ahead = ahead
        self._retries = retries
        self.failed: list[str] = []  # why a partition's features were computed in the client instead
        self.served = 0  # articles whose features came from the workers

    def __call__(self, rows: list) -> list:
        out = []
        for row in rows:
            k = self._job_of.get(row[1])
            if k is not None and k > self._current:
                self._advance(k)
            got = self._ready.get(row[1])
            out.append(got[1] if got is not None and got[0] == row[8] else None)
        self.served += sum(f is not None for f in out)
        return out

    def _submit(self, k: int) -> None:
        if k < len(self._jobs) and k not in self._futures:
            source, positions, _ = self._jobs[k]
            # priority: ahead of enrichment's tagging tasks, which the stage does not wait for
            self._futures[k] = self._client.submit(partition_features, source, positions, pure=False,
                                                   retries=self._retries, priority=10)

    def _advance(self, k: int) -> None:
        for done in [j for j in self._futures if j < k]:
            self._futures.pop(done).release()
        self._ready.clear()
        for j in range(k, k + 1 + self._ahead):
            self._submit(j)
        try:
            self._ready = {x: (h, f) for x, h, f in self._futures.pop(k).result()}
        except Exception as exc:  # noqa: BLE001 - the stage computes them itself
            self.failed.append(f"{type(exc).__name__}: {exc}")
        self._current = k

    def close(self) -> None:
        """Release what was submitted and not used."""
        for future in self._futures.values():
            future.release()
        self._futures.clear()
        self._ready.clear()


def feature_jobs(sources: dict[int, object], summaries: dict[int, tuple[list[str], list[int]]],
                 new_ids: set[str]) -> list[tuple[object, list[int], list[str]]]:
    """What `FeatureFeed` computes: for each partition in input order, the positions and ids of the
    articles it stored anew, each at its first appearance (the text the store keeps at that pk)."""
    jobs, seen = [], set()
    for i in sorted(summaries):
        positions, ids = [], []
        for position, article_id in enumerate(summaries[i][0]):
            if article_id in new_ids and article_id not in seen:
                seen.add(article_id)
                positions.append(position)
                ids.append(article_id)
        if ids and i in sources:
            jobs.append((sources[i], positions, ids))
    return jobs


# -- enrichment: tagging on the workers, linking in the client ---------------------------------------


def enrichment_plan(summaries: list[tuple[list[str], list[int]]], pending: set[str],
                    batch_size: int | None = None) -> tuple[dict[int, list[int]], list[list[str]]]:
    """Where to tag the *pending* articles (ids needing enrichment), and the slices to link them in.

    Returns (index of a partition in *summaries* -> positions of the articles to tag there: each pending
    id at its first appearance only, so each is tagged once) and the ids to link and save, slice after
    slice: those of each `ingest_batch_ids` batch, in input order, each id in the batch of its first
    appearance (where ingest stores it anew or changed, and enriches it). A repeat inside that batch
    stays in the slice, as ingest enriches every copy in the batch.
    """
    where: dict[int, list[int]] = {}
    seen: set[str] = set()
    for index, (ids, _items) in enumerate(summaries):
        for position, article_id in enumerate(ids):
            if article_id in pending and article_id not in seen:
                seen.add(article_id)
                where.setdefault(index, []).append(position)
    first_batch: dict[str, int] = {}
    slices = [[x for x in batch if x in pending and first_batch.setdefault(x, b) == b]
              for b, batch in enumerate(ingest_batch_ids(summaries, batch_size))]
    return where, slices


def tag_partition(result: PartitionResult, positions: list[int]) -> list:
    """Tag the articles at *positions* of a parsed partition (a Dask task): NER and key phrases, the
    expensive part of enrichment, which depends on the article alone. Only the small
    `marsad.enrich.TaggedArticle` records go back to the client, not the texts."""
    from .enrich import tag_articles

    out: list = []
    for start in range(0, len(positions), TAG_CHUNK):  # sentences of a chunk go through the network together
        out += tag_articles([result.articles[p] for p in positions[start : start + TAG_CHUNK]])
    return out


def save_enrichment_slices(store, slices: list[list[str]], tagged: dict) -> int:
    """Link the tagged articles and save them, one `save_tagged` per slice (`enrichment_plan`), in order;
    returns how many were saved. Linking reads the aliases stored by earlier slices, so this runs in
    the client in ingest's batches and order, which gives the entities a one-process ingest stores.
    Ids missing from *tagged* (their tagging failed) are left for a re-run or `marsad enrich`."""
    from .enrich import save_tagged

    saved = 0
    for ids in slices:
        batch = [tagged[x] for x in ids if x in tagged]
        if batch:
            saved += save_tagged(store, batch)
    return saved


def _write_groups_parquet(path: Path, rows: list[tuple[str, str, str | None, str | None, float]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = list(zip(*rows)) if rows else [[], [], [], [], []]
    table = pa.table({"id": pa.array(columns[0], pa.string()), "group_id": pa.array(columns[1], pa.string()),
                      "match_id": pa.array(columns[2], pa.string()), "kind": pa.array(columns[3], pa.string()),
                      "score": pa.array(columns[4], pa.float64())})
    partial = path.with_suffix(".parquet.partial")
    pq.write_table(table, partial)
    os.replace(partial, path)


# -- the run ----------------------------------------------------------------------------------------


def _worker_count(client, default: int) -> int:
    """Workers the cluster has now (a given scheduler's cluster may differ from *default*)."""
    try:
        return max(1, len(client.scheduler_info().get("workers", {})))
    except Exception:  # noqa: BLE001 - an old or unreachable scheduler: assume what was asked for
        return max(1, default)


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
    records_per_partition: int | None = None,
    retries: int = RETRIES,
    enrich: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
) -> BackfillReport:
    """Ingest *inputs* into the store *db* (a path or URL) in parallel partitions on Dask, with
    near-duplicate detection across partitions.

    :param scheduler: address of a running Dask scheduler; None starts a LocalCluster of *workers* processes.
    :param parquet_dir: also write each partition to ``part-KEY.parquet`` there, and the groups to
        ``duplicates.parquet``.
    :param state_dir: where finished partitions are marked (default: PARQUET_DIR/_done, else .marsad-backfill/).
    :param records_per_partition: cut JSONL files holding more records into partitions of this many.
    :param enrich: find entity mentions, entities, places and auto tags (tagging on the workers, linking
        in the client), as `marsad ingest` does; False leaves them to `marsad enrich`.
    :param on_progress: called as (partitions stored, partitions to store).
    """
    import time

    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise MarsadError(f"marsad backfill needs Dask ({exc}); run: pip install 'marsad[dask]'") from exc

    from .dedup.api import stored_groups
    from .enrich import model_version
    from .pipeline import BATCH_SIZE, store_articles
    from .store import open_store, resolve_db

    started = time.perf_counter()
    db = resolve_db(db)
    shared_writer = db.startswith(("postgresql://", "postgres://"))
    report = BackfillReport()
    todo, missing = partitions(inputs, pages_per_partition=pages_per_partition,
                               records_per_partition=records_per_partition)
    report.failed.extend(missing)
    report.partitions = len(todo)
    done_dir = _state_dir(db, parquet_dir, state_dir)
    done_dir.mkdir(parents=True, exist_ok=True)
    if parquet_dir:
        Path(parquet_dir).mkdir(parents=True, exist_ok=True)
    pending = {p.key for p in todo if not (done_dir / p.key).exists()}
    report.skipped = len(todo) - len(pending)
    # Duplicates are decided over every partition, so the groups are marked done for the whole set, and so
    # is enrichment (its mark names the model, as a new one redoes it). Each mark is written once its stage
    # ends without failures: a re-run redoes only what is not marked (all partitions are parsed again for it).
    digest = hashlib.sha1("".join(p.key for p in todo).encode()).hexdigest()[:20]
    groups_mark, enrich_mark = done_dir / f"groups-{digest}", done_dir / f"enriched-{digest}"
    groups_done = not pending and groups_mark.exists()
    if groups_done:
        report.duplicate_groups = json.loads(groups_mark.read_text(encoding="utf-8"))
        enriched = enrich_mark.exists() and enrich_mark.read_text(encoding="utf-8").strip() == model_version()
        if enriched or not enrich:
            return report
    if not todo:
        return report
    # The store is opened (and migrated) once here, before workers race to open it.
    with open_store(db) as store:
        store.runs_story_stage = False  # run once at the end, not per stored batch
        known = {s.name for s in store.list_sources()}
        summaries: dict[int, tuple[list[str], list[int]]] = {}  # partition -> (article ids, articles per item)
        new_ids: set[str] = set()
        tagging: dict[int, object] = {}  # partition -> its tagging task
        slices: list[list[str]] = []  # the ids to link and save, in ingest's batches (`enrichment_plan`)
        tagged: dict = {}  # article id -> TaggedArticle
        tag_failed: list[tuple[str, str]] = []
        # silence_logs: a local cluster's shutdown races worker heartbeats and logs harmless errors
        cluster = None if scheduler else LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                      dashboard_address=None, silence_logs=logging.CRITICAL)
        try:
            with Client(scheduler or cluster) as client:
                parsed = [client.submit(process_partition, p, None, parquet_dir,
                                        write_parquet_file=p.key in pending,
                                        key=f"marsad-parse-{p.key}-{i}", retries=retries, pure=False)
                          for i, p in enumerate(todo)]
                pk_of: dict[str, int] = {}  # PostgreSQL: each id's pk, reserved at its first appearance
                stored: dict[int, object] = {}  # partition -> its store task (PostgreSQL) or outcome (SQLite)
                failed: set[int] = set()
                for i, partition in enumerate(todo):  # in input order, so pks follow one-process ingest's
                    where = ",".join(partition.paths)[:200]
                    try:
                        if shared_writer:
                            article_ids, items = client.submit(_summary, parsed[i], pure=False).result()
                        else:
                            result: PartitionResult = parsed[i].result()
                            article_ids, items = _summary(result)
                        summaries[i] = (article_ids, items)
                        if partition.key not in pending:
                            if not enrich:
                                parsed[i] = None
                            continue
                        if shared_writer:  # each worker writes its own partitions, under pks reserved here
                            fresh = [x for x in dict.fromkeys(article_ids) if x not in pk_of]
                            if fresh:
                                first = store.reserve_pks(len(fresh))
                                pk_of.update(zip(fresh, range(first, first + len(fresh))))
                            stored[i] = client.submit(_store_task, parsed[i], db, {x: pk_of[x] for x in article_ids},
                                                      key=f"marsad-store-{partition.key}-{i}", retries=retries,
                                                      pure=False)
                        else:
                            report.failed.extend(result.failed)
                            for start in range(0, len(result.articles), BATCH_SIZE):  # ingest's batches
                                _count(result, store_articles(store, result.articles[start : start + BATCH_SIZE],
                                                              known_sources=known))
                            stored[i] = (result.new_ids, result.updated, result.unchanged, [])
                            del result
                            if not enrich:  # nothing on the workers reads it again: free their memory
                                parsed[i] = None
                    except Exception as exc:  # noqa: BLE001 - a partition that failed all its retries
                        report.failed.append((where, f"{type(exc).__name__}: {exc}"))
                        failed.add(i)
                done = 0
                for i, partition in enumerate(todo):
                    if i not in stored:
                        continue
                    try:
                        outcome = stored[i].result() if shared_writer else stored[i]
                    except Exception as exc:  # noqa: BLE001
                        report.failed.append((",".join(partition.paths)[:200], f"{type(exc).__name__}: {exc}"))
                        failed.add(i)
                        continue
                    fresh_ids, updated, unchanged, problems = outcome
                    if not enrich:
                        parsed[i] = None
                    new_ids.update(fresh_ids)
                    report.new += len(fresh_ids)
                    report.updated += updated
                    report.unchanged += unchanged
                    report.failed.extend(problems)
                    (done_dir / partition.key).write_text(",".join(partition.paths) + "\n", encoding="utf-8")
                    done += 1
                    if on_progress:
                        on_progress(done, len(pending))
                ok = [i for i in range(len(todo)) if i not in failed]
                report.stage_seconds["parse_store"] = round(time.perf_counter() - started, 2)

                if enrich:
                    # What needs enrichment is known once everything is stored: this run's new and changed
                    # articles, and those an interrupted run left. Tagging goes out before the story stage,
                    # so the workers start on the expensive part; linking waits for the client (below).
                    to_tag, slices = enrichment_plan(list(summaries.values()),
                                                     set(store.pending_enrichment(model_version())))
                    order = list(summaries)  # enrichment_plan numbers the summaries; these are their partitions
                    for k, positions in to_tag.items():
                        i = order[k]
                        tagging[i] = client.submit(tag_partition, parsed[i], positions, retries=retries,
                                                   key=f"marsad-tag-{todo[i].key}-{i}", pure=False)
                # The duplicate and story stage, in the client, in pk order (`run_story_stage`); the
                # analysis of each article, its largest cost, is done by the workers a few partitions ahead.
                sources = {i: parsed[i] if parsed[i] is not None else todo[i] for i in ok}
                feed = FeatureFeed(client, feature_jobs(sources, summaries, new_ids),
                                   ahead=FEATURES_AHEAD * _worker_count(client, workers), retries=retries)
                mark = time.perf_counter()
                try:
                    report.story_articles, report.stories = run_story_stage(
                        store, ingest_batches(list(summaries.values()), new_ids), features=feed)
                finally:
                    feed.close()
                report.features_from_workers = feed.served
                report.stage_seconds["stories"] = round(time.perf_counter() - mark, 2)
                if feed.failed:
                    log.warning("features computed in the client for %d partition(s): %s", len(feed.failed),
                                feed.failed[0])
                for i, future in tagging.items():  # before the cluster closes: the articles are on the workers
                    try:
                        tagged.update((t.article_id, t) for t in future.result())
                    except Exception as exc:  # noqa: BLE001 - its articles stay pending for a re-run
                        tag_failed.append((",".join(todo[i].paths)[:200], f"tagging: {type(exc).__name__}: {exc}"))
        finally:
            if cluster is not None:
                cluster.close()
        stored_ok = not [f for f in report.failed if f not in missing]
        if not groups_done:
            # The groups are those the stage stored (copies found across partitions and against what
            # the store already held), for this run's articles.
            every_id = {x for ids, _ in summaries.values() for x in ids}
            report.duplicate_groups, rows = stored_groups(store, every_id)
            if parquet_dir:
                _write_groups_parquet(Path(parquet_dir) / "duplicates.parquet", rows)
            if stored_ok:
                groups_mark.write_text(json.dumps(report.duplicate_groups, ensure_ascii=False), encoding="utf-8")
        # Linking after the story stage, as ingest enriches a batch after its stage: the two share no table.
        mark = time.perf_counter()
        report.enriched = save_enrichment_slices(store, slices, tagged)
        if enrich:
            report.stage_seconds["enrich_link"] = round(time.perf_counter() - mark, 2)
    report.failed.extend(tag_failed)
    if enrich and stored_ok and not tag_failed:
        enrich_mark.write_text(model_version() + "\n", encoding="utf-8")
    report.seconds = round(time.perf_counter() - started, 2)
    return report

