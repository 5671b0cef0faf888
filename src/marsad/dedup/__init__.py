"""Exact and near-duplicate detection with provenance (see docs/dedup.md).

`duplicates_of(store, article_id)` answers "where else was this published?"; the engine
(`DedupEngine`) and the features it works on are usable without a store.
"""

from __future__ import annotations

from .api import DuplicateGroup, Provenance, duplicate_groups, duplicates_of
from .engine import DedupConfig, DedupEngine, Decision, compare, is_copy, title_conflict
from .features import Featurizer, Features, strip_boilerplate

__all__ = [
    "DedupConfig", "DedupEngine", "Decision", "DuplicateGroup", "Featurizer", "Features", "Provenance",
    "compare", "duplicate_groups", "duplicates_of", "is_copy", "strip_boilerplate", "title_conflict",
]
