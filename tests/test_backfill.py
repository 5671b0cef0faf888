"""`marsad backfill` on a Dask LocalCluster of 2 workers: the same articles as a one-process ingest,
into SQLite and into PostgreSQL, with Parquet beside; a re-run skips what is done."""

from __future__ import annotations

import gzip
from importlib import resources
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from marsad.backfill import backfill, partitions
from marsad.cli import cli
from marsad.enrich import model_version
from marsad.pipeline import ingest
from marsad.store import open_store
from marsad.store.sqlite import SQLiteStore

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> list[Path]:
    """The bundled sample cut into three JSONL(.gz) shards, with one record repeated across two of them."""
    sample = Path(str(resources.files("marsad").joinpath("sample"))) / "saudinewsnet-sample.jsonl.gz"
    lines = gzip.open(sample, "rt", encoding="utf-8").read().splitlines()[:150]
    folder = tmp_path_factory.mktemp("shards")
    out = []
    for n, part in enumerate((lines[:50], lines[50:100] + lines[:1], lines[100:])):
        path = folder / f"shard-{n}.jsonl.gz"
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write("\n".join(part) + "\n")
        out.append(path)
    return out


@pytest.fixture(scope="module")
def expected_ids(shards, tmp_path_factory) -> set[str]:
    with SQLiteStore(tmp_path_factory.mktemp("one") / "one.db") as store:
        ingest(store, [str(p) for p in shards], enrich=False)
        return {a.id for a in store.iter_articles()}


def test_partitions_are_one_per_shard_with_stable_keys(shards):
    first, missing = partitions([str(p) for p in shards] + ["nowhere/*.jsonl"])
    again, _ = partitions([str(p) for p in shards])
    assert len(first) == 3 and missing
    assert [p.key for p in first] == [p.key for p in again]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_backfill_matches_one_process_ingest_and_resumes(backend, shards, expected_ids, tmp_path, request):
    db = str(tmp_path / "b.db") if backend == "sqlite" else request.getfixturevalue("pg_dsn")
    seen = []
    report = backfill([str(p) for p in shards], db, workers=2, enrich=False, parquet_dir=str(tmp_path / "parquet"),
                      on_progress=lambda done, total: seen.append((done, total)))
    assert report.partitions == 3 and not report.failed
    assert report.new == len(expected_ids) and report.unchanged == 1  # the repeated record
    assert seen[-1] == (3, 3)
    with open_store(db) as store:
        assert {a.id for a in store.iter_articles()} == expected_ids
    parquet_rows = sum(pq.read_metadata(p).num_rows for p in (tmp_path / "parquet").glob("part-*.parquet"))
    assert parquet_rows == len(expected_ids) + 1
    again = backfill([str(p) for p in shards], db, workers=2, enrich=False, parquet_dir=str(tmp_path / "parquet"))
    assert again.skipped == 3 and again.seen == 0


def test_cli_backfill(shards, tmp_path):
    db = tmp_path / "cli.db"
    out = CliRunner().invoke(cli, ["--db", str(db), "backfill", *map(str, shards), "--workers", "2", "-q",
                                   "--state", str(tmp_path / "state"), "--no-entities"])
    assert out.exit_code == 0, out.output
    assert "3 partition(s)" in out.output
    assert "stories: " in out.output and " article(s) placed, " in out.output
    assert "entities: " not in out.output  # --no-entities: nothing tagged, all left to `marsad enrich`
    with SQLiteStore(db) as store:
        assert len(store.pending_enrichment(model_version())) == store.count_articles() == 150
        assert not store.list_entities()
