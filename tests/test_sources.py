"""The sources registry: adding by feed or homepage (discovery), listing, disabling, removing."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from httpserver import Reply, allow_loopback, fast_settings, feed_text, server  # noqa: F401

from marsad.cli import cli
from marsad.errors import NotFound, Rejected
from marsad.ingest.sources import add_source, disable_source, list_sources, remove_source
from marsad.ingest.state import CrawlState

HOME = """<!doctype html><html lang="ar-EG"><head><title>صحيفة المثال | الرئيسية</title>
<meta property="og:site_name" content="صحيفة المثال">
{links}</head><body><h1>أهلا</h1></body></html>"""


def test_add_by_feed_url(server, store):
    server.route("/feed.xml", Reply(feed_text("rss2_media.xml", server.base), content_type="application/rss+xml"))
    result = add_source(store, server.url("/feed.xml"), settings=fast_settings())
    assert result.source.name == "أخبار الخليج والعالم" and result.source.language == "ar"
    assert [(f.kind, f.url, f.entries) for f in result.added_feeds] == [("feed", server.url("/feed.xml"), 6)]
    assert store.get_source("أخبار الخليج والعالم").feeds == [server.url("/feed.xml")]


def test_add_homepage_discovers_link_alternate(server, store):
    links = ('<link rel="alternate" type="application/rss+xml" title="RSS" href="/rss">'
             '<link rel="alternate" type="application/atom+xml" title="تعليقات" href="/comments/feed">'
             '<link rel="alternate" type="application/feed+json" href="/feed.json">')
    server.route("/", Reply(HOME.format(links=links)))
    server.route("/rss", Reply(feed_text("rss2_media.xml", server.base), content_type="application/rss+xml"))
    server.route("/feed.json", Reply(feed_text("jsonfeed.json", server.base), content_type="application/feed+json"))
    result = add_source(store, server.url("/"), settings=fast_settings(), country="EG")
    assert result.source.name == "صحيفة المثال" and result.source.language == "ar"
    assert result.source.country == "EG"
    assert [f.url for f in result.added_feeds] == [server.url("/rss"), server.url("/feed.json")]
    assert server.hits["/comments/feed"] == 0  # comment feeds are skipped


def test_add_homepage_finds_common_feed_path(server, store):
    server.route("/", Reply(HOME.format(links="")))
    server.route("/rss.xml", Reply(feed_text("atom.xml", server.base), content_type="application/atom+xml"))
    result = add_source(store, server.url("/"), settings=fast_settings(), name="مثال")
    assert result.source.name == "مثال" and [f.url for f in result.added_feeds] == [server.url("/rss.xml")]


def test_add_homepage_falls_back_to_robots_sitemaps(server, store):
    server.route("/", Reply(HOME.format(links="")))
    server.route("/robots.txt", Reply(f"User-agent: *\nAllow: /\nSitemap: {server.url('/sitemap.xml')}\n"
                                      f"Sitemap: {server.url('/news-sitemap.xml')}\n", content_type="text/plain"))
    server.route("/news-sitemap.xml", Reply(feed_text("news_sitemap.xml", server.base), content_type="text/xml"))
    result = add_source(store, server.url("/"), settings=fast_settings())
    assert [(f.kind, f.url) for f in result.added_feeds] == [("sitemap", server.url("/news-sitemap.xml"))]
    assert server.hits["/sitemap.xml"] == 0  # the news sitemap is tried first and is enough


def test_site_without_feeds_is_refused_clearly(server, store):
    server.route("/", Reply(HOME.format(links="")))
    with pytest.raises(Rejected, match="no feed or sitemap found"):
        add_source(store, server.url("/"), settings=fast_settings())


def test_internal_address_refused_without_permission(store, monkeypatch):
    monkeypatch.delenv("MARSAD_ALLOW_PRIVATE_NETWORKS", raising=False)
    with pytest.raises(Rejected, match="private address"):
        add_source(store, "http://192.168.1.10/feed")


def test_same_feed_twice_and_list_disable_remove(server, store):
    server.route("/feed.xml", Reply(feed_text("rss2_media.xml", server.base), content_type="application/rss+xml"))
    add_source(store, server.url("/feed.xml"), settings=fast_settings(), name="خليج")
    with pytest.raises(Rejected, match="already registered"):
        add_source(store, server.url("/feed.xml"), settings=fast_settings(), name="آخر")
    (row,) = list_sources(store)
    assert row.source.name == "خليج" and not row.disabled and len(row.feeds) == 1
    disable_source(store, "خليج")
    assert list_sources(store)[0].disabled
    assert CrawlState(store).due_feeds(row.feeds[0].next_due, all_feeds=True) == []
    disable_source(store, "خليج", disabled=False)
    assert remove_source(store, "خليج") == 1
    assert list_sources(store) == [] and CrawlState(store).feeds() == []
    with pytest.raises(NotFound):
        remove_source(store, "خليج")


def test_cli_sources_commands(server, tmp_path, allow_loopback):
    server.route("/feed.xml", Reply(feed_text("atom.xml", server.base), content_type="application/atom+xml"))
    db = str(tmp_path / "cli.db")
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", db, "sources", "add", server.url("/feed.xml"), "--name", "مصر", "--delay", "0"])
    assert result.exit_code == 0, result.output
    assert "مصر: 1 feed(s) added" in result.output
    listing = json.loads(runner.invoke(cli, ["--db", db, "sources", "list", "--json"]).output)
    assert listing[0]["name"] == "مصر" and listing[0]["feeds"][0]["url"] == server.url("/feed.xml")
    assert runner.invoke(cli, ["--db", db, "sources", "disable", "مصر"]).exit_code == 0
    assert "[disabled]" in runner.invoke(cli, ["--db", db, "sources", "list"]).output
    assert runner.invoke(cli, ["--db", db, "sources", "remove", "مصر"]).exit_code == 0
    result = runner.invoke(cli, ["--db", db, "sources", "remove", "مصر"])
    assert result.exit_code == 1 and "no such source" in result.output


def test_cli_refuses_loopback_without_permission(server, tmp_path, monkeypatch):
    monkeypatch.delenv("MARSAD_ALLOW_PRIVATE_NETWORKS", raising=False)
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "x.db"), "sources", "add", server.url("/feed.xml")])
    assert result.exit_code == 1
    assert "loopback address" in result.output and "MARSAD_ALLOW_PRIVATE_NETWORKS=1" in result.output
