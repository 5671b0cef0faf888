"""Which language a text is in, by script: enough to tell Arabic from English pages."""

from __future__ import annotations

import re


def _letter_class(ranges: tuple[tuple[int, int], ...]) -> str:
    """A regex character class of the letters (not digits, marks or punctuation) in *ranges*."""
    letters = [c for lo, hi in ranges for c in range(lo, hi + 1) if chr(c).isalpha()]
    spans, start = [], letters[0]
    for prev, cur in zip(letters, letters[1:] + [None]):
        if cur != prev + 1:
            spans.append(f"\\u{start:04x}-\\u{prev:04x}")
            start = cur
    return "[" + "".join(spans) + "]"


# Runs of Arabic-block letters and of Latin letters, summed in C: a per-character Python
# loop cost a fifth of a whole corpus ingest.
_ARABIC_RUN = re.compile(_letter_class(((0x0600, 0x06FF), (0x0750, 0x077F), (0xFB50, 0xFEFF))) + "+")
_LATIN_RUN = re.compile("[A-Za-z]+")
_SAMPLE = 600  # a title and a lead paragraph: letters enough to tell the script, at a third of the cost


def detect_language(text: str) -> str | None:
    """"ar" when most letters are Arabic script, "en" when most are Latin, else None."""
    sample = text[:_SAMPLE]
    if not _LATIN_RUN.search(sample):
        # No Latin letter (most Arabic news): any Arabic letter decides it, and the search for
        # the first is far cheaper than counting them all.
        return "ar" if _ARABIC_RUN.search(sample) else None
    arabic = sum(map(len, _ARABIC_RUN.findall(sample)))
    latin = sum(map(len, _LATIN_RUN.findall(sample)))
    if arabic == latin == 0:
        return None
    return "ar" if arabic >= latin else "en"
