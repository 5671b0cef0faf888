"""The shipped NER data files (src/marsad/data/ner/) and their loaders.

    clusters.tsv.gz       word -> three word2vec/k-means cluster ids (SaudiNewsNet)
    gazetteer.tsv.gz      folded names -> LOC / PERS (countries, cities, mined person names)
    places.tsv.gz         folded Arabic place names -> country / city with coordinates
    country_aliases.tsv   hand-checked Arabic short names of countries (canonical first)
    triggers.tsv          hand-written trigger words (titles, organisation/place head nouns)
    place_stopwords.txt   hand-checked city names that are common words, kept out of the gazetteer
    phrase_df.tsv.gz      SaudiNewsNet article frequencies of words and word pairs (key phrases)
    entity_aliases.tsv    hand-checked aliases of non-country entities
    selftrain.tsv.gz      what CRFs trained on halves of train.txt predicted over SaudiNewsNet (the CRF's lexicon)
    selftrain.bilstm.tsv.gz  what a first BiLSTM-CRF predicted over SaudiNewsNet (the shipped network's lexicon)
    model.crfsuite        the CRF tagger (the previous model; also what self-training uses)
    bilstm.npz            the shipped BiLSTM-CRF tagger's weights (float16)
    bilstm.emb.npz        its word embeddings (int8 with row scales) and their vocabulary

The generated files are rebuilt by scripts/train_ner.py; the hand-written ones are edited.
"""

from __future__ import annotations

import gzip
import sys
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path

from ..normalize import fold
from .features import Resources


def data_path(name: str) -> Path:
    """The path of a shipped NER data file."""
    return Path(str(resources.files("marsad").joinpath("data", "ner", name)))


def data_lines(name: str) -> Iterator[str]:
    """Non-comment, non-blank lines of a shipped data file (gzipped or not)."""
    path = data_path(name)
    if not path.exists():
        return
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if line and not line.startswith("#"):
                yield line


def folded_name(name: str) -> str:
    """A name's lookup key: folded, single-spaced."""
    return " ".join(fold(name).split())


@cache
def read_country_aliases() -> dict[str, tuple[str, ...]]:
    """ISO alpha-2 -> the hand-checked Arabic names of that country (canonical first)."""
    table: dict[str, tuple[str, ...]] = {}
    for line in data_lines("country_aliases.tsv"):
        code, names = line.split("\t", 1)
        table[code] = tuple(n.strip() for n in names.split("|") if n.strip())
    return table


@cache
def read_triggers() -> dict[str, str]:
    """Folded trigger word -> its class (TITLE, KIN, ORGHEAD, LOCHEAD)."""
    table: dict[str, str] = {}
    for line in data_lines("triggers.tsv"):
        kind, words = line.split("\t", 1)
        for word in words.split():
            table.setdefault(fold(word), kind)
    return table


@cache
def read_gazetteer() -> tuple[dict[tuple[str, ...], str], dict[str, str]]:
    """(multi-word names -> LOC/ORG, single words -> a class such as PERS or TITLE)."""
    names: dict[tuple[str, ...], str] = {}
    words: dict[str, str] = dict(read_triggers())
    for line in data_lines("gazetteer.tsv.gz"):
        name, kind, _source = line.split("\t")
        if kind in ("PERS", "ORGWORD"):  # single words: a person's name, a word of organisation names
            words.setdefault(name, kind)
        else:
            names.setdefault(tuple(name.split()), kind)
    return names, words


@cache
def read_clusters() -> dict[str, tuple[str, ...]]:
    """Word -> (64-way, 256-way, 1024-way) cluster ids, most frequent words first."""
    table: dict[str, tuple[str, ...]] = {}
    for line in data_lines("clusters.tsv.gz"):
        word, *ids = line.split("\t")
        table[word] = tuple(sys.intern(i) for i in ids)
    return table


# Self-training lexicons: what a tagger predicted over SaudiNewsNet (see marsad.enrich.training).
SELFTRAIN_FILE = "selftrain.tsv.gz"  # the CRF's: from CRFs trained on each half of train.txt
NETWORK_SELFTRAIN_FILE = "selftrain.bilstm.tsv.gz"  # the shipped network's: from a first network


@cache
def read_selftrain(filename: str = SELFTRAIN_FILE) -> tuple[dict[str, tuple[str, ...]], dict[tuple[str, ...], str]]:
    """A self-training lexicon: word -> features, and multi-word names -> type."""
    from .training import lexicon_features

    lexicon: dict[str, tuple[str, ...]] = {}
    names: dict[tuple[str, ...], str] = {}
    for line in data_lines(filename):
        kind, name, value = line.split("\t")
        if kind == "W":
            lexicon[name] = lexicon_features([int(c) for c in value.split()])
        else:
            names[tuple(name.split())] = value
    return lexicon, names


def lexicon_file(model_path: str | Path) -> str:
    """The self-training lexicon a network was trained with (its .npz records it; the CRF's before)."""
    import numpy as np

    with np.load(model_path, allow_pickle=False) as data:
        return str(data["selftrain"]) if "selftrain" in data.files else SELFTRAIN_FILE


@cache
def shipped_resources() -> Resources:
    """The resources of the shipped tagger (with its self-training lexicon). Entity linking and key
    phrases use them too, so that each word's features are computed and cached once, not twice."""
    from .ner import MODEL_FILE

    return load_resources(lexicon_file(data_path(MODEL_FILE)))


@cache
def load_resources(selftrain: str = SELFTRAIN_FILE) -> Resources:
    """The feature resources a model was trained with; *selftrain* names its self-training lexicon
    (a network records its own: `lexicon_file`)."""
    names, words = read_gazetteer()
    lexicon, self_names = read_selftrain(selftrain)
    return Resources(clusters=read_clusters(), gazetteer=names, words=words, lexicon=lexicon, names=self_names)
