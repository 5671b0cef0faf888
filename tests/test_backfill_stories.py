"""`marsad backfill` ends with the duplicate groups, stories and enrichment that `marsad ingest` stores in
one process: the story stage runs once in the client, over the articles in input order, in ingest's batches;
enrichment tags on the workers and links in the client, in ingest's batches and order."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

import marsad.enrich
from marsad.backfill import backfill, enrichment_plan, ingest_batches
from marsad.enrich import model_version
from marsad.migrate import enrichment_rows, stage_rows
from marsad.pipeline import ingest
from marsad.store import open_store

pytest.importorskip("distributed")

def _stage(db: str) -> dict:
    """The story stage's tables with article pks as ids (`updated_at`: when a story row was last written)."""
    with open_store(db) as store:
        return stage_rows(store, skip=("updated_at",))


def test_ingest_batches_follow_items_and_count_new_articles_once():
    summaries = [(["a", "b", "c"], [1, 2]), (["d", "a", "e", "f"], [1, 1, 2])]
    # batches close at 3 articles: [a | b c], [d | a | e f]: "a" again is not new, "b" was stored before
    assert ingest_batches(summaries, {"a", "c", "d", "e", "f"}, batch_size=3) == [2, 3]
    assert ingest_batches(summaries, set(), batch_size=3) == [0, 0]
    assert ingest_batches([(["a", "b"], [2])], {"a", "b"}, batch_size=500) == [2]


def test_enrichment_plan_tags_each_id_once_and_links_it_in_its_first_batch():
    summaries = [(["a", "b", "c"], [1, 2]), (["d", "a", "e", "f"], [1, 1, 2])]
    # batches [a | b c], [d | a | e f]; "b" needs nothing; "a" is tagged and linked where first met
    where, slices = enrichment_plan(summaries, {"a", "c", "d", "e"}, batch_size=3)
    assert where == {0: [0, 2], 1: [0, 2]}
    assert slices == [["a", "c"], ["d", "e"]]
    # a repeat inside the batch where an id is new is linked again, as ingest enriches every copy there
    assert enrichment_plan([(["a", "b", "a"], [1, 1, 1])], {"a", "b"}, batch_size=500) == \
        ({0: [0, 1]}, [["a", "b", "a"]])


