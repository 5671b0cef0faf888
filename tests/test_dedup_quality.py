"""Quality gate: duplicates and stories on the labelled SaudiNewsNet set (tests/fixtures/eval/).

Runs the engines over the whole corpus in file order (as ingestion does) and scores the
631 labelled articles. Floors are the measured values minus 0.01 (docs/dedup.md), so a
regression fails CI; the baseline (exact normalised-title match) is checked to stay far below.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from marsad.stories.evaluation import (
    bcubed, duplicate_scores, load_eval_set, perturbation_recall, read_corpus, run_engines, title_baseline,
)

EVAL = Path(__file__).resolve().parent / "fixtures" / "eval" / "stories.jsonl"

# Measured (benchmarks/dedup_quality.py, docs/dedup.md) minus 0.01.
DUP_PRECISION = 0.979
DUP_RECALL = 0.950
STORY_PRECISION = 0.904
STORY_RECALL = 0.920
STORY_F1 = 0.912
PERTURBED_RECALL = 0.98


@pytest.fixture(scope="module")
def corpus(shared_data):
    return list(read_corpus(shared_data / "saudinewsnet.jsonl.gz"))


@pytest.fixture(scope="module")
def evalset():
    return load_eval_set(EVAL)


def test_eval_set_is_what_docs_describe(evalset):
    multi = [s for s in evalset.stories.values() if len(s) > 1]
    assert len(evalset.articles) >= 400 and len(multi) >= 60
    assert len(evalset.duplicate_pairs) >= 500
    for a, b in evalset.duplicate_pairs | evalset.unsure_pairs:
        assert evalset.story_of[a] == evalset.story_of[b]  # copies are always within a story


def test_duplicates_and_stories_meet_their_floors(corpus, evalset):
    run = run_engines(corpus)
    dups = duplicate_scores(evalset, run.group_of)
    stories = bcubed(evalset, run.story_of)
    base = title_baseline(corpus)
    base_dups, base_stories = duplicate_scores(evalset, base), bcubed(evalset, base)
    print(f"\nduplicates  marsad P {dups.precision:.3f} R {dups.recall:.3f} | "
          f"title baseline P {base_dups.precision:.3f} R {base_dups.recall:.3f}")
    print(f"stories B3  marsad P {stories.precision:.3f} R {stories.recall:.3f} F1 {stories.f1:.3f} | "
          f"title baseline F1 {base_stories.f1:.3f}")
    assert dups.precision >= DUP_PRECISION and dups.recall >= DUP_RECALL
    assert stories.precision >= STORY_PRECISION and stories.recall >= STORY_RECALL and stories.f1 >= STORY_F1
    assert base_stories.f1 < stories.f1 - 0.2 and base_dups.recall < dups.recall - 0.5


def test_perturbed_copies_of_real_articles_are_recognised(corpus):
    recall = perturbation_recall(corpus, sample=200)
    assert min(recall.values()) >= PERTURBED_RECALL, recall
