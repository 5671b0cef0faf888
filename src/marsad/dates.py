"""Publication dates in the many shapes Arabic news pages write them.

Entry point: `parse_date(text, reference=...)` -> `ParsedDate | None`.

dateparser reads "20 أبريل 2024" well, but on its own it misses most of what
Arabic pages print around a date: labels ("تاريخ النشر: 20th, April 2024 GMT"
comes back None), Levantine months (نيسان, تشرين الأول), combined names
("آذار/مارس"), Hijri dates, zone phrases ("بتوقيت مكة"), singular and dual
relative forms ("منذ ساعة", "منذ أسبوعين"). It also costs about a millisecond a
call. So this module reads a string in this order, and hands dateparser only the
part it does well, a bare named-month date:

1. fast path: the exact numeric formats (ISO 8601, SaudiNewsNet's
   "YYYY-MM-DD HH:MM:SS", DD/MM/YYYY) by one regex;
2. normalise (marsad.normalize.fold: NFKC, diacritics, hamza, Arabic-Indic digits);
3. a "published … آخر تحديث …" pair is cut at the label; the first part that
   holds a date wins;
4. take out the zone ("بتوقيت مكة", "GMT+3", "+0300"), then the time of day
   ("10:30 م");
5. put every month name into one vocabulary (Hijri ones into their own);
6. a Hijri date is converted with hijridate, but a Gregorian date in the same
   string wins;
7. numeric Gregorian dates by regex (day first, as Arabic sites write them);
   named-month dates: the stretch of numbers and month names goes to dateparser;
8. no absolute date: relative phrases ("منذ ساعتين", "أمس الساعة 10:30").

Choices: a date without a time is "day" precision at 00:00 UTC of the printed
date, whatever zone is named; a string without a zone is UTC; a date needs a
four-digit year ("20 أبريل" and "20 أبريل 24" are None, not a guess); input over
512 characters is prose, not a date field, and is None.
"""

from __future__ import annotations

import calendar
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from importlib import resources
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .models import Precision
from .normalize import fold

UTC = timezone.utc

# A date field, even a whole byline, is a few dozen characters; longer input is
# prose, where any number near a month name would be a guess.
_MAX_LEN = 512
# Publication dates only: a Gregorian year outside this window is a misreading.
_YEARS = range(1900, 2101)
# Wider than what hijridate converts (1343-1500) so that "1 محرم 1600 هـ" is
# recognised as Hijri and rejected, not left to be misread some other way.
_HIJRI_YEARS = range(1300, 1601)

_LETTER_BEFORE = r"(?<![^\W\d_])"  # not preceded by a letter (digits are fine: "20أبريل")
_LETTER_AFTER = r"(?![^\W\d_])"


@dataclass(frozen=True)
class ParsedDate:
    """A point in time (timezone-aware UTC) and how precisely the source gave it."""

    value: datetime
    precision: Precision


class _Clock(NamedTuple):
    hour: int
    minute: int
    second: int | None  # None: the page gave no seconds


# --- data tables ------------------------------------------------------------


def _load(name: str) -> dict[str, Any]:
    return json.loads(resources.files("marsad").joinpath("data", name).read_text("utf-8"))


def _alternation(words: Any) -> str:
    # Longest first, so that "كانون الثاني" is not read as "كانون" + leftovers.
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


def _tz(spec: str) -> tzinfo | None:
    if spec[0] in "+-":
        sign = -1 if spec[0] == "-" else 1
        hours, minutes = spec[1:].split(":")
        return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))
    try:
        return ZoneInfo(spec)
    except (ZoneInfoNotFoundError, ValueError):  # no tz database on this system
        return None


def _zone_table(entries: dict[str, str]) -> dict[str, tzinfo]:
    return {fold(name): tz for name, spec in entries.items() if (tz := _tz(spec)) is not None}


_GREGORIAN = [
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
]  # fmt: skip

