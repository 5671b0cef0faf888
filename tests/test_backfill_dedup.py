"""`marsad backfill` beyond parsing: near duplicates across partitions, WARC input, retries, resuming,
and the same articles and duplicate groups as `marsad ingest` in one process (LocalCluster of 2 workers)."""

from __future__ import annotations

import gzip
import io
import json
from importlib import resources
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from marsad.backfill import FAIL_ONCE_ENV, backfill, partitions
from marsad.dedup import duplicate_groups
from marsad.models import Article
from marsad.pipeline import ingest
from marsad.store import open_store
from marsad.store.sqlite import SQLiteStore

pytest.importorskip("distributed")

SAMPLE = Path(str(resources.files("marsad").joinpath("sample"))) / "saudinewsnet-sample.jsonl.gz"


def _records(path: Path, limit: int) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        out = []
        for line in fh:
            if line.strip():
                out.append(json.loads(line))
            if len(out) >= limit:
                break
        return out


def _write(path: Path, records: list[dict]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def _long(records: list[dict], n: int) -> list[dict]:
    """Records with enough text to be judged as near copies (several paragraphs)."""
    return [r for r in records if len(r["text"].split()) > 150 and r["text"].count("\n") >= 3][:n]


def _near_copy(record: dict, n: int) -> dict:
    """Another outlet's version: new URL and title, the last paragraph dropped."""
    paragraphs = [p for p in record["text"].split("\n") if p.strip()]
    return dict(record, id=f"copy-{n}", url=f"https://copies.example/{n}", source="okaz",
                title=record["title"] + " (نقلا عن مصدر آخر)", text="\n".join(paragraphs[:-1]))


def _exact_copy(record: dict, n: int) -> dict:
    return dict(record, id=f"exact-{n}", url=f"https://mirror.example/{n}", source="okaz")


def _stored_groups(db: str) -> set[frozenset[str]]:
    """Duplicate groups (two or more articles) as the one-process story stage stored them."""
    with SQLiteStore(db) as store:
        return duplicate_groups(store)


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> tuple[list[Path], list[tuple[str, str]]]:
    """Three shards of the bundled sample, with copies of shard 0's articles planted in shards 1 and 2."""
    records = _records(SAMPLE, 303)
    shards = [records[:100], records[100:200], records[200:]]
    originals = _long(shards[0], 4)
    assert len(originals) == 4
    plants = []
    for n, original in enumerate(originals):
        copy = _near_copy(original, n) if n % 2 == 0 else _exact_copy(original, n)
        shards[1 + n % 2].insert(10 + n, copy)
        plants.append((original["url"], copy["url"]))
    folder = tmp_path_factory.mktemp("planted")
    return [_write(folder / f"part-{i}.jsonl.gz", s) for i, s in enumerate(shards)], plants


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_copies_in_different_partitions_are_found(planted, backend, tmp_path, request):
    shards, plants = planted
    db = str(tmp_path / "b.db") if backend == "sqlite" else request.getfixturevalue("pg_dsn")
    report = backfill([str(p) for p in shards], db, workers=2, enrich=False, parquet_dir=str(tmp_path / "out"))
    assert report.partitions == 3 and not report.failed
    with open_store(db) as store:
        by_url = {a.url: a.id for a in store.iter_articles()}
    found = {frozenset(g) for g in report.duplicate_groups}
    for original, copy in plants:
        assert any({by_url[original], by_url[copy]} <= g for g in found), (original, copy)
    # The groups are written beside the partitions, and the story stage that ends the backfill stores the same.
    table = pq.read_table(tmp_path / "out" / "duplicates.parquet").to_pylist()
    assert {r["id"] for r in table} == {i for g in report.duplicate_groups for i in g}
    with open_store(db) as store:
        assert duplicate_groups(store) == found


def test_backfill_gives_the_same_articles_and_groups_as_one_process_ingest(shared_data, tmp_path, pg_dsn):
    """A slice of the real corpus, sharded, with planted copies: ingest vs backfill (SQLite and PostgreSQL)."""
    records = _records(shared_data / "saudinewsnet.jsonl.gz", 2400)
    shards = [records[i : i + 600] for i in range(0, 2400, 600)]
    for n, original in enumerate(_long(shards[0], 6)):
        target = shards[1 + n % 3]
        target.insert(len(target) // 2, _near_copy(original, n) if n % 2 == 0 else _exact_copy(original, n))
    paths = [str(_write(tmp_path / f"snn-{i}.jsonl.gz", s)) for i, s in enumerate(shards)]

    one = str(tmp_path / "one.db")
    with SQLiteStore(one) as store:
        ingest(store, paths, enrich=False)
        expected_ids = [a.id for a in store.iter_articles()]
    expected_groups = _stored_groups(one)
    assert len(expected_groups) >= 6  # the planted copies, and the corpus' own

    sqlite_db = str(tmp_path / "backfill.db")
    report = backfill(paths, sqlite_db, workers=2, enrich=False, state_dir=str(tmp_path / "state-sqlite"))
    assert not report.failed and report.new == len(expected_ids)
    assert report.story_articles == report.features_from_workers == len(expected_ids)  # analysed on the workers
    with SQLiteStore(sqlite_db) as store:
        assert [a.id for a in store.iter_articles()] == expected_ids  # the same articles, in the same order
    assert {frozenset(g) for g in report.duplicate_groups} == expected_groups
    assert _stored_groups(sqlite_db) == expected_groups  # the story stage ending the backfill agrees

    report = backfill(paths, pg_dsn, workers=2, enrich=False, state_dir=str(tmp_path / "state-pg"))
    assert not report.failed and report.new == len(expected_ids)
    assert report.features_from_workers == len(expected_ids)
    with open_store(pg_dsn) as store:
        assert [a.id for a in store.iter_articles()] == expected_ids  # pks reserved in input order
        assert duplicate_groups(store) == expected_groups
    assert {frozenset(g) for g in report.duplicate_groups} == expected_groups


def test_failed_partitions_are_retried_and_a_rerun_skips_what_is_done(planted, tmp_path, monkeypatch):
    shards, _ = planted
    failures = tmp_path / "failures"
    failures.mkdir()
    monkeypatch.setenv(FAIL_ONCE_ENV, str(failures))  # every partition's first attempt raises
    db = str(tmp_path / "retry.db")
    report = backfill([str(p) for p in shards], db, workers=2, enrich=False, state_dir=str(tmp_path / "state"))
    assert not report.failed and report.partitions == 3
    assert len(list(failures.iterdir())) == 3  # each failed once, and its retry succeeded
    with open_store(db) as store:
        assert store.count_articles() == report.new
    again = backfill([str(p) for p in shards], db, workers=2, enrich=False, state_dir=str(tmp_path / "state"))
    assert again.skipped == 3 and again.seen == 0
    assert again.duplicate_groups == report.duplicate_groups


def test_a_partition_that_keeps_failing_is_reported_and_the_rest_stored(planted, tmp_path):
    shards, _ = planted
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(b"not gzip at all")
    report = backfill([str(shards[0]), str(broken)], str(tmp_path / "partial.db"), workers=2, enrich=False,
                      state_dir=str(tmp_path / "state"), retries=1)
    assert report.partitions == 2 and report.failed
    assert report.new == 100


def _warc(path: Path, pages: list[tuple[str, bytes]]) -> Path:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for url, body in pages:
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                          http_headers=headers))
        robots = StatusAndHeaders("404 Not Found", [("Content-Type", "text/plain")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record("https://example.com/robots.txt", "response",
                                                      payload=io.BytesIO(b"nope"), http_headers=robots))
    return path


def test_warc_input(tmp_path):
    fixtures = Path(__file__).resolve().parent / "fixtures" / "html"
    expected = json.loads((fixtures / "expected.json").read_text(encoding="utf-8"))["pages"]
    names = sorted(expected)[:3]
    pages = []
    for name in names:
        html = next(p for p in fixtures.iterdir() if p.name.startswith(name) and p.suffix in (".html", ".htm"))
        pages.append((f"https://news.example/{name}", html.read_bytes()))
    warc = _warc(tmp_path / "crawl.warc.gz", pages)
    found, missing = partitions([str(warc)])
    assert len(found) == 1 and not missing
    db = str(tmp_path / "warc.db")
    report = backfill([str(warc)], db, workers=2, enrich=False, state_dir=str(tmp_path / "state"))
    assert report.new == 3 and not report.failed
    with open_store(db) as store:
        titles = {a.url: a.title for a in store.iter_articles()}
    for name in names:
        assert titles[f"https://news.example/{name}"] == expected[name]["title"]


def test_article_ids_do_not_depend_on_the_partitioning(planted):
    """Sanity: ids are content-derived, so a copy planted elsewhere is another article (unless exact)."""
    shards, plants = planted
    assert len(plants) == 4 and all(a != b for a, b in plants)
    assert Article(title="x", paragraphs=["y"], url="https://a/1").id == Article(title="x", paragraphs=["y"],
                                                                                 url="https://a/1").id


def test_one_large_file_split_into_partitions(planted, tmp_path):
    """`--split N`: one dump read by several tasks gives what one task (and one process) gives."""
    shards, plants = planted
    whole = tmp_path / "whole.jsonl.gz"
    whole.write_bytes(gzip.compress(b"".join(gzip.open(p).read() for p in shards)))
    found, _ = partitions([str(whole)], records_per_partition=60)
    assert len(found) == 6 and found[-1].records[1] is None
    one = str(tmp_path / "one.db")
    with SQLiteStore(one) as store:
        ingest(store, [str(whole)], enrich=False)
        expected = [a.id for a in store.iter_articles()]
    expected_groups = _stored_groups(one)
    db = str(tmp_path / "split.db")
    report = backfill([str(whole)], db, workers=2, enrich=False, records_per_partition=60,
                      state_dir=str(tmp_path / "state"))
    assert report.partitions == 6 and not report.failed and report.new == len(expected)
    with SQLiteStore(db) as store:
        assert [a.id for a in store.iter_articles()] == expected
    assert {frozenset(g) for g in report.duplicate_groups} == expected_groups and len(expected_groups) >= 4


def test_an_article_replaced_later_in_the_input_is_analysed_from_its_stored_text(planted, tmp_path):
    """The workers analyse each article at its first appearance; a later copy that replaced its text
    in the store must not lend the story stage the old text's features."""
    from marsad.stories.indexer import featurizer

    shards, _ = planted
    first = _records(shards[0], 100)
    original = _long(first, 1)[0]
    changed = dict(original, text=original["text"] + "\nوأضاف المصدر في تحديث لاحق أن المفاوضات ستستأنف الأسبوع المقبل.")
    later = _write(tmp_path / "later.jsonl.gz", [changed])
    db = str(tmp_path / "replaced.db")
    report = backfill([str(shards[0]), str(later)], db, workers=2, enrich=False, state_dir=str(tmp_path / "state"))
    assert not report.failed and (report.new, report.updated) == (100, 1)
    assert report.story_articles == 100 and report.features_from_workers == 99
    with SQLiteStore(db) as store:
        fp, title, text = store.conn.execute(
            "SELECT d.text_fp, a.title, a.text FROM dedup_articles d JOIN articles a ON a.pk = d.article_pk "
            "WHERE a.url = ?", (original["url"],)).fetchone()
    assert text.endswith("الأسبوع المقبل.")
    assert fp == featurizer().features(title, text.split("\n")).text_fp != 0
