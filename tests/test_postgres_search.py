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
    assert store.search_index_current()
    with store.atomic() as conn:
        conn.execute("UPDATE search_state SET value = 'stale' WHERE key = 'analyzer'")
    assert not store.search_index_current()
    with pytest.raises(StoreError, match="marsad reindex"):
        search(store, "حرس")
    store.upsert_articles([Article(title="خبر جديد عن حرس الحدود", paragraphs=["نص"])])  # not indexed while stale
    store.reindex()
    assert search(store, "حرس").total == 3 and store.search_index_current()


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


# The fixture's entities are made by hand (test_postgres_entities), so they are named by id or by
# a name whose key the canonicaliser gives as is (فيصل بن بندر).
PRINCE = 'entity:"فيصل بن بندر"'
ENTITY_QUERIES = [PRINCE, "entity:#1", "الرياض type:PERS", "type:ORG", "country:SA", "country:السعودية",
                  f"-{PRINCE} الرياض", f"{PRINCE} type:ORG", "entity:نيامي"]


def _entity_answers(store) -> dict:
    from marsad.search import search

    answers = {}
    for query in ENTITY_QUERIES:
        found = search(store, query, facets=True)
        answers[query] = (found.total, [h.id for h in found.hits])
    facets = search(store, "الرياض", facets=True).facets
    answers["facets"] = ([(kind, name, n) for kind, _, name, n in facets.entity], facets.place)
    return answers


def test_entity_filters_and_facets_answer_as_on_sqlite(pg_store, tmp_path):
    import test_postgres_entities as ents

    from marsad.store.sqlite import SQLiteStore

    with SQLiteStore(tmp_path / "e.db") as lite:
        ents._fill(lite)
        expected = _entity_answers(lite)
    ents._fill(pg_store)
    assert _entity_answers(pg_store) == expected
    a, b, c = ents.ARTICLES
    assert expected[PRINCE] == (1, [a.id]) and expected["entity:#1"][0] == 2
    assert expected["type:ORG"] == (1, [b.id]) and expected["country:SA"][0] == expected["country:السعودية"][0] == 2
    assert expected[f"-{PRINCE} الرياض"] == (1, [b.id]) and expected["الرياض type:PERS"] == (1, [a.id])
    assert expected[f"{PRINCE} type:ORG"][0] == 0 and expected["entity:نيامي"][0] == 0
    assert ("LOC", "الرياض", 2) in expected["facets"][0] and expected["facets"][1] == [("SA", 2)]


def test_entity_pages_and_api_on_postgresql(store, pg_dsn):
    from fastapi.testclient import TestClient

    from marsad.web import WebSettings, create_app

    with TestClient(create_app(WebSettings(db=pg_dsn)), raise_server_exceptions=False) as client:
        assert client.get("/entities").status_code == 200
        assert client.get("/entities/1").status_code == 404
        answer = client.get("/api/v1/entities")
        assert answer.status_code == 200 and answer.json()["items"] == []
        assert client.get("/api/v1/entities/1").json()["error"]["code"] == "not_found"
        found = client.get("/api/v1/search", params={"q": "entity:الرياض"})
        assert found.status_code == 200 and found.json()["total"] == 0  # no entities stored in this one
        assert client.get("/api/v1/search", params={"q": "حرس", "facets": "true"}).json()["facets"]["entity"] == []


def test_large_result_sets_rank_the_newest_matches_and_count_a_lower_bound(pg_store, monkeypatch):
    """More matches than the ranking window: the newest ones are found by widening pk ranges (from a
    first range of 5 articles here) and ranked; the total is the window, flagged as a lower bound."""
    from marsad.search import postgres

    monkeypatch.setattr(postgres, "PROBE_SPAN", 5)
    articles = [replace(a, id=f"copy-{n}-{a.id}", url=None, canonical_url=None)
                for n in range(8) for a in ARTICLES]
    pg_store.upsert_articles(articles)
    everything = search(pg_store, "حرس", limit=100, rank_window=None)
    matching = [a.id for a in articles if a.id in {h.id for h in everything.hits}]  # in stored (pk) order
    assert everything.total == len(matching) > 12 and everything.total_exact

    windowed = search(pg_store, "حرس", limit=12, rank_window=12, facets=True)
    assert windowed.total == 12 and not windowed.total_exact
    assert sorted(h.id for h in windowed.hits) == sorted(matching[-12:])  # the newest 12 matches, ranked
    assert windowed.facets.sample == 12 and sum(n for _, n in windowed.facets.source) <= 12

    rare = search(pg_store, "جازان", limit=100, rank_window=12)  # fewer than the window: counted exactly
    assert rare.total_exact and rare.total == search(pg_store, "جازان", limit=100, rank_window=None).total
