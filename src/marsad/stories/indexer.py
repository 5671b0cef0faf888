"""The duplicate and story stages over a store: incremental, restart-safe, one writer at a time.

`update(store)` processes every stored article that has not been processed yet, in the
order it was stored (its row id), batch by batch: features -> duplicates -> stories ->
rows. A high-water mark in `story_state` records how far it got, so the pipeline can call
it after every stored batch, a crashed run resumes where it stopped, and two processes
sharing a database never process an article twice (each batch runs inside the store's
write transaction and re-reads the mark first).

The engines' state (LSH index, groups, active stories, document frequencies) is kept in
memory between calls on the same store and rebuilt from the tables when another process
has moved the mark, so batches give the same result whether they come one by one, all at
once, or across restarts.
"""

from __future__ import annotations

import json
import logging
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from ..dedup.engine import DedupEngine
from ..dedup.features import Featurizer, Features
from ..dedup.lsh import NUM_BANDS
from .engine import HOUR, StoryEngine

log = logging.getLogger(__name__)

BATCH = 500
STATE_VERSION = "1"  # bump when stored features or decisions change meaning (then run `marsad restory`)

_featurizer: Featurizer | None = None


def featurizer() -> Featurizer:
    """The process-wide featurizer (its token cache is what makes it fast)."""
    global _featurizer
    if _featurizer is None:
        _featurizer = Featurizer()
    return _featurizer


def stored_features(titles: Sequence[str], texts: Sequence[str | None]) -> list[Features]:
    """The stage's features of articles as stored (title, paragraphs joined by newlines)."""
    return featurizer().batch(list(titles), [text.split("\n") if text else [] for text in texts])


@dataclass
class IndexReport:
    """What an `update` or `restory` run did."""

    articles: int = 0
    exact: int = 0
    near: int = 0
    new_stories: int = 0
    merges: int = 0
    seconds: float = 0.0
    reloaded: bool = False
    memory_bytes: int = 0

    @property
    def rate(self) -> float:
        """Articles per second."""
        return self.articles / self.seconds if self.seconds else 0.0


@dataclass
class _State:
    dedup: DedupEngine
    stories: StoryEngine
    mark: int = 0  # highest article pk processed
    generation: str = "0"
    outlets: dict[int, set[str]] = field(default_factory=dict)


_STATES: "weakref.WeakKeyDictionary[object, _State]" = weakref.WeakKeyDictionary()


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ts(value: str | None) -> float | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def _read_state(conn) -> dict[str, str]:
    return {r[0]: r[1] for r in conn.execute("SELECT key, value FROM story_state")}


def _write_state(conn, **values) -> None:
    conn.executemany("INSERT OR REPLACE INTO story_state (key, value) VALUES (?, ?)",
                     [(k, str(v)) for k, v in values.items()])


def _loader(store) -> Callable[[int], Features | None]:
    def load(pk: int) -> Features | None:
        """The features of a stored article, from its current text."""
        row = store.conn.execute("SELECT title, text FROM articles WHERE pk = ?", (pk,)).fetchone()
        if row is None:
            return None
        return stored_features([row[0]], [row[1]])[0]

    return load


def _restore(store, conn, stored: dict[str, str]) -> _State:
    """Rebuild both engines from the tables (another process moved the mark, or a new process)."""
    state = _State(dedup=DedupEngine(loader=_loader(store)), stories=StoryEngine())
    state.mark = int(stored.get("mark", 0))
    state.generation = stored.get("generation", "0")
    rows = conn.execute(
        """SELECT d.article_pk, d.group_pk, d.text_fp, d.titled_fp, d.bands, s.seen_at FROM dedup_articles d
           LEFT JOIN story_articles s ON s.article_pk = d.article_pk ORDER BY d.article_pk"""
    ).fetchall()
    if rows:
        keys = np.array([r[0] for r in rows], dtype=np.int64)
        bands = np.zeros((len(rows), NUM_BANDS), dtype=np.uint32)
        for i, r in enumerate(rows):
            if r[4]:
                bands[i] = np.frombuffer(r[4], dtype="<u4")
        fps = np.array([r[2] for r in rows], dtype=np.int64).view(np.uint64)
        titled = np.array([r[3] for r in rows], dtype=np.int64).view(np.uint64)
        times = np.array([r[5] if r[5] is not None else np.nan for r in rows], dtype=np.float64)
        state.dedup.restore(keys, bands, fps, titled, [(r[0], r[1]) for r in rows], times)
    now = float(stored.get("now", "-inf"))
    if now != float("-inf"):
        cfg = state.stories.config
        window = conn.execute(
            "SELECT article_pk, seen_at, terms FROM story_articles WHERE seen_at >= ?",
            (now - cfg.df_window_hours * HOUR,),
        ).fetchall()
        members = conn.execute(
            """SELECT sa.story_pk, sa.article_pk, sa.seen_at, sa.vector FROM story_articles sa
               JOIN stories s ON s.pk = sa.story_pk
               WHERE s.merged_into IS NULL AND s.last_seen >= ?""",
            (now - 2 * cfg.window_hours * HOUR,),
        ).fetchall()
        redirects = conn.execute("SELECT pk, merged_into FROM stories WHERE merged_into IS NOT NULL").fetchall()
        state.stories.restore(
            now,
            [(r[0], r[1], r[2].split()) for r in window],
            [(r[0], r[1], r[2], json.loads(r[3])) for r in members],
            [(r[0], r[1]) for r in redirects],
        )
    return state


