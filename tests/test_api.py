"""The JSON API through the ASGI test client: lists, cursors, search, errors, API key, OpenAPI."""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from marsad.web import WebSettings, create_app
from webapp import EXTRA, build_db, install_fake_stories, reader_client


@pytest.fixture(scope="session")
def api_db(tmp_path_factory):
    return build_db(tmp_path_factory.mktemp("api") / "api.db")


@pytest.fixture
def api(api_db, monkeypatch):
    with reader_client(api_db, monkeypatch) as client:
        yield client


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["status"] == status and error["code"] == code
    assert error["message"] and error["message_ar"]
    return error


def test_articles_walk_every_page_with_cursors(api):
    seen, cursor, pages = [], None, 0
    while True:
        body = api.get("/api/v1/articles", params={"limit": 100, **({"cursor": cursor} if cursor else {})}).json()
        seen += [item["id"] for item in body["items"]]
        cursor, pages = body["next_cursor"], pages + 1
        if not cursor:
            break
    assert pages == 4 and len(seen) == len(set(seen)) == 303 + len(EXTRA)
    first = api.get("/api/v1/articles", params={"limit": 3}).json()["items"]
    assert [a["published_at"] for a in first] == sorted((a["published_at"] for a in first), reverse=True)
    assert first[0]["html_url"] == f"/articles/{first[0]['id']}"


def test_article_filters(api):
    by_code = api.get("/api/v1/articles", params={"source": "was", "limit": 100}).json()["items"]
    assert {a["source"] for a in by_code} == {"واس"} and len(by_code) == 25 + 3
    tagged = api.get("/api/v1/articles", params={"tag": "التمور"}).json()["items"]
    assert {a["id"] for a in tagged} == {EXTRA[0].id, EXTRA[1].id}
    dated = api.get("/api/v1/articles", params={"from": "2015-08-12", "to": "2015-08-12"}).json()["items"]
    assert {a["id"] for a in dated} == {EXTRA[0].id, EXTRA[1].id, EXTRA[2].id}


def test_get_article_and_related(api):
    body = api.get(f"/api/v1/articles/{EXTRA[0].id}").json()
    assert body["title"] == EXTRA[0].title and body["tags"] == ["الرياض", "التمور"]
    assert body["read_also_ids"] == [EXTRA[1].id] and body["read_also"] == [EXTRA[1].title]
    assert body["text"] == "\n".join(EXTRA[0].paragraphs) and body["published_at"] == "2015-08-12T09:30:00Z"
    related = api.get(f"/api/v1/articles/{EXTRA[1].id}/related").json()["items"]
    kinds = {item["article"]["id"]: item["kind"] for item in related}
    assert kinds[EXTRA[0].id] == "read_also" and kinds[EXTRA[2].id] == "similar"


def test_article_errors(api):
    assert_error(api.get("/api/v1/articles/nope"), 404, "not_found")
    assert_error(api.get("/api/v1/articles", params={"limit": 1000}), 422, "invalid_request")
    assert_error(api.get("/api/v1/articles", params={"cursor": "bm90IG1pbmU"}), 400, "invalid_cursor")
    assert_error(api.get("/api/v1/articles", params={"from": "someday"}), 422, "invalid_request")
    assert_error(api.get("/api/v1/nothing-here"), 404, "not_found")


def test_search_api(api):
    body = api.get("/api/v1/search", params={"q": "مِهْرَجَانُ التُّمُورِ", "limit": 2, "facets": "true"}).json()
    assert body["total"] >= 3 and len(body["hits"]) == 2
    assert "<mark>" in body["hits"][0]["snippet"] + body["hits"][0]["title_html"]
    assert {f["value"] for f in body["facets"]["source"]} >= {"واس"}
    assert {"source", "tag", "month", "entity", "place", "entity_sample", "sample"} == set(body["facets"])
    assert body["total_exact"] is True and body["facets"]["sample"] is None  # SQLite counts every match
    following = api.get("/api/v1/search", params={"q": "مِهْرَجَانُ التُّمُورِ", "limit": 2,
                                                  "cursor": body["next_cursor"]}).json()
    assert following["facets"] is None  # facets only when asked for, as `marsad search --facets`
    assert not {h["id"] for h in body["hits"]} & {h["id"] for h in following["hits"]}
    other = api.get("/api/v1/search", params={"q": "الهلال", "cursor": body["next_cursor"]})
    assert_error(other, 400, "invalid_cursor")


def test_search_api_filters_and_sort(api):
    body = api.get("/api/v1/search", params={"q": "مهرجان", "source": "واس", "tag": "التمور", "sort": "date"}).json()
    assert [h["id"] for h in body["hits"]] == [EXTRA[1].id, EXTRA[0].id]
    assert body["facets"] is None and 'source:واس' in body["query"] and "tag:التمور" in body["query"]
    in_query = api.get("/api/v1/search", params={"q": "مهرجان source:was from:2015-08-12"}).json()
    assert {h["source"] for h in in_query["hits"]} == {"واس"}


