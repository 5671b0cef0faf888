"""OPML import and export, as feed readers exchange subscription lists."""

from __future__ import annotations

from click.testing import CliRunner

from marsad.cli import cli
from marsad.ingest.opml import OpmlSource, parse_opml, write_opml
from marsad.ingest.sources import export_opml, import_opml, list_sources
from marsad.store.sqlite import SQLiteStore

OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE opml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<opml version="2.0">
  <head><title>&secret;</title></head>
  <body>
    <outline text="\xd8\xa3\xd8\xae\xd8\xa8\xd8\xa7\xd8\xb1 \xd8\xb9\xd8\xb1\xd8\xa8\xd9\x8a\xd8\xa9">
      <outline type="rss" text="Al Yaum" title="Al Yaum" xmlUrl="https://www.alyaum.com/rss" htmlUrl="https://www.alyaum.com/"/>
      <outline type="rss" text="Example News" xmlUrl="https://news.example.eg/feed.xml" htmlUrl="https://news.example.eg/" language="ar"/>
    </outline>
    <outline type="rss" text="Example News sitemap" xmlUrl="https://news.example.eg/news-sitemap.xml" htmlUrl="https://news.example.eg/"/>
    <outline type="rss" text="internal" xmlUrl="http://10.0.0.1/feed"/>
    <outline type="rss" text="bad scheme" xmlUrl="file:///etc/passwd"/>
  </body>
</opml>"""


def test_parse_opml_nested_and_safe():
    feeds = parse_opml(OPML)
    assert [f.xml_url for f in feeds][:3] == ["https://www.alyaum.com/rss", "https://news.example.eg/feed.xml",
                                              "https://news.example.eg/news-sitemap.xml"]
    assert feeds[0].category == "أخبار عربية" and feeds[2].category is None
    assert feeds[1].language == "ar"


def test_write_then_parse_round_trip():
    text = write_opml([OpmlSource("اليوم", "https://www.alyaum.com/", ["https://www.alyaum.com/rss"], "ar", "SA")])
    assert "passwd" not in text
    (feed,) = parse_opml(text.encode("utf-8"))
    assert (feed.xml_url, feed.title, feed.html_url, feed.language, feed.country) == (
        "https://www.alyaum.com/rss", "اليوم", "https://www.alyaum.com/", "ar", "SA")


def test_import_registers_sources_and_skips_unsafe(tmp_path):
    path = tmp_path / "subs.opml"
    path.write_bytes(OPML)
    with SQLiteStore(tmp_path / "db.sqlite") as store:
        report = import_opml(store, path)
        assert report.feeds == 3 and len(report.skipped) == 2
        assert any("private" in reason for _, reason in report.skipped)
        rows = {r.source.name: r for r in list_sources(store)}
        # "Al Yaum" is a known outlet: it gets its Arabic name, country and aliases.
        assert rows["اليوم"].source.country == "SA" and rows["اليوم"].source.language == "ar"
        assert [f.kind for f in rows["Example News sitemap"].feeds] == ["sitemap"]
        assert rows["Example News"].source.country == "EG"
        again = import_opml(store, path)
        assert again.feeds == 0 and len(again.skipped) == 5
        exported = export_opml(store)
    assert exported.count("<outline type=\"rss\"") == 3 and "https://www.alyaum.com/rss" in exported


def test_cli_import_and_export(tmp_path):
    path = tmp_path / "subs.opml"
    path.write_bytes(OPML)
    db = str(tmp_path / "cli.db")
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", db, "sources", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "imported 3 feed(s)" in result.output
    out = tmp_path / "out.opml"
    result = runner.invoke(cli, ["--db", db, "sources", "export", "-o", str(out)])
    assert result.exit_code == 0 and "news.example.eg/feed.xml" in out.read_text(encoding="utf-8")
