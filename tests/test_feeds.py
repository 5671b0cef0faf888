"""Feeds and sitemaps to entries: every format, and what broken inputs give."""

from __future__ import annotations

import gzip
from datetime import datetime, timezone

import pytest
from httpserver import FIXTURES, feed_text

from marsad.errors import ParseError
from marsad.ingest.feeds import FeedEntry, parse_feed, sniff
from marsad.ingest.sitemaps import gunzip_capped, parse_sitemap

BASE = "http://news.example"


def load(name: str) -> bytes:
    return feed_text(name, BASE).encode("utf-8")


def test_rss2_with_media_and_dc():
    feed = parse_feed(load("rss2_media.xml"), url=BASE + "/feed.xml")
    assert feed.kind == "rss" and feed.title == "أخبار الخليج والعالم" and feed.language == "ar"
    assert len(feed.entries) == 6
    first = feed.entries[0]
    assert first.url.startswith(BASE + "/news/sputnik-egypt-30-cases?utm_source=rss")
    assert first.title == "مصر تسجل 30 إصابة جديدة وحالتي وفاة بفيروس كورونا"
    assert first.published_at == datetime(2020, 3, 17, 17, 27, 41, tzinfo=timezone.utc)
    assert first.author == "سبوتنيك" and first.tags == ["مصر"]
    assert first.image == BASE + "/img/1.jpg"
    assert first.summary == ["أعلنت وزارة الصحة والسكان المصرية تسجيل 30 حالة جديدة."]
    assert feed.entries[1].published_at == datetime(2020, 4, 24, 18, 22, tzinfo=timezone.utc)
    assert feed.entries[2].image == BASE + "/img/3.jpg"  # media:thumbnail


def test_atom_relative_links_and_html_titles():
    feed = parse_feed(load("atom.xml"), url=BASE + "/atom.xml")
    assert feed.kind == "atom" and len(feed.entries) == 4
    assert feed.entries[0].author == "هبة موسى"
    assert feed.entries[0].published_at == datetime(2020, 10, 7, 10, 9, tzinfo=timezone.utc)
    assert feed.entries[1].url == BASE + "/news/elbalad-yousra"  # relative href resolved
    assert feed.entries[1].title == "تركى آل الشيخ بعد إصابة يسرا بكورونا: يارب يرفع عنك"
    assert feed.entries[3].content == ["تستعد وزارة العمل لإنهاء إجراءات سفر نحو 5 آلاف عامل مصرى.", "فقرة ثانية."]


def test_rss1_rdf():
    feed = parse_feed(load("rss1_rdf.xml"), url=BASE + "/rdf.xml")
    assert feed.kind == "rdf" and [e.title for e in feed.entries] == ["الخبر الأول", "الخبر الثاني"]
    assert feed.entries[0].published_at == datetime(2024, 5, 1, 7, 0, tzinfo=timezone.utc)


def test_json_feed():
    feed = parse_feed(load("jsonfeed.json"), url=BASE + "/feed.json")
    assert feed.kind == "json" and len(feed.entries) == 2 and feed.skipped == 1
    assert feed.entries[0].tags == ["اقتصاد", "طاقة"] and feed.entries[0].author == "كاتب"
    assert feed.entries[1].content == ["فقرة أولى", "فقرة ثانية"]


def test_real_nabdsharqi_feeds():
    for name, kind in (("nabdsharqi__rss2.xml", "rss"), ("nabdsharqi__atom.xml", "atom")):
        data = (FIXTURES / "feeds" / name).read_bytes()
        feed = parse_feed(data, url="http://nabd-sharqi.com/feed.xml")
        assert feed.kind == kind and len(feed.entries) == 10 and not feed.warnings
        assert all(e.url.startswith("http://nabd-sharqi.com/") and e.title and e.published_at for e in feed.entries)


def test_news_sitemap():
    feed = parse_feed(load("news_sitemap.xml"), url=BASE + "/sitemap.xml")
    assert feed.kind == "sitemap" and feed.is_news and len(feed.entries) == 3
    first = feed.entries[0]
    assert first.title == "خبر من خريطة الموقع" and first.tags == ["سياسة", "اقتصاد"] and first.language == "ar"
    assert first.image == BASE + "/img/s1.jpg" and first.published_at is not None
    assert feed.entries[2].published_at.year == 2015


def test_sitemap_index_and_gzip():
    index = parse_feed(load("sitemap_index.xml"), url=BASE + "/sitemap_index.xml")
    assert index.kind == "sitemapindex"
    assert [url for url, _ in index.sitemaps] == [BASE + "/sitemaps/old.xml", BASE + "/sitemaps/news.xml"]
    gz = gzip.compress(load("news_sitemap.xml"))
    assert len(parse_sitemap(gz, url=BASE + "/s.xml.gz").entries) == 3


def test_gzip_bomb_in_sitemap_is_refused():
    with pytest.raises(Exception, match="inflates past"):
        gunzip_capped(gzip.compress(b"\0" * 3_000_000), limit=1_000_000)


def test_truncated_feed_gives_what_it_can():
    feed = parse_feed(load("truncated.xml"), url=BASE + "/feed.xml")
    assert feed.warnings and "malformed" in feed.warnings[0]
    assert [e.url.rsplit("/", 1)[-1].split("?")[0].split("#")[0] for e in feed.entries][:3] == [
        "sputnik-egypt-30-cases", "almadenah-us-deaths", "albayan-afghan-embassy"]


def test_malformed_feed_gives_its_entries():
    feed = parse_feed(load("malformed.xml"), url=BASE + "/feed.xml")
    assert len(feed.entries) == 2 and feed.warnings
    assert feed.entries[0].url.startswith(BASE + "/news/bad-1")


def test_html_served_as_feed_is_refused():
    html = (FIXTURES / "html" / "youm7.com__workers-to-greece.html").read_bytes()
    assert sniff(html) == "html"
    with pytest.raises(ParseError, match="HTML page, not a feed"):
        parse_feed(html, url=BASE + "/feed")


@pytest.mark.parametrize("data, message", [
    (b"", "empty"), (b"   ", "empty"), (b"just some text", "not a feed"),
    (b'{"hello": "world"}', "not a JSON Feed"), (b"<sitemapx/>", "not a feed"),
])
def test_not_feeds(data, message):
    with pytest.raises(ParseError, match=message):
        parse_feed(data, url=BASE + "/x")


def test_entry_json_round_trip():
    entry = parse_feed(load("rss2_media.xml"), url=BASE + "/feed.xml").entries[0]
    assert FeedEntry.from_json(entry.to_json()) == entry


def test_broken_sitemap_gives_no_entries():
    assert parse_feed(b"<urlset><url><broken", url=BASE + "/s.xml").entries == []
