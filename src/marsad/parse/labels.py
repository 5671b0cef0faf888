"""The label lines of scraped text pages: read-also, date, source, tags and author.

The vocabulary lives in `data/textpage_labels.json`; phrases are matched on the
fold()ed line, so one entry covers its spellings with or without hamza, tanween,
tatweel or diacritics. Values are cut from the original line, spelling kept.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from ..normalize import fold

# Format and bidi controls that scrapers leave around labels; never content.
INVISIBLE = "\u00ad\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
_INVISIBLE_RE = re.compile(f"[{INVISIBLE}]+")
_EDGES_RE = re.compile(f"^[\\s{INVISIBLE}]+|[\\s{INVISIBLE}]+$")
# What may sit between a label and its value. « and » are left out: they open and
# close quoted titles ("اقرأ أيضا «...»").
_SEP = r"[:：\-–—|<>›.…•·]"
_LEAD = r"^[\W_]*?"  # bullets, arrows, emoji or quotes before a label

DATE_PUBLISH, DATE_UPDATE, DATE_WEAK = 0, 1, 2
# Longest value a label line may carry; beyond it the line is a sentence that happens
# to begin like a label ("المصدر: قال مسؤول ..." over many words is body text).
_MAX_VALUE = {"date": 80, "source": 60, "author": 60, "tags": 400}
_MAX_WORDS = {"source": 8, "author": 8}
_MAX_WEAK_DATE = 40


@dataclass(frozen=True)
class Label:
    """A recognised label line: its kind, the value after the label, and for dates a rank."""

    kind: str  # "read_also", "date", "source", "tags" or "author"
    value: str  # original spelling, stripped; "" for a label alone on its line
    rank: int = 0  # dates: DATE_PUBLISH, DATE_UPDATE or DATE_WEAK


def strip_line(line: str) -> str:
    """The line without surrounding whitespace, NBSP, zero-width and bidi marks."""
    return _EDGES_RE.sub("", line)


def is_blank(line: str) -> bool:
    """True for a line holding nothing but whitespace and invisible marks."""
    return not strip_line(line)


def match_key(text: str) -> str:
    """The key labels are matched on: fold() of the text without invisible marks."""
    return fold(_INVISIBLE_RE.sub("", text))


@cache
def vocabulary() -> dict[str, Any]:
    """The label vocabulary from data/textpage_labels.json (read once)."""
    raw = resources.files("marsad").joinpath("data/textpage_labels.json").read_text(encoding="utf-8")
    return json.loads(raw)


def _phrase_pattern(phrase: str) -> str:
    # Words may be run together or spaced out; a stray hamza after an alef
    # ("اقراء ايضا") is a common misspelling that fold() keeps.
    words = [re.escape(w).replace("ا", "اء?") for w in match_key(phrase).split()]
    return r"\s*".join(words)


def _alternation(phrases: list[str]) -> str:
    # Longest first, so "نشر بتاريخ" wins over "نشر".
    return "|".join(_phrase_pattern(p) for p in sorted(set(phrases), key=lambda p: -len(match_key(p))))


def _label_regex(phrases: list[str], *, value: bool, loose: bool = False) -> re.Pattern[str]:
    """A regex for label phrases followed by a separator and a value (or by nothing).

    *loose*: one-word phrases need no separator either (their value is checked otherwise).
    """
    multi = [p for p in phrases if loose or len(match_key(p).split()) > 1]
    single = [p for p in phrases if p not in multi]
    branches = []
    if multi:
        branches.append(rf"(?:{_alternation(multi)})(?![^\W_])\s*(?:{_SEP}+\s*)?")
    if single:
        # A one-word label needs a separator or the end of the line after it.
        branches.append(rf"(?:{_alternation(single)})\s*(?:{_SEP}+\s*|$)")
    tail = r"(?P<value>.*)$" if value else r"[\W_]*$"
    return re.compile(rf"{_LEAD}(?:{'|'.join(branches)}){tail}")


@cache
def _rules() -> tuple[list[tuple[str, int, re.Pattern[str]]], set[str]]:
    vocab = vocabulary()
    rules = [
        ("read_also", 0, _label_regex(vocab["read_also"]["line_only"], value=False)),
        ("read_also", 0, _label_regex(vocab["read_also"]["inline"], value=True)),
        ("date", DATE_PUBLISH, _label_regex(vocab["date"]["publish"], value=True)),
        ("date", DATE_UPDATE, _label_regex(vocab["date"]["update"], value=True)),
        ("source", 0, _label_regex(vocab["source"]["labels"], value=True)),
        ("tags", 0, _label_regex(vocab["tags"], value=True)),
        ("author", 0, _label_regex(vocab["author"], value=True)),
        # Weak date labels need no separator ("نشر منذ 3 ساعات"): the value must parse.
        ("date", DATE_WEAK, _label_regex(vocab["date"]["weak"], value=True, loose=True)),
    ]
    whole_line_sources = {_bare(match_key(name)) for name in vocab["source"]["whole_line"]}
    return rules, whole_line_sources


def _bare(key: str) -> str:
    """A key without punctuation: "(وكالات)" and "وكالات." name the same source."""
    return " ".join(re.sub(r"[\W_]+", " ", key).split())


def _cut(line: str, key_offset: int) -> str:
    """The part of *line* whose key starts at *key_offset* of the whole line's key."""
    lo, hi = 0, len(line)
    # fold() drops diacritics and may recompose characters, so key offsets and line
    # offsets differ; the key of a prefix grows with the prefix: search for the cut.
    while lo < hi:
        mid = (lo + hi) // 2
        if len(match_key(line[:mid])) >= key_offset:
            hi = mid
        else:
            lo = mid + 1
    # Marks that fold to nothing (the tanween of "أيضاً", a tatweel) belong to the label.
    while lo < len(line) and not match_key(line[lo]):
        lo += 1
    return strip_line(line[lo:])


def match_label(line: str) -> Label | None:
    """The label a line starts with, or None for ordinary text (also when the value is too long)."""
    line = strip_line(line)
    if not line:
        return None
    key = match_key(line)
    rules, whole_line_sources = _rules()
    for kind, rank, regex in rules:
        found = regex.match(key)
        if not found:
            continue
        value = _cut(line, found.start("value")) if "value" in regex.groupindex else ""
        if _plausible(kind, rank, value):
            return Label(kind, value, rank)
        return None
    if _bare(key) in whole_line_sources:
        return Label("source", line.strip("()[]«»\"'.:- "))
    return None


def _plausible(kind: str, rank: int, value: str) -> bool:
    limit = _MAX_WEAK_DATE if kind == "date" and rank == DATE_WEAK else _MAX_VALUE.get(kind)
    if limit is not None and len(value) > limit:
        return False
    return len(value.split()) <= _MAX_WORDS.get(kind, len(value.split()))


def value_fits(kind: str, value: str) -> bool:
    """Whether *value* could be a *kind* label's value written on the line after the label."""
    return bool(value) and _plausible(kind, DATE_PUBLISH, value)
