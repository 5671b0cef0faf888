"""Snippets cut from the original text, with the words that matched marked.

Matching is decided on analysed terms, so a query typed الامريكيه marks the
stored الأمريكيّة: each word of the original text is analysed (`Analyzer.word_terms`)
and its terms compared with the query's.

Cutting snippets was two thirds of a search's CPU time, so the per-word work is kept in C:
a text is split into its words and the gaps between them by one regex call, a word's
terms come from a per-analyzer dictionary (each distinct word is analysed once per
process, not once per occurrence), and they are tested against the query's by
`frozenset.isdisjoint` mapped over the words. Offsets are only computed for the words of
the passage shown.
"""

from __future__ import annotations

import html
import re
import threading
import weakref
from dataclasses import dataclass, field
from itertools import compress, filterfalse
from operator import not_

from ..normalize import WORD
from .analyzer import Analyzer

MARK_OPEN, MARK_CLOSE = "<mark>", "</mark>"
ELLIPSIS = "…"
MAX_SNIPPET_SOURCE = 20_000  # characters of a body searched for the best passage
SNIPPET_PIECE = 600  # characters analysed at a time (a lead paragraph)
VOCABULARY_LIMIT = 500_000  # distinct words whose terms are kept per analyzer (SaudiNewsNet has ~315,000)

# The words `Analyzer.word_terms` finds, kept with the text between them: [gap, word, gap, ..., word, gap].
_SPLIT = re.compile(f"({WORD.pattern})", WORD.flags)


def _fast_split() -> re.Pattern | None:
    """WORD as one character class, twice as fast for `re` (one class, not an alternation per character).

    WORD is "(letters and digits but not _) or marks"; the class "[\\w marks]" differs only by
    taking "_", so it splits any text without "_" the same way. None if WORD has another shape.
    """
    shape = re.fullmatch(r"\(\?:\[\^\\W_\]\|\[([^\]]*)\]\)\+", WORD.pattern)
    return re.compile(rf"([\w{shape.group(1)}]+)", WORD.flags) if shape else None


_SPLIT_FAST = _fast_split()


def _split(text: str) -> list[str]:
    """[gap, word, gap, ..., word, gap]: the words of *text* (as WORD finds them) and what lies between."""
    if _SPLIT_FAST is not None and "_" not in text:
        return _SPLIT_FAST.split(text)
    return _SPLIT.split(text)


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

    def flags(self, word_terms: list[tuple[str, ...]]) -> list[bool]:
        """Whether each word, given as its terms, matches (in C for exact terms: no Python call per word)."""
        exact = self.terms
        if self.prefixes or "" in exact:  # '' is a stopword's term, never a match
            return list(map(self, word_terms))
        return list(map(not_, map(exact.isdisjoint, word_terms)))


class _Vocabulary:
    """Each distinct word of original text -> its terms, for one analyzer (bounded; safe across threads).

    When full it starts a new dictionary rather than clearing the one in use, which another
    thread may be reading.
    """

    def __init__(self, analyzer: Analyzer):
        self._analyzer = analyzer
        self._terms: dict[str, tuple[str, ...]] = {}

    def terms_of(self, words: list[str]) -> list[tuple[str, ...]]:
        """The terms of each word of *words*."""
        terms = self._terms
        found = list(map(terms.get, words))
        if None not in found:
            return found
        new = list(filterfalse(terms.__contains__, words))
        if len(terms) + len(new) > VOCABULARY_LIMIT:
            terms = self._terms = {}
            new = words
        new = list(dict.fromkeys(new))
        # words joined by spaces are found again one for one, each analysed through the analyzer's cache
        terms.update(zip(new, (t for _, _, t in self._analyzer.word_terms(" ".join(new)))))
        return list(map(terms.__getitem__, words))


_vocabularies: weakref.WeakKeyDictionary[Analyzer, _Vocabulary] = weakref.WeakKeyDictionary()
_vocabularies_lock = threading.Lock()


def _vocabulary(analyzer: Analyzer) -> _Vocabulary:
    found = _vocabularies.get(analyzer)
    if found is None:
        with _vocabularies_lock:
            found = _vocabularies.get(analyzer)
            if found is None:
                found = _vocabularies[analyzer] = _Vocabulary(analyzer)
    return found


