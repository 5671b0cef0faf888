"""What the duplicate and story stages know of an article: terms, fingerprints, shingles, MinHash.

Everything is derived from the article's title and paragraphs and nothing is written back to
it. The text is analysed by `marsad.search.analyzer` (normalised, stopwords dropped, stemmed),
so two spellings that search treats alike (قوّاتها / قواتها, أمريكا / امريكا) are alike here too.

Speed matters (the stages run for every stored article): the analyzer is called once per
distinct whitespace-separated token and remembered, the text itself is only split; shingle
hashing and MinHash are vectorised over a whole batch with numpy.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources

import numpy as np

from ..models import Article
from ..search.analyzer import Analyzer, default_analyzer

SHINGLE = 3  # words per shingle
NUM_PERM = 96  # MinHash permutations over the whole text (48 bands of 2)
LEAD_SHINGLES = 40  # the lead signature covers the first shingles only (trimmed copies share it)
LEAD_TERMS = 80  # body terms the story stage reads (title + lead paragraph)
_MASK64 = (1 << 64) - 1
_TOKEN_CACHE_LIMIT = 2_000_000

# Fixed random permutations (a*x + b mod 2^64, top 32 bits): the same in every process,
# so signatures and band keys stored by one run are valid in the next.
_MAX_PERM = 128
_RNG = np.random.default_rng(0x6D61727361642D31)  # "marsad-1"
_PERM_A = (_RNG.integers(1, 2**63, size=_MAX_PERM, dtype=np.uint64) << np.uint64(1)) | np.uint64(1)
_PERM_B = _RNG.integers(0, 2**63, size=_MAX_PERM, dtype=np.uint64)
_SHINGLE_MUL = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)


def stable_hash64(text: str) -> int:
    """A 64-bit hash of *text* that is the same in every process (unlike `hash()`)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def to_signed(value: int) -> int:
    """An unsigned 64-bit value as SQLite's signed INTEGER."""
    return value - (1 << 64) if value >= 1 << 63 else value


# -- boilerplate -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    where: str
    action: str
    pattern: re.Pattern
    max_words: int | None
    needle: str | None


_TAIL = 300  # 'last' strip rules look at this many final characters


@cache
def boilerplate_rules() -> tuple[_Rule, ...]:
    """The rules of data/dedup_boilerplate.json (bylines, datelines, footers outlets add)."""
    raw = json.loads(resources.files("marsad").joinpath("data/dedup_boilerplate.json").read_text(encoding="utf-8"))
    return tuple(_Rule(r["where"], r["action"], re.compile(r["pattern"]), r.get("max_words"), r.get("needle"))
                 for r in raw["rules"])


def _apply(rule: _Rule, text: str) -> str:
    if rule.needle and rule.needle not in text:
        return text
    if rule.action == "drop":
        if (rule.max_words is None or text.count(" ") < rule.max_words) and rule.pattern.search(text):
            return ""
        return text
    if rule.where == "last" and len(text) > _TAIL:
        return (text[:-_TAIL] + rule.pattern.sub("", text[-_TAIL:])).strip()
    return rule.pattern.sub("", text).strip()


def strip_boilerplate(paragraphs: Sequence[str]) -> list[str]:
    """The paragraphs without the lines and fragments outlets add around republished text."""
    paras = [p.strip() for p in paragraphs if p and not p.isspace()]
    for rule in boilerplate_rules():
        n = len(paras)
        if not n:
            break
        if rule.where == "first":
            positions: Sequence[int] = range(min(2, n))
        elif rule.where == "last":
            positions = range(n - 1, max(n - 3, -1), -1)
        else:
            positions = range(n)
        changed = False
        for i in positions:
            new = _apply(rule, paras[i])
            if new != paras[i]:
                paras[i] = new
                changed = True
        if changed:
            paras = [p for p in paras if p]
    return paras


# -- terms -------------------------------------------------------------------------------------


