"""entity:, type: and country: in the query language, and entity and place facets, on hand-made enrichments."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marsad.enrich import Enrichment
from marsad.enrich.entities import link_mentions
from marsad.models import Article
from marsad.search import InvalidQuery, parse_query, search
from marsad.search.fts5 import compile_filters
from marsad.store.sqlite import SQLiteStore

# (title, text, [(field, surface text, type)]): mentions are given, not tagged, so results are exact.
DOCS = [
    ("بنيامين نتنياهو يزور واشنطن",
     "وصل بنيامين نتنياهو إلى واشنطن للقاء مسؤولين في الولايات المتحدة الأمريكية. وقال نتنياهو إن الزيارة مهمة.",
     [("title", "بنيامين نتنياهو", "PERS"), ("title", "واشنطن", "LOC"), ("text", "بنيامين نتنياهو", "PERS"),
      ("text", "واشنطن", "LOC"), ("text", "الولايات المتحدة الأمريكية", "LOC"), ("text", "نتنياهو", "PERS")]),
    ("نتانياهو يرفض الاتفاق", "قال نتانياهو إن أمريكا لن تغير موقفها.",
     [("title", "نتانياهو", "PERS"), ("text", "نتانياهو", "PERS"), ("text", "أمريكا", "LOC")]),
    ("أمطار غزيرة على الرياض", "هطلت أمطار غزيرة على الرياض وجدة مساء أمس.",
     [("title", "الرياض", "LOC"), ("text", "الرياض", "LOC"), ("text", "جدة", "LOC")]),
    ("وزارة الداخلية تعلن القبض على خلية", "أعلنت وزارة الداخلية القبض على خلية في الرياض.",
     [("title", "وزارة الداخلية", "ORG"), ("text", "وزارة الداخلية", "ORG"), ("text", "الرياض", "LOC")]),
    ("خبر بلا أسماء", "نص قصير لا يذكر أحدا ولا مكانا.", []),
]
ARTICLES = [Article(title=t, paragraphs=[x], source="سبق" if i % 2 else "عكاظ", url=f"https://example.com/{i}",
                    published_at=datetime(2015, 8, 1 + i, 9, tzinfo=timezone.utc), language="ar")
            for i, (t, x, _) in enumerate(DOCS)]


def _enrich(store: SQLiteStore) -> None:
    for article, (_, _, mentions) in zip(ARTICLES, DOCS):
        raw = []
        for field, text, kind in mentions:
            body = article.title if field == "title" else article.text
            start = body.find(text, max([e for f, _, e, _, _ in raw if f == field] or [0]))
            raw.append((field, start, start + len(text), text, kind))
        linked, learnt = link_mentions(raw, lookup_aliases=store.known_entity_aliases)
        store.save_enrichments([Enrichment(article.id, article.content_hash, "test", linked, aliases=learnt)])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    db = SQLiteStore(tmp_path_factory.mktemp("entities") / "search.db")
    db.upsert_articles(ARTICLES)
    _enrich(db)
    yield db
    db.close()


def found(store, query: str) -> set[int]:
    """Which of ARTICLES a query finds (by index)."""
    ids = {a.id: i for i, a in enumerate(ARTICLES)}
    return {ids[h.id] for h in search(store, query, limit=50).hits}


def entity_id(store, name: str, kind: str) -> int:
    return next(e.id for e in store.list_entities(type=kind, limit=100) if e.name == name)


# -- parsing ---------------------------------------------------------------------------------


def test_parse_entity_type_and_country_filters():
    q = parse_query('حرس entity:"الولايات المتحدة" -entity:#7 type:per type:مكان -type:MISC '
                    'country:sa -country:"اليمن"')
    f = q.filters
    assert f.entities == ("الولايات المتحدة",) and f.exclude_entities == ("#7",)
    assert f.entity_types == ("PERS", "LOC") and f.exclude_entity_types == ("MISC",)
    assert f.countries == ("SA",) and f.exclude_countries == ("اليمن",) and f.uses_entities
    assert q.expr is not None and not parse_query("حرس").filters.uses_entities
    assert parse_query("ENTITY:جدة TYPE:loc").filters.entity_types == ("LOC",)


@pytest.mark.parametrize("text", ["type:person2", "type:", "entity:", "entity:#abc", "country:"])
def test_bad_entity_filters_explain_themselves(text):
    with pytest.raises(InvalidQuery) as err:
        parse_query(text)
    assert err.value.message_ar


def test_entity_filters_compile_to_bound_parameters():
    filters = parse_query("entity:نتنياهو -entity:x type:ORG country:SA").filters
    sql = compile_filters(filters, entity_ids={"نتنياهو": (3, 4), "x": (9,)})
    assert "mn.entity_id IN (?,?)" in sql.where() and "NOT IN" in sql.where()
    assert sql.params == [3, 4, 9, "SA"]  # type: beside entity: only chose the entity
    assert "نتنياهو" not in sql.where() and "SA" not in sql.where()
    assert compile_filters(parse_query("entity:nobody").filters).where() == "0"  # unresolved: nothing matches


# -- filtering -------------------------------------------------------------------------------


def test_entity_by_any_spelling(store):
    assert found(store, "entity:نتانياهو") == {0, 1}  # the surname joins the full name, however spelled
    assert found(store, "entity:نتنياهو") == {0, 1}
    assert found(store, 'entity:"بنيامين نتنياهو"') == {0, 1}
    assert found(store, 'entity:"الولايات المتحدة الأمريكية"') == {0, 1}  # alias file: أمريكا is the same place
    assert found(store, "entity:أمريكا") == {0, 1}
    assert found(store, "entity:بالرياض") == {2, 3}  # clitics come off as in a mention
    assert found(store, "entity:لندن") == set()


def test_entity_with_type_words_and_exclusions(store):
    assert found(store, "entity:الرياض type:LOC") == {2, 3}
    assert found(store, "entity:الرياض type:PERS") == set()
    assert found(store, "أمطار entity:الرياض") == {2}
    assert found(store, "entity:الرياض -entity:جدة") == {3}
    assert found(store, "entity:الرياض entity:جدة") == {2}
    riyadh = entity_id(store, "الرياض", "LOC")
    assert found(store, f"entity:#{riyadh}") == {2, 3} and found(store, f"entity:#{riyadh} type:ORG") == set()
    assert found(store, "entity:#999999") == set()


def test_type_and_country_filters(store):
    assert found(store, "type:PERS") == {0, 1}
    assert found(store, "type:ORG") == {3}
    assert found(store, "type:LOC") == {0, 1, 2, 3}
    assert found(store, "type:ORG OR type:PERS") == {0, 1, 3}  # filters: several type: mean any
    assert found(store, "type:LOC -type:PERS") == {2, 3}
    assert found(store, "-type:LOC source:عكاظ") == {4}
    assert found(store, "country:SA") == {2, 3}
    assert found(store, "country:الولايات_المتحدة") == set()
    assert found(store, 'country:"الولايات المتحدة"') == {0, 1}
    assert found(store, "country:us -country:SA") == {0, 1}


# -- facets ------------------------------------------------------------------------------------


def test_entity_and_place_facets(store):
    results = search(store, "type:LOC", facets=True)
    assert results.total == 4
    named = [(kind, name, n) for kind, _, name, n in results.facets.entity]
    assert named == [("PERS", "بنيامين نتنياهو", 2), ("LOC", "الولايات المتحدة", 2), ("LOC", "الرياض", 2),
                     ("LOC", "واشنطن", 1), ("LOC", "جدة", 1), ("ORG", "وزارة الداخلية", 1)]  # ties: first seen first
    assert results.facets.place == [("SA", 2), ("US", 2)]
    assert search(store, "أمطار", facets=True).facets.place == [("SA", 1)]
    nothing = search(store, "بلا", facets=True).facets
    assert nothing.entity == [] and nothing.place == []
    as_json = results.to_dict()["facets"]
    assert as_json["place"] == [("SA", 2), ("US", 2)] and as_json["entity"][0][0] == "PERS"


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(max_size=40))
def test_any_entity_or_country_name_resolves_or_explains(store, name):
    for key in ("entity", "country", "-entity"):
        try:
            results = search(store, f'{key}:"{name}" type:LOC', limit=5)
        except InvalidQuery:
            continue
        assert results.total >= 0


def test_entity_facets_of_a_large_result_set_count_its_newest_matches(store, monkeypatch):
    from marsad.search import engine

    monkeypatch.setattr(engine, "ENTITY_FACET_WINDOW", 2)
    facets = search(store, "type:LOC", facets=True).facets
    assert facets.entity_sample == 2  # 4 matches: the entities of the newest 2 (articles 3 and 2)
    assert [(name, n) for _, _, name, n in facets.entity] == [("الرياض", 2), ("جدة", 1), ("وزارة الداخلية", 1)]
    assert facets.place == [("SA", 2)] and facets.source == [("سبق", 2), ("عكاظ", 2)]  # the others count all
    assert search(store, "type:ORG", facets=True).facets.entity_sample is None
