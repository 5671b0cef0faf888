"""Reading duplicate groups back: which outlets published an article, where and when."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..errors import NotFound


@dataclass
class Provenance:
    """One appearance of a text: which article, from which outlet, at which URL and time."""

    article_id: str
    source: str | None
    url: str | None
    published_at: datetime | None
    kind: str | None = None  # how it was recognised: "exact", "near", or None for the canonical copy
    score: float | None = None  # its overlap with the copy it matched


@dataclass
class DuplicateGroup:
    """A text and every copy of it ("published by 7 outlets"), the canonical one first."""

    canonical_id: str
    members: list[Provenance] = field(default_factory=list)  # canonical first, then by time

    @property
    def outlets(self) -> list[str]:
        """The distinct outlets that published the text, in order of first appearance."""
        return list(dict.fromkeys(m.source for m in self.members if m.source))


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def duplicates_of(store, article_id: str) -> DuplicateGroup:
    """The group of copies an article belongs to (just itself when it has none); raises NotFound."""
    article = store.get_article(article_id)  # NotFound, prefix resolution
    conn = store.conn
    pk, group = conn.execute(
        "SELECT a.pk, coalesce(d.group_pk, a.pk) FROM articles a LEFT JOIN dedup_articles d ON d.article_pk = a.pk "
        "WHERE a.id = ?", (article.id,),
    ).fetchone()
    rows = conn.execute(
        """SELECT a.pk, a.id, a.source, a.url, a.published_at, coalesce(a.published_at, a.fetched_at, a.stored_at),
                  length(a.text), d.kind, d.score
           FROM dedup_articles d JOIN articles a ON a.pk = d.article_pk WHERE d.group_pk = ?""",
        (group,),
    ).fetchall() if group is not None else []
    if not rows:
        row = conn.execute("SELECT pk, id, source, url, published_at, published_at, length(text), NULL, NULL "
                           "FROM articles WHERE pk = ?", (pk,)).fetchone()
        if row is None:
            raise NotFound("no such article", subject=article_id)
        rows = [row]
    rows.sort(key=lambda r: (r[5] or "", -(r[6] or 0), r[0]))
    canonical = rows[0]
    members = [Provenance(r[1], r[2], r[3], _when(r[4]), None if r is canonical else r[7],
                          None if r is canonical else r[8]) for r in rows]
    return DuplicateGroup(canonical_id=canonical[1], members=members)


def stored_groups(store, ids: set[str] | None = None) -> tuple[list[list[str]], list[tuple]]:
    """The duplicate groups the story stage stored (those holding any of *ids*, or all), as article ids
    in pk order, and their rows (id, group id, match id, kind, score) for ``duplicates.parquet``."""
    rows = store.conn.execute(
        """SELECT a.id, g.id, m.id, d.kind, d.score, d.group_pk FROM dedup_articles d
           JOIN articles a ON a.pk = d.article_pk JOIN articles g ON g.pk = d.group_pk
           LEFT JOIN articles m ON m.pk = d.match_pk
           WHERE d.group_pk IN (SELECT group_pk FROM dedup_articles GROUP BY group_pk HAVING count(*) > 1)
           ORDER BY d.article_pk""").fetchall()
    groups: dict[int, list[str]] = {}  # in order of their first articles
    for row in rows:
        groups.setdefault(row[5], []).append(row[0])
    kept = {g for g, members in groups.items() if ids is None or any(x in ids for x in members)}
    return [groups[g] for g in groups if g in kept], [tuple(row[:5]) for row in rows if row[5] in kept]


def duplicate_groups(store) -> set[frozenset[str]]:
    """Every group of two or more copies, as sets of article ids (to compare two runs' results)."""
    return {frozenset(g) for g in stored_groups(store)[0]}
