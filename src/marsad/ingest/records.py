"""JSON records (SaudiNewsNet dumps, marsad's own exports) to Articles."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from urllib.parse import unquote, urlsplit

from ..dates import parse_date
from ..errors import EmptyInput, ParseError
from ..models import Article
from ..parse.language import detect_language
from .outlets import resolve_outlet


def _paragraphs(text: str) -> list[str]:
    # SaudiNewsNet separates paragraphs with "\n\n " and indents them; keep the words, drop the layout.
    return [stripped for line in text.split("\n") if (stripped := line.strip())]


def _title_from_url(url: str) -> str:
    # Arabic news URLs usually end in the headline as a slug: ".../كيف-تسعف-طفلا.html".
    last = unquote(urlsplit(url).path).rstrip("/").rsplit("/", 1)[-1]
    words = re.sub(r"\.(html?|aspx?|php)$", "", last).replace("-", " ").replace("_", " ").split()
    return " ".join(words) if any(not w.isdigit() for w in words) else ""


def _fallback_title(paragraphs: list[str], url: str | None) -> str:
    """A title for a record published without one: its URL slug, else its first words."""
    slug = _title_from_url(url) if url else ""
    if slug:
        return slug
    if paragraphs:
        words = paragraphs[0].split()
        return " ".join(words[:12]) + (" …" if len(words) > 12 else "")
    return ""


def _aware(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def article_from_record(record: dict, origin: str = "") -> Article:
    """Build an Article from one JSON record; raises ParseError when it cannot.

    Understands SaudiNewsNet records (`source` as an outlet code, `date` as
    "YYYY-MM-DD HH:MM:SS") and marsad exports (`published_at` ISO 8601, `tags`, ...).
    """
    if not isinstance(record, dict):
        raise ParseError("record is not a JSON object", subject=origin)
    text = record.get("text") or ""
    paragraphs = text if isinstance(text, list) else _paragraphs(str(text))
    title = record.get("title")
    if not isinstance(title, str) or not title.strip():
        # Some outlets publish items without a headline (67 in SaudiNewsNet): keep them.
        title = _fallback_title(paragraphs, record.get("url"))
        if not title:
            raise EmptyInput("empty record: no title and no text", subject=origin)

    published_at = precision = None
    try:
        if record.get("published_at"):
            published_at = _aware(record["published_at"])
            precision = record.get("date_precision") or "second"
        elif record.get("date"):
            parsed = parse_date(str(record["date"]))
            if parsed:
                published_at, precision = parsed.value, parsed.precision
    except (TypeError, ValueError) as exc:
        raise ParseError(f"bad date: {exc}", subject=origin) from exc

    outlet = resolve_outlet(record.get("source"))
    source = outlet.name if outlet else (record.get("source") or None)
    tags = record.get("tags") or []
    if not isinstance(tags, list):
        raise ParseError("tags must be a list", subject=origin)
    fetched_at = None
    if record.get("fetched_at"):
        fetched_at = _aware(record["fetched_at"])
    return Article(
        title=title.strip(),
        paragraphs=[str(p) for p in paragraphs],
        url=record.get("url") or None,
        source=source,
        source_inferred=bool(record.get("source_inferred", False)),
        published_at=published_at,
        date_precision=precision,
        tags=[str(t) for t in tags],
        language=record.get("language") or detect_language(title + " " + " ".join(paragraphs[:2])),
        author=record.get("author") or None,
        fetched_at=fetched_at,
        origin=origin,
        read_also=list(record.get("read_also_ids") or []),
    )
