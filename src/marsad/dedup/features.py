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
import pyarrow as pa
import pyarrow.compute as pc

from ..models import Article
from ..search.analyzer import Analyzer, default_analyzer

SHINGLE = 3  # words per shingle
NUM_PERM = 96  # MinHash permutations over the whole text (48 bands of 2)
LEAD_SHINGLES = 40  # the lead signature covers the first shingles only (trimmed copies share it)
LEAD_TERMS = 80  # body terms the story stage reads (title + lead paragraph)
_MASK64 = (1 << 64) - 1
_TOKEN_CACHE_LIMIT = 2_000_000
_BLOCK = 8192  # shingles per MinHash block

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


class _TokenIds(dict):
    """token -> dense id; looking up an unseen token gives it the next id and lists it in `unseen`."""

    def __init__(self):
        super().__init__()
        self.unseen: list[str] = []

    def __missing__(self, token: str) -> int:
        self[token] = new = len(self)
        self.unseen.append(token)
        return new


# -- word hashes: the batch's distinct words found in the token cache without a Python object each --

_HASHED_BYTES = 64  # longer words (rare: URLs, runs of symbols) are always looked up in the dict
_BYTE_BASE = 0x100000001B3  # odd, so every power of it is odd too
_BYTE_POWERS = np.cumprod(np.r_[1, np.full(_HASHED_BYTES - 1, _BYTE_BASE)].astype(np.uint64))


