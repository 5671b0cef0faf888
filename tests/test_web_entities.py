"""Entity pages, entity facets on the search page, and /api/v1/entities, on the sample with its entities extracted."""

from __future__ import annotations

import re
import sqlite3
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from marsad.store.sqlite import SQLiteStore
from marsad.web import WebSettings, create_app
from webapp import EXTRA, build_db, copy_db, hide_stories, reader_client

RIYADH = "الرياض"


# Mentions come from this list, not from the shipped tagger, so the counts below stay exact when the
# model changes: each name (with a glued و/ب/ل/ف, or لل for ال) is a mention; canonical entities,
# places, aliases and co-occurrence are marsad's own (marsad.enrich.entities.link_mentions).
NAMES = [("عبدربه منصور هادي", "PERS"), ("هادي", "PERS"), ("بشار الأسد", "PERS"), ("الأسد", "PERS"),
         ("الرياض", "LOC"), ("جدة", "LOC"), ("مكة", "LOC"), ("اليمن", "LOC"), ("عدن", "LOC"), ("صنعاء", "LOC"),
         ("السعودية", "LOC"), ("الولايات المتحدة", "LOC"), ("أمريكا", "LOC"), ("لندن", "LOC"), ("سوريا", "LOC"),
         ("مجلس الأمن", "ORG"), ("الأمم المتحدة", "ORG"), ("التمور", "MISC")]
_PATTERNS = [(re.compile(rf"(?<!\w)(?:[وفبك]?ال|[وف]?لل){re.escape(n[2:])}(?!\w)" if n.startswith("ال")
                         else rf"(?<!\w)[وفبلك]?{re.escape(n)}(?!\w)"), kind)
             for n, kind in sorted(NAMES, key=lambda nk: -len(nk[0]))]


def _mentions(field: str, text: str) -> list[tuple]:
    """(field, start, end, surface, type) of every listed name in *text*, longest names first, no overlaps."""
    found: list[tuple] = []
    for pattern, kind in _PATTERNS:
        for match in pattern.finditer(text):
            if not any(match.start() < end and start < match.end() for _, start, end, _, _ in found):
                found.append((field, match.start(), match.end(), match.group(0), kind))
    return sorted(found, key=lambda m: m[1])


@pytest.fixture(scope="session")
def entity_db(tmp_path_factory):
    from marsad.enrich import Enrichment
    from marsad.enrich.entities import link_mentions

    path = build_db(tmp_path_factory.mktemp("entities") / "entities.db")
    with SQLiteStore(path) as store:
        for article in list(store.iter_articles()):
            raw = _mentions("title", article.title) + _mentions("text", article.text)
            linked, learnt = link_mentions(raw, lookup_aliases=store.known_entity_aliases)
            store.save_enrichments([Enrichment(article.id, article.content_hash, "test-names", linked,
                                               aliases=learnt)])
    return path


@pytest.fixture
def client(entity_db, monkeypatch):
    with reader_client(entity_db, monkeypatch) as test_client:
        yield test_client


