"""Reading stories back: the library calls the CLI, the web reader and the API share."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..errors import NotFound
from ..models import Article

ORDERS = ("recent", "growing", "size")
GROWTH_HOURS = 6.0  # growth = a story's articles per hour over this many hours before the latest article


@dataclass
class Story:
    """A group of articles about one event, from one or more outlets."""

    id: str
    title: str
    article_ids: list[str]
    outlets: list[str]
    first_seen: datetime
    last_seen: datetime
    article_count: int
    growth: float  # articles per hour over the last GROWTH_HOURS (EMM's breaking-news signal)
    lead_article_id: str


@dataclass
class StoryDetail(Story):
    """A story with its articles, their timeline and which of them are copies of which."""

    articles: list[Article] = field(default_factory=list)  # ordered by time
    timeline: list[tuple[datetime, int]] = field(default_factory=list)  # hourly (daily for long stories) counts
    copies: dict[str, list[str]] = field(default_factory=dict)  # canonical article id -> ids of its copies


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def _reference_time(conn) -> float | None:
    """'Now' for growth: the latest article time the story stage has seen (live: about now)."""
    row = conn.execute("SELECT max(seen_at) FROM story_articles").fetchone()
    return row[0] if row and row[0] is not None else None


def _members(conn, story_pk: int) -> list[tuple[int, str, float]]:
    return conn.execute(
        """SELECT sa.article_pk, a.id, sa.seen_at FROM story_articles sa JOIN articles a ON a.pk = sa.article_pk
           WHERE sa.story_pk = ? ORDER BY sa.seen_at, sa.article_pk""",
        (story_pk,),
    ).fetchall()


def _story(conn, row, ref: float | None) -> Story:
    pk, sid, title, lead_pk, first, last, count, outlets = row
    members = _members(conn, pk)
    recent = 0
    if ref is not None:
        recent = sum(1 for _, _, seen in members if seen > ref - GROWTH_HOURS * 3600)
    lead = conn.execute("SELECT id FROM articles WHERE pk = ?", (lead_pk,)).fetchone()
    return Story(
        id=sid,
        title=title,
        article_ids=[m[1] for m in members],
        outlets=json.loads(outlets),
        first_seen=_dt(first),
        last_seen=_dt(last),
        article_count=count,
        growth=round(recent / GROWTH_HOURS, 3),
        lead_article_id=lead[0] if lead else (members[0][1] if members else ""),
    )


_COLUMNS = "s.pk, s.id, s.title, s.lead_pk, s.first_seen, s.last_seen, s.article_count, s.outlets"


def list_stories(store, *, since: datetime | None = None, limit: int = 50, offset: int = 0,
                 order: str = "recent") -> list[Story]:
    """Stories last seen at or after *since*, newest ("recent"), fastest-growing ("growing") or largest ("size") first."""
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r} (known: {', '.join(ORDERS)})")
    conn = store.conn
    ref = _reference_time(conn)
    floor = since.timestamp() if since is not None else float("-inf")
    if order == "growing":
        start = (ref if ref is not None else 0.0) - GROWTH_HOURS * 3600
        rows = conn.execute(
            f"""SELECT {_COLUMNS} FROM stories s
                LEFT JOIN (SELECT story_pk, count(*) AS recent FROM story_articles WHERE seen_at > ?
                           GROUP BY story_pk) g ON g.story_pk = s.pk
                WHERE s.merged_into IS NULL AND s.last_seen >= ?
                ORDER BY coalesce(g.recent, 0) DESC, s.article_count DESC, s.last_seen DESC, s.pk DESC
                LIMIT ? OFFSET ?""",
            (start, floor, limit, offset),
        ).fetchall()
    else:
        key = "s.last_seen DESC, s.pk DESC" if order == "recent" else "s.article_count DESC, s.last_seen DESC, s.pk DESC"
        rows = conn.execute(
            f"""SELECT {_COLUMNS} FROM stories s WHERE s.merged_into IS NULL AND s.last_seen >= ?
                ORDER BY {key} LIMIT ? OFFSET ?""",
            (floor, limit, offset),
        ).fetchall()
    return [_story(conn, row, ref) for row in rows]


def _resolve(conn, story_id: str):
    row = conn.execute(f"SELECT {_COLUMNS}, s.merged_into FROM stories s WHERE s.id = ?", (story_id,)).fetchone()
    seen = set()
    while row is not None and row[8] is not None and row[0] not in seen:
        seen.add(row[0])  # a merged story resolves to the one it went into
        row = conn.execute(f"SELECT {_COLUMNS}, s.merged_into FROM stories s WHERE s.pk = ?", (row[8],)).fetchone()
    if row is None:
        raise NotFound("no such story", subject=story_id)
    return row[:8]


def _timeline(times: list[float]) -> list[tuple[datetime, int]]:
    if not times:
        return []
    step = 3600 if max(times) - min(times) <= 72 * 3600 else 86400
    counts: dict[float, int] = {}
    for t in times:
        bucket = t - t % step
        counts[bucket] = counts.get(bucket, 0) + 1
    return [(_dt(b), counts[b]) for b in sorted(counts)]


def get_story(store, story_id: str) -> StoryDetail:
    """One story with its articles in time order; a merged story's id gives the story it went into."""
    conn = store.conn
    row = _resolve(conn, story_id)
    story = _story(conn, row, _reference_time(conn))
    members = _members(conn, row[0])
    articles = store.get_articles([m[1] for m in members])
    groups: dict[int, list[tuple[int, str, float]]] = {}
    pks = [m[0] for m in members]
    for start in range(0, len(pks), 900):
        part = pks[start : start + 900]
        marks = ",".join("?" * len(part))
        for pk, group in conn.execute(
            f"SELECT article_pk, group_pk FROM dedup_articles WHERE article_pk IN ({marks})", part
        ):
            groups.setdefault(group, []).append(pk)
    by_pk = {m[0]: m for m in members}
    copies: dict[str, list[str]] = {}
    for group in groups.values():
        if len(group) < 2:
            continue
        canonical = _canonical(conn, group)
        copies[by_pk[canonical][1]] = [by_pk[pk][1] for pk in sorted(group, key=lambda p: (by_pk[p][2], p))
                                        if pk != canonical]
    return StoryDetail(**vars(story), articles=articles, timeline=_timeline([m[2] for m in members]), copies=copies)


def _canonical(conn, pks: list[int]) -> int:
    """The earliest published copy; among equally early ones, the most complete (longest text)."""
    marks = ",".join("?" * len(pks))
    row = conn.execute(
        f"""SELECT pk FROM articles WHERE pk IN ({marks})
            ORDER BY coalesce(published_at, fetched_at, stored_at), length(text) DESC, pk LIMIT 1""",
        pks,
    ).fetchone()
    return row[0]
