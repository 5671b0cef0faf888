from __future__ import annotations

import json

import pyarrow.parquet as pq
from click.testing import CliRunner

from marsad.cli import cli

SEED_FIRST_TITLE = "أمريكا توافق على سحب قواتها من النيجر"
SEED_SECOND_TITLE = "مصدر لـعربي21: الولايات المتحدة تدعم عملية برية وشيكة ضد الحوثيين"


def run(*args, env=None):
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result


def test_parse_seed_page_follows_the_contract(seed_page):
    result = run("parse", str(seed_page), "--format", "jsonl")
    assert result.exit_code == 0, result.output
    first, second = [json.loads(line) for line in result.stdout.splitlines()]
    assert first["title"] == SEED_FIRST_TITLE
    assert first["published_at"] == "2024-04-20T00:00:00Z"
    assert (first["source"], first["source_inferred"]) == ("صدى البلد", False)
    assert first["tags"] == ["النيجر", "الولايات المتحدة"]
    assert len(first["text"].split("\n")) == 7 and "قوّاتها" in first["text"]
    assert first["read_also"] == [SEED_SECOND_TITLE]
    assert first["origin"] == str(seed_page)
    assert second["title"] == SEED_SECOND_TITLE
    assert second["published_at"] is None
    assert (second["source"], second["source_inferred"]) == ("عربي21", True)
    assert second["tags"] == [] and second["read_also"] == []
    assert len(second["text"].split("\n")) == 8


def test_parse_reports_unreadable_files_and_continues(tmp_path, seed_page):
    bad = tmp_path / "binary.txt"
    bad.write_bytes(bytes(range(256)) * 4)
    result = run("parse", str(bad), str(seed_page))
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 2
    assert f"error: {bad}:" in result.stderr


def test_ingest_show_stats_export(tmp_path, seed_page):
    db = str(tmp_path / "cli.db")
    first = run("--db", db, "ingest", "-q", str(seed_page))
    assert first.exit_code == 0
    assert "1 file(s): 2 new, 0 updated, 0 unchanged, 0 failed" in first.stderr
    again = run("ingest", "-q", str(seed_page), env={"MARSAD_DB": db})
    assert "0 new, 0 updated, 2 unchanged, 0 failed" in again.stderr

    exported = run("--db", db, "export")
    records = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [r["title"] for r in records] == [SEED_FIRST_TITLE, SEED_SECOND_TITLE]
    assert records[0]["read_also"] == [SEED_SECOND_TITLE]
    assert {"id", "url", "title", "published_at", "source", "source_inferred", "tags", "text", "read_also",
            "origin"} <= set(records[0])

    shown = run("--db", db, "show", records[0]["id"][:8], "--json")
    assert json.loads(shown.stdout)["title"] == SEED_FIRST_TITLE
    text = run("--db", db, "show", records[1]["id"])
    assert f"listed as read-also by: {records[0]['id']}" in text.stdout
    missing = run("--db", db, "show", "0000000000")
    assert missing.exit_code == 1 and "no such article" in missing.stderr

    stats = json.loads(run("--db", db, "stats", "--json").stdout)
    assert stats["articles"] == 2 and stats["links"] == 1

    parquet = tmp_path / "out.parquet"
    assert run("--db", db, "export", "--format", "parquet", "-o", str(parquet)).exit_code == 0
    table = pq.read_table(parquet)
    assert table.num_rows == 2
    assert table.column("tags").to_pylist()[0] == ["النيجر", "الولايات المتحدة"]


def test_export_reingests_to_the_same_articles(tmp_path, seed_page):
    db, copy = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    run("--db", db, "ingest", "-q", str(seed_page))
    dump = tmp_path / "dump.jsonl"
    run("--db", db, "export", "-o", str(dump))
    run("--db", copy, "ingest", "-q", str(dump))
    original = run("--db", db, "export").stdout.splitlines()
    copied = run("--db", copy, "export").stdout.splitlines()
    strip = lambda line: {k: v for k, v in json.loads(line).items() if k != "origin"}  # noqa: E731
    assert [strip(x) for x in original] == [strip(x) for x in copied]


def test_demo_ingests_the_bundled_sample(tmp_path):
    result = run("--db", str(tmp_path / "demo.db"), "demo", "-q", "--no-serve")
    assert result.exit_code == 0, result.output
    assert "303 new" in result.stderr
    assert "Latest articles:" in result.stdout


def test_demo_rebuilds_a_search_index_left_by_an_older_marsad(tmp_path):
    import sqlite3

    db = tmp_path / "demo.db"
    assert run("--db", str(db), "demo", "-q", "--no-serve").exit_code == 0
    with sqlite3.connect(db) as conn:  # as migration 6 leaves an index built by the analyzer before it
        conn.execute("UPDATE search_state SET value = 'stale' WHERE key = 'analyzer'")
    assert "run `marsad reindex`" in run("--db", str(db), "search", "السعودية").output
    again = run("--db", str(db), "demo", "-q", "--no-serve")
    assert again.exit_code == 0 and "Rebuilding the search index" in again.stderr
    found = run("--db", str(db), "search", "السعودية", "--json")
    assert found.exit_code == 0 and json.loads(found.stdout)["total"] > 0
