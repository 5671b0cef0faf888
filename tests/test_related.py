"""marsad.related: same story first (copies left out), then similar stories, then read-also links."""

from __future__ import annotations

import pytest

from marsad.errors import NotFound
from marsad.pipeline import store_articles
from marsad.stories import related_articles

from test_stories import FIRE, SUEZ, SUEZ2, article

FEES = ["أعلنت هيئة قناة السويس أنه لا تغيير في رسوم عبور السفن بعد افتتاح القناة الجديدة.",
        "وأوضحت الهيئة أن الرسوم الحالية ستبقى سارية حتى نهاية العام وأن حركة السفن منتظمة."]


@pytest.fixture
def linked(store):
    a1 = article("افتتاح قناة السويس الجديدة", SUEZ, 0, "الرياض", n=1)
    a2 = article("السيسي يفتتح القناة", SUEZ, 1, "عكاظ", n=2)  # the same text from another outlet
    a3 = article("مصر تحتفل بقناة السويس الجديدة", SUEZ2, 2, "اليوم", n=3)
    fees = article("لا تغيير في رسوم عبور قناة السويس", FEES, 3, "الاقتصادية", n=4)
    fire = article("حريق في مستودع بجدة", FIRE, 4, "المدينة", n=5)
    a1.read_also = [fire.id]
    store_articles(store, [a1, a2, a3, fees, fire])
    return a1, a2, a3, fees, fire


def test_related_articles_are_ordered_and_labelled(store, linked):
    a1, a2, a3, fees, fire = linked
    found = related_articles(store, a1.id)
    kinds = [r.kind for r in found]
    assert kinds == sorted(kinds, key=["same_story", "similar", "read_also"].index)
    by_id = {r.article.id: r for r in found}
    assert by_id[a3.id].kind == "same_story" and 0 < by_id[a3.id].score <= 1
    assert a2.id not in by_id  # a copy of the article itself is not "related"
    assert by_id[fire.id].kind == "read_also"  # the page's own link, kept apart
    assert by_id[fees.id].kind == "similar"
    assert a1.id not in by_id


def test_one_copy_per_text_and_limit_spares_read_also(store, linked):
    a1, a2, a3, fees, fire = linked
    found = related_articles(store, a3.id, limit=1)
    assert [(r.article.id, r.kind) for r in found] == [(a1.id, "same_story")]  # a1 and a2 are one text
    with_links = related_articles(store, a1.id, limit=0)
    assert [(r.article.id, r.kind) for r in with_links] == [(fire.id, "read_also")]


def test_unknown_article(store):
    with pytest.raises(NotFound):
        related_articles(store, "ffffffffffffffff")
