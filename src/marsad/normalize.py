"""Arabic normalisation for matching and search.

Nothing here alters stored text: these functions build *keys* that two spellings
of the same word share (قوّاتها / قواتها, أمريكا / امريكا, الأمريكيّة / الامريكيه).

Three layers, each usable alone:

* `Normalizer` (configured by `NormalizerConfig`): character-level folding.
  `fold()` and `strip_tashkeel()` are its two most used presets.
* `word_spans()` / `WORD`: where the words of a text are, as offsets into the
  *original* string (so snippets can be cut from unaltered text).
* `light_stem()` / `light10_stem()` / `snowball_stem()` and `stopwords()`: the
  word-level steps the search analyzer (`marsad.search.analyzer`) chains.

Rules, in the order `Normalizer` applies them (each can be switched off):

====================  ===========================================================
NFKC                  presentation forms (ﻷ ﺍﻟﻌﺮﺑﻴﺔ) and compatibility characters to
                      their plain letters; ligatures such as ﷺ expand to words
tashkeel              harakat, tanween, shadda, sukun, dagger alef (U+0670),
                      Quranic annotation signs
tatweel               the kashida (U+0640) used to stretch words
alef                  أ إ آ ٱ → ا
hamza                 ؤ → و, ئ → ي; lone combining hamza (U+0654/U+0655) dropped
alef maqsura          ى → ي
teh marbuta           ة → ه
persian               Persian/Urdu lookalikes: ک → ك, ی ې ے → ي, ہ ۀ → ه
digits                Arabic-Indic (٠-٩) and Eastern (۰-۹) digits → 0-9
punctuation           ، ؛ ؟ ٪ ٫ ٬ « » → , ; ? % . , " " (off in `fold`, which keeps
                      punctuation as it is)
lowercase             Latin (and other cased scripts) lower-cased
====================  ===========================================================
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

# Harakat, tanween, shadda, sukun, dagger alef, Quranic marks (the tatweel is separate).
_TASHKEEL_CHARS = (
    [chr(c) for c in range(0x0610, 0x061B)]
    + [chr(c) for c in range(0x064B, 0x0660)]
    + ["\u0670"]
    + [chr(c) for c in range(0x06D6, 0x06EE)]
)
_TATWEEL = "\u0640"
_TASHKEEL = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")

_ALEF = {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا"}
_HAMZA = {"ؤ": "و", "ئ": "ي", "\u0654": None, "\u0655": None}
_PERSIAN = {"ک": "ك", "ی": "ي", "ې": "ي", "ے": "ي", "ہ": "ه", "ۀ": "ه"}
_DIGITS = {**{chr(0x0660 + i): str(i) for i in range(10)}, **{chr(0x06F0 + i): str(i) for i in range(10)}}
_PUNCTUATION = {"،": ",", "؛": ";", "؟": "?", "٪": "%", "٫": ".", "٬": ",", "«": '"', "»": '"', "۔": "."}


@dataclass(frozen=True)
class NormalizerConfig:
    """Which normalisation rules to apply (all on by default; see the module docstring)."""

    nfkc: bool = True
    tashkeel: bool = True
    tatweel: bool = True
    alef: bool = True
    hamza: bool = True
    alef_maqsura: bool = True
    teh_marbuta: bool = True
    persian: bool = True
    digits: bool = True
    punctuation: bool = True
    lowercase: bool = True


class Normalizer:
    """A character-level Arabic folder built from a `NormalizerConfig`; call it on text.

    Everything but NFKC and lower-casing is one `str.translate` table, so it runs at C speed.
    """

    def __init__(self, config: NormalizerConfig | None = None):
        self.config = config = config or NormalizerConfig()
        table: dict[str, str | None] = {}
        if config.tashkeel:
            table.update(dict.fromkeys(_TASHKEEL_CHARS))
        if config.tatweel:
            table[_TATWEEL] = None
        if config.alef:
            table.update(_ALEF)
        if config.hamza:
            table.update(_HAMZA)
        if config.alef_maqsura:
            table["ى"] = "ي"
        if config.teh_marbuta:
            table["ة"] = "ه"
        if config.persian:
            table.update(_PERSIAN)
        if config.digits:
            table.update(_DIGITS)
        if config.punctuation:
            table.update(_PUNCTUATION)
        self._table = str.maketrans(table)

    def __call__(self, text: str) -> str:
        """The normalised form of *text* (same words, same spacing)."""
        if self.config.nfkc and not unicodedata.is_normalized("NFKC", text):
            text = unicodedata.normalize("NFKC", text)
        text = text.translate(self._table)
        return text.lower() if self.config.lowercase else text


_FOLD = Normalizer(NormalizerConfig(punctuation=False))
#: The normaliser search uses: every rule, punctuation included.
normalize = Normalizer()


def strip_tashkeel(text: str) -> str:
    """Remove diacritics (harakat, shadda, sukun, tanween, dagger alef) and tatweel."""
    return _TASHKEEL.sub("", text)


def fold(text: str) -> str:
    """Fold *text* to its matching key: NFKC, no diacritics, one alef, ي for ى, ه for ة.

    Latin letters are lower-cased; spacing and punctuation are kept as they are.
    """
    return _FOLD(text)


# -- words ---------------------------------------------------------------------

_MARKS = "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640"
_ARABIC_LETTERS = (
    "\u0620-\u064a\u066e-\u066f\u0671-\u06d3\u06d5\u06ee-\u06ff\u0750-\u077f\u08a0-\u08ff"
    "\ufb50-\ufdff\ufe70-\ufefc"
)

#: A word of *original* text: a run of letters, digits and the marks written on them.
WORD = re.compile(rf"(?:[^\W_]|[{_MARKS}])+")
#: A token of *normalised* text: an Arabic run, a digit run or a run of other letters.
TOKEN = re.compile(rf"[{_ARABIC_LETTERS}]+|[0-9]+|[^\W\d_{_ARABIC_LETTERS}]+")


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of each word of *text*, diacritics and tatweel included."""
    return [m.span() for m in WORD.finditer(text)]


