"""Decoding scraped pages: BOMs, UTF-16, the Arabic code pages, damaged UTF-8, binary data."""

from __future__ import annotations

import codecs
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marsad.errors import ParseError
from marsad.parse.encoding import arabic_share, decode_bytes

ENCODING_FIXTURES = Path(__file__).parent / "fixtures" / "pages" / "encoding"
SEED = Path(__file__).parent / "fixtures" / "pages" / "seed.txt"
PAGE = (
    "أمريكا توافق على سحب قواتها من النيجر\r\n"
    "تاريخ النشر: 20th, April 2024 GMT\r\n"
    "وافقت الولايات المتحدة، الجمعة، على سحب قوّاتها."
)
# Text every Arabic code page can hold (ISO-8859-6 has no «», dashes or Persian letters).
PLAIN = "أعلنت كتائب الشهيد عز الدين القسام الذراع العسكري لحركة حماس عن قتل ثمانية من الجنود، وأكدت أن العملية تمت."


def decode(data: bytes) -> str:
    return decode_bytes(data, subject="page.txt")


@pytest.mark.parametrize(
    "data",
    [
        PAGE.encode("utf-8"),
        codecs.BOM_UTF8 + PAGE.encode("utf-8"),
        PAGE.encode("utf-16"),  # with the platform's BOM
        codecs.BOM_UTF16_LE + PAGE.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + PAGE.encode("utf-16-be"),
        PAGE.encode("utf-16-le"),  # no BOM
        PAGE.encode("utf-16-be"),
        PAGE.encode("utf-32"),
        PAGE.encode("cp1256"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16", "utf-16-le-bom", "utf-16-be-bom", "utf-16-le", "utf-16-be", "utf-32",
         "cp1256"],
)
def test_page_decodes_exactly_line_ends_kept(data):
    assert decode(data) == PAGE


@pytest.mark.parametrize("encoding", ["cp1256", "iso-8859-6"])
def test_arabic_code_pages_are_told_apart(encoding):
    assert decode(PLAIN.encode(encoding)) == PLAIN


@pytest.mark.parametrize(
    ("name", "encoding"),
    [("chromium-windows-1256-no-charset.html", "cp1256"), ("chromium-iso-8859-6-no-charset.html", "iso-8859-6")],
)
def test_real_code_page_fixtures(name, encoding):
    data = (ENCODING_FIXTURES / name).read_bytes()
    text = decode(data)
    assert text == data.decode(encoding)
    assert "أعلنت كتائب الشهيد عز الدين القسام" in text


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_stretch_of_real_arabic_survives_either_code_page(data):
    words = SEED.read_text(encoding="utf-8").split()
    start = data.draw(st.integers(0, len(words) - 8))
    size = data.draw(st.integers(4, 60))
    encoding = data.draw(st.sampled_from(["cp1256", "iso-8859-6"]))
    text = " ".join(words[start : start + size])
    try:
        raw = text.encode(encoding)
    except UnicodeEncodeError:
        return  # a character the code page lacks ("«", "ّ" in ISO-8859-6)
    assert decode(raw) == text


def test_utf8_cut_mid_character_is_still_utf8():
    data = PAGE.removesuffix(".").encode("utf-8")[:-1]  # half of the final "ا"
    assert decode(data) == PAGE[:-2] + "\ufffd"


def test_english_latin1_page_is_read():
    text = decode("Niger: the United States agreed on Friday to withdraw its troops.".encode("latin-1"))
    assert text.startswith("Niger: the United States")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (random.Random(7).randbytes(4096), "binary data"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", "binary data"),
        ("نص".encode() + b"\x00\x01\x02\x03\x04\x05\x06" * 20, "binary data"),
        (codecs.BOM_UTF16_LE + random.Random(8).randbytes(4096), "binary data"),
    ],
    ids=["empty", "random", "png", "nul-bytes", "random-behind-utf16-bom"],
)
def test_unreadable_data_raises_parse_error_naming_the_subject(data, message):
    with pytest.raises(ParseError) as caught:
        decode_bytes(data, subject="/pages/x.txt")
    assert message in caught.value.message
    assert caught.value.subject == "/pages/x.txt"


def test_arabic_share():
    assert arabic_share(PLAIN) == 1.0
    assert arabic_share("abc 123") == 0.0
    assert arabic_share("20th, April «سلام»، é") == pytest.approx(7 / 8)