class _TokenCache:
    """Whitespace token as written -> its index terms, analysed on first sight and remembered.

    `Analyzer.terms(text)` equals the concatenation of `Analyzer.terms(token)` over
    `text.split()` (normalisation is per character and whitespace always separates tokens),
    so analysing each distinct token once gives the same terms at a fraction of the cost.
    `codes` maps a token to the stable 64-bit hash of its single term, 0 for a token with no
    term (a stopword), or -k for a token of several terms (k-1 indexes `multi`).
    """

    def __init__(self, analyzer: Analyzer):
        self.analyzer = analyzer
        self.codes: dict[str, int] = {}
        self.multi: list[tuple[int, ...]] = []
        self.term_of: dict[int, str] = {}  # term hash -> term
        self._hashes: dict[str, int] = {}

    def _hash(self, term: str) -> int:
        h = self._hashes.get(term)
        if h is None:
            h = self._hashes[term] = stable_hash64(term) or 1
            self.term_of[h] = term
        return h

    def reset_if_full(self) -> None:
        """Forget everything once the cache is full (called between articles, never within one)."""
        if len(self.codes) >= _TOKEN_CACHE_LIMIT or len(self._hashes) >= _TOKEN_CACHE_LIMIT:
            self.codes.clear()
            self.multi.clear()
            self._hashes.clear()
            self.term_of.clear()

    def learn(self, token: str) -> int:
        """Analyse an unseen token; returns its code."""
        terms = tuple(self.analyzer.terms(token))
        if not terms:
            code = 0
        elif len(terms) == 1:
            code = self._hash(terms[0])
        else:
            self.multi.append(tuple(self._hash(t) for t in terms))
            code = -len(self.multi)
        self.codes[token] = code
        return code

    def term_list(self, hashes: np.ndarray, limit: int | None = None) -> list[str]:
        """The terms behind (the first *limit*) term hashes."""
        part = hashes[:limit] if limit is not None else hashes
        return list(map(self.term_of.__getitem__, part.tolist()))

    def hashes(self, tokens: Sequence[str]) -> np.ndarray:
        """The term hashes of the tokens, in order (stopwords dropped), as uint64."""
        codes = list(map(self.codes.get, tokens))
        if None in codes:
            codes = [c if c is not None else self.learn(t) for c, t in zip(codes, tokens)]
        if codes and min(codes) < 0:
            flat: list[int] = []
            for c in codes:
                if c < 0:
                    flat.extend(self.multi[-c - 1])
                elif c:
                    flat.append(c)
            return np.array(flat, dtype=np.uint64)
        arr = np.array(codes, dtype=np.uint64)
        return arr[arr != 0]


@dataclass(eq=False)
class Features:
    """One article as the duplicate and story stages see it."""

    title_terms: list[str]
    lead_terms: list[str]  # the first LEAD_TERMS terms of the body (after boilerplate)
    body_hashes: np.ndarray  # uint64, one per body term, in order
    text_fp: int  # signed 64-bit fingerprint of the normalised body (0 when empty)
    title_fp: int  # signed 64-bit fingerprint of the normalised title (0 when empty)
    shingles: np.ndarray = field(repr=False)  # uint64, sorted, unique
    lead: np.ndarray = field(repr=False)  # uint64, unique shingles among the first LEAD_SHINGLES

    @property
    def size(self) -> int:
        """How many distinct shingles the body has."""
        return len(self.shingles)

    @property
    def length(self) -> int:
        """How many terms the body has."""
        return len(self.body_hashes)

    @cached_property
    def body_set(self) -> frozenset[int]:
        """The distinct term hashes of the body."""
        return frozenset(self.body_hashes.tolist())


def _fingerprint(hashes: np.ndarray) -> int:
    if not len(hashes):
        return 0
    return to_signed(int.from_bytes(hashlib.blake2b(hashes.tobytes(), digest_size=8).digest(), "little"))


def shingle_hashes(hashes: np.ndarray, k: int = SHINGLE) -> np.ndarray:
    """64-bit hashes of the word k-shingles of a term-hash sequence, in order (with repeats)."""
    n = len(hashes) - k + 1
    if n <= 0:
        return np.empty(0, dtype=np.uint64)
    out = hashes[:n] * _SHINGLE_MUL[0]
    for j in range(1, k):
        out = out + hashes[j : j + n] * _SHINGLE_MUL[j]
    out ^= out >> np.uint64(29)
    out *= np.uint64(0xBF58476D1CE4E5B9)
    out ^= out >> np.uint64(32)
    return out