def _state(store, conn) -> tuple[_State, bool]:
    stored = _read_state(conn)
    if stored.get("version", STATE_VERSION) != STATE_VERSION:
        log.warning("stories were computed by another marsad version; run `marsad restory`")
    state = _STATES.get(store)
    if state is not None and state.mark == int(stored.get("mark", 0)) \
            and state.generation == stored.get("generation", "0"):
        return state, False
    state = _restore(store, conn, stored)
    _STATES[store] = state
    return state, True


FeatureSource = Callable[[list], list]  # the stage's article rows -> Features (or None: compute here) each


def update(store, *, batch_size: int = BATCH, limit: int | None = None,
           features: FeatureSource | None = None) -> IndexReport:
    """Run the duplicate and story stages on every stored article not processed yet.

    *features*, when given, is asked first for the features of each batch's articles (rows of pk, id,
    title, text, source, published_at, fetched_at, stored_at, content_hash); it answers None for those it
    does not have, which are computed here. `marsad.backfill` computes them on its workers.
    """
    report = IndexReport()
    started = time.perf_counter()
    while limit is None or report.articles < limit:
        with store.transaction() as conn:
            state, reloaded = _state(store, conn)
            report.reloaded |= reloaded
            size = batch_size if limit is None else min(batch_size, limit - report.articles)
            rows = conn.execute(
                """SELECT pk, id, title, text, source, published_at, fetched_at, stored_at, content_hash
                   FROM articles WHERE pk > ? ORDER BY pk LIMIT ?""",
                (state.mark, size),
            ).fetchall()
            if not rows:
                break
            _process(conn, state, rows, report, features)
    report.seconds = time.perf_counter() - started
    state = _STATES.get(store)
    if state is not None:
        report.memory_bytes = state.dedup.nbytes
    return report


def _process(conn, state: _State, rows, report: IndexReport, features: FeatureSource | None = None) -> None:
    keys = [r[0] for r in rows]
    feats = features(rows) if features is not None else [None] * len(rows)
    missing = [i for i, f in enumerate(feats) if f is None]
    if missing:
        computed = stored_features([rows[i][2] for i in missing], [rows[i][3] for i in missing])
        for i, f in zip(missing, computed):
            feats[i] = f
    times = [_ts(r[5]) or _ts(r[6]) or _ts(r[7]) or 0.0 for r in rows]
    decisions = state.dedup.process(keys, feats, times)
    bands, fps, titled = state.dedup.last_keys
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    dedup_rows, story_rows, merges, links = [], [], [], {}
    touched: set[int] = set()
    for i, (row, f, d, when) in enumerate(zip(rows, feats, decisions, times)):
        pk = row[0]
        dedup_rows.append([pk, d.group, d.match, d.kind, round(d.score, 4) if d.kind else None,
                           f.text_fp if fps[i] else 0,
                           int(titled[i:i + 1].view(np.int64)[0]),
                           bands[i].astype("<u4").tobytes() if bands[i].any() else None])
        a = state.stories.assign(pk, when, f, d.match)
        story_rows.append((pk, a.story, round(a.similarity, 4), when,
                           json.dumps(a.vector, ensure_ascii=False, separators=(",", ":")), " ".join(a.terms)))
        touched.add(a.story)
        report.new_stories += a.new_story
        for gone, into, closeness in a.merged:
            merges.append((gone, into, closeness, pk, when))
            touched.add(into)
        for other, score in a.related:
            pair = (min(a.story, other), max(a.story, other))
            links[pair] = max(links.get(pair, 0.0), score)
    report.articles += len(rows)
    report.exact += sum(d.kind == "exact" for d in decisions)
    report.near += sum(d.kind == "near" for d in decisions)
    report.merges += len(merges)

    # Groups folded into others move their members (rare: a new article linked two groups);
    # this batch's rows take the group their article is in now, not when it was decided.
    for d in decisions:
        for g in d.merged:
            conn.execute("UPDATE dedup_articles SET group_pk = ? WHERE group_pk = ?",
                         (state.dedup.group_of(d.group), g))
    for row in dedup_rows:
        row[1] = state.dedup.group_of(row[0])
    conn.executemany("INSERT OR REPLACE INTO dedup_articles VALUES (?,?,?,?,?,?,?,?)", dedup_rows)
    conn.executemany("INSERT OR REPLACE INTO story_articles VALUES (?,?,?,?,?,?)", story_rows)
    for gone, into, closeness, pk, when in merges:
        conn.execute("UPDATE story_articles SET story_pk = ? WHERE story_pk = ?", (into, gone))
        conn.execute("UPDATE stories SET merged_into = ?, updated_at = ? WHERE pk = ?", (into, now, gone))
        conn.execute("UPDATE stories SET merged_into = ? WHERE merged_into = ?", (into, gone))
        conn.execute("INSERT INTO story_merges (from_story, into_story, similarity, article_pk, at) VALUES (?,?,?,?,?)",
                     (gone, into, closeness, pk, when))
        touched.discard(gone)
    conn.executemany(
        """INSERT INTO story_links (story_a, story_b, score) VALUES (?,?,?)
           ON CONFLICT(story_a, story_b) DO UPDATE SET score = max(score, excluded.score)""",
        [(a, b, s) for (a, b), s in links.items()],
    )
    _refresh_stories(conn, state, touched, now)
    state.mark = rows[-1][0]
    state.stories.evict()
    _write_state(conn, mark=state.mark, now=repr(state.stories.now), version=STATE_VERSION,
                 generation=state.generation)


