"""Measuring the duplicate and story stages against the labelled set (tests/fixtures/eval/).

Used by tests/test_dedup_quality.py (the CI gate) and benchmarks/dedup_quality.py (the
report in docs/dedup.md). The engines run in memory over a whole corpus, in file order,
exactly as `marsad.stories.indexer` runs them over a store; scores are computed on the
labelled articles only.

* duplicate pairs: precision and recall over all pairs of labelled articles, leaving out
  the pairs the annotator marked unsure;
* stories: B-cubed precision, recall and F1 (Bagga & Baldwin 1998) over the labelled articles;
* the baseline: exact normalised-title match, for both.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from ..models import Article


@dataclass
class EvalSet:
    """Labelled stories and duplicate pairs, by SaudiNewsNet article id."""

    stories: dict[str, list[str]]
    duplicate_pairs: set[tuple[str, str]]
    unsure_pairs: set[tuple[str, str]]
    story_of: dict[str, str] = field(default_factory=dict)

    @property
    def articles(self) -> list[str]:
        """Every labelled article id, sorted."""
        return sorted(self.story_of)


def load_eval_set(path: str | Path) -> EvalSet:
    """Read stories.jsonl: one story a line with its articles, duplicate pairs and unsure pairs."""
    stories, dups, unsure, story_of = {}, set(), set(), {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        s = json.loads(line)
        stories[s["story"]] = s["articles"]
        for a in s["articles"]:
            story_of[a] = s["story"]
        dups |= {tuple(sorted(p)) for p in s.get("duplicate_pairs", [])}
        unsure |= {tuple(sorted(p)) for p in s.get("unsure_pairs", [])}
    return EvalSet(stories, dups, unsure, story_of)


def read_corpus(path: str | Path) -> Iterator[tuple[str, Article]]:
    """(SaudiNewsNet id, Article) for each usable record of a JSONL(.gz) dump, in file order."""
    from ..errors import ParseError
    from ..ingest.records import article_from_record

    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            try:
                yield record.get("id", ""), article_from_record(record)
            except ParseError:
                continue


@dataclass
class Scores:
    """Precision, recall and F1 (and, for pairs, the counts behind them)."""

    precision: float
    recall: float
    f1: float
    tp: int = 0
    fp: int = 0
    fn: int = 0


def _prf(p: float, r: float, **counts) -> Scores:
    return Scores(round(p, 4), round(r, 4), round(2 * p * r / (p + r), 4) if p + r else 0.0, **counts)


def duplicate_scores(ev: EvalSet, group_of: dict[str, object]) -> Scores:
    """Pairwise precision/recall of 'these two are copies' over the labelled articles."""
    tp = fp = fn = 0
    for a, b in combinations(ev.articles, 2):
        if (a, b) in ev.unsure_pairs:
            continue
        predicted = group_of[a] == group_of[b]
        gold = (a, b) in ev.duplicate_pairs
        tp += predicted and gold
        fp += predicted and not gold
        fn += gold and not predicted
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return _prf(p, r, tp=tp, fp=fp, fn=fn)


def bcubed(ev: EvalSet, story_of: dict[str, object], subset: Iterable[str] | None = None) -> Scores:
    """B-cubed precision/recall/F1 of a clustering against the labelled stories."""
    items = sorted(subset) if subset is not None else ev.articles
    by_gold: dict[str, set[str]] = {}
    by_sys: dict[object, set[str]] = {}
    for a in items:
        by_gold.setdefault(ev.story_of[a], set()).add(a)
        by_sys.setdefault(story_of[a], set()).add(a)
    p = r = 0.0
    for a in items:
        g, s = by_gold[ev.story_of[a]], by_sys[story_of[a]]
        both = len(g & s)
        p += both / len(s)
        r += both / len(g)
    return _prf(p / len(items), r / len(items))


@dataclass
class Run:
    """What the engines decided for a corpus: group and story of each article (by corpus id)."""

    group_of: dict[str, int]
    story_of: dict[str, int]
    seconds: dict[str, float]
    articles: int


def run_engines(corpus: list[tuple[str, Article]], *, dedup_config=None, story_config=None,
                batch: int = 500) -> Run:
    """Features -> duplicates -> stories over the corpus, in order, in memory."""
    import time

    from ..dedup.engine import DedupEngine
    from ..dedup.features import Featurizer
    from .engine import StoryEngine

    fz = Featurizer()
    dedup = DedupEngine(config=dedup_config)
    stories = StoryEngine(story_config)
    story_keys: list[int] = []
    seconds = {"features": 0.0, "duplicates": 0.0, "stories": 0.0}
    for start in range(0, len(corpus), batch):
        part = corpus[start : start + batch]
        t = time.process_time()
        feats = fz.batch([a.title for _, a in part], [a.paragraphs for _, a in part])
        times = [a.published_at.timestamp() if a.published_at else 0.0 for _, a in part]
        t1 = time.process_time()
        decisions = dedup.process(list(range(start, start + len(part))), feats, times)
        t2 = time.process_time()
        for i, (when, f, d) in enumerate(zip(times, feats, decisions)):
            story_keys.append(stories.assign(start + i, when, f, d.match).story)
        stories.evict()
        t3 = time.process_time()
        seconds["features"] += t1 - t
        seconds["duplicates"] += t2 - t1
        seconds["stories"] += t3 - t2
    ids = [cid for cid, _ in corpus]
    return Run(
        group_of={cid: dedup.group_of(i) for i, cid in enumerate(ids)},
        story_of={cid: stories.resolve(story_keys[i]) for i, cid in enumerate(ids)},
        seconds=seconds,
        articles=len(corpus),
    )


def title_baseline(corpus: list[tuple[str, Article]]) -> dict[str, object]:
    """The baseline: articles with the same normalised title are one group (and one story)."""
    from ..search.analyzer import default_analyzer

    analyzer = default_analyzer()
    return {cid: " ".join(analyzer.terms(a.title)) or cid for cid, a in corpus}


# -- synthetic perturbations of real articles (robustness of the duplicate stage) ----------------

PERTURBATIONS = ("prefix", "suffix", "trim", "diacritics", "reorder", "combined")
_HARAKAT = "\u064e\u064f\u0650\u0651\u0652\u064b"
_PREFIXES = ("(واس) -", "الرياض - واس:", "متابعات - عين اليوم:")
_LEADS = ("في خبر تناقلته وسائل الإعلام اليوم، أفادت مصادر رسمية بما يلي.",
          "نشرت وكالة الأنباء الرسمية الخبر التالي في وقت متأخر من مساء أمس.")
_FOOTERS = ("يشار إلى أن الصحيفة ستتابع تطورات الموضوع وتوافيكم بالمستجدات.", "للمزيد تابعونا على حساباتنا.")


def _respell(word: str, rng) -> str:
    for a, b in (("أ", "ا"), ("إ", "ا"), ("آ", "ا"), ("ة", "ه"), ("ى", "ي"), ("ؤ", "و"), ("ئ", "ي")):
        if a in word and rng.random() < 0.7:
            word = word.replace(a, b)
    if len(word) > 3 and rng.random() < 0.3:
        i = rng.randrange(1, len(word))
        word = word[:i] + rng.choice(_HARAKAT) + word[i:]
    if len(word) > 4 and rng.random() < 0.05:
        word = word[:2] + "\u0640" + word[2:]  # tatweel
    return word


def perturb(paragraphs: list[str], how: str, rng) -> list[str]:
    """A republished version of *paragraphs*: the edits outlets make to wire copies."""
    paras = list(paragraphs)
    if how == "prefix":  # a credit line and a new first sentence
        return [f"{rng.choice(_PREFIXES)} {rng.choice(_LEADS)}"] + paras
    if how == "suffix":  # closing lines added
        return paras + list(_FOOTERS)
    if how == "trim":  # the last third dropped
        words = " ".join(paras).split()
        keep, out = int(len(words) * 2 / 3), []
        for p in paras:
            if sum(len(x.split()) for x in out) >= keep:
                break
            out.append(p)
        return out
    if how == "diacritics":  # harakat added, hamza and ta marbuta spelt otherwise
        return [" ".join(_respell(w, rng) for w in p.split()) for p in paras]
    if how == "reorder":  # paragraphs in another order
        rng.shuffle(paras)
        return paras
    if how == "combined":
        return perturb(perturb(perturb(paras, "trim", rng), "diacritics", rng), "prefix", rng)
    raise ValueError(f"unknown perturbation {how!r}")


def perturbation_recall(corpus: list[tuple[str, Article]], *, sample: int = 300, seed: int = 5) -> dict[str, float]:
    """Share of perturbed copies of real articles that the engine puts in their original's group.

    Articles with at least four paragraphs and 150 words are sampled; the originals are
    processed first, then every perturbed copy.
    """
    import random

    from ..dedup.engine import DedupEngine
    from ..dedup.features import Featurizer

    rng = random.Random(seed)
    pool = [a for _, a in corpus if len(a.paragraphs) >= 4 and len(a.text.split()) >= 150]
    chosen = rng.sample(pool, min(sample, len(pool)))
    fz = Featurizer()
    engine = DedupEngine()
    n = len(chosen)
    engine.process(list(range(n)), [fz.features(a.title, a.paragraphs) for a in chosen])
    out = {}
    for j, how in enumerate(PERTURBATIONS, 1):
        copies = [fz.features(a.title + " (نسخة)", perturb(a.paragraphs, how, rng)) for a in chosen]
        keys = list(range(j * n, (j + 1) * n))
        engine.process(keys, copies)
        out[how] = round(sum(engine.group_of(k) == engine.group_of(i) for i, k in enumerate(keys)) / n, 4)
    return out
