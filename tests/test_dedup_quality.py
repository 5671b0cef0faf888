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
STORY_PRECISION = 0.948
STORY_RECALL = 0.894
STORY_F1 = 0.920
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


# Real pairs read by the annotator (SaudiNewsNet ids): copies with a rewritten headline and lead,
# a trimmed copy, a copy that reorders paragraphs, and near-identical cables that are not copies.
REAL_COPIES = [
    ("snn-2015-08-02-00139", "snn-2015-08-03-00861"),  # Indian woman and the crocodile: AFP text, new lead
    ("snn-2015-07-31-00701", "snn-2015-08-01-00925"),  # Interior ministry statement, outlet's own first line
    ("snn-2015-08-03-00952", "snn-2015-08-03-01295"),  # Mecca election screens: paragraphs reordered
    ("snn-2015-08-06-02351", "snn-2015-08-06-01713"),  # the Asir bombing statement, two outlets
]
REAL_NOT_COPIES = [
    ("snn-2015-08-06-02654", "snn-2015-08-04-01089"),  # the King congratulates Bolivia / Jamaica
    ("snn-2015-08-03-01071", "snn-2015-08-06-02520"),  # ... Niger / Burkina Faso
    ("snn-2015-08-06-00102", "snn-2015-08-06-00115"),  # bombing statement / governor visits the injured
]


def test_decisions_on_real_pairs(corpus):
    from marsad.dedup import Featurizer, is_copy

    wanted = {i for pair in REAL_COPIES + REAL_NOT_COPIES for i in pair}
    fz = Featurizer()
    feats = {cid: fz(a) for cid, a in corpus if cid in wanted}
    for a, b in REAL_COPIES:
        assert is_copy(feats[a], feats[b])[0], (a, b)
    for a, b in REAL_NOT_COPIES:
        assert not is_copy(feats[a], feats[b])[0], (a, b)
