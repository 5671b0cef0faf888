"""Dates as Arabic news sites print them, each with its exact UTC value and precision.

Relative dates are read against REF, a Saturday: 20 April 2024 = 11 Shawwal 1445.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marsad.dates import ParsedDate, parse_date

REF = datetime(2024, 4, 20, 12, 0, tzinfo=timezone.utc)

CASES = [
    # --- the seed page and the corpus -------------------------------------------------
    pytest.param("تاريخ النشر: 20th, April 2024 GMT", "2024-04-20T00:00:00+00:00", "day", id="seed"),
    pytest.param("2015-07-21 02:51:32", "2015-07-21T02:51:32+00:00", "second", id="saudinewsnet"),
    # --- ISO 8601 (meta article:published_time, JSON-LD) ---------------------------
    pytest.param("2024-04-20T10:30:00+03:00", "2024-04-20T07:30:00+00:00", "second", id="iso-offset"),
    pytest.param("2024-04-20T09:15:00+0300", "2024-04-20T06:15:00+00:00", "second", id="iso-offset-nocolon"),
    pytest.param("2024-04-20T10:30:00.000Z", "2024-04-20T10:30:00+00:00", "second", id="iso-fraction-z"),
    pytest.param("2024-04-20T10:30Z", "2024-04-20T10:30:00+00:00", "minute", id="iso-minute"),
    pytest.param("2024-04-20", "2024-04-20T00:00:00+00:00", "day", id="iso-date"),
    # --- numeric, day first -----------------------------------------------------------------
    pytest.param("20/4/2024", "2024-04-20T00:00:00+00:00", "day", id="aljazeera-published"),
    pytest.param("20-04-2024", "2024-04-20T00:00:00+00:00", "day", id="dd-mm-yyyy"),
    pytest.param(
        "20/4/2024|آخر تحديث: 20/4/202412:03 (توقيت مكة)",
        "2024-04-20T00:00:00+00:00", "day", id="aljazeera-published-and-updated",
    ),
    pytest.param(
        "آخر تحديث: 20/4/202412:03 (توقيت مكة)",
        "2024-04-20T09:03:00+00:00", "minute", id="aljazeera-updated-glued-time",
    ),
    pytest.param("السبت 20-04-2024 12:43", "2024-04-20T12:43:00+00:00", "minute", id="almasryalyoum"),
    pytest.param(
        "كتب: محمد أحمد | السبت 20-04-2024 12:43",
        "2024-04-20T12:43:00+00:00", "minute", id="almasryalyoum-byline",
    ),
    pytest.param("20.04.2024 | 14:05", "2024-04-20T14:05:00+00:00", "minute", id="dotted"),
    pytest.param("2024/04/20", "2024-04-20T00:00:00+00:00", "day", id="yyyy-mm-dd-slashes"),
    pytest.param("4/20/2024", "2024-04-20T00:00:00+00:00", "day", id="month-first-unambiguous"),
    # --- named months, Egyptian / Gulf ---------------------------------------------------
    pytest.param("السبت، 20 أبريل 2024 10:30 ص", "2024-04-20T10:30:00+00:00", "minute", id="youm7-am"),
    pytest.param("السبت، 20 أبريل 2024 10:30 م", "2024-04-20T22:30:00+00:00", "minute", id="youm7-pm"),
    pytest.param(
        "كتب: محمد أحمد - اليوم السابع، السبت، 20 أبريل 2024 10:30 ص",
        "2024-04-20T10:30:00+00:00", "minute", id="youm7-byline",
    ),
    pytest.param(
        "نشر في: 20 أبريل ,2024: 02:51 م GST",
        "2024-04-20T10:51:00+00:00", "minute", id="alarabiya",
    ),
    pytest.param(
        "نشر في: 20 أبريل ,2024: 02:51 م GST آخر تحديث: 20 أبريل ,2024: 03:10 م GST",
        "2024-04-20T10:51:00+00:00", "minute", id="alarabiya-published-and-updated",
    ),
    pytest.param("السبت 20/أبريل/2024 - 10:30 ص", "2024-04-20T10:30:00+00:00", "minute", id="elbalad"),
    pytest.param(
        "الأحد 21 أبريل 2024 - 15:41 بتوقيت أبوظبي",
        "2024-04-21T11:41:00+00:00", "minute", id="skynews-abudhabi",
    ),
    pytest.param(
        "الاثنين 22 أبريل 2024 09:00 ص (توقيت مكة المكرمة)",
        "2024-04-22T06:00:00+00:00", "minute", id="makkah-in-brackets",
    ),
    pytest.param("20 ابريل 2024", "2024-04-20T00:00:00+00:00", "day", id="april-no-hamza"),
    pytest.param("٢٠ أبريل ٢٠٢٤", "2024-04-20T00:00:00+00:00", "day", id="arabic-indic-digits"),
    pytest.param("۲۰ ابريل ۲۰۲۴", "2024-04-20T00:00:00+00:00", "day", id="persian-digits"),
    pytest.param(
        "الخميس ٢٨ مارس ٢٠٢٤ ٠٩:١٥ ص", "2024-03-28T09:15:00+00:00", "minute", id="indic-digits-time"
    ),
    pytest.param("\u200f20 أبريل 2024\u200e", "2024-04-20T00:00:00+00:00", "day", id="rtl-marks"),
    pytest.param("20 يونيه 2024", "2024-06-20T00:00:00+00:00", "day", id="yunyah"),
    pytest.param("5 يوليه 2024", "2024-07-05T00:00:00+00:00", "day", id="yulyah"),
    pytest.param("3 اغسطس 2024", "2024-08-03T00:00:00+00:00", "day", id="august-no-hamza"),
    pytest.param("15 اكتوبر 2023", "2023-10-15T00:00:00+00:00", "day", id="october-no-hamza"),
    pytest.param("20 أبريل 2024 - 10:30 صباحاً", "2024-04-20T10:30:00+00:00", "minute", id="sabahan"),
    pytest.param("20 أبريل 2024 10:30:15", "2024-04-20T10:30:15+00:00", "second", id="seconds"),
    pytest.param("31 ديسمبر 2023 11:59 م", "2023-12-31T23:59:00+00:00", "minute", id="pm-year-end"),
    pytest.param("1 يناير 2024 12:15 ص", "2024-01-01T00:15:00+00:00", "minute", id="12-am"),
    pytest.param("12:30 م 20 أبريل 2024", "2024-04-20T12:30:00+00:00", "minute", id="12-pm-time-first"),
    # --- named months, Levantine / Iraqi -------------------------------------------------
    pytest.param("20 نيسان 2024", "2024-04-20T00:00:00+00:00", "day", id="annahar-nisan"),
    pytest.param("4 نيسان (أبريل) 2024", "2024-04-04T00:00:00+00:00", "day", id="combined-brackets"),
    pytest.param("10 آذار/مارس 2024", "2024-03-10T00:00:00+00:00", "day", id="combined-slash"),
    pytest.param("20 أبريل/ نيسان 2024", "2024-04-20T00:00:00+00:00", "day", id="bbc-arabic"),
    pytest.param("20 كانون الثاني 2024", "2024-01-20T00:00:00+00:00", "day", id="kanun-2"),
    pytest.param("14 شباط 2024", "2024-02-14T00:00:00+00:00", "day", id="shubat"),
    pytest.param("3 أيار 2024", "2024-05-03T00:00:00+00:00", "day", id="ayyar"),
    pytest.param("5 حزيران 2024", "2024-06-05T00:00:00+00:00", "day", id="haziran"),
    pytest.param("17 تموز 2023", "2023-07-17T00:00:00+00:00", "day", id="tammuz"),
    pytest.param("1 آب 2023", "2023-08-01T00:00:00+00:00", "day", id="ab"),
    pytest.param("9 أيلول 2023", "2023-09-09T00:00:00+00:00", "day", id="aylul"),
    pytest.param("15 تشرين الأول 2023", "2023-10-15T00:00:00+00:00", "day", id="tishrin-1"),
    pytest.param("2 تشرين الثاني 2023", "2023-11-02T00:00:00+00:00", "day", id="tishrin-2"),
    pytest.param("25 كانون الأول 2023", "2023-12-25T00:00:00+00:00", "day", id="kanun-1"),
    pytest.param(
        "السبت 20 نيسان 2024 - 13:45 بتوقيت بيروت",
        "2024-04-20T10:45:00+00:00", "minute", id="beirut-summer-time",
    ),
    # --- English -----------------------------------------------------------------------------
    pytest.param("April 20th, 2024", "2024-04-20T00:00:00+00:00", "day", id="en-ordinal-th"),
    pytest.param("1st May 2024", "2024-05-01T00:00:00+00:00", "day", id="en-ordinal-st"),
    pytest.param("2nd June 2024", "2024-06-02T00:00:00+00:00", "day", id="en-ordinal-nd"),
    pytest.param("3rd July 2024", "2024-07-03T00:00:00+00:00", "day", id="en-ordinal-rd"),
    pytest.param(
        "Saturday, April 20, 2024 at 10:30 AM",
        "2024-04-20T10:30:00+00:00", "minute", id="en-weekday-at-am",
    ),
    pytest.param(
        "Sat, 20 Apr 2024 10:30:00 +0300", "2024-04-20T07:30:00+00:00", "second", id="rss-pubdate"
    ),
    pytest.param(
        "Published: 20 April 2024 10:30 PM", "2024-04-20T22:30:00+00:00", "minute", id="en-label-pm"
    ),
    # --- zones ---------------------------------------------------------------------------------
    # day precision keeps the printed date, whatever the zone
    pytest.param("20 أبريل 2024 بتوقيت مكة", "2024-04-20T00:00:00+00:00", "day", id="zone-day-kept"),
    pytest.param(
        "21 أبريل 2024 01:30 بتوقيت مكة", "2024-04-20T22:30:00+00:00", "minute", id="zone-crosses-midnight"
    ),
    pytest.param(
        "20 أبريل 2024 10:30 مساءً بتوقيت السعودية",
        "2024-04-20T19:30:00+00:00", "minute", id="zone-saudi-pm",
    ),
    pytest.param("20 أبريل 2024 10:30 بتوقيت الرياض", "2024-04-20T07:30:00+00:00", "minute", id="zone-riyadh"),
    # Egypt moved to summer time on 26 April 2024: +02:00 before, +03:00 after.
    pytest.param(
        "20 أبريل 2024 10:30 بتوقيت القاهرة", "2024-04-20T08:30:00+00:00", "minute", id="zone-cairo-winter"
    ),
    pytest.param(
        "1 مايو 2024 10:30 بتوقيت القاهرة", "2024-05-01T07:30:00+00:00", "minute", id="zone-cairo-summer"
    ),
    pytest.param("20 أبريل 2024 10:30 GMT+3", "2024-04-20T07:30:00+00:00", "minute", id="zone-gmt+3"),
    pytest.param(
        "20 أبريل 2024 10:30 بتوقيت غرينتش", "2024-04-20T10:30:00+00:00", "minute", id="zone-greenwich"
    ),
    pytest.param(
        "20 أبريل 2024 10:30 بتوقيت جرينتش", "2024-04-20T10:30:00+00:00", "minute", id="zone-greenwich-jim"
    ),
    pytest.param("20 أبريل 2024 10:30 UTC", "2024-04-20T10:30:00+00:00", "minute", id="zone-utc"),
    pytest.param("20 أبريل 2024 10:30 +03:00", "2024-04-20T07:30:00+00:00", "minute", id="zone-offset"),
    pytest.param(
        "20 أبريل 2024 10:30 بتوقيت الإمارات", "2024-04-20T06:30:00+00:00", "minute", id="zone-uae"
    ),
    pytest.param("20 أبريل 2024 10:30 بتوقيت دبي", "2024-04-20T06:30:00+00:00", "minute", id="zone-dubai"),
    pytest.param(
        "20 أبريل 2024 10:30 بتوقيت القدس", "2024-04-20T07:30:00+00:00", "minute", id="zone-jerusalem"
    ),
    # --- Hijri ---------------------------------------------------------------------------------
    pytest.param("15 رمضان 1445 هـ", "2024-03-25T00:00:00+00:00", "day", id="hijri-ramadan"),
    pytest.param("١٥ شوال ١٤٤٥هـ", "2024-04-24T00:00:00+00:00", "day", id="hijri-indic-glued-ha"),
    pytest.param("1445/9/15 هـ", "2024-03-25T00:00:00+00:00", "day", id="hijri-numeric-ymd"),
    pytest.param("السبت 11/10/1445 هـ", "2024-04-20T00:00:00+00:00", "day", id="hijri-numeric-dmy"),
    pytest.param("السبت / 11 / شوال / 1445 هـ", "2024-04-20T00:00:00+00:00", "day", id="okaz-hijri"),
    pytest.param("20 ربيع الآخر 1445 هـ", "2023-11-04T00:00:00+00:00", "day", id="hijri-rabi-2"),
    pytest.param("1 جمادى الأولى 1445", "2023-11-15T00:00:00+00:00", "day", id="hijri-jumada-1"),
    pytest.param("10 ذو الحجة 1445 هـ", "2024-06-16T00:00:00+00:00", "day", id="hijri-dhu-al-hijja"),
    pytest.param("١ مُحَرَّم ١٤٤٦ هـ", "2024-07-07T00:00:00+00:00", "day", id="hijri-muharram-harakat"),
    pytest.param("15 رمضان 1445 هـ 10:30", "2024-03-25T10:30:00+00:00", "minute", id="hijri-with-time"),
    # --- Hijri and Gregorian together: the Gregorian date wins ---------------------------
    # (the Hijri one here is a day off, as sighting-based calendars often are)
    pytest.param(
        "السبت 12 شوال 1445 هـ - 20 أبريل 2024", "2024-04-20T00:00:00+00:00", "day", id="hijri-first"
    ),
    pytest.param(
        "الجمعة 19 أبريل 2024 - 10 شوال 1445 هـ", "2024-04-19T00:00:00+00:00", "day", id="gregorian-first"
    ),
    pytest.param(
        "نُشر: 16:20-20 أبريل 2024 م ـ 11 شوّال 1445 هـ",
        "2024-04-20T16:20:00+00:00", "minute", id="aawsat",
    ),
    pytest.param(
        "السبت 11 شوال 1445هـ - 20 أبريل 2024م", "2024-04-20T00:00:00+00:00", "day", id="alriyadh"
    ),
    pytest.param(
        "11 شوال 1445 هـ الموافق 20 أبريل 2024 م", "2024-04-20T00:00:00+00:00", "day", id="al-muwafiq"
    ),
    # --- relative, against REF -------------------------------------------------------------
    pytest.param("منذ 3 ساعات", "2024-04-20T09:00:00+00:00", "minute", id="ago-3-hours"),
    pytest.param("منذ ساعتين", "2024-04-20T10:00:00+00:00", "minute", id="ago-dual-hours"),
    pytest.param("منذ ساعة", "2024-04-20T11:00:00+00:00", "minute", id="ago-an-hour"),
    pytest.param("منذ 11 ساعة", "2024-04-20T01:00:00+00:00", "minute", id="ago-11-hours-singular"),
    pytest.param("منذ ثلاث ساعات", "2024-04-20T09:00:00+00:00", "minute", id="ago-number-word"),
    pytest.param("منذ 5 دقائق", "2024-04-20T11:55:00+00:00", "minute", id="ago-5-minutes"),
    pytest.param("منذ دقيقة", "2024-04-20T11:59:00+00:00", "minute", id="ago-a-minute"),
    pytest.param("منذ دقيقتين", "2024-04-20T11:58:00+00:00", "minute", id="ago-dual-minutes"),
    pytest.param("منذ 30 ثانية", "2024-04-20T11:59:30+00:00", "second", id="ago-seconds"),
    pytest.param("منذ لحظات", "2024-04-20T12:00:00+00:00", "minute", id="moments-ago"),
    pytest.param("منذ يومين", "2024-04-18T00:00:00+00:00", "day", id="ago-dual-days"),
    pytest.param("منذ 3 أيام", "2024-04-17T00:00:00+00:00", "day", id="ago-3-days"),
    pytest.param("منذ أسبوع", "2024-04-13T00:00:00+00:00", "day", id="ago-a-week"),
    pytest.param("منذ أسبوعين", "2024-04-06T00:00:00+00:00", "day", id="ago-dual-weeks"),
    pytest.param("منذ شهرين", "2024-02-20T00:00:00+00:00", "day", id="ago-dual-months"),
    pytest.param("قبل 3 ساعات", "2024-04-20T09:00:00+00:00", "minute", id="qabl-3-hours"),
    pytest.param("أمس", "2024-04-19T00:00:00+00:00", "day", id="yesterday-ar"),
    pytest.param("امس", "2024-04-19T00:00:00+00:00", "day", id="yesterday-ar-no-hamza"),
    pytest.param("أول أمس", "2024-04-18T00:00:00+00:00", "day", id="day-before-yesterday"),
    pytest.param("أمس الساعة 10:30", "2024-04-19T10:30:00+00:00", "minute", id="yesterday-at"),
    pytest.param(
        "أمس 11:30 م بتوقيت مكة", "2024-04-19T20:30:00+00:00", "minute", id="yesterday-pm-makkah"
    ),
    pytest.param("اليوم", "2024-04-20T00:00:00+00:00", "day", id="today-ar"),
    pytest.param("اليوم 09:15", "2024-04-20T09:15:00+00:00", "minute", id="today-at"),
    # 01:00 today in Makkah is still the evening before in UTC
    pytest.param(
        "اليوم 01:00 بتوقيت مكة", "2024-04-19T22:00:00+00:00", "minute", id="today-makkah-early"
    ),
    pytest.param("3 hours ago", "2024-04-20T09:00:00+00:00", "minute", id="en-3-hours-ago"),
    pytest.param("an hour ago", "2024-04-20T11:00:00+00:00", "minute", id="en-an-hour-ago"),
    pytest.param("2 days ago", "2024-04-18T00:00:00+00:00", "day", id="en-2-days-ago"),
    pytest.param("yesterday", "2024-04-19T00:00:00+00:00", "day", id="en-yesterday"),
    pytest.param(
        "yesterday at 10:30 PM", "2024-04-19T22:30:00+00:00", "minute", id="en-yesterday-at"
    ),
    pytest.param("Today 10:30", "2024-04-20T10:30:00+00:00", "minute", id="en-today-at"),
]


@pytest.mark.parametrize(("text", "expected", "precision"), CASES)
def test_parse_date(text: str, expected: str, precision: str) -> None:
    got = parse_date(text, reference=REF)
    assert got is not None
    assert (got.value.isoformat(), got.precision) == (expected, precision)
    assert got.value.tzinfo is timezone.utc


NO_DATE = [
    pytest.param("كلمات دلالية: النيجر", id="tags-line"),
    pytest.param("123", id="plain-number"),
    pytest.param("hello", id="plain-word"),
    pytest.param("2024", id="bare-year"),
    pytest.param("April 2024", id="month-and-year"),
    pytest.param("مارس 2024", id="month-and-year-ar"),
    pytest.param("20 أبريل", id="no-year"),
    pytest.param("20 أبريل 24", id="two-digit-year"),
    pytest.param("12:30", id="time-only"),
    pytest.param("1713600000", id="unix-timestamp-like-id"),
    pytest.param("1/2/3", id="short-numbers"),
    pytest.param("سعر الدولار 30.5 جنيه", id="price"),
    pytest.param("رجب طيب أردوغان", id="hijri-month-as-name"),
    pytest.param("15 رمضان 2024", id="hijri-month-gregorian-year"),
    pytest.param("الخميس", id="weekday-only"),
    pytest.param("اليوم السابع", id="youm7-name"),
    pytest.param("منذ ساعات", id="vague-hours-ago"),
    pytest.param("32/13/2024", id="impossible-numeric"),
    pytest.param("2024-02-30", id="impossible-iso"),
    pytest.param("2024-04-20 25:00:00", id="impossible-time"),
    pytest.param("30 فبراير 2024", id="impossible-named"),
    pytest.param("15 رمضان 1600 هـ", id="hijri-year-out-of-range"),
    pytest.param("1 محرم 1300 هـ", id="hijri-year-before-range"),
    pytest.param("31 رمضان 1445 هـ", id="hijri-day-out-of-range"),
    pytest.param("", id="empty"),
    pytest.param("   \n\t ", id="whitespace"),
]


@pytest.mark.parametrize("text", NO_DATE)
def test_no_date(text: str) -> None:
    assert parse_date(text, reference=REF) is None


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(None, id="none"),
        pytest.param(20240420, id="int"),
        pytest.param(b"2024-04-20", id="bytes"),
        pytest.param("\x00\x01\x02\x7f\x9f", id="control-chars"),
        pytest.param("x" * 10_000, id="10kB-garbage"),
        pytest.param("منذ 3 ساعات " * 1_000, id="10kB-repeated-phrase"),
        pytest.param("20 أبريل 2024 " + "\u200f" * 10_000, id="date-then-10kB-marks"),
        pytest.param("١٢٣٤٥٦٧٨٩٠/" * 900, id="digits-and-slashes"),
        pytest.param("\ud800", id="lone-surrogate"),
    ],
)
def test_bad_input_is_none(text: object) -> None:
    assert parse_date(text, reference=REF) is None  # type: ignore[arg-type]


def test_control_chars_inside_a_date_are_ignored() -> None:
    got = parse_date("20\x00 أبريل\t2024\x0b", reference=REF)
    assert got == ParsedDate(datetime(2024, 4, 20, tzinfo=timezone.utc), "day")


def test_naive_reference_is_utc() -> None:
    got = parse_date("منذ ساعتين", reference=datetime(2024, 4, 20, 12, 0))
    assert got == ParsedDate(datetime(2024, 4, 20, 10, 0, tzinfo=timezone.utc), "minute")


def test_reference_in_another_zone_is_converted() -> None:
    makkah = timezone(timedelta(hours=3))
    got = parse_date("منذ ساعة", reference=datetime(2024, 4, 20, 15, 0, tzinfo=makkah))
    assert got is not None
    assert got.value.isoformat() == "2024-04-20T11:00:00+00:00"


def test_default_reference_is_now() -> None:
    got = parse_date("منذ 5 دقائق")
    assert got is not None and got.precision == "minute"
    expected = datetime.now(timezone.utc) - timedelta(minutes=5)
    assert abs(got.value - expected) < timedelta(minutes=2)


def test_months_ago_clamps_to_month_end() -> None:
    got = parse_date("منذ شهر", reference=datetime(2024, 3, 31, 8, 0, tzinfo=timezone.utc))
    assert got == ParsedDate(datetime(2024, 2, 29, tzinfo=timezone.utc), "day")


def test_result_is_frozen() -> None:
    got = parse_date("2024-04-20")
    assert got is not None
    with pytest.raises(AttributeError):
        got.precision = "second"  # type: ignore[misc]


# Fragments that real date strings are made of, so that generated strings come
# close to dates (and exercise every branch), not just random code points.
_FRAGMENTS = st.sampled_from(
    [
        "20", "4", "2024", "1445", "/", "-", ":", "10:30", " ", "،", "أبريل", "نيسان",
        "كانون الثاني", "شوال", "هـ", "م", "ص", "منذ", "ساعتين", "أمس", "اليوم", "GMT+3",
        "+03:00", "بتوقيت مكة", "آخر تحديث", "th", "٢٠", "31", "فبراير", "صفر", "قبل",
        "99999", "+99:99", "\x00", "\u200f",
    ]
)  # fmt: skip


@given(st.text() | st.lists(_FRAGMENTS, max_size=12).map("".join))
def test_never_raises(text: str) -> None:
    got = parse_date(text, reference=REF)
    if got is not None:
        assert got.value.tzinfo is timezone.utc
        assert got.precision in ("day", "minute", "second")
