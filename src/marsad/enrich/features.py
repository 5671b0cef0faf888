"""Token features for the CRF tagger: Arabic word shape, clitics, clusters, gazetteers, context.

The functions here are the model's contract: the shipped model was trained on exactly
these feature strings, so changing one means retraining (scripts/train_ner.py). That is
also why the clitic splitter and light stemmer live here and not in `marsad.normalize`,
whose rules may evolve for search.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from ..normalize import fold

# Proclitics on folded words: a conjunction (و ف), then a preposition (ب ل ك), then the
# article (ال). ل + ال is written لل (للولايات = ل + الولايات).
_CONJUNCTIONS = "وف"
_PREPOSITIONS = "بلك"
# Light-stemming suffixes on folded words (ة is ه after folding), tried in this order.
_SUFFIXES = ("يين", "يون", "يه", "ات", "ون", "ين", "ان", "ها", "هم", "هما", "ه", "ي")
_PUNCTUATION = frozenset(".,،;؛:!?؟\"'«»()[]{}-–—/\\…*+=<>|")


def _digits_to_zero(word: str) -> str:
    if word.isalpha():  # no character is both a letter and a digit: nothing to replace
        return word
    return "".join("0" if ch.isdigit() else ch for ch in word)


def key(token: str) -> str:
    """A token's folded form with digits as 0: the key of the cluster table and gazetteers."""
    return _digits_to_zero(fold(token))


def clitic_candidates(word: str) -> list[tuple[str, str]]:
    """Every (proclitics, rest) reading of a folded word, from no stripping to the most.

    Readings keep ال on the rest (لواشنطن -> ("ل", "واشنطن"), للولايات -> ("ل", "الولايات"))
    and leave at least two letters of it.
    """
    readings = [("", word)]
    conj = word[0] if len(word) >= 3 and word[0] in _CONJUNCTIONS else ""
    if conj:
        readings.append((conj, word[1:]))
    for prefix in ("", conj) if conj else ("",):
        rest = word[len(prefix):]
        if len(rest) >= 3 and rest[0] in _PREPOSITIONS:
            readings.append((prefix + rest[0], rest[1:]))
            if rest.startswith("لل") and len(rest) >= 4:
                readings.append((prefix + "ل", "ا" + rest[1:]))
    return readings


def strip_article(word: str) -> str:
    """The word without a leading ال (when at least two letters remain)."""
    return word[2:] if word.startswith("ال") and len(word) >= 4 else word


def light_stem(word: str) -> str:
    """Strip ال and one common suffix (ات ون ين يه ه ي ...) from a clitic-free folded word."""
    word = strip_article(word)
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def shape(token: str, folded: str | None = None) -> str:
    """A coarse class: digits, latin, punct, mixed, or arabic (*folded*: its `key`, when known)."""
    if folded is None:
        folded = key(token)
    if "0" in folded and folded.strip("0.,٫") == "":
        return "digit"
    if token in _PUNCTUATION or all(ch in _PUNCTUATION for ch in token):
        return "punct"
    if token.isascii():
        return "latin"
    if any(ch.isdigit() for ch in token):
        return "mixed"
    return "arabic"


