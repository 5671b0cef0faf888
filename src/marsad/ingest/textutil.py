"""Small helpers shared by feeds, sitemaps and page extraction: dates, HTML fragments, languages."""

from __future__ import annotations

import email.utils
import re
from datetime import datetime, timezone

import lxml.html

from ..models import Precision

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BREAK = "\u2029"
_SPACES = re.compile(r"[ \t\u00a0\u200b\u200f\u200e]+")


def parse_when(value: object) -> tuple[datetime, Precision] | None:
    """A machine-written date (ISO 8601, RFC 822, epoch seconds) as aware UTC, with its precision.

    Falls back to `marsad.dates.parse_date` for human-written (Arabic) dates. Never raises.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return aware.astimezone(timezone.utc), "second"
    text = str(value).strip()
    if not text:
        return None
    if _ISO_DATE.match(text):
        try:
            return datetime.fromisoformat(text).replace(tzinfo=timezone.utc), "day"
        except ValueError:
            return None
    parsed = local_when(text)
    if parsed is not None:
        precision: Precision = "second" if parsed.second or re.search(r"\d:\d\d:\d\d", text) else "minute"
        return parsed.astimezone(timezone.utc), precision
    try:
        from ..dates import parse_date

        result = parse_date(text)
    except Exception:  # noqa: BLE001 - a date we cannot read is a missing date, never a crash
        return None
    return (result.value, result.precision) if result else None


def local_when(text: str) -> datetime | None:
    """An ISO 8601 / RFC 822 timestamp as written, keeping its own UTC offset (UTC if it has none)."""
    text = text.strip()
    candidate = text.replace("Z", "+00:00").replace(" ", "T", 1) if re.match(r"^\d{4}-\d\d-\d\d[ T]", text) else text
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        parsed = None
    if parsed is None:
        try:
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def clean_space(text: str) -> str:
    """Collapse runs of spaces (including no-break and direction marks) and trim."""
    return _SPACES.sub(" ", text).strip()


def html_paragraphs(fragment: str | None) -> list[str]:
    """Paragraphs of plain text from an HTML fragment (feed summaries, content:encoded)."""
    if not fragment or not fragment.strip():
        return []
    if "<" not in fragment:
        lines = fragment.splitlines()
    else:
        try:
            root = lxml.html.fragment_fromstring(fragment, create_parent="div")
        except (lxml.etree.ParserError, ValueError):
            return [clean_space(line) for line in re.sub(r"<[^>]+>", "\n", fragment).splitlines() if line.strip()]
        for bad in root.xpath(".//script|.//style|.//iframe|.//noscript"):
            bad.drop_tree()
        # Line breaks inside a paragraph are layout; block elements and <br> end paragraphs.
        for node in root.iter():
            if node.text:
                node.text = node.text.replace("\n", " ")
            if node.tail:
                node.tail = node.tail.replace("\n", " ")
        for br in root.xpath(".//br"):
            br.tail = _BREAK + (br.tail or "")
        for block in root.xpath(".//p|.//div|.//li|.//h1|.//h2|.//h3|.//h4|.//h5|.//h6|.//blockquote|.//tr"
                                "|.//figcaption|.//pre"):
            block.tail = _BREAK + (block.tail or "")
            block.text = _BREAK + (block.text or "")
        lines = root.text_content().split(_BREAK)
    return [clean_space(line) for line in lines if clean_space(line)]


def language_code(value: str | None) -> str | None:
    """"ar" from "ar-SA", "ar_EG", "AR"; None for empty values."""
    if not value:
        return None
    code = re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0]
    return code if 2 <= len(code) <= 3 and code.isalpha() else None
