"""Stories: articles about the same event from different outlets, grouped online.

Reading (no heavy imports): `list_stories`, `get_story`, `related_articles`.
Computing: `update(store)` runs the duplicate and story stages on newly stored articles
(the pipeline calls it after every stored batch); `restory(store)` recomputes everything.
"""

from __future__ import annotations

from ..related import Related, related_articles
from .api import ORDERS, Story, StoryDetail, get_story, list_stories


def update(store, **options):
    """Run the duplicate and story stages on every stored article not processed yet (see `indexer.update`)."""
    from .indexer import update as _update

    return _update(store, **options)


def restory(store, **options):
    """Recompute duplicates and stories from scratch (see `indexer.restory`)."""
    from .indexer import restory as _restory

    return _restory(store, **options)


__all__ = ["ORDERS", "Related", "Story", "StoryDetail", "get_story", "list_stories", "related_articles",
           "restory", "update"]
