"""The reader's "similar headlines" index (marsad.web.similar) and the id-only related lookup it sits beside."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from marsad.web.similar import TitleIndex

START = datetime(2015, 8, 1, 8, tzinfo=timezone.utc)
FILLER = ["أمطار غزيرة على {} اليوم", "افتتاح معرض الكتاب في {}", "ارتفاع أسعار الذهب في {}",
          "مباراة الهلال والنصر في {}", "حملة تطعيم جديدة في {}"]
CITIES = ["الرياض", "جدة", "الدمام", "مكة", "المدينة", "أبها", "تبوك", "حائل", "نجران", "جازان", "الطائف"]


def _store(rows: list[tuple[str, str, datetime]]):
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE articles (pk INTEGER PRIMARY KEY, id TEXT, title TEXT, source TEXT, "
                 "published_at TEXT)")
    _add(conn, rows)
    return SimpleNamespace(conn=conn)


def _add(conn, rows) -> None:
    conn.executemany("INSERT INTO articles (id, title, source, published_at) VALUES (?, ?, 'سبق', ?)",
                     [(i, title, when.isoformat()) for i, title, when in rows])


def _corpus() -> list[tuple[str, str, datetime]]:
    rows = []
    for n in range(110):
        title = FILLER[n % len(FILLER)].format(CITIES[n % len(CITIES)]) + f" رقم {n}"
        rows.append((f"f{n:03d}", title, START + timedelta(hours=n)))
    rows.append(("suez1", "افتتاح قناة السويس الجديدة بحضور زعماء العالم", START + timedelta(days=1)))
    return rows


def test_similar_headlines_found_and_scored():
    store = _store(_corpus())
    index = TitleIndex()
    index.refresh(store)
    when = START + timedelta(days=1, hours=2)
    found = index.similar("x", "زعماء العالم في افتتاح قناة السويس الجديدة", when)
    assert found and found[0][0] == "suez1" and 0 < found[0][1] <= 1
    assert index.similar("suez1", "افتتاح قناة السويس الجديدة بحضور زعماء العالم", when) == []  # not itself
    far = when + timedelta(days=30)
    assert index.similar("x", "زعماء العالم في افتتاح قناة السويس الجديدة", far) == []  # outside the window


def test_headlines_added_after_the_weights_are_weighed_too():
    """Weights are computed once and topped up for rows added since (under 2% growth), not recomputed."""
    store = _store(_corpus())
    index = TitleIndex()
    index.refresh(store)
    when = START + timedelta(days=1, hours=2)
    index.similar("x", "افتتاح قناة السويس", when)  # computes the weights over 111 headlines
    weighed_at = index._weights_at
    _add(store.conn, [("suez2", "قناة السويس الجديدة تستقبل أولى السفن", START + timedelta(days=1, hours=5))])
    index.refresh(store)
    found = dict(index.similar("x", "السفن في قناة السويس الجديدة", when))
    assert "suez2" in found and index._weights_at == weighed_at  # topped up, not recomputed
    assert len(index._norm_of) == len(index.ids)

    fresh = TitleIndex()
    fresh.refresh(store)
    again = dict(fresh.similar("x", "السفن في قناة السويس الجديدة", when))
    assert again.keys() == found.keys()  # scores differ a little: the topped-up IDF is the one in force


def test_related_ids_match_related_articles(store):
    from marsad.pipeline import store_articles
    from marsad.related import related_articles, related_ids
    from marsad.web import compat

    from test_stories import FIRE, SUEZ, SUEZ2, article

    a1 = article("افتتاح قناة السويس الجديدة", SUEZ, 0, "الرياض", n=1)
    a2 = article("مصر تحتفل بقناة السويس الجديدة", SUEZ2, 2, "اليوم", n=3)
    fire = article("حريق في مستودع بجدة", FIRE, 4, "المدينة", n=5)
    a1.read_also = [fire.id]
    store_articles(store, [a1, a2, fire])
    full = [(r.article.id, r.kind, r.score) for r in related_articles(store, a1.id)]
    ids = related_ids(store, a1.id)
    assert ids == full and ids[-1] == (fire.id, "read_also", 1.0)
    assert related_ids(store, a1.id[:10]) == ids  # an id prefix, as the page accepts
    compat.forget()
    assert compat.related_refs(store, a1.id, limit=10) == ids
