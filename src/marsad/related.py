"""Related articles: the rest of the article's story first, then articles of similar stories,
then the page's own read-also links, each labelled with where it came from."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from .models import Article

KINDS = ("same_story", "similar", "read_also")


@dataclass
class Related:
    """An article related to another, how (`kind`) and how closely (`score`, 0..1)."""

    article: Article
    kind: str  # "same_story" | "similar" | "read_also"
    score: float


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    dot = sum(w * b.get(t, 0.0) for t, w in a.items())
    na = math.sqrt(sum(w * w for w in a.values()))
    nb = math.sqrt(sum(w * w for w in b.values()))
    return dot / (na * nb) if na and nb else 0.0


def related_articles(store, article_id: str, limit: int = 10) -> list[Related]:
    """Up to *limit* related articles (same story, then similar stories), followed by every read-also link.

    Copies of the article itself are left out (see `marsad.dedup.duplicates_of`); of
    several copies of another text only the earliest is listed. Read-also links come from
    the `links` table (kind 'read_also': the links a page lists under its text) and are always
    returned, after the rest, whatever *limit* is.
    """
    out = related_ids(store, article_id, limit)
    found = {a.id: a for a in store.get_articles([o[0] for o in out])}
    return [Related(found[i], kind, score) for i, kind, score in out if i in found]


def related_ids(store, article_id: str, limit: int = 10) -> list[tuple[str, str, float]]:
    """`related_articles` as (article id, kind, score), without reading the articles themselves
    (the reader shows teasers of them, and reads those in one query)."""
    conn = store.conn
    query = """SELECT a.pk, a.id, sa.story_pk, sa.vector, d.group_pk FROM articles a
               LEFT JOIN story_articles sa ON sa.article_pk = a.pk
               LEFT JOIN dedup_articles d ON d.article_pk = a.pk WHERE a.id = ?"""
    row = conn.execute(query, (article_id,)).fetchone()
    if row is None:  # an id prefix, or no such article (NotFound)
        row = conn.execute(query, (store.get_article(article_id).id,)).fetchone()
    pk, article_id, story, vector, group = row
    out: list[tuple[str, str, float]] = []  # (article id, kind, score)
    if story is not None:
        mine = json.loads(vector)
        seen_groups = {group if group is not None else pk}
        members = conn.execute(
            """SELECT a.id, sa.vector, coalesce(d.group_pk, a.pk), sa.seen_at FROM story_articles sa
               JOIN articles a ON a.pk = sa.article_pk LEFT JOIN dedup_articles d ON d.article_pk = a.pk
               WHERE sa.story_pk = ? AND a.pk != ? ORDER BY sa.seen_at, a.pk""",
            (story, pk),
        ).fetchall()
        scored = []
        for other_id, other_vec, other_group, _ in members:
            if other_group in seen_groups:
                continue
            seen_groups.add(other_group)
            scored.append((round(_cosine(mine, json.loads(other_vec)), 4), other_id))
        scored.sort(key=lambda s: (-s[0], s[1]))
        out += [(other_id, "same_story", score) for score, other_id in scored]
        if len(out) < limit:
            linked = conn.execute(
                """SELECT CASE WHEN l.story_a = ? THEN l.story_b ELSE l.story_a END AS other, l.score
                   FROM story_links l WHERE l.story_a = ? OR l.story_b = ? ORDER BY l.score DESC""",
                (story, story, story),
            ).fetchall()
            for other_story, score in linked:
                if len(out) >= limit:  # the rest would be cut below
                    break
                lead = conn.execute(
                    """SELECT a.id FROM stories s JOIN articles a ON a.pk = s.lead_pk
                       WHERE s.pk = coalesce((SELECT merged_into FROM stories WHERE pk = ?), ?)
                       AND s.merged_into IS NULL""",
                    (other_story, other_story),
                ).fetchone()
                if lead and lead[0] != article_id and all(lead[0] != o[0] for o in out):
                    out.append((lead[0], "similar", round(score, 4)))
    out = out[:limit]
    read_also = [link.to_id for link in store.links_from(article_id) if link.kind == "read_also"]
    out += [(other, "read_also", 1.0) for other in read_also if all(other != o[0] for o in out)]
    return out
