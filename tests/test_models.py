from __future__ import annotations

from datetime import datetime

import pytest

from marsad.models import Article, article_id
from marsad.urls import canonicalize_url


@pytest.mark.parametrize(
    "url, expected",
    [
        ("HTTPS://WWW.Okaz.com.sa:443/news/1?utm_source=tw&id=5#top", "https://www.okaz.com.sa/news/1?id=5"),
        ("http://example.com:8080", "http://example.com:8080/"),
        ("http://example.com/?b=2&a=1&fbclid=zz", "http://example.com/?a=1&b=2"),
        (
            "http://aawsat.com/home/article/410826/بريطانيا-أربعة",
            "http://aawsat.com/home/article/410826/%D8%A8%D8%B1%D9%8A%D8%B7%D8%A7%D9%86%D9%8A%D8%A7-%D8%A3%D8%B1%D8%A8%D8%B9%D8%A9",
        ),
    ],
)
def test_canonicalize_url(url, expected):
    assert canonicalize_url(url) == expected


def test_raw_and_percent_encoded_arabic_urls_share_an_id():
    raw = Article(title="t", url="http://aawsat.com/home/article/410826/بريطانيا")
    encoded = Article(title="t", url="http://aawsat.com/home/article/410826/%D8%A8%D8%B1%D9%8A%D8%B7%D8%A7%D9%86%D9%8A%D8%A7")
    assert raw.id == encoded.id


def test_id_without_url_follows_content():
    a = Article(title="عنوان", paragraphs=["فقرة"])
    assert a.id == article_id(None, "عنوان", ["فقرة"])
    assert a.id != Article(title="عنوان", paragraphs=["فقرة أخرى"]).id
    assert len(a.id) == 16


def test_naive_dates_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        Article(title="t", published_at=datetime(2024, 4, 20))


def test_text_joins_paragraphs():
    assert Article(title="t", paragraphs=["أ", "ب"]).text == "أ\nب"
