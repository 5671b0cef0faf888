"""`marsad backfill` ends with the duplicate groups and stories that `marsad ingest` stores in one process:
the story stage runs once in the client, over the articles in input order, in ingest's batches."""

from __future__ import annotations

import gzip

import pytest

from marsad.backfill import backfill, ingest_batches
from marsad.migrate import stage_rows
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


@pytest.fixture(scope="module")
def snn_shards(shared_data, tmp_path_factory) -> list[str]:
    """640 SaudiNewsNet records in three shards of uneven size (ingest's batches of 500 straddle them),
    one record repeated in a later shard."""
    with gzip.open(shared_data / "saudinewsnet.jsonl.gz", "rt", encoding="utf-8") as fh:
        lines = []
        for line in fh:
            if line.strip():
                lines.append(line.rstrip("\n"))
            if len(lines) == 640:
                break
    folder = tmp_path_factory.mktemp("snn-stories")
    out = []
    for n, part in enumerate((lines[:230], lines[230:400] + lines[5:6], lines[400:])):
        path = folder / f"snn-{n}.jsonl.gz"
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write("\n".join(part) + "\n")
        out.append(str(path))
    return out


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

    report = backfill(snn_shards, db, workers=2, state_dir=str(tmp_path / "state"))
    assert not report.failed and report.new == 640 and report.unchanged == 1
    assert report.story_articles == 640
    assert report.stories == sum(1 for row in expected["stories"] if row[-1] is None)  # merged_into (last): live
    assert _stage(db) == expected
