"""The reader and the JSON API on PostgreSQL: the same pages and answers as on SQLite.

One database of each kind holds the same articles (the bundled sample plus the web tests'
hand-made ones); the ASGI client reads the main pages and endpoints from a PostgreSQL-backed
app, and the API's lists must match the SQLite-backed app's item for item.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from marsad.cli import sample_inputs
from marsad.models import Link, Source
from marsad.pipeline import ingest
from marsad.web import WebSettings, create_app
from webapp import EXTRA, build_db, reader_client


def _fill(store) -> None:
    """What webapp.build_db puts in a SQLite file, into any store."""
    ingest(store, sample_inputs(), enrich=False)
    store.upsert_sources([Source(name="واس", homepage="https://www.spa.gov.sa", language="ar", country="SA",
                                 aliases=["was", "spa"])])
    store.upsert_articles(EXTRA)
    store.add_links([Link(EXTRA[0].id, EXTRA[1].id, "read_also")])


@pytest.fixture(scope="module")
def pg_web_dsn(pg_cluster):
    from pg import drop_database, fresh_database

    from marsad.store.postgres import PostgresStore

    dsn = fresh_database(pg_cluster)
    with PostgresStore(dsn) as store:
        _fill(store)
    yield dsn
    drop_database(pg_cluster, dsn)


@pytest.fixture(scope="module")
def sqlite_web_db(tmp_path_factory):
    return build_db(tmp_path_factory.mktemp("webpg") / "web.db")


@pytest.fixture
def pg_client(pg_web_dsn, monkeypatch):
    with reader_client(pg_web_dsn, monkeypatch) as client:
        yield client


@pytest.fixture
def sqlite_client(sqlite_web_db, monkeypatch):
    with reader_client(sqlite_web_db, monkeypatch) as client:
        yield client


def _ok(response) -> str:
    assert response.status_code == 200, (response.request.url, response.status_code, response.text[:2000])
    return response.text


def test_pages_on_postgres(pg_client):
    home = _ok(pg_client.get("/"))
    assert '<html lang="ar" dir="rtl"' in home and len(re.findall(r'href="/articles/', home)) >= 20

    article = EXTRA[0]
    html = _ok(pg_client.get(f"/articles/{article.id}"))
    assert f"<h1>{article.title}</h1>" in html and 'datetime="2015-08-12T09:30:00Z"' in html
    assert f"/articles/{EXTRA[1].id}" in html  # the read-also link
    moved = pg_client.get(f"/articles/{article.id[:10]}", follow_redirects=False)
    assert moved.status_code == 301 and moved.headers["location"] == f"/articles/{article.id}"
    assert pg_client.get("/articles/doesnotexist").status_code == 404

    found = _ok(pg_client.get("/search", params={"q": "مهرجان التمور"}))
    assert f"/articles/{EXTRA[0].id}" in found and "<mark>" in found
    by_outlet = _ok(pg_client.get("/sources/" + quote("واس", safe="")))
    assert f"/articles/{EXTRA[0].id}" in by_outlet
    tagged = _ok(pg_client.get("/tags/" + quote("التمور", safe="")))
    assert f"/articles/{EXTRA[0].id}" in tagged and f"/articles/{EXTRA[1].id}" in tagged
    for path in ("/latest", "/sources", "/tags", "/healthz" if pg_client.get("/healthz").status_code != 404
                 else "/health"):
        _ok(pg_client.get(path))


API_LISTS = [
    ("/api/v1/articles", {"limit": 50}),
    ("/api/v1/articles", {"source": "was", "limit": 100}),
    ("/api/v1/articles", {"tag": "التمور"}),
    ("/api/v1/articles", {"from": "2015-08-12", "to": "2015-08-12"}),
    ("/api/v1/sources", {}),
    ("/api/v1/tags", {"limit": 20}),
    ("/api/v1/tags", {"prefix": "الر"}),
    ("/api/v1/tags/" + quote("التمور", safe=""), {}),
    ("/api/v1/search", {"q": "التمور", "sort": "date"}),
]


@pytest.mark.parametrize("path,params", API_LISTS)
def test_api_lists_match_sqlite(pg_client, sqlite_client, path, params):
    expected = sqlite_client.get(path, params=params)
    got = pg_client.get(path, params=params)
    assert got.status_code == expected.status_code == 200, got.text
    strip = ("took_ms", "elapsed_ms", "took", "query_ms")
    mine = {k: v for k, v in got.json().items() if k not in strip}
    theirs = {k: v for k, v in expected.json().items() if k not in strip}
    if path.endswith("/search"):  # ranking differs (ts_rank, BM25); by date, the same articles in the same order
        assert [h["id"] for h in mine["hits"]] == [h["id"] for h in theirs["hits"]]
        assert mine.get("total") == theirs.get("total")
    else:
        assert mine == theirs


def test_api_cursor_walk_and_article_on_postgres(pg_client):
    seen, cursor = [], None
    while True:
        body = pg_client.get("/api/v1/articles", params={"limit": 100, **({"cursor": cursor} if cursor else {})}
                             ).json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 303 + len(EXTRA)
    one = pg_client.get(f"/api/v1/articles/{EXTRA[0].id}").json()
    assert one["title"] == EXTRA[0].title and one["tags"] == EXTRA[0].tags
    assert pg_client.get("/api/v1/articles/nope").status_code == 404
    assert pg_client.get("/api/v1/sources/was").json()["name"] == "واس"


def test_admin_dashboard_on_postgres(pg_web_dsn, monkeypatch):
    from test_web_admin import sign_in
    from webapp import ADMIN_TOKEN

    with reader_client(pg_web_dsn, monkeypatch, admin_token=ADMIN_TOKEN) as client:
        sign_in(client)
        dashboard = _ok(client.get("/admin"))
        assert "إدارة المصادر" in dashboard and "عكاظ" in dashboard and "حالة الجمع" in dashboard


def test_sqlite_dialect_translation():
    from marsad.store.postgres import sqlite_to_postgres

    sql = sqlite_to_postgres("SELECT (SELECT json_group_array(tag) FROM (SELECT tag FROM article_tags "
                             "WHERE article_pk = a.pk ORDER BY position)) AS tags FROM articles a WHERE 1 "
                             "ORDER BY a.published_at DESC, a.pk DESC LIMIT ?")
    assert "coalesce(json_agg(tag)::text, '[]') FROM (SELECT tag FROM article_tags" in sql
    assert "ORDER BY position) AS sub)" in sql and "WHERE true" in sql
    assert "a.published_at DESC NULLS LAST, a.pk DESC LIMIT %s" in sql
    assert sqlite_to_postgres("INSERT OR IGNORE INTO t (a) VALUES (?)") == \
        "INSERT INTO t (a) VALUES (%s) ON CONFLICT DO NOTHING"
    assert sqlite_to_postgres("SELECT 1 WHERE x LIKE '%a'") == "SELECT 1 WHERE x LIKE '%%a'"


def test_story_pages_on_postgres(pg_web_dsn):
    """marsad.stories itself (not the tests' stand-in): ingest ran its stage on PostgreSQL."""
    from marsad.web import compat

    compat.forget()
    with TestClient(create_app(WebSettings(db=pg_web_dsn)), raise_server_exceptions=False) as client:
        page = _ok(client.get("/stories"))
        story = re.search(r'href="(/stories/[^"?]+)"', page)
        assert story, page[:1000]
        _ok(client.get(story.group(1)))
        listed = client.get("/api/v1/stories").json()
        assert listed["items"]
    compat.forget()


def test_a_total_past_the_ranking_window_reads_as_a_lower_bound(pg_client, monkeypatch):
    """PostgreSQL counts matches only up to its ranking window: the reader and the API say so."""
    from marsad.search import postgres

    counted = postgres._count
    monkeypatch.setattr(postgres, "_count", lambda plan, conn, window: counted(plan, conn, 3 if window else window))
    page = pg_client.get("/search", params={"q": "السعودية"})
    assert page.status_code == 200 and "أكثر من" in page.text
    body = pg_client.get("/api/v1/search", params={"q": "السعودية", "facets": "true"}).json()
    assert body["total"] == 3 and body["total_exact"] is False and body["facets"]["sample"] == 3
