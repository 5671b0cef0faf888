"""Document-level label consistency: one reading of a name throughout a document.

A sentence-level tagger decides each occurrence of a name on its own, so the same name is often
found in one sentence and missed (or typed differently, or cut short) in the next. News text
repeats its names, and an article nearly always means the same thing by them each time: the
"one sense per discourse" observation that Krishnan & Manning (2006) and others used for NER.
`harmonise` applies it after tagging, with no parameters learnt:

1. **vote**: a span whose words the document tags more often as another type takes that type;
2. **extend**: each name the document tags (longest first) is tagged wherever else its words
   occur untagged, or covered only by shorter names inside it (بوخارست inside ستيوا بوخارست).
   A one-word name spreads only if at least half of the word's occurrences in the document were
   tagged, and not if it has two letters: a word that is usually not a name (علي, also a spelling
   of the preposition على) stays as the tagger left it.

Words are compared by a key the caller chooses (the tagger uses the clitic-free form, so
لسولانا meets سولانا). On ANERcorp dev.txt this moved the shipped network from micro-F1 0.734 to
0.749, mostly in recall (docs/ner.md). No library does this step; it is a few dozen lines.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from .ner import spans

# Part of the enrichment's model version: changing the rules below makes `marsad enrich` redo articles.
VERSION = "consistency-2"
# A one-word name spreads only if the tagger found it at least this share of the word's occurrences,
# and if it has at least MIN_SINGLE_WORD letters (two-letter words are pronouns and particles: له, في;
# a clitic split can leave one, as ولله -> له).
SINGLE_WORD_SHARE = 0.5
MIN_SINGLE_WORD = 3


class _Names:
    """Counts of the names tagged in a stretch of sentences (by key and type) and of single words."""

    def __init__(self) -> None:
        self.types: dict[tuple[str, ...], Counter[str]] = {}
        self.words: Counter[str] = Counter()
        self._by_first: dict[str, set[int]] | None = None

    def update(self, keys: Sequence[str], tags: Sequence[str], sign: int = 1) -> None:
        for start, end, kind in spans(tags):
            name = tuple(keys[start:end])
            counts = self.types.setdefault(name, Counter())
            counts[kind] += sign
            if sign < 0 and not +counts:
                del self.types[name]
        self._by_first = None  # the names may have changed
        if sign > 0:
            self.words.update(keys)
        else:
            self.words.subtract(keys)

    def majority(self, name: tuple[str, ...]) -> str | None:
        """The type the stretch gives *name* most often (None if it is not tagged there, or a
        one-word name tagged at fewer than SINGLE_WORD_SHARE of its occurrences)."""
        counts = self.types.get(name)
        if not counts:
            return None
        if len(name) == 1:
            word = name[0]
            if len(word) < MIN_SINGLE_WORD or counts.total() < SINGLE_WORD_SHARE * self.words[word]:
                return None
        return counts.most_common(1)[0][0]

    def starts(self, keys: Sequence[str]) -> list[tuple[int, list[int]]]:
        """(length, starts) of the places in *keys* where a name of that length may begin, longest first."""
        if self._by_first is None:
            self._by_first = {}
            for name in self.types:
                self._by_first.setdefault(name[0], set()).add(len(name))
        by_length: dict[int, list[int]] = {}
        for start, key in enumerate(keys):
            for length in self._by_first.get(key, ()):
                if start + length <= len(keys):
                    by_length.setdefault(length, []).append(start)
        return sorted(by_length.items(), reverse=True)


def _set(tags: list[str], start: int, end: int, kind: str) -> None:
    tags[start] = "B-" + kind
    for i in range(start + 1, end):
        tags[i] = "I-" + kind


def _harmonise_sentence(keys: Sequence[str], tags: list[str], names: _Names) -> None:
    # 1. vote: a span takes the type its words get most often in the document.
    for start, end, kind in spans(tags):
        counts = names.types.get(tuple(keys[start:end]))
        if counts:
            best, count = counts.most_common(1)[0]
            if best != kind and count > counts[kind]:
                _set(tags, start, end, best)
    # 2. extend: tag other occurrences of the document's names, longest names first.
    for length, starts in names.starts(keys):
        for start in starts:
            end = start + length
            kind = names.majority(tuple(keys[start:end]))
            if kind is None:
                continue
            segment = tags[start:end]
            if segment[0] == "B-" + kind and all(t == "I-" + kind for t in segment[1:]):
                continue  # already this name
            # Only over O words or whole shorter names inside it: never cut a span that crosses its edges.
            if segment[0].startswith("I-") or (end < len(tags) and tags[end].startswith("I-")):
                continue
            _set(tags, start, end, kind)


def harmonise(keys: Sequence[Sequence[str]], tags: Sequence[Sequence[str]],
              window: int | None = None) -> list[list[str]]:
    """Tags of a document's sentences made consistent across them (see the module docstring).

    *keys* are the sentences' words in the form they are compared by, *tags* their IOB2 tags as
    tagged sentence by sentence. With *window*, a sentence's document is the *window* sentences
    either side of it (for a file of many documents without boundaries); otherwise all of them.
    Each sentence is decided from the tagger's own tags, not from already harmonised ones.
    """
    if len(keys) != len(tags):
        raise ValueError(f"{len(keys)} sentences of keys but {len(tags)} of tags")
    out = [list(t) for t in tags]
    names = _Names()
    if window is None:
        for k, t in zip(keys, tags):
            names.update(k, t)
        for k, t in zip(keys, out):
            _harmonise_sentence(k, t, names)
        return out
    # A sliding window: add the sentence entering it, take away the one leaving it.
    for i in range(min(window + 1, len(keys))):
        names.update(keys[i], tags[i])
    for i in range(len(keys)):
        _harmonise_sentence(keys[i], out[i], names)
        if i + window + 1 < len(keys):
            names.update(keys[i + window + 1], tags[i + window + 1])
        if i - window >= 0:
            names.update(keys[i - window], tags[i - window], sign=-1)
    return out
