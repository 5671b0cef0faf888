"""Duplicate and story quality on the labelled set, marsad against the title baseline, in one run.

Prints the tables of docs/dedup.md:
  1. duplicate pairs (precision/recall/F1) and stories (B-cubed P/R/F1) for marsad and for
     the baseline (exact normalised-title match), on all labelled articles and on the two
     halves (odd and even story numbers: thresholds were chosen looking at both, so the halves
     show how stable the numbers are, not a clean held-out score);
  2. recall on synthetic perturbations of real articles;
  3. ablations: what each part of the design contributes;
  4. LSH candidate recall against a brute-force pass over every labelled copy pair.

    python benchmarks/dedup_quality.py [--corpus ../shared/data/saudinewsnet.jsonl.gz] [--no-ablations]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from marsad.dedup.engine import DedupConfig  # noqa: E402
from marsad.stories.engine import StoryConfig  # noqa: E402
from marsad.stories.evaluation import (  # noqa: E402
    bcubed, duplicate_scores, load_eval_set, perturbation_recall, read_corpus, run_engines, title_baseline,
)

DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "saudinewsnet.jsonl.gz"
EVAL = REPO / "tests" / "fixtures" / "eval" / "stories.jsonl"


def _half(ev, parity: int) -> list[str]:
    return [a for a in ev.articles if int(ev.story_of[a][1:]) % 2 == parity]


def _lsh_recall(ev, corpus) -> tuple[int, int]:
    from marsad.dedup import DedupEngine, Featurizer

    index = {cid: a for cid, a in corpus}
    ids = sorted({x for p in ev.duplicate_pairs for x in p})
    fz = Featurizer()
    engine = DedupEngine()
    bands, fps, titled = engine.keys_for([fz(index[i]) for i in ids])
    keys = {i: (set(bands[k].tolist()) - {0}, int(fps[k]), int(titled[k])) for k, i in enumerate(ids)}
    found = 0
    for a, b in ev.duplicate_pairs:
        ka, kb = keys[a], keys[b]
        found += bool(ka[0] & kb[0]) or (ka[1] != 0 and ka[1] == kb[1]) or (ka[2] != 0 and ka[2] == kb[2])
    return found, len(ev.duplicate_pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--no-ablations", action="store_true")
    args = parser.parse_args()
    ev = load_eval_set(EVAL)
    corpus = list(read_corpus(args.corpus))
    multi = sum(len(s) > 1 for s in ev.stories.values())
    print(f"eval set: {len(ev.articles)} articles, {len(ev.stories)} stories ({multi} with 2+ articles), "
          f"{len(ev.duplicate_pairs)} duplicate pairs, {len(ev.unsure_pairs)} unsure pairs left out; "
          f"corpus {len(corpus):,} articles\n")
    started = time.perf_counter()
    run = run_engines(corpus)
    elapsed = time.perf_counter() - started
    base = title_baseline(corpus)

    print("| system | dup P | dup R | dup F1 | story B³ P | story B³ R | story B³ F1 | F1 odd / even stories |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name, groups, stories in (("marsad", run.group_of, run.story_of), ("baseline: same normalised title", base, base)):
        d = duplicate_scores(ev, groups)
        s = bcubed(ev, stories)
        halves = " / ".join(f"{bcubed(ev, stories, _half(ev, p)).f1:.3f}" for p in (1, 0))
        print(f"| {name} | {d.precision:.3f} | {d.recall:.3f} | {d.f1:.3f} | {s.precision:.3f} | {s.recall:.3f} | "
              f"{s.f1:.3f} | {halves} |")
    d = duplicate_scores(ev, run.group_of)
    print(f"\nmarsad duplicate pairs: {d.tp} found, {d.fp} wrong, {d.fn} missed; "
          f"engines {elapsed:.1f}s wall for {run.articles:,} articles (CPU: "
          + ", ".join(f"{k} {v:.1f}s" for k, v in run.seconds.items()) + ")")

    print("\n| perturbation of a real article (200 articles) | copy recognised |")
    print("|---|---:|")
    for how, recall in perturbation_recall(corpus, sample=200).items():
        print(f"| {how} | {recall:.3f} |")

    found, total = _lsh_recall(ev, corpus)
    print(f"\nLSH + fingerprints put {found} of {total} labelled copy pairs in each other's candidates "
          f"({found / total:.3f}); the rest can only be found through a third copy.")

    if args.no_ablations:
        return
    print("\n| ablation | dup P | dup R | story B³ F1 |")
    print("|---|---:|---:|---:|")
    for name, dcfg, scfg in (
        ("marsad as shipped", None, None),
        ("no template guard (title names)", DedupConfig(template_guard=False), None),
        ("no overlap needed with a group's first article", DedupConfig(seed_containment=0.0), None),
        ("no 3-day window for near copies", DedupConfig(near_window_days=1e9), None),
        ("containment 0.7 instead of 0.6", DedupConfig(containment=0.7), None),
        ("no entity boost in stories", None, StoryConfig(entity_boost=0.0)),
        ("title weighted like the lead", None, StoryConfig(title_weight=1.0)),
        ("no story merges", None, StoryConfig(merge_article=2.0)),
        ("join threshold 0.35", None, StoryConfig(join=0.35)),
        ("join threshold 0.55", None, StoryConfig(join=0.55)),
        ("72 h window -> 24 h", None, StoryConfig(window_hours=24)),
        ("8 candidate stories scored instead of 4", None, StoryConfig(max_candidates=8)),
        ("40-term vectors, 12 query terms, 8 candidates (the model until 2026-11-27)", None,
         StoryConfig(vector_terms=40, query_terms=12, max_candidates=8)),
    ):
        r = run_engines(corpus, dedup_config=dcfg, story_config=scfg)
        d, s = duplicate_scores(ev, r.group_of), bcubed(ev, r.story_of)
        print(f"| {name} | {d.precision:.3f} | {d.recall:.3f} | {s.f1:.3f} |", flush=True)


if __name__ == "__main__":
    main()
