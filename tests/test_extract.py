"""Article extraction: metadata precedence, titles, canonical URLs, encodings, feed fallbacks."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from httpserver import PAGES, page_bytes

from marsad.errors import ParseError
from marsad.ingest.crawl import page_for
from marsad.ingest.extract import extract_page, page_from_entry, strip_site_name, trustworthy_canonical
from marsad.ingest.feeds import FeedEntry
from marsad.ingest.fetch import Response

NOW = datetime(2024, 5, 20, tzinfo=timezone.utc)

PAGE = """<!doctype html><html lang="ar"><head>
<title>عنوان الصفحة - صحيفة المثال</title>
<meta property="og:title" content="عنوان المقال - صحيفة المثال">
<meta property="og:site_name" content="صحيفة المثال">
<meta property="article:published_time" content="2024-05-01T10:00:00+03:00">
<meta property="article:tag" content="اقتصاد"><meta property="article:tag" content="نفط">
<meta property="og:image" content="/img/a.jpg">
<link rel="canonical" href="https://example.com/news/123">
<script type="application/ld+json">{"@context": "https://schema.org", "@graph": [
  {"@type": "WebSite", "name": "صحيفة المثال"},
  {"@type": "NewsArticle", "headline": "عنوان المقال الرئيسي", "datePublished": "2024-05-02T09:30:00+03:00",
   "author": [{"@type": "Person", "name": "سارة أحمد"}], "keywords": "طاقة، أسواق",
   "publisher": {"@type": "Organization", "name": "صحيفة المثال"}}]}</script>
