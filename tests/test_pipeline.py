from __future__ import annotations

import gzip
import json
import shutil

from marsad import ingest, open_store
from marsad.pipeline import parse_inputs

RECORD = {
    "id": "snn-2015-08-10-00001", "source": "was", "url": "http://www.spa.gov.sa/1385521",
    "date": "2015-08-10 09:12:40", "title": "خادم الحرمين الشريفين يتلقى اتصالاً هاتفياً",
    "author": "", "text": "تلقى خادم الحرمين الشريفين اتصالاً هاتفياً.\n\n وجرى خلال الاتصال استعراض العلاقات.",
}


def write_jsonl(path, records, *, gz=False, extra_lines=()):
    lines = [json.dumps(r, ensure_ascii=False) for r in records] + list(extra_lines)
    data = ("\n".join(lines) + "\n").encode("utf-8")
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def test_jsonl_records_become_articles_with_outlet_names(tmp_path, store):
    dump = write_jsonl(tmp_path / "dump.jsonl.gz", [RECORD], gz=True)
    report = ingest(store, [str(dump)])
    assert (report.new, report.failed) == (1, [])
    article = next(store.iter_articles())
    assert article.source == "واس"
    assert article.published_at.isoformat() == "2015-08-10T09:12:40+00:00"
    assert article.date_precision == "second"
    assert article.paragraphs == ["تلقى خادم الحرمين الشريفين اتصالاً هاتفياً.", "وجرى خلال الاتصال استعراض العلاقات."]
    assert article.origin == f"{dump}:1"
    assert store.get_source("واس").country == "SA"


def test_bad_lines_are_reported_and_the_rest_is_kept(tmp_path, store):
    dump = write_jsonl(tmp_path / "dump.jsonl", [RECORD], extra_lines=["{not json", '{"title": "", "text": " "}', "[1, 2]", ""])
    report = ingest(store, [str(dump), str(tmp_path / "missing.txt")])
    assert report.new == 1
    assert report.skipped == [(f"{dump}:3", "empty record: no title and no text")]
    assert sorted(report.failed) == sorted([
        (f"{dump}:2", "invalid JSON: Expecting property name enclosed in double quotes"),
        (f"{dump}:4", "record is not a JSON object"),
        (str(tmp_path / "missing.txt"), "no such file, folder or matching pattern"),
    ])


def test_records_without_title_get_one_from_url_or_text(tmp_path, store):
    untitled = [
        dict(RECORD, title=" ", url="http://www.al-madina.com/node/620227/كيف-تسعف-طفلاً-بعد-انسداد-مجرى-الهواء.html"),
        dict(RECORD, title="", url="http://www.spa.gov.sa/1385521"),
    ]
    ingest(store, [str(write_jsonl(tmp_path / "dump.jsonl", untitled))])
    assert [a.title for a in store.iter_articles()] == [
        "كيف تسعف طفلاً بعد انسداد مجرى الهواء",
        "تلقى خادم الحرمين الشريفين اتصالاً هاتفياً.",
    ]