def _refresh_stories(conn, state: _State, touched: set[int], now: str) -> None:
    """Recompute the summary row of every story that changed in this batch."""
    touched = {state.stories.resolve(k) for k in touched}
    if not touched:
        return
    keys = sorted(touched)
    summary = {}
    for start in range(0, len(keys), 500):
        part = keys[start : start + 500]
        marks = ",".join("?" * len(part))
        for r in conn.execute(
            f"""SELECT sa.story_pk, count(*), min(sa.seen_at), max(sa.seen_at),
                       json_group_array(DISTINCT a.source)
                FROM story_articles sa JOIN articles a ON a.pk = sa.article_pk
                WHERE sa.story_pk IN ({marks}) GROUP BY sa.story_pk""",
            part,
        ):
            summary[r[0]] = r
    leads = {}
    for key in keys:
        if key in summary:
            story = state.stories.stories.get(key)
            leads[key] = story.lead() if story is not None else key
    # Titles and ids of the leads and of the stories' first articles, in one query per 500.
    wanted = sorted(set(leads) | set(leads.values()))
    articles = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        marks = ",".join("?" * len(part))
        for pk, title, article_id in conn.execute(f"SELECT pk, title, id FROM articles WHERE pk IN ({marks})", part):
            articles[pk] = (title, article_id)
    rows = []
    for key, lead in leads.items():
        _, count, first, last, outlets = summary[key]
        if lead not in articles or key not in articles:
            continue
        sources = sorted(s for s in json.loads(outlets) if s)
        rows.append((key, "s" + articles[key][1], articles[lead][0], lead, first, last, count,
                     json.dumps(sources, ensure_ascii=False), now))
    conn.executemany(
        """INSERT INTO stories (pk, id, title, lead_pk, first_seen, last_seen, article_count, outlets, updated_at)
           VALUES (?,?,?,?,?,?,?,?,?)
           ON CONFLICT(pk) DO UPDATE SET title=excluded.title, lead_pk=excluded.lead_pk,
               first_seen=excluded.first_seen, last_seen=excluded.last_seen,
               article_count=excluded.article_count, outlets=excluded.outlets, updated_at=excluded.updated_at""",
        rows,
    )


def restory(store, *, batch_size: int = BATCH) -> IndexReport:
    """Forget every duplicate and story decision and recompute them from the stored articles."""
    with store.transaction() as conn:
        stored = _read_state(conn)
        for table in ("dedup_articles", "story_articles", "stories", "story_merges", "story_links", "story_state"):
            conn.execute(f"DELETE FROM {table}")
        _write_state(conn, mark=0, generation=int(stored.get("generation", "0")) + 1, version=STATE_VERSION)
    _STATES.pop(store, None)
    from ..pipeline import fewer_gc_passes  # a whole-corpus pass, like an ingest (collections 1.2 -> 0.5 s)

    with fewer_gc_passes():
        return update(store, batch_size=batch_size)
