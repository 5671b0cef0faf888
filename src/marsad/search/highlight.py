"""Snippets cut from the original text, with the words that matched marked.

Matching is decided on analysed terms, so a query typed الامريكيه marks the
stored الأمريكيّة: each word of the original text is analysed with its offsets
kept (`Analyzer.word_terms`) and compared with the query's terms.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from .analyzer import Analyzer

MARK_OPEN, MARK_CLOSE = "<mark>", "</mark>"
ELLIPSIS = "…"
MAX_SNIPPET_SOURCE = 20_000  # characters of a body searched for the best passage
SNIPPET_PIECE = 600  # characters analysed at a time (a lead paragraph)


@dataclass(frozen=True)
class Snippet:
    """A passage of original text: `html` marks matches with <mark> (the rest escaped); `text` is plain.

    `marks` are (start, end) offsets of the matched words in `text`.
    """

    html: str
    text: str
    marks: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Matcher:
    """What counts as a match: exact analysed terms, and prefixes (from ``word*``)."""

    terms: frozenset[str]
    prefixes: tuple[str, ...] = ()
    _seen: dict = field(default_factory=dict, compare=False, repr=False)

    def __call__(self, word_terms: tuple[str, ...]) -> bool:
        known = self._seen.get(word_terms)
        if known is None:
            known = self._seen[word_terms] = any(
                t and (t in self.terms or (bool(self.prefixes) and t.startswith(self.prefixes))) for t in word_terms
            )
        return known


def _render(text: str, spans: list[tuple[int, int, bool]], lead: bool, tail: bool) -> Snippet:
    """Join original text from the first to the last span, marking matched ones."""
    if not spans:
        return Snippet("", "")
    out_html, out_text, marks = [], [], []
    length = 0
    if lead:
        out_html.append(ELLIPSIS + " ")
        out_text.append(ELLIPSIS + " ")
        length = 2
    pos = spans[0][0]
    for s, e, matched in spans:
        gap = text[pos:s]
        if "\n" in gap:
            gap = " ".join(gap.split()) or " "
        out_html.append(html.escape(gap, quote=False))
        out_text.append(gap)
        length += len(gap)
        word = text[s:e]
        if matched:
            out_html.append(MARK_OPEN + html.escape(word, quote=False) + MARK_CLOSE)
            marks.append((length, length + len(word)))
        else:
            out_html.append(html.escape(word, quote=False))
        out_text.append(word)
        length += len(word)
        pos = e
    if tail:
        out_html.append(" " + ELLIPSIS)
        out_text.append(" " + ELLIPSIS)
    return Snippet("".join(out_html), "".join(out_text), tuple(marks))


def highlight(text: str, analyzer: Analyzer, matcher: Matcher) -> Snippet:
    """All of *text* (a title, say) with its matched words marked."""
    spans = [(s, e, matcher(terms)) for s, e, terms in analyzer.word_terms(text)]
    if not spans:
        return Snippet(html.escape(text, quote=False), text)
    body = _render(text, spans, False, False)
    # keep what lies before the first and after the last word (quotes, punctuation)
    head, tail = text[: spans[0][0]], text[spans[-1][1]:]
    offset = len(head)
    return Snippet(html.escape(head, quote=False) + body.html + html.escape(tail, quote=False),
                   head + body.text + tail, tuple((a + offset, b + offset) for a, b in body.marks))


def _analyse_until_match(text: str, analyzer: Analyzer, matcher: Matcher
                         ) -> tuple[list[tuple[int, int, tuple[str, ...]]], list[bool]]:
    """Words of *text* with their terms, and whether each matched, read a piece at a time up to the
    piece after the first match.

    Most matches are in the lead paragraph: long articles are not analysed to the end. Each
    word is matched once here (the caller reuses the flags: matching was a third of a search).
    """
    limit = min(len(text), MAX_SNIPPET_SOURCE)
    analysed: list[tuple[int, int, tuple[str, ...]]] = []
    flags: list[bool] = []
    start, found = 0, False
    while start < limit:
        stop = text.find(" ", start + SNIPPET_PIECE) if start + SNIPPET_PIECE < limit else -1
        stop = limit if stop < 0 or stop > limit else stop
        words = [(s + start, e + start, terms) for s, e, terms in analyzer.word_terms(text[start:stop])]
        matched = [matcher(terms) for _, _, terms in words]
        analysed += words
        flags += matched
        start = stop
        if found:
            break
        found = any(matched)
    return analysed, flags


def snippet(text: str, analyzer: Analyzer, matcher: Matcher, *, words: int = 30) -> Snippet:
    """The passage of about *words* words of *text* holding the most distinct matched terms."""
    analysed, flags = _analyse_until_match(text, analyzer, matcher)
    if not analysed:
        return Snippet("", "")
    hits = [i for i, matched in enumerate(flags) if matched]
    best_start, best_key = 0, (-1, -1)
    last = max(0, len(analysed) - words)
    j = 0
    for i, first in enumerate(hits):
        start = max(0, min(first - 3, last))  # a little context before the first match
        while j < len(hits) and hits[j] < start + words:
            j += 1
        window = hits[i:j]
        key = (len({analysed[k][2] for k in window}), len(window))
        if key > best_key:
            best_key, best_start = key, start
    end = best_start + words
    spans = [(s, e, matched) for (s, e, _), matched in zip(analysed[best_start:end], flags[best_start:end])]
    return _render(text, spans, best_start > 0, end < len(analysed))