def test_truncated_gzip_keeps_what_was_read(tmp_path, store):
    records = [dict(RECORD, url=f"http://www.spa.gov.sa/{i}", title=f"خبر {i}") for i in range(200)]
    dump = write_jsonl(tmp_path / "dump.jsonl.gz", records, gz=True)
    data = dump.read_bytes()
    dump.write_bytes(data[: len(data) // 2])
    report = ingest(store, [str(dump)])
    assert 0 < report.new < 200
    assert len(report.failed) == 1 and "cannot read on" in report.failed[0][1]


def test_text_pages_in_folders_store_read_also_links(tmp_path, store, seed_page):
    folder = tmp_path / "pages" / "nested"
    folder.mkdir(parents=True)
    shutil.copy(seed_page, folder / "seed.txt")
    report = ingest(store, [str(tmp_path / "pages")])
    assert (report.files, report.new, report.links) == (1, 2, 1)
    main, glued = list(store.iter_articles())
    assert main.read_also == [glued.id]
    assert glued.source == "عربي21" and glued.source_inferred


def test_ingest_twice_adds_nothing(tmp_path, db_path, seed_page):
    dump = write_jsonl(tmp_path / "dump.jsonl", [RECORD])
    with open_store(db_path) as store:
        first = ingest(store, [str(dump), str(seed_page)])
    with open_store(db_path) as store:
        second = ingest(store, [str(dump), str(tmp_path / "*.jsonl"), str(seed_page)])
        assert store.count_articles() == first.new == 3
    assert (second.new, second.updated, second.unchanged) == (0, 0, 3)


def test_stories_left_for_later_are_caught_up_by_the_next_ingest(tmp_path):
    from marsad.cli import sample_inputs
    from marsad.stories import list_stories

    def story_rows(store):
        return sorted((s.id, tuple(sorted(s.article_ids))) for s in list_stories(store, limit=10_000))

    sample = sample_inputs()
    with open_store(tmp_path / "deferred.db") as store:
        first = ingest(store, sample, enrich=False, stories=False)
        assert first.new == 303
        assert story_rows(store) == []
        assert first.seconds["stories"] == 0
        second = ingest(store, sample, enrich=False)  # nothing new, yet the stage runs
        assert second.new == 0
        deferred = story_rows(store)
    with open_store(tmp_path / "at-once.db") as store:
        ingest(store, sample, enrich=False)
        at_once = story_rows(store)
    assert len(at_once) > 200
    assert deferred == at_once


def test_parse_inputs_reports_missing_paths(tmp_path):
    items = list(parse_inputs([str(tmp_path / "nothing-*.txt")]))
    assert [(i.where, i.error) for i in items] == [
        (str(tmp_path / "nothing-*.txt"), "no such file, folder or matching pattern")
    ]


def test_full_saudinewsnet_corpus_twice_gives_the_same_count(shared_data, db_path):
    corpus = str(shared_data / "saudinewsnet.jsonl.gz")
    # Entity tagging is left out (`marsad ingest --no-entities`): it does not decide what is stored,
    # and on the whole corpus it would be most of the suite's time (test_enrich covers it).
    with open_store(db_path) as store:
        first = ingest(store, [corpus], enrich=False)
        after_first = store.count_articles()
    with open_store(db_path) as store:
        second = ingest(store, [corpus], enrich=False)
        after_second = store.count_articles()
    # 10 records hold neither a title nor any text: they are reported as skipped.
    assert first.failed == [] and len(first.skipped) == 10 and first.seen == 31020
    assert after_first == after_second == first.new == 31020
    assert second.new == second.updated == 0


def test_ingest_collects_garbage_less_often_and_restores_the_setting(tmp_path, store):
    import gc

    from marsad.pipeline import GC_MIDDLE_THRESHOLD, GC_YOUNG_THRESHOLD, fewer_gc_passes

    before = gc.get_threshold()
    seen = []
    with fewer_gc_passes():
        seen.append(gc.get_threshold())
        with fewer_gc_passes():  # nested (an edge calling ingest inside another): one restore, at the end
            pass
        seen.append(gc.get_threshold())
    assert seen == [(max(GC_YOUNG_THRESHOLD, before[0]), max(GC_MIDDLE_THRESHOLD, before[1]), before[2])] * 2
    assert gc.get_threshold() == before
    try:
        with fewer_gc_passes():
            raise ValueError("a failing batch")
    except ValueError:
        pass
    assert gc.get_threshold() == before
    path = tmp_path / "a.jsonl"
    path.write_text('{"title": "عنوان", "text": "نص الخبر", "source": "x"}\n', encoding="utf-8")
    assert ingest(store, [str(path)], enrich=False).new == 1
    assert gc.get_threshold() == before
