"""Quality gate: known-item search on a 5,000-article SaudiNewsNet subset must not regress.

A smaller run of benchmarks/search_quality.py (same query generator, same scoring).
Floors are the values measured when the analyzer or the ranking was last changed, minus 0.02.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import search_quality  # noqa: E402

# measured 2026-11 (seed 7, 5,000 articles, 500 queries), with the exact-form columns and
# the analyzer's ta marbuta / pronoun fixes: marsad 0.932 / 0.992 (0.911 / 0.982 before them,
# 0.898 / 0.976 before the NEAR re-ranking), FTS5 0.058 / 0.058
MRR_FLOOR = 0.912
RECALL_FLOOR = 0.972
MIN_GAIN_OVER_FTS5 = 0.15


def _corpus() -> Path:
    path = search_quality.shared_data() / "saudinewsnet.jsonl.gz"
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"the shared corpus is missing at {path} (set MARSAD_SHARED_DATA)")
        pytest.skip(f"shared corpus not found at {path} (set MARSAD_SHARED_DATA to run the quality gate)")
    return path


def test_known_item_quality_gate():
    report = search_quality.run(5000, 500, seed=7, corpus=_corpus(), verbose=False)
    ours = report["systems"]["(b) marsad"]
    base = report["systems"]["(a) FTS5 unicode61 remove_diacritics 2"]
    assert report["queries"] == 500
    assert ours["mrr@10"] >= MRR_FLOOR, report
    assert ours["recall@10"] >= RECALL_FLOOR, report
    assert ours["mrr@10"] - base["mrr@10"] >= MIN_GAIN_OVER_FTS5, report