_months = _load("dates_months.json")
# folded spelling -> the token that replaces it: an English month name, which
# dateparser reads in any order, or "hijriN", which it must never see.
_MONTH_TOKEN = {
    fold(w): _GREGORIAN[int(n) - 1] for n, ws in _months["gregorian"].items() for w in ws
}
_MONTH_TOKEN.update({fold(w): f"hijri{n}" for n, ws in _months["hijri"].items() for w in ws})
_MONTH_RE = re.compile(rf"{_LETTER_BEFORE}({_alternation(_MONTH_TOKEN)}){_LETTER_AFTER}")
_ENGLISH_MONTHS = {
    fold(w) for ws in _months["gregorian"].values() for w in ws if w.isascii()
}
# "آذار/مارس", "4 نيسان (أبريل) 2024", "أبريل/ نيسان": after step 5 both names
# are the same token; keep one.
_MONTH_PAIR_RE = re.compile(
    rf"\b({_alternation(set(_MONTH_TOKEN.values()))})\s*[/(\-]\s*\1\b(?:\s*\))?"
)

_zones = _load("dates_zones.json")
_PLACE_TZ = _zone_table(_zones["places"])
_ABBR_TZ = _zone_table(_zones["abbreviations"])
_ZONE_PLACE_RE = re.compile(
    rf"\(?\s*{_LETTER_BEFORE}ب?توقيت\s+({_alternation(_PLACE_TZ)}){_LETTER_AFTER}\s*\)?"
)
_ZONE_ABBR_RE = re.compile(
    rf"{_LETTER_BEFORE}({_alternation(_ABBR_TZ)})"
    rf"(?:\s*([+-])\s*(\d{{1,2}})(?::?(\d\d))?)?(?!\d){_LETTER_AFTER}"
)

# --- regexes ------------------------------------------------------------------

_FAST_ISO = re.compile(
    r"\s*(\d{4})-(\d\d)-(\d\d)"
    r"(?:[Tt ](\d\d):(\d\d)(?::(\d\d)(?:[.,]\d+)?)?"
    r"\s*(?:([Zz])|([+-])(\d\d)(?::?(\d\d))?)?)?\s*"
)
_FAST_DMY = re.compile(r"\s*(\d{1,2})([/-])(\d{1,2})\2(\d{4})\s*")

# Invisible marks (LRM/RLM, isolates, BOM) sit inside dates copied from Arabic pages.
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
# Al Jazeera glues the time to the year: "20/4/202412:03".
_GLUED_TIME_RE = re.compile(r"(?<!\d)(\d{1,2}[/.\-]\d{1,2}[/.\-]\d{4})(?=\d{1,2}:\d\d)")
_UPDATED_RE = re.compile(r"اخر تحديث|تاريخ التحديث|تم التحديث|last updated|updated")

_AM = {"am", "a.m.", "ص", "صباحا", "صباح"}
# "م" is PM only right after a time; after a year ("2024 م") it means Gregorian
# and is left alone, which is why the marker is part of this regex.
_TIME_RE = re.compile(
    r"(?<![\d:.])([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:[.,]\d+)?)?(?![\d:])"
    rf"(?:\s*(a\.m\.|p\.m\.|am|pm|صباحا|صباح|ص|مساءا|مساء|م){_LETTER_AFTER})?"
    rf"(?:(z){_LETTER_AFTER}|\s*([+-])(\d\d):?(\d\d)(?!\d))?"
)

