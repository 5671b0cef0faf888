"""robots.txt rules as RFC 9309 reads them."""

from __future__ import annotations

from marsad.ingest.robots import Robots, parse_robots

UA = "marsad/0.1 (Arabic news aggregator)"

ROBOTS = """
# comments are ignored
User-agent: *
Disallow: /private/
Disallow: /*?print=
Disallow: /*.pdf$
Allow: /private/public-page
Crawl-delay: 2

User-agent: marsad
User-agent: otherbot
Disallow: /no-marsad/
Crawl-delay: 5

Sitemap: https://example.com/sitemap-news.xml
Sitemap: https://example.com/sitemap.xml
"""


def test_specific_group_wins_over_star():
    robots = parse_robots(ROBOTS)
    assert not robots.allowed("https://example.com/no-marsad/x", UA)
    assert robots.allowed("https://example.com/private/x", UA)  # only the * group forbids it
    assert robots.crawl_delay(UA) == 5
    assert robots.crawl_delay("somebot/1.0") == 2


def test_wildcards_and_anchors():
    robots = parse_robots(ROBOTS)
    agent = "somebot"
    assert not robots.allowed("https://example.com/private/x", agent)
    assert robots.allowed("https://example.com/private/public-page", agent)  # longer Allow wins
    assert not robots.allowed("https://example.com/news/1?print=1", agent)
    assert robots.allowed("https://example.com/news/1?page=2", agent)
    assert not robots.allowed("https://example.com/files/report.pdf", agent)
    assert robots.allowed("https://example.com/files/report.pdf?x=1", agent)


def test_arabic_paths_match_encoded_or_not():
    robots = parse_robots("User-agent: *\nDisallow: /أخبار/خاص\n")
    assert not robots.allowed("https://example.com/%D8%A3%D8%AE%D8%A8%D8%A7%D8%B1/%D8%AE%D8%A7%D8%B5/1", "x")
    assert robots.allowed("https://example.com/%D8%A3%D8%AE%D8%A8%D8%A7%D8%B1/1", "x")


def test_sitemaps_and_edge_cases():
    robots = parse_robots(ROBOTS)
    assert robots.sitemaps == ["https://example.com/sitemap-news.xml", "https://example.com/sitemap.xml"]
    empty_disallow = parse_robots("User-agent: *\nDisallow:\n")
    assert empty_disallow.allowed("https://example.com/anything", UA)
    assert parse_robots("").allowed("https://example.com/x", UA)
    assert parse_robots("User-agent: *\nDisallow: /\n").allowed("https://example.com/robots.txt", UA)
    assert not parse_robots("User-agent: *\nDisallow: /\n").allowed("https://example.com/x", UA)
    assert Robots.forbidding("5xx").allowed("https://example.com/x", UA) is False
    assert Robots.allowing("404").allowed("https://example.com/x", UA) is True
