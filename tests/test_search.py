"""search(): ranking, filters, facets, snippets on normalised matches, and the index kept in sync."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import marsad
from marsad.cli import cli
from marsad.errors import StoreError
from marsad.models import Article
from marsad.search import InvalidQuery, search
from marsad.search.index import FTS_TABLE, index_state
from marsad.store.sqlite import SQLiteStore


def _at(day: int, month: int = 8) -> datetime:
    return datetime(2015, month, day, 9, 30, tzinfo=timezone.utc)


ARTICLES = [
    Article(title="الدولار الأمريكيّ يقلص مكاسبه", source="الاقتصادية", published_at=_at(3), tags=["اقتصاد"],
            paragraphs=["قلص الدولار الأمريكيّ مكاسبه مقابل سلة العملات بعد هبوط مبيعات المنازل الأمريكيّة.",
                        "وقال متعاملون إن <السوق> تترقب بيانات الوظائف."], url="https://example.com/1", language="ar"),
    Article(title="وزارة الداخلية تعلن القبض على خلية", source="سبق", published_at=_at(5), tags=["أمن"],
            paragraphs=["أعلنت وزارة الداخلية اليوم القبض على خلية إرهابية في الرياض.",
                        "وأكد المتحدث الأمني أن قوّاتها تتابع الموقف."], url="https://example.com/2", language="ar"),
    Article(title="حرس الحدود يحبط تهريب مخدرات في جازان", source="عكاظ", published_at=_at(7), tags=["أمن"],
            paragraphs=["أحبط حرس الحدود بمنطقة جازان محاولة تهريب كمية من المخدرات."],
            url="https://example.com/3", language="ar"),
    Article(title="تدريب حرس الحدود على الإنقاذ البحري", source="سبق", published_at=_at(20, 7), tags=["أمن", "تدريب"],
            paragraphs=["اختتمت دورة تدريب لمنسوبي حرس الحدود على الإنقاذ البحري في جدة."],
            url="https://example.com/4", language="ar"),
    Article(title="أمطار غزيرة على مكة المكرمة", source="عكاظ", published_at=_at(10), tags=["طقس"],
            paragraphs=["هطلت أمطار غزيرة على مكة المكرمة وجدة مساء أمس."], url="https://example.com/5", language="ar"),
    Article(title="ولي العهد يستقبل وزير الخارجية", source="واس", published_at=_at(11),
            paragraphs=["استقبل ولي العهد وزير الخارجية الأمريكي في جدة."], url="https://example.com/6", language="ar"),
    Article(title="Saudi Aramco reports higher profits", source="Reuters", published_at=_at(9), language="en",
            paragraphs=["Saudi Aramco reported higher quarterly profits on Sunday."], url="https://example.com/7"),
    Article(title="السعودية تستضيف مؤتمر الطاقة", source="الرياض", published_at=None,
            paragraphs=["تستضيف المملكة العربية السعودية مؤتمرا دوليا للطاقة العام ٢٠١٥."],
            url="https://example.com/8", language="ar"),
]


@pytest.fixture
def store(tmp_path):
    db = SQLiteStore(tmp_path / "search.db")
    db.upsert_articles(ARTICLES)
    yield db
    db.close()


def titles(results):
    return [h.title for h in results.hits]


# -- matching through normalisation and stemming -----------------------------------


def test_normalised_query_finds_and_highlights_the_original_spelling(store):
    results = search(store, "الامريكيه")
    assert results.total == 2
    hit = next(h for h in results.hits if h.title.startswith("الدولار"))
    assert "<mark>الأمريكيّة</mark>" in hit.snippet  # the stored spelling, shadda and all, is marked
    assert "<mark>الأمريكيّ</mark>" in hit.title_html
    assert "الأمريكيّة" in hit.snippet_text and "<mark>" not in hit.snippet_text
    assert "&lt;السوق&gt;" in hit.snippet  # everything else is HTML-escaped


def test_clitics_and_inflections_match(store):
    assert titles(search(store, "والداخلية"))[0].startswith("وزارة الداخلية")
    assert search(store, "قواته").total == 1  # قوّاتها
    assert search(store, "مكه").total == 1  # مكة
    assert search(store, "٢٠١٥").total == search(store, "2015").total == 1
    assert search(store, "profit").total == 1  # English stemming


def test_conjunction_waw_is_found_both_ways(store):
    assert search(store, "أكد").total == 1  # stored as وأكد
    assert search(store, "ووزارة").total == 1


def test_phrase_or_exclusion_prefix(store):
    assert search(store, '"حرس الحدود"').total == 2
    assert search(store, '"الحدود حرس"').total == 0
    assert search(store, "مكة OR جازان").total == 2
    assert titles(search(store, "حرس الحدود -تدريب")) == ["حرس الحدود يحبط تهريب مخدرات في جازان"]
    assert search(store, "مخدر*").total == 1


def test_ranking_prefers_title_matches(store):
    assert titles(search(store, "جدة"))[0] != ""  # three articles mention جدة in the body only
    assert titles(search(store, "حرس"))[0] in {a.title for a in ARTICLES[2:4]}
    results = search(store, "وزير الخارجية")
    assert results.hits[0].title == "ولي العهد يستقبل وزير الخارجية"
    scores = [h.score for h in search(store, "حرس OR مكة OR جدة").hits]
    assert scores == sorted(scores, reverse=True)


def test_relaxed_when_no_article_has_every_word(store):
    results = search(store, "جازان المكرمة")
    assert results.relaxed and results.total == 2
    assert search(store, "جازان المكرمة", relax=False).total == 0


# -- filters, facets, sorting, paging -------------------------------------------------


def test_filters(store):
    assert titles(search(store, "حرس source:عكاظ")) == ["حرس الحدود يحبط تهريب مخدرات في جازان"]
    assert search(store, "حرس source:okaz").total == 1  # the outlet code works too
    assert search(store, "حرس -source:عكاظ").total == 1
    assert search(store, "حرس tag:تدريب").total == 1
    assert search(store, "حرس -tag:تدريب").total == 1
    assert search(store, "حرس from:2015-08-01").total == 1
    assert search(store, "حرس to:2015-07").total == 1
    assert search(store, "حرس from:2015-08-07 to:2015-08-07").total == 1  # to: includes the whole day
    assert search(store, "saudi lang:en").total == 1
    assert search(store, "saudi lang:ar").total == 0


def test_filter_only_query_lists_newest_first(store):
    results = search(store, "tag:أمن")
    assert results.total == 3
    assert [h.published_at.day for h in results.hits] == [7, 5, 20]


def test_facets_cover_the_whole_result_set(store):
    results = search(store, "حرس OR مكة OR الداخلية", limit=1, facets=True)
    assert results.total == 4 and len(results.hits) == 1
    assert dict(results.facets.source) == {"سبق": 2, "عكاظ": 2}
    assert dict(results.facets.tag) == {"أمن": 3, "تدريب": 1, "طقس": 1}
    assert dict(results.facets.month) == {"2015-08": 3, "2015-07": 1}
    filtered = search(store, "حرس OR مكة OR الداخلية source:عكاظ", facets=True)
    assert dict(filtered.facets.source) == {"عكاظ": 2}


def test_sort_by_date_and_recency(store):
    by_date = search(store, "حرس OR مكة OR الداخلية", sort="date")
    days = [h.published_at for h in by_date.hits]
    assert days == sorted(days, reverse=True)
    recent = search(store, "حرس", sort="recent")
    assert recent.hits[0].published_at == _at(7)  # equal BM25-ish, fresher first


def test_pagination(store):
    everything = titles(search(store, "حرس OR مكة OR الداخلية OR الدولار", limit=10))
    pages = [titles(search(store, "حرس OR مكة OR الداخلية OR الدولار", limit=2, offset=o)) for o in (0, 2, 4)]
    assert sum(pages, []) == everything and len(everything) == 5


# -- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "   ", "في من", "-حرس", "*", "from:2015-99-01"])
def test_clear_invalid_query_errors(store, query):
    with pytest.raises(InvalidQuery) as info:
        search(store, query)
    assert str(info.value).startswith("invalid query: ")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(list('حرسمكةالأمريكيّة "()*-:|\x00') + ["OR", "NEAR", "source:", "tag:", "from:",
                                                                       "title:", "';--"]), max_size=40).map("".join))
def test_fuzz_search_returns_results_or_invalid_query(store, text):
    try:
        results = search(store, text, facets=True)
    except InvalidQuery:
        return
    assert results.total >= len(results.hits)


# -- the index follows every write --------------------------------------------------------


def test_index_follows_updates_and_deletes(store):
    changed = replace(ARTICLES[4], paragraphs=["تراجعت درجات الحرارة في الطائف."], content_hash="", id=ARTICLES[4].id)
    result = store.upsert_articles([changed])
    assert result.updated == [ARTICLES[4].id]
    assert search(store, "الطائف").total == 1
    assert search(store, "غزيرة").total == 1  # still in the title
    assert search(store, "هطلت").total == 0  # the old body is gone from the index
    store.upsert_articles([changed])  # unchanged: nothing re-indexed twice
    assert search(store, "الطائف").total == 1
    retitled = replace(changed, title="موجة حر في الطائف")
    store.upsert_articles([retitled, retitled])  # the same update twice in one batch
    assert search(store, "غزيرة").total == 0
    assert store.delete_articles([ARTICLES[1].id]) == 1
    assert search(store, "الداخلية").total == 0
    store.conn.execute(f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}) VALUES ('integrity-check')")
    before = [(q, titles(search(store, q))) for q in ("حرس", "الطائف", "جدة", "saudi")]
    report = store.reindex()
    assert report["articles"] == len(ARTICLES) - 1
    assert [(q, titles(search(store, q))) for q in ("حرس", "الطائف", "جدة", "saudi")] == before


def test_tag_only_update_keeps_the_index(store):
    store.upsert_articles([replace(ARTICLES[2], tags=["أمن", "جازان"])])
    assert search(store, "حرس tag:جازان").total == 1
    assert search(store, "مخدرات").total == 1
    store.conn.execute(f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}) VALUES ('integrity-check')")


def test_stale_index_asks_for_reindex(store):
    with store.transaction() as tx:
        tx.execute("UPDATE search_state SET value = 'stale' WHERE key = 'analyzer'")
    with pytest.raises(StoreError, match="marsad reindex"):
        search(store, "حرس")
    store.upsert_articles([Article(title="خبر جديد عن حرس الحدود", paragraphs=["نص"])])  # sync leaves it alone
    store.reindex()
    assert index_state(store.conn) != "stale"
    assert search(store, "حرس").total == 3


def _older_store(path, migrations: int, articles) -> None:
    """A database made by an older marsad: only the first *migrations* migrations, holding *articles*."""
    import sqlite3
    import threading

    from marsad.store import sqlite as sqlite_store

    old = SQLiteStore.__new__(SQLiteStore)
    old.path, old.conn, old._write_lock = path, sqlite3.connect(path, isolation_level=None), threading.RLock()
    old.conn.row_factory = sqlite3.Row
    saved = sqlite_store.MIGRATIONS[:]
    try:
        sqlite_store.MIGRATIONS[:] = saved[:migrations]
        old.migrate()
        tables = {r[0] for r in old.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if FTS_TABLE in tables:  # an index of that time, built by that time's analyzer (its terms don't matter)
            old.conn.execute("UPDATE search_state SET value = 'marsad-stop-older' WHERE key = 'analyzer'")
        old.upsert_articles(articles)
        if FTS_TABLE in tables:
            old.conn.execute(f"INSERT INTO {FTS_TABLE} (rowid, title, body) SELECT pk, title, text FROM articles")
    finally:
        sqlite_store.MIGRATIONS[:] = saved
    old.conn.close()


def test_existing_database_gets_the_index_on_reindex(tmp_path):
    _older_store(tmp_path / "old.db", 1, ARTICLES[:3])  # from before search existed
    upgraded = SQLiteStore(tmp_path / "old.db")
    assert index_state(upgraded.conn) == "stale"
    upgraded.reindex()
    assert search(upgraded, "الداخلية").total == 1
    upgraded.close()


def test_index_from_before_exact_forms_is_remade_and_waits_for_reindex(tmp_path):
    from marsad.search.index import MIGRATION_EXACT_FORMS
    from marsad.store.sqlite import MIGRATIONS

    _older_store(tmp_path / "old.db", MIGRATIONS.index(MIGRATION_EXACT_FORMS), ARTICLES[:3])
    upgraded = SQLiteStore(tmp_path / "old.db")
    columns = [r[1] for r in upgraded.conn.execute(f"PRAGMA table_info({FTS_TABLE})")]
    assert columns == ["title", "body", "title_exact", "body_exact"]
    assert index_state(upgraded.conn) == "stale"
    with pytest.raises(StoreError, match="marsad reindex"):
        search(upgraded, "الداخلية")
    assert upgraded.reindex()["articles"] == 3
    assert search(upgraded, "الداخلية").total == 1
    upgraded.upsert_articles(ARTICLES[3:5])  # kept in step again
    assert search(upgraded, "مكة").total == 1
    upgraded.conn.execute(f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}) VALUES ('integrity-check')")
    upgraded.close()


# -- library and CLI edges ---------------------------------------------------------------


def test_library_api_by_path(store, tmp_path):
    assert marsad.search(store.path, "مكة").total == 1
    results = marsad.search(store, "مكة")
    data = results.to_dict()
    assert data["hits"][0]["published_at"] == "2015-08-10T09:30:00Z"
    json.dumps(data, ensure_ascii=False)


def test_cli_search_json_and_reindex(store):
    runner = CliRunner()
    out = runner.invoke(cli, ["--db", str(store.path), "search", "الامريكيه", "--json", "--limit", "1"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["total"] == 2 and len(data["hits"]) == 1
    assert set(data["hits"][0]) >= {"id", "title", "source", "published_at", "score", "snippet"}
    out = runner.invoke(cli, ["--db", str(store.path), "search", "حرس", "--facets"])
    assert out.exit_code == 0 and "حرس الحدود" in out.stdout and "source:" in out.stdout
    out = runner.invoke(cli, ["--db", str(store.path), "search", "from:nope"])
    assert out.exit_code == 1 and "invalid query" in out.output
    out = runner.invoke(cli, ["--db", str(store.path), "reindex"])
    assert out.exit_code == 0 and "indexed 8 article(s)" in out.output


def test_ranking_prefers_words_in_one_sentence(tmp_path):
    """The NEAR group: both articles hold both words; the one with them in one sentence ranks first."""
    filler = " ".join(["المنطقة تشهد نشاطا اقتصاديا متزايدا في قطاعات مختلفة"] * 6)
    scattered = Article(title="تقرير اقتصادي", source="سبق", published_at=_at(2), url="https://example.com/s",
                        paragraphs=[f"ارتفعت أسعار النفط. {filler}", f"{filler} وانخفضت صادرات الذهب."], language="ar")
    together = Article(title="تقرير اقتصادي آخر", source="سبق", published_at=_at(1), url="https://example.com/t",
                       paragraphs=[f"{filler}", f"ارتفعت أسعار النفط وصادرات الذهب. {filler}"], language="ar")
    db = SQLiteStore(tmp_path / "near.db")
    db.upsert_articles([scattered, together])
    try:
        assert titles(search(db, "النفط الذهب")) == ["تقرير اقتصادي آخر", "تقرير اقتصادي"]
    finally:
        db.close()


def test_exact_forms_are_marked_apart_from_stems():
    from marsad.search.analyzer import EXACT_MARK, default_analyzer

    analyzer = default_analyzer()
    terms, forms = analyzer.index_columns("والمعدنية في قطر وللمعادن")
    assert terms == analyzer.index_text("والمعدنية في قطر وللمعادن") == "معدن قطر معادن"
    # a و/ل before the article is a word of its own; قطر (its own stem) and في (a stopword) have no form
    assert forms == f"{EXACT_MARK}المعدنيه {EXACT_MARK}المعادن"
    assert analyzer.exact_form("المعدنيّة") == f"{EXACT_MARK}المعدنيه" and analyzer.exact_form("قطر") == ""
    assert EXACT_MARK not in analyzer.index_text(f"{EXACT_MARK}قطر")  # typed, it is normalised away


def test_index_columns_do_not_depend_on_which_analysis_ran_first():
    """Indexing fills the duplicate stage's word cache on the way; either order gives the same terms."""
    from marsad.search.analyzer import Analyzer

    text = "وقالت الوزارة في بيانها، إن صادراتها المعدنية ارتفعت (5%) خلال 2015."
    indexed_first, terms_first = Analyzer(), Analyzer()
    columns = indexed_first.index_columns(text)
    assert indexed_first.index_text(text) == terms_first.index_text(text) == columns[0]
    assert terms_first.index_columns(text) == columns
    assert columns == ("قالت وزار بيان صادر معدن ارتفعت 5 2015", "ـوقالت ـالوزاره ـبيانها ـصادراتها ـالمعدنيه")


