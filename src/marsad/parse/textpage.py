"""Scraped aggregator text pages: a title, a date line, paragraphs, metadata lines
and "read also" blocks that glue further articles onto the page.

    1. decode the file's bytes (encoding.py) and split it into lines
    2. recognise each line: a read-also label, a metadata label (labels.py), or text
    3. cut the page into articles at read-also labels; in each, the first text line is
       the title, the other text lines are paragraphs, labels fill the metadata
    4. build the read-also articles, then the main one pointing at their ids; a source
       is inferred from the text (inference.py) only where no source line gives one

Every non-blank line lands in exactly one place; `account_lines` shows where.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from .. import dates
from ..errors import ParseError
from ..models import Article
from ..normalize import fold
from .encoding import decode_bytes
from .inference import infer_source
from .labels import DATE_WEAK, Label, is_blank, match_label, strip_line, value_fits
from .language import detect_language
from .tags import split_tags

MAX_FILE_BYTES = 16 * 1024 * 1024  # a text page is kilobytes; more is not a page

# Where a line can land (LineRole.role).
TITLE = "title"
PARAGRAPH = "paragraph"
READ_ALSO_LABEL = "read_also_label"
READ_ALSO_LABEL_TITLE = "read_also_label+title"  # "اقرأ أيضا: TITLE" on one line
METADATA_ROLES = ("date", "source", "tags", "author")


class LineRole(NamedTuple):
    """Where one non-blank line of a page went."""

    line: int  # 1-based, counting lines as str.splitlines() does
    role: str  # TITLE, PARAGRAPH, READ_ALSO_LABEL, READ_ALSO_LABEL_TITLE or a metadata kind
    article: int | None  # index into parse_text_page's result; None when no article came of it


@dataclass
class _Draft:
    """One article while its lines are being read."""

    title: str | None = None
    paragraphs: list[str] = field(default_factory=list)
    dates: list[tuple[int, dates.ParsedDate | None]] = field(default_factory=list)  # (rank, date)
    source: str | None = None
    author: str | None = None
    tags: list[str] = field(default_factory=list)
    lines: list[tuple[int, str]] = field(default_factory=list)  # (line number, role)

    def add_text(self, number: int, line: str) -> None:
        if self.title is None:
            self.title = strip_line(line)
            self.lines.append((number, TITLE))
        else:
            self.paragraphs.append(strip_line(line))
            self.lines.append((number, PARAGRAPH))

    def add_metadata(self, label: Label, parsed: dates.ParsedDate | None, numbers: list[int]) -> None:
        self.lines.extend((number, label.kind) for number in numbers)
        if label.kind == "date":
            self.dates.append((label.rank, parsed))
        elif label.kind == "tags":
            self.tags.extend(split_tags(label.value))
        else:
            # First one wins; quotes and a final full stop are decoration, not the name.
            value = label.value.strip("()[]«»\"'“”.:- ") or None
            if label.kind == "source":
                self.source = self.source or value
            else:
                self.author = self.author or value

    def absorb(self, other: _Draft) -> None:
        """Take over a title-less trailing block (a label and metadata with nothing to read)."""
        self.lines.extend(other.lines)
        self.dates.extend(other.dates)
        self.tags.extend(other.tags)
        self.source = self.source or other.source
        self.author = self.author or other.author


def read_text_file(path: str | Path) -> str:
    """Read a text page whatever its encoding; raise ParseError naming the file if unreadable."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ParseError(f"cannot read file: {exc.strerror or exc}", subject=str(path)) from exc
    if len(data) > MAX_FILE_BYTES:
        raise ParseError(f"too large for a text page (over {MAX_FILE_BYTES // 2**20} MiB)", subject=str(path))
    text = decode_bytes(data, subject=str(path))
    if is_blank(text):
        raise ParseError("no text in file (only whitespace)", subject=str(path))
    return text


def parse_text_page(text: str, origin: str = "", *, reference: datetime | None = None) -> list[Article]:
    """Split a page into its main article and its read-also articles, in page order."""
    return _parse(text, origin, reference)[0]


def account_lines(text: str, *, reference: datetime | None = None) -> list[LineRole]:
    """Where each non-blank line of a page lands: title, paragraph, metadata or read-also label."""
    return _parse(text, "", reference)[1]


def parse_text_file(path: str | Path, *, reference: datetime | None = None) -> list[Article]:
    """Read and parse one text page file."""
    return parse_text_page(read_text_file(path), origin=str(path), reference=reference)