class Featurizer:
    """Turns articles into `Features`; keeps the token cache that makes it fast."""

    def __init__(self, analyzer: Analyzer | None = None):
        self.analyzer = analyzer or default_analyzer()
        self._tokens = _TokenCache(self.analyzer)

    def terms(self, text: str, limit: int | None = None) -> list[str]:
        """The analyzer's terms of *text* (at most *limit*)."""
        self._tokens.reset_if_full()
        return self._tokens.term_list(self._tokens.hashes(text.split()), limit)

    def __call__(self, article: Article) -> Features:
        """The features of one article."""
        return self.features(article.title, article.paragraphs)

    def features(self, title: str, paragraphs: Sequence[str]) -> Features:
        """The features of a title and its body paragraphs."""
        title_tokens = (title or "").split()
        body_tokens = " ".join(strip_boilerplate(paragraphs)).split()
        tokens = self._tokens
        tokens.reset_if_full()
        body = tokens.hashes(body_tokens)
        title_hashes = tokens.hashes(title_tokens)
        seq = shingle_hashes(body)
        return Features(
            title_terms=tokens.term_list(title_hashes),
            lead_terms=tokens.term_list(body, LEAD_TERMS),
            body_hashes=body,
            text_fp=_fingerprint(body),
            title_fp=_fingerprint(title_hashes),
            shingles=np.unique(seq),
            lead=np.unique(seq[:LEAD_SHINGLES]),
        )


# -- MinHash ------------------------------------------------------------------------------------


def minhash(sets: Sequence[np.ndarray], num_perm: int = NUM_PERM) -> np.ndarray:
    """MinHash signatures (n x num_perm, uint32) of several shingle sets at once.

    h_i(x) = top 32 bits of (a_i * x + b_i) mod 2^64, minimised over each set; an empty
    set gets all 0xFFFFFFFF (it collides with nothing that is not empty too).
    """
    out = np.full((len(sets), num_perm), 0xFFFFFFFF, dtype=np.uint32)
    sizes = np.array([len(s) for s in sets], dtype=np.int64)
    nonempty = np.flatnonzero(sizes)
    if not len(nonempty):
        return out
    flat = np.concatenate([sets[i] for i in nonempty])
    a, b = _PERM_A[:num_perm], _PERM_B[:num_perm]
    # Chunks keep the (shingles x permutations) matrix small enough to stay in cache.
    starts = np.concatenate(([0], np.cumsum(sizes[nonempty])[:-1]))
    chunk = max(1, 65536 // num_perm)
    mins = np.empty((len(nonempty), num_perm), dtype=np.uint32)
    row = 0
    while row < len(nonempty):
        stop = row
        total = 0
        while stop < len(nonempty) and (total == 0 or total + sizes[nonempty[stop]] <= chunk * 4):
            total += sizes[nonempty[stop]]
            stop += 1
        lo = starts[row]
        hi = lo + total
        block = flat[lo:hi, None] * a[None, :] + b[None, :]
        block = (block >> np.uint64(32)).astype(np.uint32)
        mins[row:stop] = np.minimum.reduceat(block, starts[row:stop] - lo, axis=0)
        row = stop
    out[nonempty] = mins
    return out


# -- entities -------------------------------------------------------------------------------------

_GENERIC_NAME_TERMS = 5  # a term shared by this many gazetteer names (جمهوريه, مدينه ...) is not a name


@cache
def entity_terms() -> frozenset[str]:
    """Index terms of place and person names from the NER gazetteer (marsad.enrich.gazetteer).

    Used to tell a copy from a template: two cables that differ only in the country they
    congratulate are not copies of each other. Empty when the gazetteer is unavailable.
    """
    try:
        from ..enrich.gazetteer import read_gazetteer

        names, words = read_gazetteer()
    except Exception:  # the NER data is optional for this stage
        return frozenset()
    analyzer = default_analyzer()
    entries = [analyzer.terms(" ".join(name)) for name, kind in names.items() if kind == "LOC"]
    entries += [analyzer.terms(word) for word, kind in words.items() if kind == "PERS"]
    counts: dict[str, int] = {}
    for terms in entries:
        for term in set(terms):
            counts[term] = counts.get(term, 0) + 1
    return frozenset(t for t, c in counts.items() if c < _GENERIC_NAME_TERMS and len(t) >= 3 and not t.isdigit())
