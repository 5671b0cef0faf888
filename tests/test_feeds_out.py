"""Feeds out: RSS 2.0 and Atom for latest, search, tag, outlet and story, read back with feedparser."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import quote

import feedparser
import pytest
from fastapi.testclient import TestClient

from marsad.web import WebSettings, create_app
from marsad.web.feeds import Feed, FeedItem, write_atom, write_rss
from webapp import EXTRA, build_db, hide_stories, install_fake_stories


@pytest.fixture(scope="session")
def feeds_db(tmp_path_factory):
    return build_db(tmp_path_factory.mktemp("feeds") / "feeds.db")


@pytest.fixture
def client(feeds_db, monkeypatch):
    hide_stories(monkeypatch)
    with TestClient(create_app(WebSettings(db=str(feeds_db), public_url="https://marsad.example"))) as test_client:
        yield test_client


def parsed(client, url: str, kind: str):
    response = client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(f"application/{kind}+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == ("rss20" if kind == "rss" else "atom10")
    return feed


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_latest_feed(client, kind):
    feed = parsed(client, f"/feed.{kind}", kind)
    assert len(feed.entries) == 50
    assert feed.feed.title == "أحدث الأخبار في مرصد"
    first = feed.entries[0]
    assert first.title == EXTRA[2].title and first.link == f"https://marsad.example/articles/{EXTRA[2].id}"
    assert first.published_parsed[:5] == (2015, 8, 12, 14, 30)
    dates = [e.published_parsed for e in feed.entries]
    assert dates == sorted(dates, reverse=True)


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_search_feed_is_newest_first_and_filtered(client, kind):
    feed = parsed(client, f"/search/feed.{kind}?q=" + quote("مهرجان التمور") + "&source=was", kind)
    assert [e.link.rsplit("/", 1)[1] for e in feed.entries][:2] == [EXTRA[1].id, EXTRA[0].id]
    assert {e.author for e in feed.entries} == {"واس"}
    assert "مهرجان التمور" in feed.feed.title


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_tag_and_outlet_feeds(client, kind):
    tag = parsed(client, f"/tags/{quote('التمور', safe='')}/feed.{kind}", kind)
    assert {e.title for e in tag.entries} == {EXTRA[0].title, EXTRA[1].title}
    assert {t.term for e in tag.entries for t in e.tags} >= {"التمور"}
    outlet = parsed(client, f"/sources/{quote('عكاظ', safe='')}/feed.{kind}", kind)
    assert len(outlet.entries) == 25 and {e.author for e in outlet.entries} == {"عكاظ"}


def test_story_feed(feeds_db, monkeypatch):
    install_fake_stories(monkeypatch)
    with TestClient(create_app(WebSettings(db=str(feeds_db)))) as client:
        feed = parsed(client, "/stories/s1/feed.atom", "atom")
        assert [e.title for e in feed.entries] == [EXTRA[1].title, EXTRA[0].title]
        assert client.get("/stories/zzz/feed.rss").status_code == 404


def test_hostile_text_stays_text(client):
    feed = parsed(client, f"/tags/{quote('<b>وسم</b>', safe='')}/feed.rss", "rss")
    assert feed.entries[0].title == EXTRA[3].title  # "<script>" survives as text, escaped in the XML
    raw = client.get(f"/tags/{quote('<b>وسم</b>', safe='')}/feed.rss").text
    assert "<script>" not in raw and "&lt;script&gt;" in raw


def test_feed_errors(client):
    assert client.get("/feed.json").status_code == 404
    assert client.get("/tags/nope/feed.rss").status_code == 404
    assert client.get("/search/feed.rss").status_code == 404
    assert client.get("/search/feed.atom?q=-x").status_code == 400


def test_writers_drop_characters_xml_forbids():
    when = datetime(2015, 8, 11, 12, 0, tzinfo=timezone.utc)
    feed = Feed("عنوان\x0b الخلاصة", "https://m.example/", "https://m.example/feed.rss", items=[
        FeedItem("https://m.example/a/1", "خبر\x00 أول & <ثاني>", "https://m.example/a/1", when, "نص\x1f المقال",
                 "واس", ["وسم"])])
    for writer, version in ((write_rss, "rss20"), (write_atom, "atom10")):
        result = feedparser.parse(writer(feed))
        assert not result.bozo and result.version == version
        assert result.feed.title == "عنوان الخلاصة"
        assert result.entries[0].title == "خبر أول & <ثاني>"
        assert result.entries[0].summary == "نص المقال"


def test_empty_feed_is_valid():
    feed = Feed("لا شيء", "https://m.example/", "https://m.example/feed.atom")
    assert not feedparser.parse(write_atom(feed)).bozo
    assert not feedparser.parse(write_rss(feed)).bozo