def _parse(text: str, origin: str, reference: datetime | None) -> tuple[list[Article], list[LineRole]]:
    drafts = _read_drafts(text.splitlines(), reference)
    if len(drafts) > 1 and drafts[-1].title is None:
        drafts[-2].absorb(drafts.pop())
    if drafts[0].title is None:
        # Only labels and metadata: nothing to read, but every line is still accounted for.
        return [], sorted(LineRole(n, role, None) for n, role in drafts[0].lines)
    read_also = [_article(d, origin) for d in drafts[1:]]
    main = _article(drafts[0], origin, read_also=[a.id for a in read_also])
    roles = sorted(LineRole(n, role, k) for k, d in enumerate(drafts) for n, role in d.lines)
    return [main, *read_also], roles


def _read_drafts(lines: list[str], reference: datetime | None) -> list[_Draft]:
    """Cut the lines into drafts at read-also labels and fill each draft."""
    drafts = [_Draft()]
    i = 0
    while i < len(lines):
        number, line = i + 1, lines[i]
        i += 1
        if is_blank(line):
            continue
        label, parsed = _recognise(line, reference)
        draft = drafts[-1]
        if label is None:
            draft.add_text(number, line)
        elif label.kind == "read_also":
            # Only an article with a title is closed by a label: labels in a row, or at
            # the top of the page, open one article between them, not empty ones.
            if draft.title is not None:
                draft = _Draft()
                drafts.append(draft)
            if label.value:
                draft.title = _inline_title(label.value)
                draft.lines.append((number, READ_ALSO_LABEL_TITLE))
            else:
                draft.lines.append((number, READ_ALSO_LABEL))
        else:
            numbers = [number]
            if not label.value:
                # "كلمات دلالية:" alone, its value on the next line.
                following = _next_value(lines, i, label, reference)
                if following:
                    # The value line's number is also the index of the line after it.
                    i, label, parsed = following
                    numbers.append(i)
            draft.add_metadata(label, parsed, numbers)
    return drafts


def _recognise(line: str, reference: datetime | None) -> tuple[Label | None, dates.ParsedDate | None]:
    """A line's label (None for text) and, for a date label, the parsed date."""
    label = match_label(line)
    if label is None or label.kind != "date":
        return label, None
    parsed = dates.parse_date(label.value, reference=reference) if label.value else None
    if parsed is None and label.rank == DATE_WEAK:
        return None, None  # "بتاريخ ..." without a date is a sentence
    # A publish / update label whose value does not parse stays metadata with no date:
    # the line is a date line by its label, and its text is no paragraph.
    return label, parsed


def _next_value(
    lines: list[str], start: int, label: Label, reference: datetime | None
) -> tuple[int, Label, dates.ParsedDate | None] | None:
    """The value line after a bare metadata label: (its line number, label, date) or None."""
    j = start
    while j < len(lines) and is_blank(lines[j]):
        j += 1
    if j == len(lines) or match_label(lines[j]) is not None:
        return None
    value = strip_line(lines[j])
    if not value_fits(label.kind, value):
        return None
    parsed = None
    if label.kind == "date":
        parsed = dates.parse_date(value, reference=reference)
        if parsed is None:
            return None  # the body starts here
    return j + 1, Label(label.kind, value, label.rank), parsed


def _inline_title(value: str) -> str:
    # "شاهد أيضا » عنوان": a lone » is an arrow, not the end of a quotation.
    return value.lstrip("» ") if "«" not in value else value


def _article(draft: _Draft, origin: str, read_also: list[str] | None = None) -> Article:
    assert draft.title is not None
    parsed = min((d for d in draft.dates if d[1] is not None), key=lambda d: d[0], default=(0, None))[1]
    source, inferred = draft.source, False
    if source is None:
        source = infer_source(draft.title, draft.paragraphs)
        inferred = source is not None
    return Article(
        title=draft.title,
        paragraphs=draft.paragraphs,
        source=source,
        source_inferred=inferred,
        published_at=parsed.value if parsed else None,
        date_precision=parsed.precision if parsed else None,
        tags=_unique(draft.tags),
        language=detect_language(_sample(draft)),
        author=draft.author,
        origin=origin,
        read_also=read_also or [],
    )


def _sample(draft: _Draft, size: int = 600) -> str:
    """Enough of an article to tell its script: the title and the first paragraphs."""
    sample = draft.title or ""
    for paragraph in draft.paragraphs:
        if len(sample) >= size:
            break
        sample += "\n" + paragraph
    return sample[:size]


def _unique(tags: list[str]) -> list[str]:
    """Tags in order, each once (two tag lines may repeat one, in another spelling)."""
    seen: set[str] = set()
    unique = []
    for tag in tags:
        if fold(tag) not in seen:
            seen.add(fold(tag))
            unique.append(tag)
    return unique