class Resources:
    """What the features look words up in: cluster ids, word ranks and gazetteers."""

    def __init__(self, clusters: dict[str, tuple[str, ...]] | None = None,
                 gazetteer: dict[tuple[str, ...], str] | None = None,
                 words: dict[str, str] | None = None,
                 lexicon: dict[str, tuple[str, ...]] | None = None,
                 names: dict[tuple[str, ...], str] | None = None,
                 char_ngrams: bool = False):
        self.clusters = clusters or {}
        self.char_ngrams = char_ngrams
        # Word frequency rank from the cluster table (most frequent first).
        self.rank = {word: i for i, word in enumerate(self.clusters)}
        # Multi-word names: folded word tuples -> type; indexed by first word.
        self.gazetteer = gazetteer or {}
        self.max_name = max((len(k) for k in self.gazetteer), default=1)
        # Single-word gazetteer classes (e.g. "PERS" for a mined first name).
        self.words = words or {}
        # What the tagger itself predicted for words and names over SaudiNewsNet (built by
        # self-training, see training.build_lexicon): word -> feature strings, names -> type.
        self.lexicon = lexicon or {}
        self.names = names or {}
        self.max_self_name = max((len(k) for k in self.names), default=1)
        self.word_features = lru_cache(maxsize=200_000)(self._word_features)
        self._first_words: dict[int, tuple[dict, frozenset]] = {}  # id(name table) -> (table, first words)

    def split_clitics(self, word: str) -> tuple[str, str]:
        """(proclitics, rest) for a folded word: the reading whose rest is most plausible.

        A known name or place is never stripped (واشنطن stays); otherwise the reading whose
        rest is a gazetteer name, or a word more frequent than the whole, wins (لواشنطن ->
        واشنطن, والصادرات -> الصادرات).
        """
        readings = clitic_candidates(word)
        if len(readings) == 1 or (word,) in self.gazetteer or word in self.words:
            return readings[0]
        for proclitics, rest in reversed(readings[1:]):
            if (rest,) in self.gazetteer or rest in self.words:
                return proclitics, rest
        best = readings[0]
        best_rank = self.rank.get(word, len(self.rank) + 1)
        for proclitics, rest in readings[1:]:
            rank = self.rank.get(rest)
            # The rest must be clearly more frequent than the whole word.
            if rank is not None and rank * 4 < best_rank:
                best, best_rank = (proclitics, rest), rank
        return best

    def _word_features(self, token: str) -> tuple[tuple[str, ...], dict[str, str]]:
        """Features of a token on its own, and the few values its neighbours' features use."""
        w = key(token)
        kind = shape(token, w)
        proclitics, bare = self.split_clitics(w) if kind == "arabic" else ("", w)
        stem = light_stem(bare) if kind == "arabic" else w
        has_al = bare.startswith("ال")
        feats = [
            "bias",
            "w=" + w,
            "bare=" + bare,
            "stem=" + stem,
            "shape=" + kind,
            "pro=" + proclitics,
            "al=" + ("1" if has_al else "0"),
            "len=" + str(min(len(bare), 10)),
            "p2=" + bare[:2], "p3=" + bare[:3], "p4=" + bare[:4],
            "s1=" + w[-1:], "s2=" + w[-2:], "s3=" + w[-3:], "s4=" + w[-4:],
            "bs2=" + stem[-2:],
        ]
        clusters = self.clusters.get(w) or self.clusters.get(bare)
        stem_clusters = self.clusters.get(strip_article(bare))
        if clusters:
            feats += ["c64=" + clusters[0], "c256=" + clusters[1], "c1k=" + clusters[2]]
        else:
            feats.append("c=oov")
        if bare != w and self.clusters.get(bare) and self.clusters.get(bare) is not clusters:
            bare_clusters = self.clusters[bare]
            feats += ["bc256=" + bare_clusters[1], "bc1k=" + bare_clusters[2]]
        if stem_clusters and stem_clusters is not clusters:
            feats += ["sc256=" + stem_clusters[1], "sc1k=" + stem_clusters[2]]
        word_class = self.words.get(bare) or self.words.get(strip_article(bare))
        if word_class:
            feats.append("lex=" + word_class)
        feats.extend(self.lexicon.get(bare, ()))
        if self.char_ngrams and kind == "arabic" and (bare not in self.rank or self.rank[bare] > 20_000):
            # Inside character trigrams of rarer words: transliterated names have telltale letters.
            padded = "<" + strip_article(bare) + ">"
            feats.extend({"g3=" + padded[i : i + 3] for i in range(len(padded) - 2)})
        neighbour = {
            "w": w,
            "bare": bare,
            "shape": kind,
            "c256": clusters[1] if clusters else "oov",
            "c1k": clusters[2] if clusters else "oov",
            "lex": word_class or "",
        }
        return tuple(feats), neighbour

    def gazetteer_tags(self, bares: Sequence[str], names: dict[tuple[str, ...], str] | None = None,
                       longest: int | None = None) -> list[str]:
        """Longest-match gazetteer labels (B-LOC, I-LOC, ...) over a sentence's clitic-free words."""
        names = self.gazetteer if names is None else names
        longest = self.max_name if longest is None else longest
        firsts = self._first_words.get(id(names))
        if firsts is None or firsts[0] is not names:
            firsts = self._first_words[id(names)] = (names, frozenset(k[0] for k in names))
        tags = [""] * len(bares)
        i = 0
        while i < len(bares):
            if bares[i] not in firsts[1]:  # no name starts with this word: skip the lookups
                i += 1
                continue
            matched = 0
            for n in range(min(longest, len(bares) - i), 0, -1):
                kind = names.get(tuple(bares[i : i + n]))
                if kind:
                    tags[i] = "B-" + kind
                    for j in range(i + 1, i + n):
                        tags[j] = "I-" + kind
                    matched = n
                    break
            i += matched or 1
        return tags

    def sentence_features(self, tokens: Sequence[str]) -> list[list[str]]:
        """CRF features for each token of one sentence."""
        words = [self.word_features(t) for t in tokens]
        infos = [info for _, info in words]
        bares = [info["bare"] for info in infos]
        gaz = self.gazetteer_tags(bares)
        self_gaz = self.gazetteer_tags(bares, self.names, self.max_self_name) if self.names else [""] * len(bares)
        n = len(tokens)
        out: list[list[str]] = []
        for i, (own, info) in enumerate(words):
            feats = list(own)
            if gaz[i]:
                feats.append("gaz=" + gaz[i])
            if self_gaz[i]:
                feats.append("sgaz=" + self_gaz[i])
            for offset in (-2, -1, 1, 2):
                j = i + offset
                if 0 <= j < n:
                    other = infos[j]
                    feats.append(f"{offset}:w={other['w']}")
                    feats.append(f"{offset}:c256={other['c256']}")
                    feats.append(f"{offset}:c1k={other['c1k']}")
                    if other["lex"]:
                        feats.append(f"{offset}:lex={other['lex']}")
                    if gaz[j]:
                        feats.append(f"{offset}:gaz={gaz[j]}")
                    if self_gaz[j] and abs(offset) == 1:
                        feats.append(f"{offset}:sgaz={self_gaz[j]}")
                    if abs(offset) == 1:
                        feats.append(f"{offset}:bare={other['bare']}")
                        feats.append(f"{offset}:shape={other['shape']}")
                else:
                    feats.append(f"{offset}:pad")
            if i > 0:
                feats.append(f"-1|0:w={infos[i - 1]['w']}|{info['w']}")
                feats.append(f"-1|0:c={infos[i - 1]['c256']}|{info['c256']}")
            if i + 1 < n:
                feats.append(f"0|+1:w={info['w']}|{infos[i + 1]['w']}")
                feats.append(f"0|+1:c={info['c256']}|{infos[i + 1]['c256']}")
            out.append(feats)
        return out
