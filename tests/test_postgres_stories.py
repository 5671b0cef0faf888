"""The duplicate and story stage (marsad.stories) on PostgreSQL: the same groups and stories as on SQLite.

`marsad ingest` of the same inputs into a store of each kind runs the stage batch by batch
(through `PostgresStore.transaction()`, serialised with an advisory lock); the duplicate groups,
the stories and what the read functions answer must be the same.
"""

from __future__ import annotations

from marsad.cli import sample_inputs
from marsad.dedup import duplicates_of
from marsad.pipeline import ingest
from marsad.stories import get_story, list_stories
from marsad.store.sqlite import SQLiteStore


def _groups(store) -> set[frozenset[str]]:
    rows = store.conn.execute("SELECT a.id, d.group_pk FROM dedup_articles d JOIN articles a ON a.pk = d.article_pk"
                              ).fetchall()
    out: dict[int, set[str]] = {}
    for article_id, group in rows:
        out.setdefault(group, set()).add(article_id)
    return {frozenset(g) for g in out.values() if len(g) > 1}


def _stories(store) -> set[frozenset[str]]:
    rows = store.conn.execute("SELECT a.id, sa.story_pk FROM story_articles sa JOIN articles a ON a.pk = sa.article_pk"
                              ).fetchall()
    out: dict[int, set[str]] = {}
    for article_id, story in rows:
        out.setdefault(story, set()).add(article_id)
    return {frozenset(s) for s in out.values()}


def test_ingest_gives_the_same_duplicates_and_stories_on_both_backends(pg_store, tmp_path):
    inputs = [*sample_inputs()]
    with SQLiteStore(tmp_path / "s.db") as lite:
        ingest(lite, inputs, enrich=False)
        groups, stories = _groups(lite), _stories(lite)
        listed = [(s.id, s.article_count, s.outlets) for s in list_stories(lite, limit=20, order="size")]
        some = max(groups, key=len)
        copies = duplicates_of(lite, sorted(some)[0])
    report = ingest(pg_store, inputs, enrich=False)
    assert report.new == lite_count(tmp_path)
    assert _groups(pg_store) == groups and groups
    assert _stories(pg_store) == stories
    assert [(s.id, s.article_count, s.outlets) for s in list_stories(pg_store, limit=20, order="size")] == listed
    detail = get_story(pg_store, listed[0][0])
    assert len(detail.articles) == listed[0][1]
    again = duplicates_of(pg_store, sorted(some)[0])
    assert again.canonical_id == copies.canonical_id
    assert [m.article_id for m in again.members] == [m.article_id for m in copies.members]
    # A second ingest changes nothing, and the stage's state survives a new process (a new store).
    assert ingest(pg_store, inputs, enrich=False).new == 0
    from marsad.store.postgres import PostgresStore

    with PostgresStore(pg_store.dsn) as other:
        assert _groups(other) == groups
    # `marsad restory` (forget and recompute) works there too, and gives the same again.
    from marsad.stories.indexer import restory

    restory(pg_store)
    assert _groups(pg_store) == groups and _stories(pg_store) == stories


def lite_count(tmp_path) -> int:
    with SQLiteStore(tmp_path / "s.db") as lite:
        return lite.count_articles()
