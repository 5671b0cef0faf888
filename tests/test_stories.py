"""marsad.stories: the online clusterer, merges, the store-backed stage, incremental = batch = restart."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from marsad.cli import sample_inputs
from marsad.dedup import Featurizer, duplicates_of
from marsad.errors import NotFound
from marsad.models import Article
from marsad.pipeline import ingest, store_articles
from marsad.store.sqlite import SQLiteStore
from marsad.stories import get_story, list_stories, restory, update
from marsad.stories import indexer
from marsad.stories.engine import StoryConfig, StoryEngine

T0 = datetime(2015, 8, 6, 9, 0, tzinfo=timezone.utc)


def article(title: str, paras: list[str], hours: float = 0, source: str = "الرياض", n: int = 0) -> Article:
    return Article(title=title, paragraphs=paras, url=f"https://example.org/{abs(hash((title, n, hours)))}",
                   source=source, published_at=T0 + timedelta(hours=hours))


SUEZ = ["افتتح الرئيس المصري عبد الفتاح السيسي مشروع قناة السويس الجديدة في الإسماعيلية بحضور قادة ورؤساء دول.",
        "وعبرت أول سفينة حاويات القناة الجديدة بعد توقيع وثيقة التشغيل الفعلي للمشروع."]
SUEZ2 = ["احتفلت مصر بافتتاح قناة السويس الجديدة بمشاركة وفود من مختلف دول العالم في الإسماعيلية.",
         "وقال السيسي إن المشروع انطلاقة لمشاريع اقتصادية كبرى في منطقة القناة."]
BRIDGE = [SUEZ[0], SUEZ2[1]]
MERGY = StoryConfig(join=0.99, merge_article=0.7, merge_centroids=0.3)  # nothing joins, close stories merge
FIRE = ["أخمدت فرق الدفاع المدني حريقا شب في مستودع للأخشاب جنوب جدة دون تسجيل إصابات.",
        "وأوضح المتحدث الرسمي أن الفرق سيطرت على الحريق خلال ساعتين وأن التحقيقات جارية."]


@pytest.fixture(scope="module")
def fz() -> Featurizer:
    return Featurizer()


# -- the engine ------------------------------------------------------------------------------------


def test_articles_about_one_event_join_and_others_start_their_own(fz):
    engine = StoryEngine()
    a = engine.assign(1, T0.timestamp(), fz.features("افتتاح قناة السويس الجديدة", SUEZ))
    b = engine.assign(2, T0.timestamp() + 3600, fz.features("مصر تحتفل بقناة السويس الجديدة", SUEZ2))
    c = engine.assign(3, T0.timestamp() + 7200, fz.features("حريق في مستودع بجدة", FIRE))
    assert a.new_story and b.story == a.story and b.similarity >= engine.config.join
    assert c.new_story and c.story == 3


def test_a_story_stops_taking_articles_after_its_window(fz):
    engine = StoryEngine(StoryConfig(window_hours=24))
    engine.assign(1, T0.timestamp(), fz.features("افتتاح قناة السويس الجديدة", SUEZ))
    late = engine.assign(2, T0.timestamp() + 30 * 3600, fz.features("مصر تحتفل بقناة السويس الجديدة", SUEZ2))
    assert late.new_story


def test_a_continuously_fed_story_closes_after_its_maximum_span(fz):
    engine = StoryEngine(StoryConfig(window_hours=24, max_span_hours=48))
    for day in range(3):  # the same event reported every day
        last = engine.assign(day + 1, T0.timestamp() + day * 20 * 3600, fz.features("قناة السويس الجديدة", SUEZ))
    assert last.story == 1
    later = engine.assign(9, T0.timestamp() + 60 * 3600, fz.features("قناة السويس الجديدة", SUEZ2))
    assert later.new_story  # 60 h after the story began: a new chapter


def test_a_copy_joins_its_originals_story_even_when_worded_apart(fz):
    engine = StoryEngine()
    engine.assign(1, T0.timestamp(), fz.features("افتتاح قناة السويس الجديدة", SUEZ))
    copy = engine.assign(2, T0.timestamp() + 60, fz.features("عنوان مختلف تماما", FIRE), copy_of=1)
    assert copy.story == 1 and copy.similarity == 1.0


def test_stories_that_turn_out_to_be_one_are_merged_and_recorded(fz):
    # Strict joining keeps the first two apart; a third article close to both merges them.
    engine = StoryEngine(MERGY)
    engine.assign(1, T0.timestamp(), fz.features("افتتاح قناة السويس الجديدة", SUEZ))
    second = engine.assign(2, T0.timestamp() + 60, fz.features("مصر تحتفل بقناة السويس الجديدة", SUEZ2))
    assert second.new_story and not second.merged
    bridge = engine.assign(3, T0.timestamp() + 120, fz.features("قناة السويس الجديدة", BRIDGE))
    assert bridge.merged, "expected a merge"
    assert {engine.resolve(k) for k in (1, 2, 3)} == {1}
    assert all(into == 1 for _, into, _ in bridge.merged)
    assert engine.stories[1].count == 3


# -- the store-backed stage ------------------------------------------------------------------------


def _records() -> list[dict]:
    with gzip.open(sample_inputs()[0], "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _write(path: Path, records: list[dict]) -> str:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return str(path)


def _partitions(store) -> tuple[set, set, list]:
    conn = store.conn
    stories, groups = {}, {}
    for aid, story in conn.execute(
            "SELECT a.id, s.id FROM story_articles sa JOIN articles a ON a.pk = sa.article_pk "
            "JOIN stories s ON s.pk = sa.story_pk"):
        stories.setdefault(story, set()).add(aid)
    for aid, group in conn.execute(
            "SELECT a.id, d.group_pk FROM dedup_articles d JOIN articles a ON a.pk = d.article_pk"):
        groups.setdefault(group, set()).add(aid)
    titles = sorted(tuple(r) for r in conn.execute("SELECT id, title, article_count FROM stories WHERE merged_into IS NULL"))
    return {frozenset(s) for s in stories.values()}, {frozenset(g) for g in groups.values()}, titles


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("stories") / "one.db"
    with SQLiteStore(path) as store:
        ingest(store, sample_inputs(), enrich=False)
    return path


def test_ingest_runs_both_stages_on_every_article(sample_db):
    with SQLiteStore(sample_db) as store:
        n = store.count_articles()
        assert store.conn.execute("SELECT count(*) FROM dedup_articles").fetchone()[0] == n
        assert store.conn.execute("SELECT count(*) FROM story_articles").fetchone()[0] == n
        kinds = dict(store.conn.execute("SELECT kind, count(*) FROM dedup_articles GROUP BY kind").fetchall())
        assert kinds.get("near", 0) + kinds.get("exact", 0) >= 10  # SPA copies in the sample
        assert update(store).articles == 0  # nothing left to do


def test_list_and_get_stories(sample_db):
    with SQLiteStore(sample_db) as store:
        recent = list_stories(store, limit=5)
        assert len(recent) == 5 and recent[0].last_seen >= recent[-1].last_seen
        biggest = list_stories(store, order="size", limit=3)
        assert biggest[0].article_count >= biggest[-1].article_count >= 2
        growing = list_stories(store, order="growing", limit=3)
        assert growing[0].growth >= growing[-1].growth
        story = biggest[0]
        assert len(story.article_ids) == story.article_count and story.lead_article_id in story.article_ids
        assert story.first_seen <= story.last_seen and story.outlets
        detail = get_story(store, story.id)
        assert [a.id for a in detail.articles] == story.article_ids
        times = [a.published_at for a in detail.articles]
        assert times == sorted(times)
        assert sum(n for _, n in detail.timeline) == story.article_count
        for canonical, copies in detail.copies.items():
            assert canonical in story.article_ids and set(copies) <= set(story.article_ids)
        late = list_stories(store, since=story.last_seen + timedelta(seconds=1), limit=1000)
        assert story.id not in {s.id for s in late}
        with pytest.raises(NotFound):
            get_story(store, "s-no-such-story")
        with pytest.raises(ValueError):
            list_stories(store, order="random")


def test_duplicates_of_gives_provenance_with_the_earliest_first(sample_db):
    with SQLiteStore(sample_db) as store:
        pk = store.conn.execute("SELECT article_pk FROM dedup_articles WHERE kind = 'near' LIMIT 1").fetchone()[0]
        aid = store.conn.execute("SELECT id FROM articles WHERE pk = ?", (pk,)).fetchone()[0]
        group = duplicates_of(store, aid)
        assert len(group.members) >= 2 and aid in [m.article_id for m in group.members]
        assert group.canonical_id == group.members[0].article_id
        times = [m.published_at for m in group.members]
        assert times[0] == min(times)
        assert all(m.source and m.url for m in group.members)
        single = store.conn.execute(
            "SELECT a.id FROM articles a JOIN dedup_articles d ON d.article_pk = a.pk "
            "WHERE d.group_pk = a.pk AND NOT EXISTS (SELECT 1 FROM dedup_articles e "
            "WHERE e.group_pk = a.pk AND e.article_pk != a.pk) LIMIT 1").fetchone()[0]
        assert [m.article_id for m in duplicates_of(store, single).members] == [single]
        with pytest.raises(NotFound):
            duplicates_of(store, "0000000000000000")


def test_incremental_batches_and_restarts_give_the_same_result_as_one_batch(sample_db, tmp_path):
    records = _records()
    parts = [records[:70], records[70:71], records[71:200], records[200:]]
    files = [_write(tmp_path / f"part{i}.jsonl", p) for i, p in enumerate(parts)]
    # (a) the same process, four ingests into one store
    with SQLiteStore(tmp_path / "batches.db") as store:
        for f in files:
            ingest(store, [f], enrich=False)
        batches = _partitions(store)
    # (b) a restart between every batch: each time a new store object, engines rebuilt from the tables
    for i, f in enumerate(files):
        with SQLiteStore(tmp_path / "restarts.db") as store:
            ingest(store, [f], enrich=False)
            if i == 1:
                assert indexer._STATES.get(store) is not None
    with SQLiteStore(tmp_path / "restarts.db") as store:
        restarts = _partitions(store)
    with SQLiteStore(sample_db) as store:
        one = _partitions(store)
    assert batches == one
    assert restarts == one


def test_restory_recomputes_the_same_stories(sample_db, tmp_path):
    copy = tmp_path / "copy.db"
    with SQLiteStore(sample_db) as src, SQLiteStore(copy) as dst:
        src.conn.backup(dst.conn)
    with SQLiteStore(copy) as store:
        before = _partitions(store)
        report = restory(store, batch_size=37)
        assert report.articles == store.count_articles()
        assert _partitions(store) == before


def test_merges_are_stored_and_merged_ids_still_resolve(store, monkeypatch):
    monkeypatch.setattr(indexer, "StoryEngine", lambda: StoryEngine(MERGY))
    store_articles(store, [article("افتتاح قناة السويس الجديدة", SUEZ, 0, n=1),
                           article("مصر تحتفل بقناة السويس الجديدة", SUEZ2, 1, n=2)])
    assert len(list_stories(store)) == 2
    store_articles(store, [article("قناة السويس الجديدة", BRIDGE, 2, n=3)])
    merges = store.conn.execute("SELECT from_story, into_story FROM story_merges").fetchall()
    assert merges
    gone = store.conn.execute("SELECT id FROM stories WHERE merged_into IS NOT NULL").fetchone()[0]
    survivor = list_stories(store)
    assert len(survivor) == 1 and survivor[0].article_count == 3
    assert get_story(store, gone).id == survivor[0].id


def test_cli_stories_duplicates_related_restory(sample_db, tmp_path):
    from click.testing import CliRunner

    from marsad.cli import cli

    db = tmp_path / "cli.db"
    with SQLiteStore(sample_db) as src, SQLiteStore(db) as dst:
        src.conn.backup(dst.conn)
        copy_id = dst.conn.execute(
            "SELECT a.id FROM dedup_articles d JOIN articles a ON a.pk = d.article_pk WHERE d.kind IS NOT NULL"
        ).fetchone()[0]
    runner = CliRunner()
    listed = runner.invoke(cli, ["--db", str(db), "stories", "--json", "--order", "size", "-n", "3"])
    assert listed.exit_code == 0, listed.output
    stories = json.loads(listed.output)
    assert len(stories) == 3 and {"id", "title", "article_ids", "outlets", "first_seen", "last_seen"} <= set(stories[0])
    one = runner.invoke(cli, ["--db", str(db), "stories", stories[0]["id"], "--json"])
    assert one.exit_code == 0 and json.loads(one.output)["article_count"] == stories[0]["article_count"]
    since = runner.invoke(cli, ["--db", str(db), "stories", "--since", "2100-01-01", "--json"])
    assert since.exit_code == 0 and json.loads(since.output) == []
    dups = runner.invoke(cli, ["--db", str(db), "duplicates", copy_id])
    assert dups.exit_code == 0 and "نُشر في" in dups.output
    related = runner.invoke(cli, ["--db", str(db), "related", copy_id, "--json"])
    assert related.exit_code == 0 and isinstance(json.loads(related.output), list)
    missing = runner.invoke(cli, ["--db", str(db), "stories", "s-nope"])
    assert missing.exit_code != 0 and "no such story" in missing.output
    again = runner.invoke(cli, ["--db", str(db), "restory"])
    assert again.exit_code == 0 and "article(s)" in again.output
