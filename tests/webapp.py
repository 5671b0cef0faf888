"""Helpers for the web tests: a database built from the bundled sample plus a few hand-made
articles (tags, read-also links, hostile markup), and a stand-in `marsad.stories` module."""

from __future__ import annotations

import shutil
import sys
import types
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from marsad.cli import sample_inputs
from marsad.models import Article, Link, Source
from marsad.pipeline import ingest
from marsad.store.sqlite import SQLiteStore

WHEN = datetime(2015, 8, 12, 9, 30, tzinfo=timezone.utc)
ADMIN_TOKEN = "test-admin-token"

# Hand-made articles: a tagged pair linked as read-also, and one whose text is hostile markup.
EXTRA = [
    Article(title="أمير منطقة الرياض يفتتح مهرجان التمور", source="واس", published_at=WHEN,
            url="https://www.spa.gov.sa/test/1", tags=["الرياض", "التمور"],
            paragraphs=["افتتح أمير منطقة الرياض اليوم مهرجان التمور السنوي بحضور عدد من المسؤولين والمزارعين.",
                        "ويستمر المهرجان أسبوعًا كاملًا ويشارك فيه أكثر من مئة مزارع من مناطق المملكة."]),
    Article(title="مهرجان التمور يستقبل آلاف الزوار في يومه الأول", source="واس",
            published_at=WHEN + timedelta(hours=2), url="https://www.spa.gov.sa/test/2", tags=["التمور"],
            paragraphs=["استقبل مهرجان التمور في الرياض آلاف الزوار في يومه الأول وسط إقبال كبير على المعروضات."]),
    Article(title="تجار التمور يعرضون أصنافًا جديدة في مهرجان الرياض", source="الرياض",
            published_at=WHEN + timedelta(hours=5), url="https://www.alriyadh.com/test/4",
            paragraphs=["عرض تجار التمور في مهرجان الرياض أصنافًا جديدة من التمور لقيت إقبالًا من الزوار."]),
    Article(title='عنوان فيه <script>alert("x")</script> & رموز', source="واس", published_at=WHEN - timedelta(days=1),
            url="https://www.spa.gov.sa/test/3", tags=["<b>وسم</b>"],
            paragraphs=['نص فيه <img src=x onerror=alert(1)> وعلامات "اقتباس" & رموز أخرى لا بد من تهريبها.']),
]


def build_db(path: Path) -> Path:
    """The bundled sample (303 articles from 13 outlets) plus EXTRA, with a read-also link."""
    with SQLiteStore(path) as store:
        ingest(store, sample_inputs(), enrich=False)
        store.upsert_sources([Source(name="واس", homepage="https://www.spa.gov.sa", language="ar", country="SA",
                                     aliases=["was", "spa"])])
        store.upsert_articles(EXTRA)
        store.add_links([Link(EXTRA[0].id, EXTRA[1].id, "read_also")])
    return path


def copy_db(source: Path, target: Path) -> Path:
    """A private copy of a built database (for tests that write)."""
    shutil.copy(source, target)
    return target


# -- a stand-in for marsad.stories, following the interface the reader codes against ------------


@dataclass
class Story:
    id: str
    title: str
    article_ids: list[str]
    outlets: list[str]
    first_seen: datetime | None
    last_seen: datetime | None
    article_count: int
    growth: float
    lead_article_id: str | None


@dataclass
class StoryDetail(Story):
    articles: list = field(default_factory=list)
    timeline: list = field(default_factory=list)
    copies: dict = field(default_factory=dict)


@dataclass
class Related:
    article: Article
    kind: str
    score: float


def fake_stories_module() -> types.ModuleType:
    """A `marsad.stories` with one story made of the two EXTRA festival articles."""
    from marsad.errors import NotFound

    module = types.ModuleType("marsad.stories")
    ids = [EXTRA[0].id, EXTRA[1].id]

    def _story() -> Story:
        return Story("s1", "مهرجان التمور في الرياض", ids, ["واس"], WHEN, WHEN + timedelta(hours=2), 2, 1.5, ids[0])

    def list_stories(store, *, since=None, limit=50, offset=0, order="recent"):
        return [_story()][offset : offset + limit]

    def get_story(store, story_id):
        if story_id != "s1":
            raise NotFound("no such story", subject=story_id)
        base = _story()
        return StoryDetail(**vars(base), articles=store.get_articles(ids),
                           timeline=[(WHEN, 1), (WHEN + timedelta(hours=1), 0), (WHEN + timedelta(hours=2), 1)],
                           copies={ids[0]: [ids[1]]})

    def related_articles(store, article_id, limit=10):
        if article_id not in ids:
            return []
        other = ids[1] if article_id == ids[0] else ids[0]
        return [Related(store.get_article(other), "same_story", 0.9)][:limit]

    module.list_stories = list_stories
    module.get_story = get_story
    module.related_articles = related_articles
    return module


def install_fake_stories(monkeypatch) -> None:
    """Make `import marsad.stories` find the stand-in (and the reader notice it)."""
    from marsad.web import compat

    monkeypatch.setitem(sys.modules, "marsad.stories", fake_stories_module())
    compat.forget()
    monkeypatch.setattr(compat, "_modules", {})


def reader_client(db, monkeypatch, **settings):
    """An ASGI test client of the reader over *db* (a path or URL), stories hidden, server errors as pages."""
    from fastapi.testclient import TestClient

    from marsad.web import WebSettings, create_app

    hide_stories(monkeypatch)
    return TestClient(create_app(WebSettings(db=str(db), **settings)), raise_server_exceptions=False)


def hide_stories(monkeypatch) -> None:
    """Make the reader behave as if marsad.stories did not exist (its fallback paths)."""
    import time

    from marsad.web import compat

    monkeypatch.setattr(compat, "_modules", {"marsad.stories": (None, time.monotonic() + 3600)})