</head><body><header><nav><a href="/">الرئيسية</a> <a href="/sport">رياضة</a></nav></header>
<article><h1>عنوان المقال الرئيسي</h1>
<p>ارتفعت أسعار النفط في الأسواق العالمية اليوم بعد قرار تحالف أوبك بلس خفض الإنتاج لشهرين إضافيين.</p>
<p>وقال محللون إن القرار سيؤثر على أسعار الوقود في المنطقة خلال الأسابيع المقبلة، وسط توقعات بزيادة الطلب.</p>
<p>وأضاف التقرير أن الأسواق الخليجية سجلت مكاسب ملحوظة في تعاملات الصباح مع صعود أسهم شركات الطاقة.</p>
</article><footer>جميع الحقوق محفوظة</footer></body></html>"""


def test_json_ld_comes_first():
    page = extract_page(PAGE, "https://example.com/news/123?utm_source=x")
    assert page.title == "عنوان المقال الرئيسي"
    assert page.published_at == datetime(2024, 5, 2, 6, 30, tzinfo=timezone.utc)
    assert page.published_local.utcoffset().total_seconds() == 3 * 3600
    assert page.date_source == "json-ld" and page.date_precision == "second"
    assert page.author == "سارة أحمد"
    assert page.tags == ["طاقة", "أسواق"]
    assert page.canonical_url == "https://example.com/news/123"
    assert page.image == "https://example.com/img/a.jpg"
    assert page.language == "ar" and page.site_name == "صحيفة المثال"
    assert page.paragraphs[0].startswith("ارتفعت أسعار النفط") and len(page.paragraphs) == 3
    assert "الرئيسية" not in page.paragraphs[0]


def test_opengraph_when_no_json_ld():
    html = PAGE.split('<script type="application/ld+json">')[0] + PAGE.split("</script>", 1)[1]
    page = extract_page(html, "https://example.com/news/123")
    assert page.title == "عنوان المقال"  # site name cut from og:title
    assert page.published_at == datetime(2024, 5, 1, 7, 0, tzinfo=timezone.utc) and page.date_source == "meta"
    assert page.tags == ["اقتصاد", "نفط"]


@pytest.mark.parametrize("title, names, expected", [
    ("عنوان الخبر - اليوم السابع", ["اليوم السابع"], "عنوان الخبر"),
    ("المدينة نيوز - أميركا :50 الفا حصيلة الوفيات", ["المدينة نيوز"], "أميركا :50 الفا حصيلة الوفيات"),
    ("عنوان | Sputnik Arabic", ["Sputnik Arabic"], "عنوان"),
    ("وزارة العمل: تفاصيل تسفير", ["اليوم السابع"], "وزارة العمل: تفاصيل تسفير"),
    ("عنوان بلا اسم موقع", [], "عنوان بلا اسم موقع"),
])
def test_strip_site_name(title, names, expected):
    assert strip_site_name(title, names) == expected


@pytest.mark.parametrize("candidate, expected", [
    ("https://www.example.com/news/1", "https://www.example.com/news/1"),
    ("/news/1", "https://example.com/news/1"),
    ("https://example.com/", None),  # a homepage canonical would merge every article into one
    ("https://other.com/news/1", None),
    ("https://52.16.95.170/news/1", None),
    ("javascript:void(0)", None),
])
def test_trustworthy_canonical(candidate, expected):
    assert trustworthy_canonical(candidate, "https://example.com/news/1?x=1") == expected


def test_feed_fields_fill_what_the_page_lacks():
    entry = FeedEntry(url="https://example.com/n/1", title="عنوان من الخلاصة", summary=["ملخص الخبر"],
                      published_at=datetime(2024, 5, 1, 8, 15, tzinfo=timezone.utc), date_precision="second",
                      author="محرر", tags=["وسم"])
    page = extract_page("<html><body><div>قائمة</div></body></html>", entry.url, entry=entry)
    assert page.title == "عنوان من الخلاصة" and page.paragraphs == ["ملخص الخبر"] and page.text_source == "feed"
    assert page.published_at == entry.published_at and page.date_source == "feed"
    assert page.author == "محرر" and page.tags == ["وسم"] and page.language == "ar"


def test_feed_time_refines_a_day_only_page_date():
    html = ("<html><head><meta name='date' content='2024-05-01'></head><body><article><p>"
            + "نص الخبر الطويل بما يكفي ليكون مقالا حقيقيا عن الأحداث الجارية في المنطقة. " * 5 + "</p></article></body></html>")
    entry = FeedEntry(url="https://example.com/n/2", title="t", published_at=datetime(2024, 5, 1, 18, 40,
                      tzinfo=timezone.utc), date_precision="second")
    page = extract_page(html, entry.url, entry=entry)
    assert page.published_at == entry.published_at and page.date_precision == "second"


def test_page_from_entry_alone():
    page = page_from_entry(FeedEntry(url="https://example.com/n/3", title="عنوان فقط"))
    assert page.title == "عنوان فقط" and page.paragraphs == []
    with pytest.raises(ParseError):
        page_from_entry(FeedEntry(url="https://example.com/n/4"))


def test_empty_page_without_entry_is_a_parse_error():
    with pytest.raises(ParseError, match="no article title or text"):
        extract_page("", "https://example.com/empty")


@pytest.mark.parametrize("slug", ["albayan-afghan-embassy", "alyaum-tehran", "beirut-observer-paris"])
def test_legacy_arabic_encodings_extract_like_utf8(slug):
    """The windows-1256 / ISO-8859-6 copies give the same article as the UTF-8 originals."""
    original = {"albayan-afghan-embassy": "albayan.ae__afghan-embassy-uae.html",
                "alyaum-tehran": "alyaum.com__tehran-buries-zadeh.html",
                "beirut-observer-paris": "beirutobserver.com__saudi-princess-paris-burglary.html"}[slug]
    from httpserver import FIXTURES

    url = "https://example.com/news/" + slug
    expected = extract_page((FIXTURES / "html" / original).read_text(encoding="utf-8"), url)
    response = Response(url=url, final_url=url, status=200, headers={"content-type": PAGES[slug][1]},
                        content=page_bytes(slug), fetched_at=NOW)
    page = page_for(response, FeedEntry(url=url), None)
    assert page.title == expected.title
    assert page.paragraphs[0] == expected.paragraphs[0]
    assert page.published_at == expected.published_at


def test_non_html_pages_are_not_extracted():
    response = Response(url="https://e.com/a.pdf", final_url="https://e.com/a.pdf", status=200,
                        headers={"content-type": "application/pdf"}, content=b"%PDF-1.4", fetched_at=NOW)
    with pytest.raises(ParseError, match="not an HTML page"):
        page_for(response, FeedEntry(url="https://e.com/a.pdf"), None)
