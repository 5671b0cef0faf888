"""The admin page: token sign-in, CSRF and origin checks, outlets added, paused, removed, OPML imported."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from marsad.web import WebSettings, create_app
from webapp import ADMIN_TOKEN, build_db, copy_db

OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>test</title></head><body>
  <outline text="نبض شرقي" title="نبض شرقي" type="rss" xmlUrl="https://nabdsharqi.example/feed.xml"
           htmlUrl="https://nabdsharqi.example/"/>
</body></opml>"""


@pytest.fixture(scope="session")
def admin_db(tmp_path_factory):
    return build_db(tmp_path_factory.mktemp("admin") / "admin.db")


@pytest.fixture
def admin(admin_db, tmp_path):
    db = copy_db(admin_db, tmp_path / "admin.db")
    with TestClient(create_app(WebSettings(db=str(db), admin_token=ADMIN_TOKEN)),
                    base_url="http://testserver") as client:
        yield client


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)


def sign_in(client) -> str:
    page = client.get("/admin")
    response = client.post("/admin/login", data={"token": ADMIN_TOKEN, "csrf": csrf_of(page.text)},
                           follow_redirects=False)
    assert response.status_code == 303
    return csrf_of(client.get("/admin").text)


def test_admin_is_off_without_a_token(admin_db):
    with TestClient(create_app(WebSettings(db=str(admin_db)))) as client:
        assert client.get("/admin").status_code == 404
        assert "/admin" not in client.get("/").text


def test_sign_in_needs_the_token_and_the_csrf_token(admin):
    page = admin.get("/admin")
    assert page.status_code == 200 and 'type="password"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert admin.post("/admin/login", data={"token": ADMIN_TOKEN}).status_code == 403
    wrong = admin.post("/admin/login", data={"token": "nope", "csrf": csrf_of(page.text)})
    assert wrong.status_code == 401 and "الرمز غير صحيح" in wrong.text
    sign_in(admin)
    dashboard = admin.get("/admin").text
    assert "إدارة المصادر" in dashboard and "عكاظ" in dashboard and "حالة الجمع" in dashboard


def test_forged_sessions_and_cross_site_posts_are_refused(admin):
    admin.cookies.set("marsad_admin", "9999999999.deadbeef")
    assert 'type="password"' in admin.get("/admin").text
    csrf = sign_in(admin)
    cross = admin.post("/admin/sources/remove", data={"name": "عكاظ", "csrf": csrf},
                       headers={"origin": "https://evil.example"})
    assert cross.status_code == 403
    no_token = admin.post("/admin/sources/remove", data={"name": "عكاظ"})
    assert no_token.status_code == 403
    assert "عكاظ" in admin.get("/admin").text


def test_add_pause_and_remove_an_outlet(admin):
    csrf = sign_in(admin)
    added = admin.post("/admin/sources/add", data={"url": "https://news.example/rss.xml", "name": "أخبار تجريبية",
                                                   "csrf": csrf}, follow_redirects=False)
    assert added.status_code == 303, added.text
    page = admin.get(added.headers["location"]).text
    assert "أُضيف المصدر أخبار تجريبية" in page and "https://news.example/rss.xml" in page
    paused = admin.post("/admin/sources/disable", data={"name": "أخبار تجريبية", "disabled": "1", "csrf": csrf})
    assert "أُوقف جمع أخبار تجريبية" in paused.text and "موقوف" in paused.text
    removed = admin.post("/admin/sources/remove", data={"name": "أخبار تجريبية", "csrf": csrf})
    assert "حُذف المصدر أخبار تجريبية" in removed.text
    assert "https://news.example/rss.xml" not in removed.text
    failed = admin.post("/admin/sources/remove", data={"name": "لا وجود له", "csrf": csrf})
    assert failed.status_code == 400 and "تعذّر ذلك" in failed.text


def test_refused_urls_are_explained(admin):
    csrf = sign_in(admin)
    refused = admin.post("/admin/sources/add", data={"url": "file:///etc/passwd", "csrf": csrf})
    assert refused.status_code == 400 and "تعذّر ذلك" in refused.text


def test_import_and_export_opml(admin):
    csrf = sign_in(admin)
    imported = admin.post("/admin/opml", data={"csrf": csrf},
                          files={"file": ("feeds.opml", OPML.encode(), "text/x-opml")})
    assert imported.status_code == 200 and "استُورد" in imported.text
    assert "https://nabdsharqi.example/feed.xml" in imported.text
    exported = admin.get("/admin/opml")
    assert exported.headers["content-type"].startswith("text/x-opml")
    assert "https://nabdsharqi.example/feed.xml" in exported.text
    too_big = admin.post("/admin/opml", data={"csrf": csrf}, files={"file": ("big.opml", b"x" * (3 << 20))})
    assert too_big.status_code == 413


def test_sign_out(admin):
    csrf = sign_in(admin)
    admin.post("/admin/logout", data={"csrf": csrf})
    assert 'type="password"' in admin.get("/admin").text
    assert admin.get("/admin/opml").status_code == 401