_HIJRI_NAMED_RE = re.compile(
    r"(?<!\d)(\d{1,2})\s*[/\-.,،]?\s*hijri(\d{1,2})\s*[/\-.,،]?\s*(\d{4})(?!\d)"
    rf"(?:\s*(?:ه|هجريه|هجري){_LETTER_AFTER})?"  # the "هـ" after the year goes with it
)
_NOT_BEFORE = r"(?<!\d)(?<!\d[/.\-])"
_NOT_AFTER = r"(?!\d|\s*[/.\-]\s*\d)"
_DMY_RE = re.compile(
    rf"{_NOT_BEFORE}(\d{{1,2}})\s*([/.\-])\s*(\d{{1,2}})\s*\2\s*(\d{{4}}){_NOT_AFTER}"
)
_YMD_RE = re.compile(
    rf"{_NOT_BEFORE}(\d{{4}})\s*([/.\-])\s*(\d{{1,2}})\s*\2\s*(\d{{1,2}}){_NOT_AFTER}"
)

# A named-month date is a run of numbers and month names with only punctuation
# between them ("20th, april 2024"); any other word ends the run.
_TOKEN = (
    rf"(?<![^\W_])(?:\d{{1,4}}(?:st|nd|rd|th)?|{_alternation(_ENGLISH_MONTHS)})(?![^\W_])"
)
_RUN_RE = re.compile(rf"{_TOKEN}(?:[\s,./\-،()]+{_TOKEN})*")
_MONTH_WORD_RE = re.compile(rf"(?<![a-z])(?:{_alternation(_ENGLISH_MONTHS)})(?![a-z])")

