"""Search on PostgreSQL: the backend-neutral tests of test_search.py, run again on a PostgresStore,
plus the PostgreSQL index's own upkeep (updates, deletes, stale index, reindex)."""

from __future__ import annotations

from dataclasses import replace

import pytest

import test_search as base
from marsad.errors import StoreError
from marsad.models import Article
from marsad.search import parse_query, search
from marsad.search.analyzer import default_analyzer
from marsad.search.postgres import compile_tsquery, tsvector_literal

ARTICLES = base.ARTICLES
titles = base.titles

# Tests of test_search.py that use only search() and the Store protocol: collected here once more,
# where `store` is a PostgresStore. (Index internals and CLI-by-path tests stay SQLite-only.)
SHARED = [
    "test_normalised_query_finds_and_highlights_the_original_spelling",
    "test_clitics_and_inflections_match",
    "test_conjunction_waw_is_found_both_ways",
    "test_phrase_or_exclusion_prefix",
    "test_ranking_prefers_title_matches",
    "test_relaxed_when_no_article_has_every_word",
    "test_filters",
    "test_filter_only_query_lists_newest_first",
    "test_facets_cover_the_whole_result_set",
    "test_sort_by_date_and_recency",
    "test_pagination",
    "test_clear_invalid_query_errors",
    "test_fuzz_search_returns_results_or_invalid_query",
]
for _name in SHARED:
    if hasattr(base, _name):  # a test renamed there is simply not repeated here
        globals()[_name] = getattr(base, _name)


@pytest.fixture
def store(pg_store):
    pg_store.upsert_articles(ARTICLES)
    return pg_store


def test_query_tree_compiles_to_quoted_tsquery():
    analyzer = default_analyzer()
    compiled = compile_tsquery(parse_query('"حرس الحدود" OR مخدر* -تدريب').expr, analyzer)
    assert "<->" in compiled and ":*" in compiled and "& !" in compiled
    hostile = compile_tsquery(parse_query("a'b & c:* | !d").expr, analyzer)
    assert hostile is None or all(part.count("'") % 2 == 0 for part in hostile.split())


def test_tsvector_literal_weights_the_title_and_leaves_a_gap():
    literal = tsvector_literal("حرس الحدود", "حرس")
    assert literal.startswith("'") and "A" in literal and ":1A" in literal


def test_index_follows_updates_and_deletes(store):
    changed = replace(ARTICLES[4], paragraphs=["تراجعت درجات الحرارة في الطائف."], content_hash="", id=ARTICLES[4].id)
    assert store.upsert_articles([changed]).updated == [ARTICLES[4].id]
    assert search(store, "الطائف").total == 1
    assert search(store, "غزيرة").total == 1  # still in the title
    assert search(store, "هطلت").total == 0  # the old body is gone from the index
    retitled = replace(changed, title="موجة حر في الطائف")
    store.upsert_articles([retitled, retitled])
    assert search(store, "غزيرة").total == 0
    assert store.delete_articles([ARTICLES[1].id]) == 1
    assert search(store, "الداخلية").total == 0
    before = [(q, titles(search(store, q))) for q in ("حرس", "الطائف", "جدة", "saudi")]
    report = store.reindex()
    assert report["articles"] == len(ARTICLES) - 1
    assert [(q, titles(search(store, q))) for q in ("حرس", "الطائف", "جدة", "saudi")] == before


def test_stale_index_asks_for_reindex(store):
    with store.atomic() as conn:
        conn.execute("UPDATE search_state SET value = 'stale' WHERE key = 'analyzer'")
    with pytest.raises(StoreError, match="marsad reindex"):
        search(store, "حرس")
    store.upsert_articles([Article(title="خبر جديد عن حرس الحدود", paragraphs=["نص"])])  # not indexed while stale
    store.reindex()
    assert search(store, "حرس").total == 3


def test_both_backends_find_the_same_articles(store, tmp_path):
    from marsad.store.sqlite import SQLiteStore

    with SQLiteStore(tmp_path / "same.db") as lite:
        lite.upsert_articles(ARTICLES)
        for query in ("حرس", '"حرس الحدود"', "مكة OR جازان", "حرس -تدريب", "مخدر*", "الامريكيه", "tag:أمن",
                      "saudi lang:en", "جدة from:2015-08-01", "والداخلية"):
            assert sorted(h.id for h in search(store, query).hits) == sorted(h.id for h in search(lite, query).hits), query


def test_gin_index_is_used(store):
    with store.connection() as conn:
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN SELECT pk FROM articles WHERE search_tsv @@ %s::tsquery", ("'حرس'",)))
    assert "articles_search" in plan


@pytest.mark.parametrize("query", ["entity:الرياض", "حرس type:PERS", "country:SA", "-entity:#3 حرس"])
def test_entity_filters_say_they_are_not_available_on_postgresql(store, query):
    from marsad.search import InvalidQuery

    with pytest.raises(InvalidQuery) as err:  # a clear refusal, never results that ignore the filter
        search(store, query)
    assert "not available on PostgreSQL" in str(err.value) and "PostgreSQL" in err.value.message_ar
    assert search(store, "حرس", facets=True).facets.entity == []  # no entities kept there yet: empty facets


def test_entity_pages_and_api_are_unavailable_on_postgresql(store, pg_dsn):
    from fastapi.testclient import TestClient

    from marsad.web import WebSettings, create_app

    from marsad.store.postgres import PostgresStore

    # While the PostgreSQL store answers entity queries with StoreError, the pages say 503 and the API
    # `unavailable`; once it answers them, the same routes work (an empty store: no entities, 404).
    supported = "_entities_unsupported" not in getattr(PostgresStore.list_entities, "__name__", "")
    with TestClient(create_app(WebSettings(db=pg_dsn)), raise_server_exceptions=False) as client:
        assert client.get("/entities").status_code == (200 if supported else 503)
        assert client.get("/entities/1").status_code == (404 if supported else 503)
        answer = client.get("/api/v1/entities")
        if supported:
            assert answer.status_code == 200 and answer.json()["items"] == []
        else:
            assert answer.status_code == 503 and answer.json()["error"]["code"] == "unavailable"
        answer = client.get("/api/v1/entities/1")
        assert answer.json()["error"]["code"] == ("not_found" if supported else "unavailable")
        refused = client.get("/api/v1/search", params={"q": "entity:الرياض"})
        assert refused.status_code == 400 and "PostgreSQL" in refused.json()["error"]["message"]
        assert client.get("/api/v1/search", params={"q": "حرس", "facets": "true"}).json()["facets"]["entity"] == []