def is_arabic(token: str) -> bool:
    """Whether a (normalised) token is written in Arabic script."""
    return "\u0600" <= token[0] <= "\u08ff" or "\ufb50" <= token[0] <= "\ufeff"


# -- stopwords -----------------------------------------------------------------


@cache
def stopwords() -> frozenset[str]:
    """Arabic stopwords from `data/stopwords_ar.txt`, normalised as search normalises."""
    raw = resources.files("marsad").joinpath("data/stopwords_ar.txt").read_text(encoding="utf-8")
    words = set()
    for line in raw.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            words.add(normalize(line))
    return frozenset(words)


# -- stemmers --------------------------------------------------------------------
# All take a *normalised* Arabic word (ة already ه, ى already ي, no hamza on alef).

_L10_PREFIXES = ("ال", "وال", "بال", "كال", "فال", "لل", "و")
_L10_SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "ه", "ي")


def light10_stem(word: str) -> str:
    """Larkey's light10 stemmer, as Lucene's ArabicStemmer implements it.

    Removes at most one prefix (ال وال بال كال فال لل, or و when the word has more
    than three letters), then each of ها ان ات ون ين يه ه ي in turn while two letters remain.
    """
    for prefix in _L10_PREFIXES:
        if word.startswith(prefix) and (len(word) > 3 if len(prefix) == 1 else len(word) >= len(prefix) + 2):
            word = word[len(prefix):]
            break
    for suffix in _L10_SUFFIXES:
        if word.endswith(suffix) and len(word) >= len(suffix) + 2:
            word = word[: -len(suffix)]
    return word


# marsad's light stemmer: light10 with the clitic combinations news text actually
# uses (وبال, ولل, فلل ...), the attached pronouns (هم هما كم نا ه ...) with the ة they
# reveal as ت (سياستها = سياسة + ها, خطته = خطة + ه: stemmed as the ة form is), a
# nisba ي removed only after a plural ending (سعوديين -> سعود, but روماني -> رومان),
# and a minimum stem of three letters.
# Like light10 it strips a lone و from words of four letters or more; as that also
# eats a first-letter و (وزير -> زير, while الوزير -> وزير), the search side looks
# such words up both ways (`light_stem(..., conjunction=False)`, `Analyzer.alternatives`).
_PREFIXES = ("وبال", "وكال", "فبال", "وال", "بال", "كال", "فال", "ولل", "فلل", "لل", "ال")
#: Attached pronouns, longest first; ه ("his") last, as it is also how a normalised ة ends.
PRONOUNS = ("هما", "كما", "هم", "هن", "ها", "كم", "كن", "نا", "ه")
_INFLECTIONS = ("ات", "ان", "ون", "ين", "يه", "يا", "ه", "ي")
# Endings after which a nisba ي goes too. Not ية: it is the nisba itself, so a ي left
# before it is the word's own (a hamza folded to ي: جزائية -> جزاي, as جزائي).
_PLURALS = ("ات", "ون", "ين")
MIN_STEM = 3


def light_stem(word: str, *, conjunction: bool = True, feminine: bool = True) -> str:
    """marsad's light stemmer: strip proclitics (ال وال بال لل …, a lone و), pronouns, plural and ة/ي endings.

    `conjunction=False` keeps a lone leading و, `feminine=False` reads a ت before a
    pronoun as the word's own letter (بيتها -> بيت, not بيه): the other readings of an
    ambiguous word, for looking it up both ways (`Analyzer.alternatives`).
    The choice over light10 and Snowball was measured (see docs/search.md).
    """
    if len(word) <= MIN_STEM:
        return word
    # Each loop below is entered only when some affix of its tuple is there (one C-level
    # check of the whole tuple): most words end the loops unchanged, and the stemmer runs
    # for every distinct word a corpus ingest meets.
    for prefix in _PREFIXES if word.startswith(_PREFIXES) else ():
        if word.startswith(prefix) and len(word) - len(prefix) >= 2:
            word = word[len(prefix):]
            break
    else:
        if conjunction and word[0] == "و" and len(word) > MIN_STEM:
            word = word[1:]
    for suffix in PRONOUNS if word.endswith(PRONOUNS) else ():
        if word.endswith(suffix) and len(word) - len(suffix) >= MIN_STEM:
            word = word[: -len(suffix)]
            # A ت left before a pronoun is the ة it is written as there: خطتها, نهايتها, زيارته
            # stem as خطة, نهاية, زيارة. After ا it is rather a plural's ات (قراراتها), unless
            # no plural stem is left (وفاتها -> فات: وفاة).
            if feminine and word[-1] == "ت" and (len(word) == MIN_STEM or not word.endswith("ات")):
                word = word[:-1] + "ه"
            break
    for suffix in _INFLECTIONS if word.endswith(_INFLECTIONS) else ():
        if word.endswith(suffix) and len(word) - len(suffix) >= MIN_STEM:
            word = word[: -len(suffix)]
            if suffix in _PLURALS and word.endswith("ي") and len(word) > MIN_STEM:
                word = word[:-1]  # سعوديين -> سعودي -> سعود
            break
    return word


@cache
def _snowball(language: str):
    import Stemmer  # PyStemmer

    return Stemmer.Stemmer(language)


def snowball_stem(word: str, language: str = "arabic") -> str:
    """The Snowball stemmer (PyStemmer) for *language*; "arabic" or "english" here."""
    return _snowball(language).stemWord(word)
