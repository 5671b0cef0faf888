"""The ingestion pipeline, written down once and in order.

    1. discover inputs (files, folders, globs)
    2. read and parse each into Articles (text pages, JSON records); failures are recorded, not raised
    3. (normalisation happens inside the stages below, with marsad.normalize)
    4. store in batches: articles, their outlets, and read-also links; then, for every stored
       article not seen yet, fingerprint -> exact/near duplicates -> story (marsad.stories.update)
    5. enrich each stored batch's new and changed articles: entity mentions, canonical
       entities, places, auto tags (marsad.enrich; `marsad enrich` catches up older ones)

Every edge (CLI, web, crawler) calls `ingest()`; none re-implements a step.
"""

from __future__ import annotations

import gc
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .ingest.files import InputItem, discover_inputs, read_input, total_size
from .ingest.outlets import resolve_outlet
from .models import Article, Link, Source
from .store.base import BATCH_SIZE, Store, UpsertResult  # a stored batch is one store transaction


@dataclass
class IngestReport:
    """What an ingest run did, for the closing summary."""

    files: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    links: int = 0
    enriched: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (where, reason)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # empty inputs: (where, reason)
    #: Seconds spent in each stage: "read" (reading and parsing), "store" (articles, links,
    #: search index), "stories" (copies and stories), "enrich" (entities).
    seconds: Counter = field(default_factory=Counter)

    @property
    def seen(self) -> int:
        """Articles read, whether stored anew or not."""
        return self.new + self.updated + self.unchanged

    def add(self, result: UpsertResult) -> None:
        """Count the outcome of one stored batch."""
        self.new += len(result.new)
        self.updated += len(result.updated)
        self.unchanged += len(result.unchanged)


def _batches(items: Iterable[InputItem], report: IngestReport, on_item: Callable[[InputItem], None] | None
             ) -> Iterator[list[Article]]:
    """Group articles into batches, never splitting one page's articles (their links need both ends)."""
    batch: list[Article] = []
    for item in items:
        if on_item:
            on_item(item)
        if item.error:
            (report.skipped if item.skipped else report.failed).append((item.where, item.error))
            continue
        batch.extend(item.articles)
        if len(batch) >= BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


def store_articles(
    store: Store, articles: list[Article], *, known_sources: set[str] | None = None, bulk: bool = False,
    seconds: Counter | None = None, stories: bool = True,
) -> UpsertResult:
    """Store one batch: register unseen outlets, upsert the articles, their read-also links, then find copies and stories.

    `bulk=True` loads the articles by COPY where the store can (PostgreSQL backfills).
    `seconds`, when given, gets the time spent in "store" and "stories" added to it.
    `stories=False` leaves copies and stories to a later run (the stage resumes from its
    mark, so the next ingest that runs it, or `marsad restory`, catches up).
    """
    started = time.perf_counter()
    if known_sources is not None:
        fresh = {a.source for a in articles if a.source and a.source not in known_sources}
        if fresh:
            store.upsert_sources([resolve_outlet(name) or Source(name=name) for name in sorted(fresh)])
            known_sources.update(fresh)
    write = store.copy_articles if bulk and hasattr(store, "copy_articles") else store.upsert_articles
    result = write(articles)
    links = [Link(a.id, other, "read_also") for a in articles for other in a.read_also]
    if links:
        store.add_links(links)
    stored = time.perf_counter()
    if seconds is not None:
        seconds["store"] += stored - started
    if stories and getattr(store, "runs_story_stage", False):
        from .stories import update as find_copies_and_stories

        find_copies_and_stories(store)
        if seconds is not None:
            seconds["stories"] += time.perf_counter() - stored
    return result


def enrich_stored(store: Store, articles: list[Article], result: UpsertResult) -> int:
    """Enrich the articles of a stored batch that were new or changed; returns how many."""
    from .enrich import enrich_articles

    fresh = set(result.new) | set(result.updated)
    if not fresh or not hasattr(store, "save_enrichments"):  # a backend without entity tables yet
        return 0
    return enrich_articles(store, [a for a in articles if a.id in fresh])


# While ingesting, the cyclic garbage collector runs its youngest generation every 100,000
# container allocations instead of every 700, and the middle one every 50 of those instead of
# every 10. Ingest makes millions of short-lived tuples, lists and dicts (nearly all freed by
# reference counting long before a collection would look at them) beside large long-lived
# caches (the analyzer's words, the duplicate stage's features, the story engine's vectors)
# that each collection of the older generations walks again: over the corpus, collections took
# 2.1-2.3 s of a 38-41 s ingest with the defaults and 0.4-0.6 s with (20,000, 10); over
# 150,000 synthetic articles of bench_dedup, features + duplicates + stories ran at 2,881
# articles/s with (20,000, 10), 3,384 with (100,000, 50) and 3,338 with no collections at all.
# Cycles are still collected.
GC_YOUNG_THRESHOLD = 100_000
GC_MIDDLE_THRESHOLD = 50
_gc_lock = threading.Lock()
_gc_depth = 0
_gc_saved: tuple[int, ...] = ()


@contextmanager
def fewer_gc_passes() -> Iterator[None]:
    """Raise the collector's thresholds to GC_YOUNG_THRESHOLD and GC_MIDDLE_THRESHOLD for the block
    (nestable, thread-safe)."""
    global _gc_depth, _gc_saved
    with _gc_lock:
        if _gc_depth == 0:
            _gc_saved = gc.get_threshold()
            young, middle, *rest = _gc_saved
            gc.set_threshold(max(GC_YOUNG_THRESHOLD, young), max(GC_MIDDLE_THRESHOLD, middle), *rest)
        _gc_depth += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0:
                gc.set_threshold(*_gc_saved)


def ingest(
    store: Store,
    inputs: list[str],
    *,
    enrich: bool = True,
    stories: bool = True,
    on_start: Callable[[int], None] | None = None,
    on_item: Callable[[InputItem], None] | None = None,
) -> IngestReport:
    """Ingest files, folders and globs into *store*; safe to run again on the same inputs.

    `on_start(total_bytes)` and `on_item(item)` let an edge draw progress; `enrich=False`
    skips entity tagging (run `marsad enrich` later); `stories=False` skips the duplicate
    and story stage (a bulk load that wants search first; see `store_articles`).
    """
    report = IngestReport()
    paths, missing = discover_inputs(inputs)
    report.failed.extend(missing)
    report.files = len(paths)
    if on_start:
        on_start(total_size(paths))
    known_sources = {s.name for s in store.list_sources()}

    def items() -> Iterator[InputItem]:
        for path in paths:
            yield from read_input(path)

    batches = _batches(items(), report, on_item)
    with fewer_gc_passes():
        while True:
            started = time.perf_counter()
            batch = next(batches, None)
            report.seconds["read"] += time.perf_counter() - started
            if batch is None:
                return report
            result = store_articles(store, batch, known_sources=known_sources, seconds=report.seconds,
                                    stories=stories)
            report.add(result)
            report.links += sum(len(a.read_also) for a in batch)
            if enrich:
                started = time.perf_counter()
                report.enriched += enrich_stored(store, batch, result)
                report.seconds["enrich"] += time.perf_counter() - started


def parse_inputs(inputs: list[str]) -> Iterator[InputItem]:
    """Read inputs without storing anything (for `marsad parse`)."""
    paths, missing = discover_inputs(inputs)
    for spec, reason in missing:
        yield InputItem(spec, error=reason)
    for path in paths:
        yield from read_input(Path(path))