def test_ranking_prefers_the_form_typed(tmp_path):
    """The exact-form columns: both articles hold the word's stem; the one with the very form typed ranks first."""
    fem = Article(title="تقرير اقتصادي", source="سبق", published_at=_at(2), url="https://example.com/f",
                  paragraphs=["ارتفعت صادرات الثروة المعدنية هذا العام"], language="ar")
    masc = Article(title="تقرير اقتصادي", source="سبق", published_at=_at(1), url="https://example.com/m",
                   paragraphs=["ارتفعت صادرات الإنتاج المعدني هذا العام"], language="ar")
    db = SQLiteStore(tmp_path / "exact.db")
    db.upsert_articles([fem, masc])
    try:
        assert [h.id for h in search(db, "صادرات المعدنيه").hits] == [fem.id, masc.id]
        assert [h.id for h in search(db, "صادرات والمعدني").hits] == [masc.id, fem.id]
        assert search(db, "صادرات المعدنيه").total == search(db, "صادرات معدني").total == 2  # same matches
    finally:
        db.close()


def test_snippet_of_a_body_without_matches_is_its_lead(tmp_path):
    """A hit matched in its title only gets the lead passage, without its whole body being read."""
    from marsad.search.engine import _lead
    from marsad.search.highlight import snippet

    body = " ".join(f"كلمة{i % 50} جملة" for i in range(3000))  # long, and holds no query word
    article = Article(title="حرس الحدود في جازان", source="عكاظ", published_at=_at(3), paragraphs=[body],
                      url="https://example.com/lead", language="ar")
    db = SQLiteStore(tmp_path / "lead.db")
    db.upsert_articles([article])
    try:
        hit = search(db, "جازان").hits[0]
    finally:
        db.close()
    analyzer = marsad.search.analyzer.default_analyzer()
    from marsad.search.highlight import Matcher

    full = snippet(body, analyzer, Matcher(frozenset({"جاز"})))
    assert len(_lead(body, 30)) < len(body)
    assert hit.snippet == full.html and hit.snippet_text == full.text
    assert hit.snippet_text.endswith("…") and "<mark>" in hit.title_html


def test_pages_of_a_reranked_result_set_fit_together(tmp_path):
    """The NEAR re-ranking reorders only the first NEAR_POOL matches: pages of any size join up."""
    from marsad.search.engine import NEAR_POOL

    articles = [Article(title=f"تقرير رقم {i}", source="سبق", published_at=_at(1 + i % 28),
                        url=f"https://example.com/p{i}", language="ar",
                        paragraphs=[("ارتفعت أسعار النفط وصادرات الذهب." if i % 3 else "ارتفعت أسعار النفط.")
                                    + " كلام " * i + ("" if i % 3 else " وصادرات الذهب.")])  # no two score alike
                for i in range(NEAR_POOL + 12)]
    db = SQLiteStore(tmp_path / "pages.db")
    db.upsert_articles(articles)
    try:
        whole = [h.id for h in search(db, "النفط الذهب", limit=NEAR_POOL + 12, snippets=False).hits]
        for size in (7, 10):
            paged = [h.id for start in range(0, len(whole), size)
                     for h in search(db, "النفط الذهب", limit=size, offset=start, snippets=False).hits]
            assert paged == whole
    finally:
        db.close()