def _snn_lines(shared_data: Path, count: int, *, max_words: int | None = None) -> list[str]:
    """The first *count* SaudiNewsNet records (JSON lines), of at most *max_words* words of text if given."""
    lines = []
    with gzip.open(shared_data / "saudinewsnet.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip() and (max_words is None or len(json.loads(line)["text"].split()) <= max_words):
                lines.append(line.rstrip("\n"))
            if len(lines) == count:
                break
    return lines


def _write_shards(folder: Path, parts: list[list[str]]) -> list[str]:
    out = []
    for n, part in enumerate(parts):
        path = folder / f"snn-{n}.jsonl.gz"
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write("\n".join(part) + "\n")
        out.append(str(path))
    return out


@pytest.fixture(scope="module")
def snn_shards(shared_data, tmp_path_factory) -> list[str]:
    """640 SaudiNewsNet records in three shards of uneven size (ingest's batches of 500 straddle them),
    one record repeated in a later shard."""
    lines = _snn_lines(shared_data, 640)
    return _write_shards(tmp_path_factory.mktemp("snn-stories"),
                         [lines[:230], lines[230:400] + lines[5:6], lines[400:]])


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_backfill_stores_the_stories_of_one_process_ingest(backend, snn_shards, tmp_path, request):
    if backend == "sqlite":
        one, db = str(tmp_path / "one.db"), str(tmp_path / "backfill.db")
    else:
        from pg import drop_database, fresh_database

        admin = request.getfixturevalue("pg_cluster")
        one, db = fresh_database(admin), fresh_database(admin)
        request.addfinalizer(lambda: (drop_database(admin, one), drop_database(admin, db)))
    with open_store(one) as store:
        assert ingest(store, snn_shards, enrich=False).new == 640
    expected = _stage(one)
    members = expected["story_articles"]  # (article, story, ...) rows
    assert sum(members.values()) == 640 and len({row[1] for row in members}) < 640  # some stories have several

    report = backfill(snn_shards, db, workers=2, state_dir=str(tmp_path / "state"), enrich=False)
    assert not report.failed and report.new == 640 and report.unchanged == 1
    assert report.story_articles == 640
    assert report.stories == sum(1 for row in expected["stories"] if row[-1] is None)  # merged_into (last): live
    assert _stage(db) == expected


# -- enrichment -------------------------------------------------------------------------------------------

ENRICH_BATCH = 100  # ingest's batch size in these tests (500 in use): three batches from 242 short articles


@pytest.fixture(scope="module")
def short_shards(shared_data, tmp_path_factory) -> list[str]:
    """240 short SaudiNewsNet records (NER is the slow part) in three uneven shards that batches of
    ENRICH_BATCH straddle; one record repeated in its own batch, one in a later batch, and publisher
    tags on a few (linked to entities, where the others get auto tags)."""
    lines = _snn_lines(shared_data, 240, max_words=150)
    for n in range(20, 30):
        lines[n] = json.dumps(dict(json.loads(lines[n]), tags=["السعودية", "الرياض", "وزارة الصحة"]),
                              ensure_ascii=False)
    return _write_shards(tmp_path_factory.mktemp("snn-enrich"),
                         [lines[:70], lines[70:80] + lines[5:6] + lines[80:180], lines[180:] + lines[100:101]])


@pytest.fixture
def small_batches(monkeypatch):
    """Ingest's batches (and so the backfill's slices) of ENRICH_BATCH articles."""
    monkeypatch.setattr("marsad.pipeline.BATCH_SIZE", ENRICH_BATCH)


@pytest.fixture(scope="module")
def one_process_enrichment(short_shards, tmp_path_factory) -> tuple[int, dict]:
    """What `marsad ingest` into a fresh SQLite store enriches: (articles enriched, `enrichment_rows`)."""
    db = str(tmp_path_factory.mktemp("one-enrich") / "one.db")
    with pytest.MonkeyPatch.context() as patch, open_store(db) as store:
        patch.setattr("marsad.pipeline.BATCH_SIZE", ENRICH_BATCH)
        report = ingest(store, short_shards)
        rows = enrichment_rows(store)
    assert report.new == 240 and report.unchanged == 2 and report.enriched == 241  # the repeat in its batch: twice
    assert rows["tag_entities"] and rows["entity_aliases"] and len(rows["enrichments"]) == 240
    return report.enriched, rows


def _enrichment(db: str) -> dict:
    with open_store(db) as store:
        return enrichment_rows(store)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_backfill_enriches_as_one_process_ingest(backend, short_shards, one_process_enrichment, small_batches,
                                                  tmp_path, request):
    db = str(tmp_path / "backfill.db") if backend == "sqlite" else request.getfixturevalue("pg_dsn")
    enriched, expected = one_process_enrichment
    report = backfill(short_shards, db, workers=2, state_dir=str(tmp_path / "state"))
    assert not report.failed and report.new == 240 and report.enriched == enriched
    assert _enrichment(db) == expected  # mentions, entities, aliases, tag links and auto tags, row for row
    again = backfill(short_shards, db, workers=2, state_dir=str(tmp_path / "state"))
    assert again.skipped == 3 and again.seen == 0 and again.enriched == 0


def test_rerun_finishes_an_interrupted_enrichment_as_ingest_would(short_shards, one_process_enrichment,
                                                                  small_batches, tmp_path, monkeypatch):
    db, state = str(tmp_path / "backfill.db"), str(tmp_path / "state")
    enriched, expected = one_process_enrichment
    first = backfill(short_shards, db, workers=2, state_dir=state, enrich=False)
    assert first.new == 240 and first.enriched == 0 and not any(_enrichment(db).values())

    save_tagged = marsad.enrich.save_tagged
    saved = []

    def interrupted(store, tagged):
        if saved:
            raise RuntimeError("stopped after the first slice")
        saved.append(save_tagged(store, tagged))
        return saved[-1]

    monkeypatch.setattr(marsad.enrich, "save_tagged", interrupted)
    with pytest.raises(RuntimeError, match="first slice"):
        backfill(short_shards, db, workers=2, state_dir=state)
    monkeypatch.setattr(marsad.enrich, "save_tagged", save_tagged)
    with open_store(db) as store:
        left = len(store.pending_enrichment(model_version()))
    assert saved == [ENRICH_BATCH] and left == 240 - (ENRICH_BATCH - 1)  # the first batch holds the repeat

    report = backfill(short_shards, db, workers=2, state_dir=state)
    assert report.skipped == 3 and report.seen == 0 and not report.failed
    assert report.enriched == enriched - saved[0]
    assert _enrichment(db) == expected
