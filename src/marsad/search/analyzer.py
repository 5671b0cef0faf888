"""Text -> index terms: normalise, split, drop stopwords, stem. Shared by every search backend.

The same `Analyzer` turns article text into indexed terms and query words into
the terms to look up, so two spellings that normalise and stem alike always meet.
It also maps terms back onto the *original* text (`word_terms`) for highlighting.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from functools import cache
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np

from ..errors import StoreError
from ..normalize import (
    TOKEN,
    WORD,
    MIN_STEM,
    PRONOUNS,
    Normalizer,
    NormalizerConfig,
    is_arabic,
    light10_stem,
    light_stem,
    normalize,
    snowball_stem,
    stopwords,
)

STEMMERS = ("marsad", "light10", "snowball", "none")
MAX_TERM_CHARS = 40  # longer "words" are junk (URLs, base64); truncated so they still match themselves
_CACHE_LIMIT = 1_000_000
_ARTICLE_CLITICS = ("وبال", "وكال", "فبال", "وال", "بال", "كال", "فال", "ولل", "فلل", "لل")
_TERMS, _FORMS = itemgetter(0), itemgetter(1)
#: Starts every exact form in the index. Normalisation removes it (it is the tatweel), so
#: no stem ever holds it and a stem and a word form can never be taken for each other.
EXACT_MARK = "\u0640"
_CODE_VERSION = "3"  # bump whenever analysis changes in a way the stopword hash does not show

# و/ف + a stopword is a stopword (وفي, فإن), except where the pair is itself a word: ولي, فهم, وهم.
_NOT_AFTER_CONJ = frozenset({"لي", "هم"})

# Snowball's Arabic stemmer reads ة and ى itself, so it gets text before those two folds.
_SNOWBALL_PRE = Normalizer(NormalizerConfig(teh_marbuta=False, alef_maqsura=False))


class _TermCache(dict):
    """key -> its analysis, computed on first sight (a dict lookup is all a repeated word costs)."""

    def __init__(self, make: Callable[[str], Any]):
        super().__init__()
        self._make = make

    def __missing__(self, token: str) -> Any:
        if len(self) >= _CACHE_LIMIT:
            self.clear()
        term = self[token] = self._make(token)
        return term


class Analyzer:
    """Arabic-aware analysis: `Normalizer` rules, stopwords, a light stemmer; Latin words get English Snowball.

    :param stemmer: "marsad" (default, chosen by measurement), "light10" (Lucene's
        ArabicStemmer), "snowball" (PyStemmer's Arabic) or "none".
    :param stop: drop Arabic stopwords (`data/stopwords_ar.txt`).
    :param conjunctions: look query words up with and without a leading و/ف
        (`alternatives`); on by default for the marsad stemmer.
    :param normalizer: another character normaliser (for comparisons; marsad's own by default).
    """

    def __init__(self, stemmer: str = "marsad", *, stop: bool = True, conjunctions: bool | None = None,
                 normalizer: Normalizer | None = None):
        if stemmer not in STEMMERS:
            raise ValueError(f"unknown stemmer {stemmer!r} (known: {', '.join(STEMMERS)})")
        self.stemmer = stemmer
        self.stop = stop
        self.conjunctions = stemmer == "marsad" if conjunctions is None else conjunctions
        self._stopwords = stopwords() if stop else frozenset()
        self._normalize = normalizer or (_SNOWBALL_PRE if stemmer == "snowball" else normalize)
        self._fold = normalize if stemmer == "snowball" else self._normalize  # for the stopword check
        self._stem_ar: Callable[[str], str] = {
            "marsad": light_stem,
            "light10": light10_stem,
            "snowball": lambda w: normalize(snowball_stem(w, "arabic")),
            "none": lambda w: w,
        }[stemmer]
        self._terms = _TermCache(self._term)  # normalised token -> term ('' for a stopword)
        self._chunks = _TermCache(self._chunk)  # whitespace-separated raw text -> "term term"
        self._exact = _TermCache(self._exact_token)  # normalised token -> its marked form ('' if the stem says it)
        # Whitespace-separated raw text -> ("term term", "form form"), for indexing: one lookup
        # a word gives both columns (other callers, the duplicate and story stages and queries,
        # do not pay for the forms).
        self._index_chunks = _TermCache(self._index_chunk)
        self._words = _TermCache(self._word)  # a word of original text -> its terms (for highlighting)
        digest = hashlib.sha1("\n".join(sorted(self._stopwords)).encode("utf-8")).hexdigest()[:8]
        #: Recorded with the index: an index built by another version must be rebuilt.
        custom = "" if normalizer is None else "-custom"
        self.version = f"{stemmer}-{'stop' if stop else 'nostop'}-{digest}-{_CODE_VERSION}{custom}"

    def index_built_by_me(self, state: str) -> bool:
        """Whether an index in *state* (its recorded analyzer version, '' while unclaimed) matches this analyzer."""
        return state in ("", self.version)

    def require_index(self, state: str) -> None:
        """Raise StoreError unless an index in *state* can be searched with this analyzer."""
        if not self.index_built_by_me(state):
            raise StoreError(
                "the search index is out of date or was built by another analyzer; run `marsad reindex`"
                if state != "reindexing" else "the search index is being rebuilt; try again when `marsad reindex` ends"
            )

    def alternatives(self, word: str) -> tuple[str, ...]:
        """Index terms a query word should find: its own, and those of its other readings.

        A light stemmer has to pick one reading of an ambiguous word; the query looks up
        the others too, so the article's spelling of the word is found whichever it is:

        * a lone و ("and") is stripped as light10 does, which also strips the first letter
          of وزير (زير) while الوزير keeps it (وزير): both are looked up;
        * a ت before a pronoun is indexed as the ة it usually is (خطتها as خطة): بيتها is
          also looked up as بيت, and a word ending in ت as its pronoun forms are indexed
          (بيت, قدمت as بيتها, قدمتها); ات before a pronoun is indexed as a plural's
          (قراراتها), and also looked up as the ة of اة (مفاجأتها as مفاجأة);
        * ال is stripped once: الإلغاء (ال + إلغاء) is also looked up as إلغاء is indexed, and
          a word whose stem is a three-letter stub left by an ال of its own (إلغاء -> غاء)
          as it is indexed after the article (الإلغاء -> الغاء).

        The word's own term comes first.
        """
        own = self.terms(word)
        if not self.conjunctions or len(own) != 1:
            return tuple(own)
        tokens = TOKEN.findall(self._normalize(word))
        if len(tokens) != 1 or not is_arabic(tokens[0]):
            return tuple(own)
        token = tokens[0]
        forms = [own[0], light_stem(token, conjunction=False), light_stem(token, feminine=False)]
        if token.endswith("ت"):
            forms.append(light_stem(token + "ها"))  # بيت, قدمت, وفات: as بيتها, قدمتها, وفاتها are indexed
        for pronoun in PRONOUNS:
            if token.endswith("ات" + pronoun):
                forms.append(light_stem(token[: -len(pronoun) - 1] + "ه"))  # مفاجأتها: as مفاجأة is indexed
                break
        bare = token
        for prefix in ("وال", "بال", "كال", "فال", "ال", "لل"):
            if token.startswith(prefix) and len(token) - len(prefix) >= 2:
                bare = token[len(prefix):]
                break
        if bare != token:
            forms.append(light_stem(bare))  # الوزير, الإلغاء -> زير, غاء: as a bare وزير, إلغاء are indexed
        if token.startswith("ال") and len(own[0]) == MIN_STEM:  # a stub: the ال may be the word's own
            forms.append(light_stem("ال" + token))  # إلغاء, ألفها -> الغاء, الف: as الإلغاء, ألف are indexed
        if token.startswith("وو") and len(token) > 4:
            forms.append(light_stem(token[1:]))  # ووزارة (and ministry) -> زار, as وزارة is indexed
        return tuple(t for t in dict.fromkeys(forms) if t)

    # -- one token ------------------------------------------------------------

    def _term(self, token: str) -> str:
        token = token[:MAX_TERM_CHARS]
        if token[0].isdigit():
            return token
        if not is_arabic(token):
            return snowball_stem(token, "english")
        folded = self._fold(token) if self._fold is not self._normalize else token
        if folded in self._stopwords or (
            folded[0] in "وف" and folded[1:] in self._stopwords and folded[1:] not in _NOT_AFTER_CONJ
        ):
            return ""
        return self._stem_ar(token) if self.stemmer == "snowball" else self._stem_ar(folded)

    def _chunk(self, chunk: str) -> str:
        # Normalising per whitespace-separated chunk is exact (no rule looks across
        # whitespace) and, cached, far cheaper than normalising whole texts.
        return " ".join(filter(None, map(self._terms.__getitem__, TOKEN.findall(self._normalize(chunk)))))

    def chunk_terms(self, chunks: Sequence[str]) -> tuple[np.ndarray, list[str]]:
        """The terms of many whitespace-free chunks at once: how many each has, and all of them
        in order (the concatenation of `terms(chunk)` over *chunks*).

        For the duplicate stage, which analyses each distinct word it meets once and remembers
        the result itself: the chunks are normalised and split one by one, but the terms are
        looked up (and stopwords dropped) for all of them in C-level passes.
        """
        per_chunk = list(map(TOKEN.findall, map(self._normalize, chunks)))
        analysed = list(map(self._terms.__getitem__, chain.from_iterable(per_chunk)))
        kept = np.fromiter(map(bool, analysed), dtype=bool, count=len(analysed))
        owner = np.repeat(np.arange(len(per_chunk)), list(map(len, per_chunk)))
        return np.bincount(owner[kept], minlength=len(per_chunk)), list(filter(None, analysed))

    def _index_chunk(self, chunk: str) -> tuple[str, str]:
        tokens = TOKEN.findall(self._normalize(chunk))
        if len(tokens) == 1:  # most chunks are one word: no joins to build
            terms, forms = self._terms[tokens[0]], self._exact[tokens[0]]
        else:
            terms = " ".join(filter(None, map(self._terms.__getitem__, tokens)))
            forms = " ".join(filter(None, map(self._exact.__getitem__, tokens)))
        return terms, forms

    def _exact_token(self, token: str) -> str:
        token = token[:MAX_TERM_CHARS]
        term = self._terms[token]
        if not term:
            return ""
        form = token
        if is_arabic(token) and token.startswith(_ARTICLE_CLITICS):
            # و ف ب ك ل before the article are words of their own (and, so, with, as, for):
            # والمعدنية is the form المعدنية. The article stays: dropping it too measured worse.
            for clitic in _ARTICLE_CLITICS:
                if token.startswith(clitic) and len(token) - len(clitic) >= 2:
                    form = "ال" + token[len(clitic):]
                    break
        return EXACT_MARK + form if form != term else ""

    def _word(self, word: str) -> tuple[str, ...]:
        return tuple(self._terms[t] for t in TOKEN.findall(self._normalize(word)))

    def term(self, word: str) -> str:
        """The index term of one word as written ('' for a stopword or a non-word)."""
        tokens = self.terms(word)
        return tokens[0] if tokens else ""

    # -- text -----------------------------------------------------------------

    def terms(self, text: str) -> list[str]:
        """The index terms of *text*, in order, stopwords removed."""
        return self.index_text(text).split()

    def index_text(self, text: str) -> str:
        """The terms of *text* joined by spaces: what the full-text index stores."""
        return " ".join(filter(None, map(self._chunks.__getitem__, text.split())))

    def index_columns(self, text: str) -> tuple[str, str]:
        """(`index_text(text)`, its exact forms): what the index's stem and exact-form columns store.

        The exact forms are the words as typed (normalised, not stemmed; a و ف ب ك ل glued
        before ال taken off), each marked with EXACT_MARK. A word its stem leaves as it is (or
        a stopword) has none: its stem already says it. An article holding the very form a query
        word has then ranks above one that only shares its stem.
        """
        # One lookup of a (terms, forms) pair a word: the pairs of one text are then still in the
        # processor's cache when the two joins read them, where a second lookup in another large
        # dict would miss it again (4.5-4.8 s against 5.2-6.9 s of the corpus's 62,040 titles
        # and texts, warm caches, alternated on an idle machine). Storing "term " (separator
        # included) to join without a filter was slower (4.97-5.44 s against 4.69-5.12): each
        # chunk then holds its own copy of a term instead of sharing the term cache's string.
        pairs = list(map(self._index_chunks.__getitem__, text.split()))
        return " ".join(filter(None, map(_TERMS, pairs))), " ".join(filter(None, map(_FORMS, pairs)))

    def exact_form(self, word: str) -> str:
        """The marked exact form of one query word ('' when it is not one word, or its stem is the same)."""
        tokens = TOKEN.findall(self._normalize(word))
        return self._exact[tokens[0]] if len(tokens) == 1 else ""

    def prefix(self, word: str) -> str:
        """The lookup key for a prefix query (`word*`): normalised, leading clitics removed, not stemmed."""
        tokens = TOKEN.findall(normalize(word))
        if not tokens:
            return ""
        token = tokens[0][:MAX_TERM_CHARS]
        if is_arabic(token):
            for clitic in ("وبال", "وال", "بال", "كال", "فال", "ولل", "لل", "ال"):
                if token.startswith(clitic) and len(token) - len(clitic) >= 2:
                    return token[len(clitic):]
        return token

    def word_terms(self, text: str) -> list[tuple[int, int, tuple[str, ...]]]:
        """Each word of the original *text* as (start, end, its terms): how highlights find matches."""
        words = self._words
        return [(m.start(), m.end(), words[m.group()]) for m in WORD.finditer(text)]


@cache
def default_analyzer() -> Analyzer:
    """The analyzer marsad indexes and searches with."""
    return Analyzer()

