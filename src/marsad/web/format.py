"""Numbers, dates and plurals as the reader shows them: Arabic month names, optional Hijri, either digit set."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ARABIC_INDIC = str.maketrans("0123456789,.", "٠١٢٣٤٥٦٧٨٩٬٫")
# Month names as Gulf and Egyptian newspapers print them (not the Levantine كانون/تشرين set).
MONTHS_AR = ("يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو", "يوليو", "أغسطس", "سبتمبر", "أكتوبر",
             "نوفمبر", "ديسمبر")
WEEKDAYS_AR = ("الاثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت", "الأحد")
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December")
WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
HIJRI_MONTHS_AR = ("محرم", "صفر", "ربيع الأول", "ربيع الآخر", "جمادى الأولى", "جمادى الآخرة", "رجب", "شعبان",
                   "رمضان", "شوال", "ذو القعدة", "ذو الحجة")
HIJRI_MONTHS_EN = ("Muharram", "Safar", "Rabi al-Awwal", "Rabi al-Thani", "Jumada al-Ula", "Jumada al-Akhirah",
                   "Rajab", "Shaban", "Ramadan", "Shawwal", "Dhu al-Qadah", "Dhu al-Hijjah")


@lru_cache(maxsize=32)
def zone(name: str) -> ZoneInfo | timezone:
    """The named time zone, or UTC when the name is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


@dataclass(frozen=True)
class Style:
    """How one reader wants numbers and dates: language, digit set, Hijri or not, time zone."""

    lang: str = "ar"
    digits: str = "latn"  # "latn" (0-9) or "arab" (٠-٩)
    hijri: bool = False
    tz: str = "Asia/Riyadh"

    def digits_of(self, text: str) -> str:
        """*text* with its digits in the reader's digit set."""
        return text.translate(ARABIC_INDIC) if self.digits == "arab" else text

    def number(self, value: int | float) -> str:
        """A count with thousands separators, in the reader's digits."""
        text = f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"
        return self.digits_of(text)

    def date(self, value: datetime | None, *, precision: str | None = None, weekday: bool = True) -> str:
        """A publication date: "الثلاثاء 11 أغسطس 2015، 9:44 م" (time left out for day-precision dates)."""
        if value is None:
            return ""
        local = value.astimezone(zone(self.tz))
        months, days = (MONTHS_AR, WEEKDAYS_AR) if self.lang == "ar" else (MONTHS_EN, WEEKDAYS_EN)
        text = f"{local.day} {months[local.month - 1]} {local.year}"
        if weekday:
            text = f"{days[local.weekday()]} {text}"
        if precision != "day":
            text += ("، " if self.lang == "ar" else ", ") + self.time(local)
        return self.digits_of(text)

    def short_date(self, value: datetime | None) -> str:
        """Day and month only ("11 أغسطس"), for dense lists."""
        if value is None:
            return ""
        local = value.astimezone(zone(self.tz))
        months = MONTHS_AR if self.lang == "ar" else MONTHS_EN
        return self.digits_of(f"{local.day} {months[local.month - 1]}")

    def time(self, local: datetime) -> str:
        """12-hour clock with ص/م (a.m./p.m.), as Arabic newspapers print it."""
        hour = local.hour % 12 or 12
        suffix = ("ص" if local.hour < 12 else "م") if self.lang == "ar" else ("am" if local.hour < 12 else "pm")
        return f"{hour}:{local.minute:02d} {suffix}"

    def hijri_date(self, value: datetime | None) -> str:
        """The Hijri (Umm al-Qura) date of *value* ("26 شوال 1436 هـ"), or "" outside the calendar's range."""
        if value is None:
            return ""
        from hijridate import Gregorian

        local = value.astimezone(zone(self.tz))
        try:
            h = Gregorian(local.year, local.month, local.day).to_hijri()
        except (OverflowError, ValueError):
            return ""
        if self.lang == "ar":
            return self.digits_of(f"{h.day} {HIJRI_MONTHS_AR[h.month - 1]} {h.year} هـ")
        return f"{h.day} {HIJRI_MONTHS_EN[h.month - 1]} {h.year} AH"

    def month(self, key: str) -> str:
        """A facet month "2015-08" as "أغسطس 2015"."""
        try:
            year, month = key.split("-")[:2]
            name = (MONTHS_AR if self.lang == "ar" else MONTHS_EN)[int(month) - 1]
        except (ValueError, IndexError):
            return self.digits_of(key)
        return self.digits_of(f"{name} {year}")


def plural_form(lang: str, n: int) -> str:
    """The CLDR plural category of *n*: Arabic has zero/one/two/few/many/other, English one/other."""
    if lang != "ar":
        return "one" if n == 1 else "other"
    if n == 0:
        return "zero"
    if n == 1:
        return "one"
    if n == 2:
        return "two"
    if 3 <= n % 100 <= 10:
        return "few"
    if 11 <= n % 100 <= 99:
        return "many"
    return "other"


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, as the API and <time datetime> carry dates."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None
