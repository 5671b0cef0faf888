"""Parts of marsad that the reader uses when they exist: stories (marsad.stories) and entities (marsad.enrich).

They are imported lazily: while a module is missing (or its tables are not built yet) the
reader falls back (latest articles instead of stories, read-also links and similar titles
instead of story relations), and it switches over by itself once the module appears.
Every function returns None to mean "not available, use the fallback".
"""

from __future__ import annotations

import importlib
import logging
import sqlite3
import threading
import time
from types import ModuleType
from typing import Any

from ..errors import NotFound

log = logging.getLogger("marsad.web")

RETRY_SECONDS = 30.0  # how often to look again for a module that was missing
_modules: dict[str, tuple[ModuleType | None, float]] = {}
_lock = threading.Lock()


def optional_module(name: str) -> ModuleType | None:
    """The module if it can be imported, else None (a failed import is retried every RETRY_SECONDS)."""
    now = time.monotonic()
    with _lock:
        found = _modules.get(name)
        if found is not None and (found[0] is not None or now - found[1] < RETRY_SECONDS):
            return found[0]
    try:
        module: ModuleType | None = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and not name.startswith(exc.name):
            log.warning("%s is present but cannot be imported: %s", name, exc)
        module = None
    except Exception as exc:  # a half-written optional module must not take the reader down
        log.warning("%s failed to import: %s", name, exc)
        module = None
    with _lock:
        _modules[name] = (module, now)
    return module


def forget() -> None:
    """Look for optional modules again on next use (tests use this)."""
    with _lock:
        _modules.clear()


def _call(module: str, function: str, *args, _use=None, **kwargs) -> Any | None:
    found = optional_module(module)
    func = getattr(found, function, None) if found else None
    if func is None:
        return None
    func = _use or func
    try:
        return func(*args, **kwargs)
    except NotFound:
        raise
    except (sqlite3.Error, NotImplementedError, AttributeError) as exc:  # e.g. its tables are not in this database
        log.warning("%s.%s unavailable: %s", module, function, exc)
        return None


def stories_available() -> bool:
    """Whether marsad.stories can be used."""
    return optional_module("marsad.stories") is not None


def list_stories(store, **options) -> list | None:
    """`marsad.stories.list_stories`, or None when stories are not available."""
    return _call("marsad.stories", "list_stories", store, **options)


def get_story(store, story_id: str):
    """`marsad.stories.get_story` (raises NotFound), or None when stories are not available."""
    return _call("marsad.stories", "get_story", store, story_id)


def related_articles(store, article_id: str, *, limit: int = 10) -> list | None:
    """`marsad.stories.related_articles`, or None when stories are not available."""
    return _call("marsad.stories", "related_articles", store, article_id, limit=limit)


def related_refs(store, article_id: str, *, limit: int = 10) -> list[tuple[str, str, float]] | None:
    """`related_articles` as (article id, kind, score), or None when stories are not available.

    With marsad's own `related_articles` (what `marsad.stories` exports) this is
    `marsad.related.related_ids`, which does not read the related articles' full rows.
    """
    found = optional_module("marsad.stories")
    func = getattr(found, "related_articles", None) if found else None
    if func is None:
        return None
    from .. import related

    if func is related.related_articles:
        refs = _call("marsad.stories", "related_articles", store, article_id, limit=limit, _use=related.related_ids)
        return refs
    items = _call("marsad.stories", "related_articles", store, article_id, limit=limit)
    if items is None:
        return None
    return [(r.article.id, r.kind, float(getattr(r, "score", 0.0) or 0.0)) for r in items]


def article_entities(store, article_id: str):
    """`marsad.enrich.entities_for_article` (entities by frequency, suggested tags), or None."""
    return _call("marsad.enrich", "entities_for_article", store, article_id)