# Relative phrases are hand-written: dateparser misses the singular and dual
# forms (منذ ساعة, منذ دقيقة, منذ أسبوع, منذ أسبوعين, منذ شهرين) and cannot say
# which unit it read, and the unit decides the precision.
# folded form -> (unit, the count the form itself says: 1, 2, or None for a plural)
_AR_UNITS = {
    "ثانيه": ("seconds", 1), "ثانيتين": ("seconds", 2), "ثانيتان": ("seconds", 2),
    "ثوان": ("seconds", None), "ثواني": ("seconds", None),
    "دقيقه": ("minutes", 1), "دقيقتين": ("minutes", 2), "دقيقتان": ("minutes", 2),
    "دقائق": ("minutes", None), "دقايق": ("minutes", None),
    "ساعه": ("hours", 1), "ساعتين": ("hours", 2), "ساعتان": ("hours", 2),
    "ساعات": ("hours", None),
    "يوم": ("days", 1), "يومين": ("days", 2), "يومان": ("days", 2), "ايام": ("days", None),
    "اسبوع": ("weeks", 1), "اسبوعين": ("weeks", 2), "اسبوعان": ("weeks", 2),
    "اسابيع": ("weeks", None),
    "شهر": ("months", 1), "شهرين": ("months", 2), "شهران": ("months", 2),
    "اشهر": ("months", None), "شهور": ("months", None),
    "سنه": ("years", 1), "عام": ("years", 1), "سنتين": ("years", 2), "سنتان": ("years", 2),
    "عامين": ("years", 2), "عامان": ("years", 2), "سنوات": ("years", None),
    "اعوام": ("years", None),
}  # fmt: skip
_EN_UNITS = {
    "second": "seconds", "sec": "seconds", "minute": "minutes", "min": "minutes",
    "hour": "hours", "hr": "hours", "day": "days", "week": "weeks",
    "month": "months", "year": "years",
}  # fmt: skip
_NUMBER_WORDS = {
    "واحد": 1, "واحده": 1, "اثنين": 2, "ثلاث": 3, "ثلاثه": 3, "اربع": 4, "اربعه": 4,
    "خمس": 5, "خمسه": 5, "ست": 6, "سته": 6, "سبع": 7, "سبعه": 7, "ثماني": 8,
    "ثمان": 8, "ثمانيه": 8, "تسع": 9, "تسعه": 9, "عشر": 10, "عشره": 10,
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip
_COUNT = rf"(\d{{1,4}}|{_alternation(_NUMBER_WORDS)})"
_AR_AGO_RE = re.compile(
    rf"{_LETTER_BEFORE}(?:منذ|قبل)\s+(?:{_COUNT}\s+)?({_alternation(_AR_UNITS)}){_LETTER_AFTER}"
)
_EN_AGO_RE = re.compile(
    rf"{_LETTER_BEFORE}{_COUNT}\s+({_alternation(_EN_UNITS)})s?\s+ago{_LETTER_AFTER}"
)
_JUST_NOW_RE = re.compile(
    rf"{_LETTER_BEFORE}(?:منذ (?:لحظات|قليل)|just now|moments ago){_LETTER_AFTER}"
)
_DAY_WORDS = {"اول امس": 2, "امس": 1, "البارحه": 1, "اليوم": 0, "yesterday": 1, "today": 0}
# "اليوم السابع" is Youm7's name, printed in its bylines.
_DAY_WORD_RE = re.compile(
    rf"{_LETTER_BEFORE}({_alternation(_DAY_WORDS)})(?!\s+السابع){_LETTER_AFTER}"
)


# --- public API -----------------------------------------------------------------


def parse_date(text: str, *, reference: datetime | None = None) -> ParsedDate | None:
    """Parse a date string; None when it holds no date. Never raises on bad input."""
    try:
        if not isinstance(text, str) or len(text) > _MAX_LEN:
            return None
        m = _FAST_ISO.fullmatch(text)
        if m:
            return _from_iso(m)
        m = _FAST_DMY.fullmatch(text)
        if m:
            day = _day_first(int(m[1]), int(m[3]), int(m[4]))
            return _compose(day, None, None) if day else None
        return _parse_slow(text, reference)
    except Exception:  # the contract: bad input is "no date", never an error
        return None


# --- the steps --------------------------------------------------------------------


def _from_iso(m: re.Match[str]) -> ParsedDate | None:
    year, month, day = int(m[1]), int(m[2]), int(m[3])
    if year not in _YEARS:
        return None
    if m[4] is None:
        return ParsedDate(datetime(year, month, day, tzinfo=UTC), "day")
    tz = (_offset(m[8], m[9], m[10] or "0") if m[8] else None) or UTC
    value = datetime(year, month, day, int(m[4]), int(m[5]), int(m[6] or 0), tzinfo=tz)
    if tz is not UTC:
        value = value.astimezone(UTC)
    return ParsedDate(value, "minute" if m[6] is None else "second")


def _parse_slow(text: str, reference: datetime | None) -> ParsedDate | None:
    s = " ".join(fold(_CONTROL_RE.sub(" ", text)).split())
    s = _GLUED_TIME_RE.sub(r"\1 ", s)
    for segment in _UPDATED_RE.split(s):
        found = _parse_segment(segment, reference)
        if found:
            return found
    return None


def _parse_segment(s: str, reference: datetime | None) -> ParsedDate | None:
    tz, s = _take_zone(s)
    clock, offset, s = _take_time(s)
    tz = tz or offset
    s = _MONTH_PAIR_RE.sub(r"\1", _MONTH_RE.sub(lambda m: f" {_MONTH_TOKEN[m[1]]} ", s))
    hijri, s = _take_hijri(s)
    day = _gregorian(s) or hijri
    if day:
        return _compose(day, clock, tz)
    return _relative(s, clock, tz, _as_utc(reference))


def _take_zone(s: str) -> tuple[tzinfo | None, str]:
    m = _ZONE_PLACE_RE.search(s)
    if m:
        return _PLACE_TZ[m[1]], _cut(s, m)
    m = _ZONE_ABBR_RE.search(s)
    if m:
        tz = _ABBR_TZ[m[1]]
        if m[2]:  # "GMT+3" means three hours east of Greenwich, as readers take it
            tz = _offset(m[2], m[3], m[4] or "0", base=tz)
        return tz, _cut(s, m)
    return None, s


def _take_time(s: str) -> tuple[_Clock | None, tzinfo | None, str]:
    m = _TIME_RE.search(s)
    if not m:
        return None, None, s
    hour, marker = int(m[1]), m[4]
    if marker and 1 <= hour <= 12:  # "16:20 م" is already on the 24-hour clock
        hour = hour % 12 + (0 if marker in _AM else 12)
    offset = UTC if m[5] else _offset(m[6], m[7], m[8]) if m[6] else None
    return _Clock(hour, int(m[2]), int(m[3]) if m[3] else None), offset, _cut(s, m)


def _take_hijri(s: str) -> tuple[date | None, str]:
    m = _HIJRI_NAMED_RE.search(s)
    if m and int(m[3]) in _HIJRI_YEARS:
        day, month, year = int(m[1]), int(m[2]), int(m[3])
    else:
        # A numeric date is Hijri when its year can only be Hijri: "11/10/1445 هـ",
        # "1445/9/15", with or without the هـ.
        m = next((c for c in _DMY_RE.finditer(s) if int(c[4]) in _HIJRI_YEARS), None)
        if m:
            day, month, year = int(m[1]), int(m[3]), int(m[4])
        else:
            m = next((c for c in _YMD_RE.finditer(s) if int(c[1]) in _HIJRI_YEARS), None)
            if not m:
                return None, s
            day, month, year = int(m[4]), int(m[3]), int(m[1])
    try:
        from hijridate import Hijri  # ~30 ms to import; most strings never need it

        converted = Hijri(year, month, day).to_gregorian()
        found: date | None = date(converted.year, converted.month, converted.day)
    except (ValueError, OverflowError):  # outside hijridate's 1343-1500, or no such day
        found = None
    return found, _cut(s, m)


def _gregorian(s: str) -> date | None:
    """The first Gregorian date in a normalised string: numeric by regex, named by dateparser."""
    candidates = [
        next((m for m in _DMY_RE.finditer(s) if int(m[4]) in _YEARS), None),
        next((m for m in _YMD_RE.finditer(s) if int(m[1]) in _YEARS), None),
        next((m for m in _RUN_RE.finditer(s) if _date_like(m[0])), None),
    ]
    first = min((m for m in candidates if m), key=lambda m: m.start(), default=None)
    if first is None:
        return None
    if first.re is _DMY_RE:
        return _day_first(int(first[1]), int(first[3]), int(first[4]))
    if first.re is _YMD_RE:
        return _checked(int(first[1]), int(first[3]), int(first[4]))
    return _named(first[0])


def _date_like(run: str) -> bool:
    numbers = [int(n) for n in re.findall(r"\d+", run)]
    return (
        _MONTH_WORD_RE.search(run) is not None
        and any(n in _YEARS for n in numbers)
        and any(1 <= n <= 31 for n in numbers)
    )


def _named(run: str) -> date | None:
    # dateparser does this part well: month names in any order and abbreviation,
    # ordinals ("20th, april 2024"), "april 20 2024" against "20 april 2024".
    text = " ".join(re.sub(r"[.,/\-،()]", " ", run).split())
    data = _dateparser().get_date_data(text)
    found = data.date_obj if data else None
    if found is None:
        return None
    numbers = {int(n) for n in re.findall(r"\d+", text)}
    # Only trust a date built from numbers that are really in the string.
    if found.year not in numbers or found.day not in numbers or found.year not in _YEARS:
        return None
    return found.date()


@lru_cache(maxsize=1)
def _dateparser() -> Any:
    # Imported and built on first use (over 100 ms): the fast path, numeric,
    # Hijri and relative dates never need it.
    from dateparser.date import DateDataParser

    return DateDataParser(
        languages=["ar", "en"],
        settings={
            "PREFER_DATES_FROM": "past",
            "RETURN_AS_TIMEZONE_AWARE": True,
            "TIMEZONE": "UTC",
            "TO_TIMEZONE": "UTC",
            # It only ever sees a bare named-month date (relative phrases are
            # handled here), so "now" must never leak into a result.
            "RELATIVE_BASE": datetime(2000, 1, 1),
            "REQUIRE_PARTS": ["day", "month", "year"],
            "DATE_ORDER": "DMY",
            # No "timestamp" parser: a long article id is not a Unix time.
            "PARSERS": ["absolute-time"],
        },
    )


def _relative(
    s: str, clock: _Clock | None, tz: tzinfo | None, reference: datetime
) -> ParsedDate | None:
    m = _AR_AGO_RE.search(s)
    if m:
        unit, implied = _AR_UNITS[m[2]]
        count = _count(m[1]) if m[1] else implied
    elif m := _EN_AGO_RE.search(s):
        unit, count = _EN_UNITS[m[2]], _count(m[1])
    elif _JUST_NOW_RE.search(s):
        return ParsedDate(reference.replace(second=0, microsecond=0), "minute")
    elif m := _DAY_WORD_RE.search(s):
        # "اليوم 09:15" is today where the page is, when it names its zone.
        local_day = reference.astimezone(tz or UTC).date() - timedelta(days=_DAY_WORDS[m[1]])
        return _compose(local_day, clock, tz)
    else:
        return None
    if count is None:  # "منذ ساعات": hours ago, but how many?
        return None
    if unit == "seconds":
        return ParsedDate(reference.replace(microsecond=0) - timedelta(seconds=count), "second")
    if unit in ("minutes", "hours"):
        value = reference.replace(second=0, microsecond=0) - timedelta(**{unit: count})
        return ParsedDate(value, "minute")
    if unit in ("days", "weeks"):
        day = (reference - timedelta(**{unit: count})).date()
    else:
        day = _months_back(reference.date(), count * (12 if unit == "years" else 1))
    return _compose(day, None, None)


# --- small helpers --------------------------------------------------------------


def _compose(day: date, clock: _Clock | None, tz: tzinfo | None) -> ParsedDate:
    if clock is None:
        # Day precision keeps the calendar date the page printed, at 00:00 UTC,
        # whatever its zone: converting "20 أبريل 2024 بتوقيت مكة" would give
        # 19 April 21:00 UTC, a day the page never named.
        return ParsedDate(datetime(day.year, day.month, day.day, tzinfo=UTC), "day")
    local = datetime(
        day.year, day.month, day.day, clock.hour, clock.minute, clock.second or 0,
        tzinfo=tz or UTC,
    )
    return ParsedDate(local.astimezone(UTC), "minute" if clock.second is None else "second")


def _day_first(day: int, month: int, year: int) -> date | None:
    # Arabic sites write day first; "4/20/2024" can only be month first.
    if month > 12 and day <= 12:
        day, month = month, day
    return _checked(year, month, day)


def _checked(year: int, month: int, day: int) -> date | None:
    if year not in _YEARS:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _months_back(day: date, months: int) -> date:
    year, month0 = divmod(day.year * 12 + day.month - 1 - months, 12)
    # 31 March minus one month is 29 February, not an error.
    return date(year, month0 + 1, min(day.day, calendar.monthrange(year, month0 + 1)[1]))


def _offset(sign: str, hours: str, minutes: str, base: tzinfo = UTC) -> timezone | None:
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    total = (base.utcoffset(None) or timedelta()) + (-delta if sign == "-" else delta)
    # Real zones span -12:00..+14:00; "+99:99" is noise, read as no zone at all.
    return timezone(total) if abs(total) <= timedelta(hours=14) else None


def _count(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBER_WORDS[word]


def _cut(s: str, m: re.Match[str]) -> str:
    # A breaker, so that what stood on either side never joins into one date.
    return f"{s[: m.start()]} ; {s[m.end():]}"


def _as_utc(reference: datetime | None) -> datetime:
    if reference is None:
        return datetime.now(UTC)
    if reference.tzinfo is None:
        return reference.replace(tzinfo=UTC)
    return reference.astimezone(UTC)
