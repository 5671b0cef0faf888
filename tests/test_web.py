"""The reader's pages through the ASGI test client: content, right-to-left markup, safety, errors."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from marsad.web import WebSettings, create_app
from marsad.web.format import Style, plural_form
from webapp import ADMIN_TOKEN, EXTRA, build_db, hide_stories, install_fake_stories


@pytest.fixture(scope="session")
def web_db(tmp_path_factory):
    return build_db(tmp_path_factory.mktemp("web") / "web.db")


@pytest.fixture
def client(web_db, monkeypatch):
    hide_stories(monkeypatch)
    app = create_app(WebSettings(db=str(web_db), admin_token=ADMIN_TOKEN))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def links(html: str, prefix: str) -> list[str]:
    return re.findall(rf'href="({re.escape(prefix)}[^"]+)"', html)


# -- every page ---------------------------------------------------------------------------------


def test_home_is_arabic_rtl_with_latest_articles_and_outlets(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.text
    assert '<html lang="ar" dir="rtl"' in html
    assert "آخر الأخبار" in html
    articles = links(html, "/articles/")
    assert len(articles) >= 20
    assert len(set(links(html, "/sources/"))) >= 10  # the outlets sidebar
    assert 'rel="alternate" type="application/rss+xml"' in html


def test_home_mixes_outlets(client):
    html = client.get("/").text
    cards = re.findall(r'<li class="card[^"]*">.*?<a class="outlet-badge" href="/sources/([^"]+)"', html, re.S)
    assert cards and max(cards.count(c) for c in set(cards)) <= 3


def test_security_headers_on_pages(client):
    response = client.get("/")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "<script>" not in response.text  # no inline scripts: the CSP would block them


def test_article_page(client):
    article = EXTRA[0]
    response = client.get(f"/articles/{article.id}")
    assert response.status_code == 200
    html = response.text
    assert f"<h1>{article.title}</h1>" in html
    for paragraph in article.paragraphs:
        assert f"<p>{paragraph}</p>" in html
    assert f'href="/tags/{quote("التمور", safe="")}"' in html
    assert 'datetime="2015-08-12T09:30:00Z"' in html
    assert "12 أغسطس 2015" in html and "12:30 م" in html  # Riyadh time, Arabic month, 12-hour clock
    assert "27 شوال 1436 هـ" in html  # the Hijri date
    assert f'href="{article.url}" rel="noopener noreferrer nofollow"' in html
    assert "اقرأ أيضًا" in html and f"/articles/{EXTRA[1].id}" in html  # the stored read-also link


def test_article_related_without_stories_uses_similar_titles(client, web_db):
    html = client.get(f"/articles/{EXTRA[1].id}").text
    related = html.split('data-related', 1)[1].split("</ul>", 1)[0]
    assert f"/articles/{EXTRA[2].id}" in related  # same festival, found by its words
    assert "مشابه" in related


def test_article_id_prefix_redirects_to_the_full_url(client):
    article = EXTRA[0]
    response = client.get(f"/articles/{article.id[:10]}", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == f"/articles/{article.id}"


def test_missing_article_is_a_friendly_arabic_404(client):
    response = client.get("/articles/doesnotexist")
    assert response.status_code == 404
    assert "لم نجد هذه الصفحة" in response.text or "no such article" not in response.text
    assert 'dir="rtl"' in response.text and "Traceback" not in response.text


def test_unknown_path_is_a_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "لم نجد هذه الصفحة" in response.text
    assert 'name="q"' in response.text  # a search box to go on from


def test_crash_renders_a_friendly_page_without_details(client, monkeypatch):
    from marsad.web import queries

    def boom(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(queries, "latest_mix", boom)
    response = client.get("/")
    assert response.status_code == 500
    assert "حدث خطأ من جهتنا" in response.text
    assert "secret internal detail" not in response.text and "Traceback" not in response.text


def test_hostile_markup_is_escaped_everywhere(client):
    hostile = EXTRA[3]
    html = client.get(f"/articles/{hostile.id}").text
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    search = client.get("/search", params={"q": "رموز"}).text
    assert "<script>alert" not in search and "&lt;script&gt;" in search
    tag = client.get("/tags/" + quote("<b>وسم</b>", safe="")).text
    assert "<b>وسم</b>" not in tag and "&lt;b&gt;وسم&lt;/b&gt;" in tag


# -- search -------------------------------------------------------------------------------------


def test_search_with_diacritics_highlights_and_counts(client):
    response = client.get("/search", params={"q": "مِهْرَجَانُ التُّمُورِ"})
    assert response.status_code == 200
    html = response.text
    assert "<mark>" in html
    assert f"/articles/{EXTRA[0].id}" in html and f"/articles/{EXTRA[1].id}" in html
    assert re.search(r'role="status">\s*<span>\d+ نتائج</span>', html)  # Arabic plural: 3 to 10 take نتائج
    assert 'id="facet-source"' in html


def test_search_filters_facets_and_pagination(client):
    html = client.get("/search", params={"q": "السعودية"}).text
    assert 'rel="next"' in html and "page=2" in html
    facet_link = re.search(r'href="(/search\?[^"]*source=[^"]+)"', html).group(1).replace("&amp;", "&")
    filtered = client.get(facet_link)
    assert filtered.status_code == 200 and 'class="on"' in filtered.text
    page2 = client.get("/search", params={"q": "السعودية", "page": 2}).text
    assert '<ol class="hits" start="11">' in page2


def test_search_by_outlet_and_dates_without_words(client):
    html = client.get("/search", params={"source": "واس", "from": "2015-08-12", "to": "2015-08-12"}).text
    assert f"/articles/{EXTRA[0].id}" in html and f"/articles/{EXTRA[3].id}" not in html


def test_search_sort_by_date(client):
    html = client.get("/search", params={"q": "مهرجان", "sort": "date"}).text
    assert html.index(f"/articles/{EXTRA[1].id}") < html.index(f"/articles/{EXTRA[0].id}")


def test_empty_search_shows_the_syntax_help(client):
    html = client.get("/search").text
    assert "كيف أبحث؟" in html and "<details class=\"syntax\" open>" in html


def test_invalid_search_explains_in_arabic(client):
    response = client.get("/search", params={"q": "-فقط"})
    assert response.status_code == 400
    assert "أضف كلمة للبحث عنها" in response.text
    bad_date = client.get("/search", params={"q": "مهرجان", "from": "yesterday"})
    assert bad_date.status_code == 400 and "2015-08-11" in bad_date.text


def test_limits_on_query_length_and_page(client):
    assert client.get("/search", params={"q": "ا" * 501}).status_code == 400
    assert client.get("/search", params={"q": "مهرجان", "page": 100000}).status_code == 400
    assert client.get("/?" + "x=" + "y" * 5000).status_code == 414


def test_stale_search_index_is_a_503_page_not_a_crash(tmp_path, web_db, monkeypatch):
    from webapp import copy_db

    db = copy_db(web_db, tmp_path / "stale.db")
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE search_state SET value = 'stale' WHERE key = 'analyzer'")
    with TestClient(create_app(WebSettings(db=str(db)))) as stale:
        response = stale.get("/search", params={"q": "مهرجان"})
    assert response.status_code == 503
    assert "البحث غير متاح الآن" in response.text


# -- outlets, tags, lists -----------------------------------------------------------------------


def test_outlet_page_with_cursor_pagination(client):
    first = client.get("/sources/" + quote("عكاظ", safe=""))
    assert first.status_code == 200 and "25 مقالًا" in first.text
    assert len(links(first.text, "/articles/")) == 20
    older = re.search(r'href="([^"]*cursor=[^"]+)" rel="next"', first.text).group(1).replace("&amp;", "&")
    second = client.get(older)
    assert second.status_code == 200
    assert len(links(second.text, "/articles/")) == 5
    assert not set(links(first.text, "/articles/")) & set(links(second.text, "/articles/"))


def test_outlet_alias_redirects_and_unknown_outlet_404(client):
    response = client.get("/sources/was", follow_redirects=False)
    assert response.status_code == 301 and response.headers["location"] == "/sources/" + quote("واس", safe="")
    assert client.get("/sources/nope").status_code == 404


def test_tag_pages(client):
    html = client.get("/tags/" + quote("التمور", safe="")).text
    assert "وسم: التمور" in html and "مقالان" in html
    assert f"/articles/{EXTRA[0].id}" in html
    assert client.get("/tags/" + quote("لا وجود له", safe="")).status_code == 404
    index = client.get("/tags").text
    assert "/tags/" + quote("التمور", safe="") in index


def test_sources_and_latest_pages(client):
    assert client.get("/sources").text.count('class="card"') >= 13
    latest = client.get("/latest").text
    assert len(links(latest, "/articles/")) == 20 and "cursor=" in latest


def test_bad_cursor_is_400(client):
    assert client.get("/latest", params={"cursor": "garbage!!"}).status_code == 400


# -- stories --------------------------------------------------------------------------------------


def test_without_stories_story_pages_404(client):
    assert client.get("/stories/s1").status_code == 404
    assert client.get("/stories").status_code == 404


def test_with_stories_home_and_story_page(web_db, monkeypatch):
    install_fake_stories(monkeypatch)
    with TestClient(create_app(WebSettings(db=str(web_db)))) as stories_client:
        home = stories_client.get("/").text
        assert "أحدث القصص" in home and 'href="/stories/s1"' in home
        assert "مصدر واحد" in home and "مقالان" in home
        story = stories_client.get("/stories/s1")
        assert story.status_code == 200
        assert "مهرجان التمور في الرياض" in story.text
        assert "<svg" in story.text and "<rect" in story.text  # the timeline
        assert "نسخة من" in story.text  # the copy is marked as such
        assert stories_client.get("/stories/zzz").status_code == 404
        related = stories_client.get(f"/articles/{EXTRA[0].id}").text
        assert "القصة نفسها" in related
        assert stories_client.get("/stories").status_code == 200


# -- preferences ----------------------------------------------------------------------------------


def test_settings_arabic_digits_dark_theme_and_english(client):
    response = client.post("/settings", data={"digits": "arab", "theme": "dark", "hijri": "0", "lang": "ar",
                                              "size": "l", "next": "/sources"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/sources"
    html = client.get(f"/articles/{EXTRA[0].id}").text
    assert 'data-theme="dark"' in html and 'data-size="l"' in html
    assert "١٢ أغسطس ٢٠١٥" in html and "هـ" not in html.split("<h1>", 1)[1].split("</h1>", 2)[1][:400]
    client.post("/settings", data={"lang": "en", "digits": "latn"})
    english = client.get("/").text
    assert '<html lang="en" dir="ltr"' in english and "Latest news" in english


def test_settings_never_redirect_off_site(client):
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        response = client.post("/settings", data={"next": target}, follow_redirects=False)
        assert response.headers["location"] == "/"


def test_arabic_formatting_helpers():
    from datetime import datetime, timezone

    style = Style(digits="arab", hijri=True)
    when = datetime(2015, 8, 11, 18, 44, tzinfo=timezone.utc)
    assert style.date(when) == "الثلاثاء ١١ أغسطس ٢٠١٥، ٩:٤٤ م"
    assert style.date(when, precision="day") == "الثلاثاء ١١ أغسطس ٢٠١٥"
    assert style.hijri_date(when) == "٢٦ شوال ١٤٣٦ هـ"
    assert style.number(31030) == "٣١٬٠٣٠"
    assert [plural_form("ar", n) for n in (0, 1, 2, 3, 11, 100, 103, 111)] == [
        "zero", "one", "two", "few", "many", "other", "few", "many"]


def test_health_robots_favicon(client):
    assert client.get("/healthz").json()["ok"] is True
    assert "Disallow: /admin" in client.get("/robots.txt").text
    assert client.get("/favicon.ico").headers["content-type"].startswith("image/svg")
    css = client.get("/static/marsad.css")
    assert css.status_code == 200 and "Marsad Naskh" in css.text
    assert client.get("/static/fonts/NotoNaskhArabic-Regular.woff2").status_code == 200


def test_named_entities_and_suggested_tags_when_enrichment_has_them(client, monkeypatch):
    from types import SimpleNamespace

    from marsad.web import compat

    found = SimpleNamespace(entities=[(1, "PERS", "سلمان بن عبدالعزيز", 3), (2, "LOC", "الرياض", 2)],
                            auto_tags=["مهرجانات"])
    monkeypatch.setattr(compat, "article_entities", lambda store, article_id: found)
    html = client.get(f"/articles/{EXTRA[2].id}").text  # an article without publisher tags
    assert "أعلام وأماكن وهيئات" in html
    assert "سلمان بن عبدالعزيز<span class=\"kind\">شخص</span>" in html
    assert '<a href="/entities/2">الرياض<span class="kind">مكان</span></a>' in html  # an entity links to its page
    assert "موضوعات المقال" in html and "مهرجانات" in html
