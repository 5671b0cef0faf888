"""The fetcher against real local servers: politeness, retries, limits, redirects, encodings."""

from __future__ import annotations

import asyncio
import gzip
import zlib

import brotli
import pytest
from httpserver import PAGES, Reply, fast_settings, fetch, page_bytes, server  # noqa: F401

from marsad.ingest.fetch import FetchError, Fetcher, decode_body, parse_retry_after


def test_plain_get_sends_user_agent(server):
    server.route("/a", Reply("مرحبا"))
    response = fetch(server.url("/a"))
    assert response.status == 200
    assert response.text() == "مرحبا"
    assert server.log[-1].headers["user-agent"].startswith("marsad/")


def test_conditional_get_etag_and_last_modified(server):
    server.route("/feed", Reply("<rss/>", etag='"v1"', last_modified="Wed, 01 May 2024 10:00:00 GMT"))
    first = fetch(server.url("/feed"))
    assert first.etag == '"v1"' and not first.not_modified
    again = fetch(server.url("/feed"), etag=first.etag)
    assert again.not_modified and again.content == b""
    assert server.log[-1].headers["if-none-match"] == '"v1"'
    since = fetch(server.url("/feed"), last_modified=first.last_modified)
    assert since.not_modified


@pytest.mark.parametrize("encoding, compress", [
    ("gzip", gzip.compress), ("deflate", zlib.compress), ("br", brotli.compress),
])
def test_compressed_responses_are_decoded(server, encoding, compress):
    body = "نص عربي مضغوط ".encode() * 200
    server.route("/z", Reply(compress(body), headers={"Content-Encoding": encoding}))
    assert fetch(server.url("/z")).content == body
    assert encoding in server.log[-1].headers["accept-encoding"]


def test_declared_oversized_response_is_refused(server):
    server.route("/big", Reply(b"x" * 5000))
    with pytest.raises(FetchError) as info:
        fetch(server.url("/big"), fast_settings(max_bytes=1000))
    assert info.value.kind == "too_large"


def test_decompression_bomb_is_capped(server):
    # 2 MB of zeros gzip to ~2 KB: the Content-Length is small, the cap is on what it inflates to.
    server.route("/bomb", Reply(gzip.compress(b"\0" * 2_000_000), headers={"Content-Encoding": "gzip"}))
    with pytest.raises(FetchError, match="cap") as info:
        fetch(server.url("/bomb"), fast_settings(max_bytes=100_000))
    assert info.value.kind == "too_large"


def test_slow_server_times_out(server):
    server.route("/slow", Reply("late", delay=3.0))
    with pytest.raises(FetchError) as info:
        fetch(server.url("/slow"), fast_settings(read_timeout=0.3, total_timeout=0.5, retries=0))
    assert info.value.kind == "timeout" and info.value.retryable


def test_dripping_body_hits_total_timeout(server):
    # Each chunk arrives well within the read timeout; only the total timeout ends it.
    server.route("/drip", Reply(b"a" * 4000, chunk=100, drip=0.1))
    with pytest.raises(FetchError) as info:
        fetch(server.url("/drip"), fast_settings(read_timeout=1.0, total_timeout=0.6, retries=0))
    assert info.value.kind == "timeout"


def test_5xx_is_retried_with_backoff(server):
    calls = []

    def flaky(request):
        calls.append(request)
        return Reply("ok") if len(calls) > 2 else Reply("down", status=503)

    server.route("/flaky", flaky)
    assert fetch(server.url("/flaky"), fast_settings(retries=3)).content == b"ok"
    assert len(calls) == 3


def test_5xx_gives_up_after_retries(server):
    server.route("/down", Reply("down", status=500))
    with pytest.raises(FetchError) as info:
        fetch(server.url("/down"), fast_settings(retries=2))
    assert info.value.http_status == 500 and server.hits["/down"] == 3


def test_404_is_not_retried(server):
    with pytest.raises(FetchError) as info:
        fetch(server.url("/missing"), fast_settings(retries=3))
    assert info.value.http_status == 404 and not info.value.retryable
    assert server.hits["/missing"] == 1


def test_429_retry_after_is_respected(server):
    calls = []

    def limited(request):
        calls.append(request)
        return Reply("ok") if len(calls) > 1 else Reply("slow down", status=429, headers={"Retry-After": "1"})

    server.route("/limited", limited)
    loop = asyncio.new_event_loop()
    try:
        async def run():
            async with Fetcher(fast_settings(retries=2)) as fetcher:
                start = loop.time()
                response = await fetcher.fetch(server.url("/limited"))
                return response, loop.time() - start
        response, waited = loop.run_until_complete(run())
    finally:
        loop.close()
    assert response.content == b"ok" and len(calls) == 2
    assert waited >= 0.9  # it waited what the server asked, not the (tiny) backoff