def test_search_api_errors(api):
    error = assert_error(api.get("/api/v1/search", params={"q": "-وحدها"}), 400, "invalid_query")
    assert "أضف كلمة" in error["message_ar"]
    assert_error(api.get("/api/v1/search", params={"q": "ا" * 501}), 422, "invalid_request")
    assert_error(api.get("/api/v1/search", params={"q": "x", "sort": "random"}), 422, "invalid_request")
    assert_error(api.get("/api/v1/search", params={"q": ""}), 400, "invalid_query")


def test_sources_and_tags(api):
    sources = api.get("/api/v1/sources").json()["items"]
    assert len(sources) == 13 and sources[0]["articles"] >= sources[-1]["articles"]
    was = api.get("/api/v1/sources/was").json()
    assert was["name"] == "واس" and "spa" in was["aliases"] and was["homepage"] == "https://www.spa.gov.sa"
    assert_error(api.get("/api/v1/sources/nope"), 404, "not_found")
    tags = api.get("/api/v1/tags", params={"limit": 1}).json()
    assert tags["items"] == [{"tag": "التمور", "articles": 2, "html_url": "/tags/" + quote("التمور", safe="")}]
    rest = api.get("/api/v1/tags", params={"limit": 1, "cursor": tags["next_cursor"]}).json()
    assert rest["items"][0]["tag"] != "التمور"
    assert len(api.get("/api/v1/tags", params={"prefix": "الر"}).json()["items"]) == 1
    tagged = api.get("/api/v1/tags/" + quote("<b>وسم</b>", safe="")).json()["items"]
    assert [a["id"] for a in tagged] == [EXTRA[3].id]
    assert_error(api.get("/api/v1/tags/nope"), 404, "not_found")


def test_stories_unavailable_then_available(api, api_db, monkeypatch):
    assert_error(api.get("/api/v1/stories"), 503, "unavailable")
    install_fake_stories(monkeypatch)
    with TestClient(create_app(WebSettings(db=str(api_db)))) as client:
        stories = client.get("/api/v1/stories", params={"order": "growing"}).json()
        assert stories["items"][0]["id"] == "s1" and stories["items"][0]["first_seen"] == "2015-08-12T09:30:00Z"
        detail = client.get("/api/v1/stories/s1").json()
        assert [a["id"] for a in detail["articles"]] == [EXTRA[0].id, EXTRA[1].id]
        assert detail["timeline"][0] == {"at": "2015-08-12T09:30:00Z", "count": 1}
        assert detail["copies"] == {EXTRA[0].id: [EXTRA[1].id]}
        assert_error(client.get("/api/v1/stories/zzz"), 404, "not_found")
        related = client.get(f"/api/v1/articles/{EXTRA[0].id}/related").json()["items"]
        assert related[0]["kind"] == "same_story"


def test_api_key(api_db):
    with TestClient(create_app(WebSettings(db=str(api_db), api_key="k3y"))) as client:
        assert_error(client.get("/api/v1/sources"), 401, "unauthorized")
        assert_error(client.get("/api/v1/sources", headers={"X-API-Key": "wrong"}), 401, "unauthorized")
        assert client.get("/api/v1/sources", headers={"X-API-Key": "k3y"}).status_code == 200
        assert client.get("/api/v1/sources", headers={"Authorization": "Bearer k3y"}).status_code == 200
        assert client.get("/").status_code == 200  # the reader stays open
        assert client.get("/openapi.json").status_code == 200


def test_openapi_and_docs(api):
    spec = api.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/v1/articles", "/api/v1/articles/{article_id}", "/api/v1/search", "/api/v1/stories",
                 "/api/v1/stories/{story_id}", "/api/v1/sources", "/api/v1/tags", "/api/v1/tags/{tag}"):
        assert path in paths, path
    assert not any(p.startswith(("/articles", "/admin", "/search")) for p in paths)  # pages stay out
    assert paths["/api/v1/search"]["get"]["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorOut"}
    docs = api.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_docs_work_offline(api):
    """/docs loads Swagger UI from this server only: every asset local and served with its type; the page's
    policy allows no other host and no inline script but its own (by hash)."""
    docs = api.get("/docs")
    assert docs.status_code == 200
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", docs.text)
    assert refs and "/openapi.json" in docs.text
    for ref in refs:
        assert ref.startswith("/") and not ref.startswith("//"), ref
    expected = {".js": "javascript", ".css": "text/css", ".png": "image/png"}
    kinds = set()
    for ref in refs:
        answer = api.get(ref)
        kind = next(t for ext, t in expected.items() if ref.endswith(ext))
        assert answer.status_code == 200 and kind in answer.headers["content-type"], ref
        assert len(answer.content) > 1000, ref
        kinds.add(kind)
    assert kinds == set(expected.values())
    assert b"SwaggerUIBundle" in api.get(next(r for r in refs if r.endswith(".js"))).content
    csp = docs.headers["content-security-policy"]
    assert "http" not in csp and "cdn" not in csp and "unsafe-inline" not in csp
    assert "script-src 'self' 'sha256-" in csp
    inline = re.search(r"<script>(.*?)</script>", docs.text, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp
    assert api.get("/").headers["content-security-policy"].count("sha256") == 0  # the reader keeps its own