def entity_id(db, name: str, kind: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT id FROM entities WHERE name = ? AND type = ?", (name, kind)).fetchone()[0]


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["status"] == status and error["code"] == code and error["message"] and error["message_ar"]


# -- pages -------------------------------------------------------------------------------------


def test_entity_index_lists_top_entities_by_type(client, entity_db):
    html = client.get("/entities").text
    assert [h for h in re.findall(r'<h2 id="type-(\w+)"', html)] == ["PERS", "LOC", "ORG", "MISC"]
    assert f'href="/entities/{entity_id(entity_db, RIYADH, "LOC")}">الرياض</a>' in html
    assert "عبدربه منصور هادي" in html and "47 مقالًا" in html
    places = client.get("/entities", params={"type": "LOC"}).text
    assert "مجلس الأمن" not in places and 'id="type-LOC"' in places and 'id="type-PERS"' not in places
    assert client.get("/entities", params={"type": "NOPE"}).status_code == 400
    assert 'href="/entities"' in client.get("/").text  # reachable from every page's footer


def test_place_page_with_spellings_map_timeline_company_outlets_and_latest(client, entity_db):
    riyadh = entity_id(entity_db, RIYADH, "LOC")
    response = client.get(f"/entities/{riyadh}")
    assert response.status_code == 200
    html = response.text
    assert "<h1>الرياض <span class=\"kind\">مكان</span></h1>" in html
    assert "47 مقالًا" in html and "82 مرة" in html
    assert re.findall(r'<li><span>(\w+) <span class="kind">(\d+)</span>', html) == [
        ("الرياض", "63"), ("بالرياض", "10"), ("والرياض", "7"), ("للرياض", "2")]
    assert 'href="/search?q=country%3ASA&amp;sort=date">السعودية</a>' in html
    assert '<circle class="dot" cx="226.72" cy="65.31"' in html  # 46.72°E, 24.69°N on 360 x 180
    assert "https://www.openstreetmap.org/?mlat=24.6877&amp;mlon=46.7219" in html
    assert '<path class="land" d="M' in html  # a rough world drawn from the shipped gazetteer
    assert "<script src=\"http" not in html and "cdn" not in html.lower()  # the map needs nothing from outside
    assert len(re.findall(r"<rect x=", html)) == 3  # mentions on 10, 11 and 12 August
    assert "الاثنين 10 أغسطس 2015: 70 مرة" in html
    latest = re.findall(r'<a class="title" href="/articles/(\w+)">', html)
    assert latest[:3] == [EXTRA[2].id, EXTRA[1].id, EXTRA[0].id] and len(latest) == 20
    company = re.findall(r'<li><a href="/entities/\d+">([^<]+) <span class="kind">', html)
    assert company[:3] == ["السعودية", "عدن", "اليمن"]
    assert f'href="/search?q=entity%3A%23{riyadh}&amp;source=%D9%88%D8%A7%D8%B3&amp;sort=date">واس</a>' in html
    assert f'href="/search?q=entity%3A%23{riyadh}&amp;sort=date">كل المقالات (47)</a>' in html


def test_person_page_has_no_map(client, entity_db):
    hadi = entity_id(entity_db, "عبدربه منصور هادي", "PERS")
    html = client.get(f"/entities/{hadi}").text
    assert "عبدربه منصور هادي" in html and "12 مقالًا" in html and 'class="map"' not in html


def test_missing_or_malformed_entity_is_a_friendly_404(client, entity_db):
    for path in ("/entities/999999", "/entities/abc", "/entities/-1", "/entities/" + "9" * 40):
        response = client.get(path)
        assert response.status_code == 404 and "lang=\"ar\"" in response.text, path
    riyadh = entity_id(entity_db, RIYADH, "LOC")
    moved = client.get(f"/entities/0{riyadh}", follow_redirects=False)
    assert moved.status_code == 301 and moved.headers["location"] == f"/entities/{riyadh}"


def test_article_page_links_entities_to_their_pages(client, entity_db):
    html = client.get(f"/articles/{EXTRA[0].id}").text
    riyadh = entity_id(entity_db, RIYADH, "LOC")
    assert f'<a href="/entities/{riyadh}">الرياض<span class="kind">مكان</span></a>' in html


def test_entity_names_are_escaped(entity_db, tmp_path, monkeypatch):
    db = copy_db(entity_db, tmp_path / "hostile.db")
    riyadh = entity_id(db, RIYADH, "LOC")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE entities SET name = ? WHERE id = ?", ('<img src=x onerror=alert(1)>"', riyadh))
        conn.execute("UPDATE mentions SET text = '<b>x</b>' WHERE entity_id = ?", (riyadh,))
    hide_stories(monkeypatch)
    with TestClient(create_app(WebSettings(db=str(db)))) as client:
        for path in (f"/entities/{riyadh}", "/entities", f"/articles/{EXTRA[0].id}", "/search?q=التمور"):
            html = client.get(path).text
            assert "<img src=x" not in html and "<b>x</b>" not in html, path
            assert "&lt;img src=x onerror=alert(1)&gt;" in html, path
        body = client.get(f"/api/v1/entities/{riyadh}").json()
        assert body["name"] == '<img src=x onerror=alert(1)>"'
        assert body["spellings"] == [{"text": "<b>x</b>", "count": 82}]


# -- search ------------------------------------------------------------------------------------


def test_search_page_entity_and_place_facets(client, entity_db):
    html = client.get("/search", params={"q": "اليمن"}).text
    assert re.findall(r'<h2 id="facet-entity-\w+">([^<]+)</h2>', html) == ["أشخاص", "أماكن", "هيئات"]
    hadi = entity_id(entity_db, "عبدربه منصور هادي", "PERS")
    link = f'/search?q=%D8%A7%D9%84%D9%8A%D9%85%D9%86+entity%3A%23{hadi}'
    assert f'<li><a href="{link}">عبدربه منصور هادي</a><span class="n">11</span></li>' in html
    assert ('<li><a href="/search?q=%D8%A7%D9%84%D9%8A%D9%85%D9%86+country%3AYE">اليمن</a><span class="n">37</span>'
            in html)
    narrowed = client.get(link).text
    assert "11 نتيجة" in narrowed and 'class="on"' in narrowed  # the chosen entity is marked, and unmarks
    assert '<a href="/search?q=%D8%A7%D9%84%D9%8A%D9%85%D9%86" aria-current="true">عبدربه منصور هادي</a>' in narrowed


def test_search_page_entity_queries(client):
    for query, total in (("entity:الرياض", "47 نتيجة"), ("entity:بالرياض", "47 نتيجة"),
                         ('entity:"الولايات المتحدة الأمريكية"', "25 نتيجة"), ("entity:أمريكا", "25 نتيجة"),
                         ("type:PERS", "18 نتيجة"), ("country:YE", "38 نتيجة"), ("country:اليمن", "38 نتيجة"),
                         # the lone surname: its own entity (2 articles, before any pairing) and the full name (12)
                         ("entity:هادي", "14 نتيجة"), ('entity:"عبدربه منصور هادي"', "12 نتيجة")):
        html = client.get("/search", params={"q": query}).text
        assert total in html, query
    bad = client.get("/search", params={"q": "type:نبات"})
    assert bad.status_code == 400 and "PERS (شخص)" in bad.text


# -- API ---------------------------------------------------------------------------------------


def walk(client, params: dict) -> list[str]:
    """The names on every page of /api/v1/entities, following next_cursor."""
    names, cursor = [], None
    while True:
        page = client.get("/api/v1/entities", params={**params, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        names += [e["name"] for e in page.json()["items"]]
        if not (cursor := page.json()["next_cursor"]):
            return names


def test_api_entities_list_filters_and_cursor(client, entity_db):
    top = client.get("/api/v1/entities", params={"type": "LOC", "limit": 3}).json()
    assert [(e["name"], e["articles"]) for e in top["items"]] == [("السعودية", 79), ("الرياض", 47), ("اليمن", 29)]
    riyadh = top["items"][1]
    assert riyadh == {"id": entity_id(entity_db, RIYADH, "LOC"), "type": "LOC", "name": "الرياض", "country": "SA",
                      "country_name": "السعودية", "place_kind": "city", "latitude": 24.6877, "longitude": 46.7219,
                      "articles": 47, "mentions": 82, "first_seen": "2015-08-10T18:35:47Z",
                      "last_seen": "2015-08-12T14:30:00Z", "html_url": f"/entities/{riyadh['id']}"}
    assert walk(client, {"country": "ye", "limit": 2}) == ["اليمن", "عدن", "صنعاء"]
    everything = walk(client, {"limit": 5})
    assert len(everything) == len(set(everything)) == 18 and everything[0] == "السعودية"
    assert walk(client, {"type": "PERS"}) == ["عبدربه منصور هادي", "بشار الأسد", "هادي"]
    assert walk(client, {"q": "عد"}) == ["عدن"] and walk(client, {"q": "الأمم"}) == ["الأمم المتحدة"]
    assert walk(client, {"type": "ORG", "country": "SA"}) == []


def test_api_entity_detail(client, entity_db):
    riyadh = entity_id(entity_db, RIYADH, "LOC")
    body = client.get(f"/api/v1/entities/{riyadh}").json()
    assert body["name"] == "الرياض" and body["country"] == "SA"
    assert body["spellings"][:2] == [{"text": "الرياض", "count": 63}, {"text": "بالرياض", "count": 10}]
    assert body["timeline"] == [{"day": "2015-08-10", "count": 70}, {"day": "2015-08-11", "count": 7},
                                {"day": "2015-08-12", "count": 5}]
    assert [(c["entity"]["name"], c["shared"]) for c in body["cooccurring"][:2]] == [("السعودية", 15), ("عدن", 9)]
    assert body["outlets"][0] == {"source": "الرياض", "articles": 9, "html_url": "/sources/" + quote("الرياض")}
    assert [a["id"] for a in body["latest"][:3]] == [EXTRA[2].id, EXTRA[1].id, EXTRA[0].id]


def test_api_entity_errors(client):
    assert_error(client.get("/api/v1/entities/999999"), 404, "not_found")
    assert_error(client.get("/api/v1/entities/abc"), 422, "invalid_request")
    assert_error(client.get("/api/v1/entities", params={"type": "PEOPLE"}), 422, "invalid_request")
    assert_error(client.get("/api/v1/entities", params={"country": "SAU"}), 422, "invalid_request")
    assert_error(client.get("/api/v1/entities", params={"cursor": "bm90IG1pbmU"}), 400, "invalid_cursor")
    tags_cursor = client.get("/api/v1/tags", params={"limit": 1}).json()["next_cursor"]
    assert_error(client.get("/api/v1/entities", params={"cursor": tags_cursor}), 400, "invalid_cursor")
    assert_error(client.get("/api/v1/search", params={"q": "type:x"}), 400, "invalid_query")


def test_api_search_entity_filters_and_facets(client, entity_db):
    assert client.get("/api/v1/search", params={"q": "entity:عدن"}).json()["total"] == 23
    body = client.get("/api/v1/search", params={"q": "entity:نتانياهو OR entity:عدن"}).json()
    assert body["total"] == 0  # two entity: filters mean both, and the sample never names نتانياهو
    hadi = entity_id(entity_db, "عبدربه منصور هادي", "PERS")
    facets = client.get("/api/v1/search", params={"q": "اليمن", "facets": "true", "limit": 1}).json()["facets"]
    assert facets["entity"][0] == {"id": hadi, "type": "PERS", "name": "عبدربه منصور هادي", "count": 11,
                                   "html_url": f"/entities/{hadi}"}
    assert [f["type"] for f in facets["entity"]] == ["PERS"] * 3 + ["LOC"] * 8 + ["ORG"] * 2
    assert facets["place"] == [{"value": "YE", "name": "اليمن", "count": 37},
                               {"value": "SA", "name": "السعودية", "count": 24},
                               {"value": "SY", "name": "سوريا", "count": 5},
                               {"value": "US", "name": "الولايات المتحدة", "count": 2}]
    total = client.get("/api/v1/search", params={"q": "اليمن country:YE"}).json()["total"]
    assert total == 37


def test_openapi_documents_entities(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/entities", "/api/v1/entities/{entity_id}"} <= set(paths)
    assert "404" in paths["/api/v1/entities/{entity_id}"]["get"]["responses"]


def test_timeline_bars_fill_quiet_days_and_switch_to_months():
    from marsad.web.entities import map_point, timeline_bars

    assert timeline_bars([("2015-08-10", 3), ("2015-08-13", 1)]) == (
        [("2015-08-10", 3), ("2015-08-11", 0), ("2015-08-12", 0), ("2015-08-13", 1)], False)
    bars, by_month = timeline_bars([("2014-11-30", 2), ("2015-01-02", 1), ("2015-03-01", 1), ("2015-03-31", 4)])
    assert by_month and bars == [("2014-11", 2), ("2014-12", 0), ("2015-01", 1), ("2015-02", 0), ("2015-03", 5)]
    assert timeline_bars([]) == ([], False) and timeline_bars([(None, 3)]) == ([], False)
    assert map_point(None, 10) is None and map_point(91, 0) is None
    assert (map_point(0, 0).x, map_point(0, 0).y) == (180, 90) and map_point(-90, -180).y == 180
