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
from .gazetteer import data_path, load_resources
from .records import EntityMention, EntityRef
from .tokens import sentences

STOPWORD_DF = 0.08  # a word in more than 8% of articles is a function word here, not a topic
MAX_TAGS = 6


def _runs(text: str) -> Iterator[list[tuple[str, str]]]:
    """Runs of (clitic-free folded word, written word) between punctuation and digits."""
    from .entities import split_proclitics

    resources = load_resources()
    for sentence in sentences(text):
        run: list[tuple[str, str]] = []
        for token in sentence:
            word = fold(token.text)
            if len(word) >= 2 and word.isalpha():
                bare = split_proclitics(resources.word_features(token.text)[1]["w"], resources)[1]
                run.append((bare, strip_tashkeel(token.text)))
            elif run:
                yield run
                run = []
        if run:
            yield run


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
    counts: Counter[str] = Counter()
    surfaces: dict[str, Counter[str]] = {}
    for run in _runs(text):
        bares = [bare for bare, _ in run]
        for n in (1, 2):
            for i in range(len(run) - n + 1):
                gram = bares[i : i + n]
                if stats.is_stopword(gram[0]) or stats.is_stopword(gram[-1]):
                    continue
                key = " ".join(gram)
                counts[key] += 1
                written = clean_name(" ".join(raw for _, raw in run[i : i + n]))[1]
                surfaces.setdefault(key, Counter())[written] += 1
    scored = sorted(((tf * stats.idf(gram), gram) for gram, tf in counts.items() if tf >= 2), reverse=True)
    chosen: list[str] = []
    for _score, gram in scored:
        if any(gram in other or other in gram for other in chosen):
            continue
        chosen.append(gram)
        if len(chosen) == limit:
            break
    return [surfaces[g].most_common(1)[0][0] for g in chosen]


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