def test_long_retry_after_gives_up_with_the_delay(server):
    server.route("/later", Reply("no", status=429, headers={"Retry-After": "3600"}))
    with pytest.raises(FetchError) as info:
        fetch(server.url("/later"), fast_settings(retries=3, max_retry_after=5))
    assert info.value.kind == "rate_limited" and info.value.retry_after == 3600
    assert server.hits["/later"] == 1


def test_retry_after_http_date():
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 60) == pytest.approx(60)
    assert parse_retry_after("soon") is None


def test_redirects_are_followed_and_recorded(server):
    server.route("/old", Reply(status=301, headers={"Location": "/new"}))
    server.route("/new", Reply("here"))
    response = fetch(server.url("/old"))
    assert response.final_url == server.url("/new") and response.redirects == [server.url("/new")]


def test_redirect_loop_is_detected(server):
    server.route("/a", Reply(status=302, headers={"Location": "/b"}))
    server.route("/b", Reply(status=302, headers={"Location": "/a"}))
    with pytest.raises(FetchError, match="loop") as info:
        fetch(server.url("/a"))
    assert info.value.kind == "redirects"


def test_redirect_limit(server):
    for i in range(10):
        server.route(f"/r{i}", Reply(status=307, headers={"Location": f"/r{i + 1}"}))
    with pytest.raises(FetchError, match="more than 3 redirects"):
        fetch(server.url("/r0"), fast_settings(max_redirects=3))
    assert server.hits["/r4"] == 0


def test_robots_disallow_is_obeyed(server):
    server.route("/robots.txt", Reply("User-agent: *\nDisallow: /private/\nDisallow: /*?print=\n",
                                      content_type="text/plain"))
    server.route("/private/x", Reply("secret"))
    server.route("/news/1", Reply("fine"))
    with pytest.raises(FetchError) as info:
        fetch(server.url("/private/x"))
    assert info.value.kind == "robots" and server.hits["/private/x"] == 0
    with pytest.raises(FetchError):
        fetch(server.url("/news/1?print=1"))
    assert fetch(server.url("/news/1")).content == b"fine"


def test_robots_missing_allows_and_robots_5xx_forbids(server):
    server.route("/page", Reply("ok"))
    assert fetch(server.url("/page")).content == b"ok"  # /robots.txt is a 404 here
    server.route("/robots.txt", Reply("oops", status=503))
    with pytest.raises(FetchError, match="robots.txt unreachable"):
        fetch(server.url("/page"), fast_settings(retries=0))


def test_robots_can_be_ignored_by_setting(server):
    server.route("/robots.txt", Reply("User-agent: *\nDisallow: /\n", content_type="text/plain"))
    server.route("/page", Reply("ok"))
    assert fetch(server.url("/page"), fast_settings(obey_robots=False)).content == b"ok"


def test_per_host_concurrency_and_crawl_delay(server):
    server.route("/robots.txt", Reply("User-agent: marsad\nCrawl-delay: 0.2\n", content_type="text/plain"))
    server.route("/p", Reply("ok", delay=0.05))

    async def run():
        async with Fetcher(fast_settings(per_host_concurrency=1)) as fetcher:
            start = asyncio.get_running_loop().time()
            await asyncio.gather(*(fetcher.fetch(server.url(f"/p?{i}")) for i in range(4)))
            return asyncio.get_running_loop().time() - start

    elapsed = asyncio.run(run())
    assert server.max_in_flight["127.0.0.1"] == 1
    assert elapsed >= 3 * 0.2 * 0.9  # four requests, at least the crawl delay apart


def test_windows_1256_page_without_charset_is_decoded(server):
    server.route("/ar", Reply(page_bytes("albayan-afghan-embassy"), content_type="text/html"))
    assert "القائم بأعمال السفارة الأفغانية" in fetch(server.url("/ar")).text()


def test_lying_utf8_header_over_windows_1256(server):
    server.route("/ar", Reply(page_bytes("alyaum-tehran"), content_type="text/html; charset=utf-8"))
    assert "طهران تدفن" in fetch(server.url("/ar")).text()


def test_iso_8859_6_page_is_decoded(server):
    server.route("/ar", Reply(page_bytes("beirut-observer-paris"), content_type="text/html; charset=iso-8859-1"))
    assert "سرقة منزل أميرة سعودية" in fetch(server.url("/ar")).text()


def test_decode_body_trusts_utf8_and_specific_declarations():
    assert decode_body("عربي".encode(), "text/html; charset=windows-1256") == ("عربي", "utf-8")
    assert decode_body("привет мир".encode("koi8-r"), "text/plain; charset=koi8-r")[0] == "привет мир"


def test_all_fixture_pages_decode_to_arabic():
    for slug in PAGES:
        text, _ = decode_body(page_bytes(slug), PAGES[slug][1])
        assert sum("\u0621" <= c <= "\u064a" for c in text) > 500, slug
