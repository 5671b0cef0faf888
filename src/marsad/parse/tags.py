"""Splitting a page's tag line into tags.

Aggregators write "النيجر الولايات المتحدة" for the two tags النيجر and الولايات
المتحدة: spaces separate tags and words alike. Known multi-word names
(`data/multiword_names.txt`, built by scripts/build_lexicon.py) are matched greedily,
longest first, on fold()ed words; the output keeps the line's own spelling.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from ..normalize import fold
from .labels import strip_line

# Explicit delimiters: when a line has any, each piece is one tag as written.
_DELIMITERS = re.compile(r"[،,|؛;•·]+")
_HASH = "#"
_EDGE_PUNCT = "\"'«»“”‘’()[]{}.:!?؟-–—*"

# Arabic name particles (folded). "بن" and "آل" join the words on both sides
# ("محمد بن سلمان", "سلمان آل سعود"); "عبد", "أبو", "أم" join the next one
# ("عبد الله", "أبو ظبي", "أم درمان"): none of them is ever a tag by itself.
_JOIN_BOTH = {"بن", "بنت", "ابن", "ال"}
_JOIN_NEXT = {"عبد", "ابو", "ابي", "ام", "ذو", "دي"}


@cache
def multiword_names() -> tuple[frozenset[tuple[str, ...]], int]:
    """The folded multi-word names and the longest one's word count (loaded once)."""
    text = resources.files("marsad").joinpath("data/multiword_names.txt").read_text(encoding="utf-8")
    names = frozenset(
        tuple(fold(word) for word in line.split())
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )
    return names, max((len(n) for n in names), default=1)


def split_tags(line: str) -> list[str]:
    """Split a tag line (the value after "كلمات دلالية:") into tags, in order, without duplicates."""
    line = strip_line(line)
    if _DELIMITERS.search(line):
        pieces = [_tidy(p) for p in _DELIMITERS.split(line)]
    elif _HASH in line:
        # "#السعودية #الأمم_المتحدة": a hashtag is one tag, "_" standing for a space;
        # loose words between hashtags are split like a plain line.
        pieces = []
        for chunk in line.split(_HASH):
            words = chunk.split()
            if words and "_" in words[0]:
                pieces.append(_tidy(words.pop(0)))
            pieces.extend(_split_words(" ".join(words)))
    else:
        pieces = _split_words(line)
    tags, seen = [], set()
    for tag in pieces:
        key = fold(tag)
        if tag and key not in seen:
            seen.add(key)
            tags.append(tag)
    return tags


def _tidy(piece: str) -> str:
    return " ".join(piece.replace("_", " ").replace(_HASH, " ").split()).strip(_EDGE_PUNCT + " ")


def _split_words(text: str) -> list[str]:
    """Greedy longest match of known names over the words; other words are tags alone."""
    words = [w for w in (_tidy(w) for w in text.split()) if w]
    keys = [fold(w) for w in words]
    names, longest = multiword_names()
    tags = []
    i = 0
    while i < len(words):
        end = i + 1
        for size in range(min(longest, len(words) - i), 1, -1):
            if tuple(keys[i : i + size]) in names:
                end = i + size
                break
        end = _extend(keys, end)
        tags.append(" ".join(words[i:end]))
        i = end
    return tags


def _extend(keys: list[str], end: int) -> int:
    """Grow a tag over name particles and a trailing number ("رؤية 2030", "كوفيد 19")."""
    while end < len(keys):
        last, following = keys[end - 1], keys[end]
        if last in _JOIN_NEXT or last in _JOIN_BOTH or following in _JOIN_BOTH or following.isdigit():
            end += 1
        else:
            break
    return end