class _Words:
    """The words of a text read so far, the gaps around them, their terms and whether each matched.

    `gaps[i]` is the original text before `words[i]`; `gaps[-1]` follows the last word.
    """

    def __init__(self, analyzer: Analyzer, matcher: Matcher):
        self._vocabulary = _vocabulary(analyzer)
        self._matcher = matcher
        self.words: list[str] = []
        self.gaps: list[str] = [""]
        self.terms: list[tuple[str, ...]] = []
        self.flags: list[bool] = []

    def read(self, text: str) -> bool:
        """Append the words of *text* (which starts where the text read so far ended); whether any matched."""
        parts = _split(text)
        words = parts[1::2]
        self.gaps[-1] += parts[0]
        self.gaps += parts[2::2]
        self.words += words
        terms = self._vocabulary.terms_of(words)
        self.terms += terms
        flags = self._matcher.flags(terms)
        self.flags += flags
        return True in flags

    def passage(self, first: int, end: int, lead: bool, tail: bool) -> tuple[str, list[tuple[int, int]]]:
        """Words first..end-1 with the gaps between them (line breaks folded to spaces), and the matches' offsets."""
        out, marks = [], []
        length = 0
        if lead:
            out.append(ELLIPSIS + " ")
            length = 2
        words, gaps, flags = self.words, self.gaps, self.flags
        for i in range(first, end):
            if i > first:
                gap = gaps[i]
                if "\n" in gap:
                    gap = " ".join(gap.split()) or " "
                out.append(gap)
                length += len(gap)
            word = words[i]
            if flags[i]:
                marks.append((length, length + len(word)))
            out.append(word)
            length += len(word)
        if tail:
            out.append(" " + ELLIPSIS)
        return "".join(out), marks


def _snippet(text: str, marks: list[tuple[int, int]]) -> Snippet:
    """*text* with the *marks* spans in <mark>, the rest HTML-escaped."""
    out, pos = [], 0
    for start, end in marks:
        out.append(html.escape(text[pos:start], quote=False))
        out.append(MARK_OPEN + html.escape(text[start:end], quote=False) + MARK_CLOSE)
        pos = end
    out.append(html.escape(text[pos:], quote=False))
    return Snippet("".join(out), text, tuple(marks))


def highlight(text: str, analyzer: Analyzer, matcher: Matcher) -> Snippet:
    """All of *text* (a title, say) with its matched words marked."""
    read = _Words(analyzer, matcher)
    read.read(text)
    if not read.words:
        return Snippet(html.escape(text, quote=False), text)
    # what lies before the first and after the last word (quotes, punctuation) is kept as it is
    head, tail = read.gaps[0], read.gaps[-1]
    body, marks = read.passage(0, len(read.words), False, False)
    return _snippet(head + body + tail, [(a + len(head), b + len(head)) for a, b in marks])


def _read_until_match(text: str, analyzer: Analyzer, matcher: Matcher) -> _Words:
    """The words of *text*, read a piece at a time up to the piece after the first match.

    Most matches are in the lead paragraph: long articles are not read to the end.
    """
    read = _Words(analyzer, matcher)
    limit = min(len(text), MAX_SNIPPET_SOURCE)
    start, found = 0, False
    while start < limit:
        stop = text.find(" ", start + SNIPPET_PIECE) if start + SNIPPET_PIECE < limit else -1
        stop = limit if stop < 0 or stop > limit else stop
        matched = read.read(text[start:stop])
        start = stop
        if found:
            break
        found = matched
    return read


def snippet(text: str, analyzer: Analyzer, matcher: Matcher, *, words: int = 30) -> Snippet:
    """The passage of about *words* words of *text* holding the most distinct matched terms."""
    read = _read_until_match(text, analyzer, matcher)
    count = len(read.words)
    if not count:
        return Snippet("", "")
    hits = list(compress(range(count), read.flags))
    hit_terms = [read.terms[i] for i in hits]
    best_start, best_key = 0, (-1, -1)
    last = max(0, count - words)
    j = 0
    for i, first in enumerate(hits):
        start = max(0, min(first - 3, last))  # a little context before the first match
        while j < len(hits) and hits[j] < start + words:
            j += 1
        key = (len(set(hit_terms[i:j])), j - i)
        if key > best_key:
            best_key, best_start = key, start
    end = min(best_start + words, count)
    return _snippet(*read.passage(best_start, end, best_start > 0, best_start + words < count))
