"""Auto tags: suggest tags from an article's entities and key phrases; link publisher tags to entities.

Key phrases are folded words and word pairs scored tf x idf, where idf comes from how many
SaudiNewsNet articles contain them (phrase_df.tsv.gz, built by scripts/train_ner.py). The
most common words of that corpus serve as stop words, so no hand list is needed.
"""

from __future__ import annotations

import gzip
import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache

from ..normalize import fold, strip_tashkeel
from .gazetteer import data_path, shipped_resources
from .records import EntityMention, EntityRef
from .tokens import sentences

STOPWORD_DF = 0.08  # a word in more than 8% of articles is a function word here, not a topic
MAX_TAGS = 6


def _runs(text: str) -> Iterator[list[tuple[str, str]]]:
    """Runs of (clitic-free folded word, written word) between punctuation and digits."""
    words = _phrase_word_cache()
    for sentence in sentences(text):
        run: list[tuple[str, str]] = []
        for token in sentence:
            pair = words.get(token.text)
            if pair is None:
                pair = words[token.text] = _phrase_word(token.text)
            if pair:
                run.append(pair)
            elif run:
                yield run
                run = []
        if run:
            yield run


def _phrase_word(written: str) -> tuple[str, str] | tuple[()]:
    """(clitic-free folded word, written word without diacritics), or () for a token that breaks a run."""
    from .entities import split_proclitics

    word = fold(written)
    if len(word) >= 2 and word.isalpha():
        resources = shipped_resources()
        return split_proclitics(resources.word_features(written)[1]["w"], resources)[1], strip_tashkeel(written)
    return ()


class _BoundedCache(dict):
    """A dict that empties itself when it reaches *limit* entries (news vocabularies keep growing)."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit = limit

    def __setitem__(self, key, value) -> None:
        if len(self) >= self.limit:
            self.clear()
        super().__setitem__(key, value)


@cache
def _phrase_word_cache() -> _BoundedCache:
    # A word's analysis depends on the word alone: each distinct written word is analysed once.
    return _BoundedCache(500_000)


def phrase_words(text: str) -> Iterator[list[str]]:
    """Runs of folded, clitic-free Arabic words (no digits) between punctuation: phrase material."""
    for run in _runs(text):
        yield [bare for bare, _ in run]


@dataclass(frozen=True)
class PhraseStats:
    """Article frequencies of words and word pairs over a reference corpus."""

    documents: int
    df: dict[str, int]

    def idf(self, gram: str) -> float:
        """Inverse document frequency, smoothed for unseen n-grams."""
        return math.log((self.documents + 1) / (self.df.get(gram, 0) + 1))

    def is_stopword(self, word: str) -> bool:
        """Whether a word is too common to start or end a key phrase."""
        return self.df.get(word, 0) > STOPWORD_DF * self.documents


@cache
def phrase_stats() -> PhraseStats:
    """The shipped SaudiNewsNet phrase statistics."""
    documents, df = 1, {}
    path = data_path("phrase_df.tsv.gz")
    if path.exists():
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            documents = int(handle.readline().split("\t")[1])  # "# documents\tN"
            for line in handle:
                gram, count = line.rstrip("\n").rsplit("\t", 1)
                df[gram] = int(count)
    return PhraseStats(documents, df)


def key_phrases(text: str, *, limit: int = 5, stats: PhraseStats | None = None) -> list[str]:
    """The article's most distinctive words and word pairs (tf x idf), as written, clitics removed."""
    from .entities import clean_name

    stats = stats or phrase_stats()
    df, stop_above = stats.df, STOPWORD_DF * stats.documents
    runs = list(_runs(text))
    counts: Counter[str] = Counter()
    for run in runs:
        bares = [bare for bare, _ in run]
        # A gram neither starting nor ending with a stop word: a word, or a pair of such words.
        content = [df.get(bare, 0) <= stop_above for bare in bares]
        for i, bare in enumerate(bares):
            if content[i]:
                counts[bare] += 1
                if i + 1 < len(bares) and content[i + 1]:
                    counts[bare + " " + bares[i + 1]] += 1
    scored = sorted(((tf * stats.idf(gram), gram) for gram, tf in counts.items() if tf >= 2), reverse=True)
    chosen: list[str] = []
    for _score, gram in scored:
        if any(gram in other or other in gram for other in chosen):
            continue
        chosen.append(gram)
        if len(chosen) == limit:
            break
    # Each chosen gram is shown as it is most often written, clitics off. Only the chosen few are
    # looked for again: cleaning every gram's written form was most of this function's time.
    written: dict[str, Counter[str]] = {gram: Counter() for gram in chosen}
    pair_starts = {gram.split(" ")[0] for gram in chosen if " " in gram}
    for run in runs:
        for i, (bare, raw) in enumerate(run):
            if bare in written:
                written[bare][raw] += 1
            if bare in pair_starts and i + 1 < len(run):
                pair = bare + " " + run[i + 1][0]
                if pair in written:
                    written[pair][raw + " " + run[i + 1][1]] += 1
    shown = []
    for gram in chosen:
        surfaces: Counter[str] = Counter()
        for form, times in written[gram].items():  # in order of first use, as ties go to the first
            surfaces[clean_name(form)[1]] += times
        shown.append(surfaces.most_common(1)[0][0])
    return shown


def suggest_tags(title: str, text: str, mentions: Sequence[EntityMention], *, limit: int = MAX_TAGS) -> list[str]:
    """Tags for an article without publisher tags: its main entities, then its key phrases.

    An entity qualifies when it is named in the title or at least twice in the text.
    """
    return choose_tags(mentions, key_phrases(title + "\n" + text), limit=limit)


def choose_tags(mentions: Sequence[EntityMention], phrases: Sequence[str], *, limit: int = MAX_TAGS) -> list[str]:
    """`suggest_tags` with the article's key phrases already found (they do not depend on the mentions'
    entities, so a backfill finds them on its workers and links entities in the client)."""
    counts: Counter[tuple[str, str]] = Counter()
    names: dict[tuple[str, str], str] = {}
    in_title: set[tuple[str, str]] = set()
    for mention in mentions:
        ident = (mention.entity.type, mention.entity.key)
        counts[ident] += 1
        names[ident] = mention.entity.name
        if mention.field == "title":
            in_title.add(ident)
    ranked = sorted(counts, key=lambda i: (i not in in_title, -counts[i]))
    tags = [names[i] for i in ranked if i in in_title or counts[i] >= 2][:limit]
    folded_tags = {fold(t) for t in tags}
    for phrase in phrases:
        if len(tags) >= limit:
            break
        folded = fold(phrase)
        if not any(folded in t or t in folded for t in folded_tags):
            tags.append(phrase)
            folded_tags.add(folded)
    return tags


def link_tags(tags: Sequence[str], mentions: Sequence[EntityMention]) -> dict[str, EntityRef]:
    """The entity each publisher tag names, where one does (النيجر -> the place النيجر)."""
    from .entities import alias_table, canonical_entity, clean_name

    by_key = {m.entity.key: m.entity for m in mentions}
    linked: dict[str, EntityRef] = {}
    for tag in tags:
        key = clean_name(tag)[0]
        if key in by_key:
            linked[tag] = by_key[key]
            continue
        alias = alias_table().get(key)
        if alias:
            ref = canonical_entity(tag, alias[0])
            if ref is not None:
                linked[tag] = ref
    return linked