def _mix64(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, in place (a bijection: it spreads bits, it adds no collisions)."""
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h


def word_hashes(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """A 64-bit hash (never 0) of each UTF-8 string data[offsets[i]:offsets[i+1]].

    Σ byte_j · B^j over the string's first _HASHED_BYTES bytes, plus its length, mixed;
    strings that long or shorter are hashed in full (the callers send longer ones elsewhere).
    Nothing checks for collisions: two distinct words with one hash would share one analysis.
    If the hash behaves like a random function, a million distinct words hold such a pair with
    odds of about 1 in 37 million (n² / 2^65); words are short, so the known constructions of
    colliding strings for polynomial hashes modulo 2^64 (thousands of bytes long) do not apply.
    """
    n = len(offsets) - 1
    lens = np.diff(offsets)
    starts = offsets[:-1] - offsets[0]
    total = int(offsets[-1] - offsets[0])
    h = np.zeros(n, dtype=np.uint64)
    if total:
        position = np.arange(total) - np.repeat(starts, lens)
        np.minimum(position, _HASHED_BYTES - 1, out=position)
        weighted = data[offsets[0] : offsets[-1]].astype(np.uint64) * _BYTE_POWERS[position]
        nonempty = lens > 0
        h[nonempty] = np.add.reduceat(weighted, starts[nonempty])
    h += lens.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    _mix64(h)
    h[h == 0] = 1  # 0 marks an empty slot of the table
    return h


class _HashTable:
    """64-bit key -> int64 value, open addressing with linear probing, looked up and filled a
    whole array of keys at a time.

    Why not a dict: a 500-article batch has about 38,000 distinct words, and looking each up
    in a dict needs it as a Python string first; building those strings and hashing them cost
    1.5 s of the 31,020-article corpus, this table 0.2 s (numpy has no hash map of its own).
    """

    def __init__(self, bits: int = 16):
        self.keys = np.zeros(1 << bits, dtype=np.uint64)
        self.values = np.zeros(1 << bits, dtype=np.int64)
        self.size = 0

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """The value of each key, -1 where it is absent."""
        mask = len(self.keys) - 1
        found = np.full(len(keys), -1, dtype=np.int64)
        slot = (keys & np.uint64(mask)).astype(np.int64)
        todo = np.arange(len(keys))
        while len(todo):
            there = self.keys[slot[todo]]
            hit = there == keys[todo]
            found[todo[hit]] = self.values[slot[todo[hit]]]
            todo = todo[~hit & (there != 0)]  # another key in the slot: probe the next one
            slot[todo] = (slot[todo] + 1) & mask
        return found

    def insert(self, keys: np.ndarray, values: np.ndarray) -> None:
        """Add keys that are not in the table yet."""
        if 2 * (self.size + len(keys)) > len(self.keys):
            old_keys, old_values = self.keys[self.keys != 0], self.values[self.keys != 0]
            bits = max(16, int(2 * (self.size + len(keys))).bit_length())  # at most half full
            self.__init__(bits)
            self._place(old_keys, old_values)
        self._place(keys, values)

    def _place(self, keys: np.ndarray, values: np.ndarray) -> None:
        mask = len(self.keys) - 1
        slot = (keys & np.uint64(mask)).astype(np.int64)
        todo = np.arange(len(keys))
        while len(todo):
            free = self.keys[slot[todo]] == 0
            claims, first = np.unique(slot[todo[free]], return_index=True)  # one key per free slot
            winners = todo[free][first]
            self.keys[claims] = keys[winners]
            self.values[claims] = values[winners]
            placed = np.zeros(len(keys), dtype=bool)
            placed[winners] = True
            todo = todo[~placed[todo]]
            slot[todo] = (slot[todo] + 1) & mask
        self.size += len(keys)


class _TokenCache:
    """Whitespace token as written -> its index terms, analysed on first sight and remembered.

    `Analyzer.terms(text)` equals the concatenation of `Analyzer.terms(token)` over
    `text.split()` (normalisation is per character and whitespace always separates tokens),
    so analysing each distinct token once gives the same terms at a fraction of the cost.

    Tokens and terms get dense integer ids, and everything after the one dict lookup per
    token is numpy over whole batches: token id -> (start, length) in a flat array of term
    ids (a stopword has length 0, a token such as "5000ريال" several), term id -> its stable
    64-bit hash and its text.
    """

    def __init__(self, analyzer: Analyzer):
        self.analyzer = analyzer
        self.ids = _TokenIds()  # token -> token id (an unseen token gets the next id on lookup)
        self.term_ids: dict[str, int] = {}  # term -> term id
        self.terms: list[str] = []  # term id -> term
        self._start = np.zeros(0, dtype=np.int64)  # token id -> first position in _flat
        self._len = np.zeros(0, dtype=np.int64)  # token id -> how many terms
        self._flat = np.zeros(0, dtype=np.int64)  # term ids of all known tokens
        self._flat_n = 0
        self.term_hash = np.zeros(0, dtype=np.uint64)  # term id -> stable hash (never 0)
        self.hashed = _HashTable()  # word_hashes() of a token -> its id (tokens of up to _HASHED_BYTES)

    def reset_if_full(self) -> None:
        """Forget everything once the cache is full (called between batches, never within one)."""
        if len(self.ids) >= _TOKEN_CACHE_LIMIT or len(self.terms) >= _TOKEN_CACHE_LIMIT:
            self.__init__(self.analyzer)

    @staticmethod
    def _grow(arr: np.ndarray, size: int) -> np.ndarray:
        if size <= len(arr):
            return arr
        out = np.zeros(max(size, 2 * len(arr), 1024), dtype=arr.dtype)
        out[: len(arr)] = arr
        return out

    def learn(self, tokens: Sequence[str]) -> None:
        """Analyse tokens just given ids (distinct, in id order, following every known one)."""
        lens, terms = self.analyzer.chunk_terms(tokens)
        term_ids = self.term_ids
        t0 = len(self.terms)
        new_terms = [t for t in dict.fromkeys(terms) if t not in term_ids]
        hashes = np.array([stable_hash64(t) or 1 for t in new_terms], dtype=np.uint64)
        term_ids.update(zip(new_terms, range(t0, t0 + len(new_terms))))
        try:
            flat = np.array(list(map(term_ids.__getitem__, terms)), dtype=np.int64)
            n = len(self.ids)
            first = n - len(tokens)
            self._start = self._grow(self._start, n)
            self._len = self._grow(self._len, n)
            self._len[first:n] = lens
            self._start[first:n] = self._flat_n + np.cumsum(lens) - lens
            self._flat = self._grow(self._flat, self._flat_n + len(flat))
            self._flat[self._flat_n : self._flat_n + len(flat)] = flat
            self.term_hash = self._grow(self.term_hash, t0 + len(new_terms))
            self.term_hash[t0 : t0 + len(new_terms)] = hashes
        except BaseException:  # interrupted: the new terms were never learnt
            for t in new_terms:
                del term_ids[t]
            raise
        self._flat_n += len(flat)
        self.terms.extend(new_terms)

    def token_ids(self, tokens: list[str]) -> np.ndarray:
        """The token ids of *tokens* (learning the unseen ones), as int64."""
        known = self.ids
        # One dict lookup per token; an unseen one is given its id there and analysed after.
        try:
            ids = np.array(list(map(known.__getitem__, tokens)), dtype=np.int64)  # faster than np.fromiter
            if known.unseen:
                self.learn(known.unseen)
        except BaseException:  # interrupted: forget the ids given out, so none points past the arrays
            for token in known.unseen:
                del known[token]
            raise
        finally:
            known.unseen = []
        return ids

    def text_ids(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The token ids of the whitespace-separated tokens of several texts (learning the unseen
        ones), and the n+1 offsets of each text's tokens in them.

        Arrow splits the texts and finds each batch's distinct tokens in C++ (it splits on the
        same characters as `str.split()`, a test checks every one of them, but leaves an empty
        token at a text's ends; the empty token has no terms, so the terms are the same). The
        distinct tokens are then hashed from Arrow's buffers and looked up in `hashed`; only
        tokens never seen before (or longer than _HASHED_BYTES) become Python strings.
        """
        try:
            lists = pc.utf8_split_whitespace(pa.array(texts, type=pa.large_string()))
        except (pa.ArrowException, UnicodeError):  # not UTF-8 (a lone surrogate): split in Python
            tokens: list[str] = []
            bounds = [0]
            for text in texts:
                tokens += text.split()
                bounds.append(len(tokens))
            return self.token_ids(tokens), np.array(bounds, dtype=np.int64)
        encoded = pc.dictionary_encode(lists.flatten())
        distinct = self._distinct_ids(encoded.dictionary)
        ids = distinct[encoded.indices.to_numpy(zero_copy_only=False)]
        return ids, lists.offsets.to_numpy(zero_copy_only=False).astype(np.int64)

    def _distinct_ids(self, words: pa.LargeStringArray) -> np.ndarray:
        """The token ids of distinct words (learning the unseen ones)."""
        _, offset_buf, data_buf = words.buffers()
        offsets = np.frombuffer(offset_buf, dtype=np.int64)[words.offset : words.offset + len(words) + 1]
        data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, dtype=np.uint8)
        hashes = word_hashes(data, offsets)
        short = np.diff(offsets) <= _HASHED_BYTES
        ids = np.full(len(words), -1, dtype=np.int64)
        ids[short] = self.hashed.lookup(hashes[short])
        missing = np.flatnonzero(ids < 0)
        if len(missing):
            found = self.token_ids(words.take(pa.array(missing)).to_pylist())
            ids[missing] = found
            new = short[missing]
            self.hashed.insert(hashes[missing][new], found[new])
        return ids

    def expand(self, token_ids: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Term ids of a token-id stream and the new bounds: *bounds* (n+1 offsets into the
        token stream, one segment per text) becomes the same segments' offsets into the terms."""
        lens = self._len[token_ids]
        starts = self._start[token_ids]
        ends = np.zeros(len(lens) + 1, dtype=np.int64)
        np.cumsum(lens, out=ends[1:])
        if not len(lens) or lens.max() <= 1:
            terms = self._flat[starts[lens == 1]]
        else:
            total = int(ends[-1])
            terms = self._flat[np.repeat(starts - ends[:-1], lens) + np.arange(total)]
        return terms, ends[bounds]

    def term_list(self, term_ids: np.ndarray) -> list[str]:
        """The terms behind term ids."""
        return list(map(self.terms.__getitem__, term_ids.tolist()))

    def hashes(self, tokens: list[str]) -> np.ndarray:
        """The term hashes of the tokens, in order (stopwords dropped), as uint64."""
        terms, _ = self.expand(self.token_ids(tokens), np.array([0, len(tokens)]))
        return self.term_hash[terms]


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
    # The duplicate keys (band keys, text key, title+text key; `DedupEngine.keys_for`) when they
    # were computed with the features elsewhere (a backfill's workers); None: the engine computes them.
    dedup_keys: tuple[np.ndarray, int, int] | None = field(default=None, repr=False)

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
        out += hashes[j : j + n] * _SHINGLE_MUL[j]
    out ^= out >> np.uint64(29)
    out *= np.uint64(0xBF58476D1CE4E5B9)
    out ^= out >> np.uint64(32)
    return out


def _segments(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated ranges start .. start+count-1 (one per segment), as int64 positions."""
    total = int(counts.sum())
    offsets = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=offsets[1:])
    return np.repeat(starts - offsets, counts) + np.arange(total)


def _unique_per_segment(values: np.ndarray, counts: np.ndarray) -> list[np.ndarray]:
    """Each segment of *values* (lengths *counts*) sorted and deduplicated, as separate arrays."""
    bounds = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=bounds[1:])
    edges = bounds.tolist()
    for lo, hi in zip(edges, edges[1:]):
        if hi - lo > 1:
            values[lo:hi].sort()  # in place: *values* is the caller's scratch array
    keep = np.ones(len(values), dtype=bool)
    keep[1:] = values[1:] != values[:-1]
    keep[bounds[:-1][counts > 0]] = True  # a segment's first value is never a repeat
    kept = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(keep, out=kept[1:])
    ends = kept[bounds].tolist()
    values = values[keep]
    return [values[lo:hi] for lo, hi in zip(ends, ends[1:])]


class Featurizer:
    """Turns articles into `Features`; keeps the token cache that makes it fast."""

    def __init__(self, analyzer: Analyzer | None = None):
        self.analyzer = analyzer or default_analyzer()
        self._tokens = _TokenCache(self.analyzer)

    def terms(self, text: str, limit: int | None = None) -> list[str]:
        """The analyzer's terms of *text* (at most *limit*)."""
        self._tokens.reset_if_full()
        tokens = text.split()
        term_ids, _ = self._tokens.expand(self._tokens.token_ids(tokens), np.array([0, len(tokens)]))
        return self._tokens.term_list(term_ids[:limit])

    def __call__(self, article: Article) -> Features:
        """The features of one article."""
        return self.features(article.title, article.paragraphs)

    def features(self, title: str, paragraphs: Sequence[str]) -> Features:
        """The features of a title and its body paragraphs."""
        return self.batch([title], [paragraphs])[0]

    def batch(self, titles: Sequence[str | None], bodies: Sequence[Sequence[str]]) -> list[Features]:
        """The features of many articles at once (titles[i] with paragraphs bodies[i]).

        The batch's words are split and looked up as a whole (`_TokenCache.text_ids`); the rest
        (term hashes, shingles, their sorting and deduplication) is numpy over the whole batch.
        """
        n = len(titles)
        if not n:
            return []
        tokens = self._tokens
        tokens.reset_if_full()
        texts = [title or "" for title in titles]
        texts += [" ".join(strip_boilerplate(paragraphs)) for paragraphs in bodies]
        all_terms, bounds = tokens.expand(*tokens.text_ids(texts))  # titles, then bodies: one pass
        t_terms, t_bounds = all_terms[: bounds[n]], bounds[: n + 1]
        b_terms, b_bounds = all_terms[bounds[n] :], bounds[n:] - bounds[n]
        t_hash = tokens.term_hash[t_terms]
        b_hash = tokens.term_hash[b_terms]
        lengths = np.diff(b_bounds)

        # Shingles: hashed over the whole stream, kept where all k terms are in one article.
        seq = shingle_hashes(b_hash)
        counts = np.maximum(lengths - (SHINGLE - 1), 0)
        starts = b_bounds[:-1]
        shingles = _unique_per_segment(seq[_segments(starts, counts)], counts)
        lead_counts = np.minimum(counts, LEAD_SHINGLES)
        leads = _unique_per_segment(seq[_segments(starts, lead_counts)], lead_counts)

        # The terms as strings, for the whole batch at once, then cut per article (Python lists
        # and Python ints: slicing them is cheaper than slicing numpy arrays by numpy scalars).
        lead_lens = np.minimum(lengths, LEAD_TERMS)
        title_terms = tokens.term_list(t_terms)
        lead_terms = tokens.term_list(b_terms[_segments(starts, lead_lens)])
        lead_b = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lead_lens, out=lead_b[1:])
        tb, bb, lb = t_bounds.tolist(), b_bounds.tolist(), lead_b.tolist()
        out = []
        for i in range(n):
            body = b_hash[bb[i] : bb[i + 1]].copy()
            out.append(Features(
                title_terms=title_terms[tb[i] : tb[i + 1]],
                lead_terms=lead_terms[lb[i] : lb[i + 1]],
                body_hashes=body,
                text_fp=_fingerprint(body),
                title_fp=_fingerprint(t_hash[tb[i] : tb[i + 1]]),
                shingles=shingles[i].copy(),
                lead=leads[i].copy(),
            ))
        return out


# -- MinHash ------------------------------------------------------------------------------------


def minhash(sets: Sequence[np.ndarray], num_perm: int = NUM_PERM) -> np.ndarray:
    """MinHash signatures (n x num_perm, uint32) of several shingle sets at once.

    h_i(x) = top 32 bits of (a_i * x + b_i) mod 2^64, minimised over each set; an empty
    set gets all 0xFFFFFFFF (it collides with nothing that is not empty too). The top 32
    bits of the smallest 64-bit value are the smallest top 32 bits, so the shift is taken
    once per set and permutation, not once per shingle.
    """
    out = np.full((len(sets), num_perm), 0xFFFFFFFF, dtype=np.uint32)
    sizes = np.fromiter(map(len, sets), dtype=np.int64, count=len(sets))
    nonempty = np.flatnonzero(sizes)
    if not len(nonempty):
        return out
    flat = np.concatenate([sets[i] for i in nonempty.tolist()])
    a, b = _PERM_A[:num_perm], _PERM_B[:num_perm]
    sizes = sizes[nonempty]
    starts = np.zeros(len(nonempty) + 1, dtype=np.int64)
    np.cumsum(sizes, out=starts[1:])
    # Blocks of about _BLOCK shingles keep the (shingles x permutations) matrix in cache;
    # one scratch buffer serves every block.
    cut = [0]
    bounds = starts.tolist()
    for i in range(1, len(bounds)):
        if bounds[i] - bounds[cut[-1]] > _BLOCK and i - 1 > cut[-1]:
            cut.append(i - 1)
    cut.append(len(nonempty))
    # Permutations x shingles: the minimum then runs along contiguous memory.
    mins = np.empty((num_perm, len(nonempty)), dtype=np.uint64)
    buf = np.empty((num_perm, max(bounds[hi] - bounds[lo] for lo, hi in zip(cut, cut[1:]))), dtype=np.uint64)
    col_a, col_b = a[:, None], b[:, None]
    for lo, hi in zip(cut, cut[1:]):
        m = bounds[hi] - bounds[lo]
        block = buf[:, :m]
        np.multiply(col_a, flat[None, bounds[lo] : bounds[hi]], out=block)
        np.add(block, col_b, out=block)
        np.minimum.reduceat(block, starts[lo:hi] - bounds[lo], axis=1, out=mins[:, lo:hi])
    out[nonempty] = (mins.T >> np.uint64(32)).astype(np.uint32)
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
