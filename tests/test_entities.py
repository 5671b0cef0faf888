"""Canonical entities: clitics, spelling variants, aliases from data, co-occurrence, places, tags."""

from __future__ import annotations

from marsad.enrich.autotags import PhraseStats, key_phrases, link_tags, suggest_tags
from marsad.enrich.entities import alias_table, canonical_entity, clean_name, link_mentions, name_key
from marsad.enrich.places import country_name, place_candidates, resolve_place
from marsad.enrich.records import EntityMention, EntityRef


def test_clitics_come_off_the_first_word_only():
    assert clean_name("لواشنطن") == (name_key("واشنطن"), "واشنطن")
    assert clean_name("للولايات المتحدة")[1] == "الولايات المتحدة"
    assert clean_name("والنيجر")[1] == "النيجر"
    assert clean_name("وبريطانيا")[1] == "بريطانيا"
    # names that start with a clitic letter keep it
    assert clean_name("بازوم")[1] == "بازوم"
    assert clean_name("واشنطن")[1] == "واشنطن"
    assert clean_name("لندن")[1] == "لندن"


def test_keys_fold_diacritics_hamza_and_spelling_variants():
    assert name_key("نتنياهو") == name_key("نتانياهو")
    assert name_key("قوّاتها") == name_key("قواتها")
    assert name_key("الأمم المتحدة") == name_key("الامم المتحده")
    assert name_key("عبد الله") == name_key("عبدالله")
    assert name_key("محمد") != name_key("أحمد")


def test_country_aliases_come_from_data():
    table = alias_table()
    for name in ["أمريكا", "أميركا", "الولايات المتحدة الأمريكية", "الولايات المتحدة"]:
        assert table[name_key(name)] == ("LOC", "الولايات المتحدة", "US"), name
    assert table[name_key("روسيا")][2] == "RU"
    assert table[name_key("الاتحاد الروسي")][2] == "RU"  # pycountry's formal name
    assert country_name("YE") == "اليمن"


def test_canonical_entity_merges_spellings_and_resolves_places():
    us = [canonical_entity(n, "LOC") for n in ["أمريكا", "للولايات المتحدة", "الولايات المتحدة الأميركية"]]
    assert len({(e.type, e.key) for e in us}) == 1
    assert us[0].name == "الولايات المتحدة" and us[0].country == "US" and us[0].place_kind == "country"
    assert us[0].latitude is not None  # a country is put on the map at its capital
    niger = canonical_entity("والنيجر", "LOC")
    assert (niger.name, niger.country) == ("النيجر", "NE")
    # a country written as an organisation (the government) is still the country
    assert canonical_entity("إيران", "ORG").country == "IR"
    # an organisation alias only applies to organisations
    assert canonical_entity("حركة حماس", "ORG").key == canonical_entity("حماس", "ORG").key


def test_cities_resolve_with_coordinates_and_article_context():
    niamey = resolve_place("نيامي")
    assert niamey.country == "NE" and niamey.kind == "city" and niamey.has_coordinates
    assert resolve_place("لندن").country == "GB"  # the most populous London
    hodeidah = resolve_place("الحديدة", context_countries={"YE"})
    assert hodeidah.country == "YE" and abs(hodeidah.latitude - 14.8) < 0.5
    assert resolve_place("مأرب").country == "YE"
    assert resolve_place("كلمة لا تسمي مكانا") is None
    assert place_candidates("باريس")[0].country == "FR"


def test_co_occurrence_joins_a_surname_to_the_full_name_in_the_article():
    raw = [("text", 0, 9, "محمد بازوم", "PERS"), ("text", 40, 45, "بازوم", "PERS"),
           ("text", 60, 65, "نيامي", "LOC"), ("text", 70, 75, "محمد", "PERS")]
    mentions, learnt = link_mentions(raw)
    keys = [m.entity.key for m in mentions]
    assert keys[0] == keys[1] == name_key("محمد بازوم")
    assert keys[3] == name_key("محمد")  # a first name alone is not the same person
    assert learnt == [("PERS", name_key("بازوم"), name_key("محمد بازوم"))]


def test_lone_surnames_use_aliases_learnt_from_earlier_articles():
    asked = []

    def lookup(keys):
        asked.append(keys)
        return {("PERS", name_key("كامبل")): name_key("كورت كامبل")}

    mentions, learnt = link_mentions([("text", 0, 5, "كامبل", "PERS")], lookup_aliases=lookup)
    assert mentions[0].entity.key == name_key("كورت كامبل") and learnt == []
    assert asked == [{("PERS", name_key("كامبل"))}]


def test_context_countries_pick_the_city():
    mentions, _ = link_mentions([("text", 0, 5, "اليمن", "LOC"), ("text", 10, 17, "الحديدة", "LOC")])
    assert mentions[1].entity.country == "YE"


def _mention(name: str, kind: str, field: str = "text") -> EntityMention:
    ref = canonical_entity(name, kind)
    return EntityMention(field, 0, len(name), name, kind, ref)


def test_publisher_tags_link_to_entities():
    mentions = [_mention("النيجر", "LOC"), _mention("واشنطن", "LOC")]
    linked = link_tags(["النيجر", "الولايات المتحدة", "سياسة"], mentions)
    assert linked["النيجر"].country == "NE"
    assert linked["الولايات المتحدة"].country == "US"  # not mentioned by name, known as an alias
    assert "سياسة" not in linked


def test_key_phrases_score_against_corpus_frequencies():
    stats = PhraseStats(documents=1000, df={"في": 990, "من": 980, "القوات": 30, "سحب": 20, "الاتفاق": 40})
    text = "سحب القوات من النيجر. سحب القوات في موعد. وقال إن سحب القوات سيتم في النيجر."
    phrases = key_phrases(text, stats=stats)
    assert phrases[0] == "سحب القوات"
    assert all(p.split()[0] not in ("في", "من") for p in phrases)


def test_suggested_tags_start_with_entities_in_the_title_or_repeated():
    mentions = [_mention("النيجر", "LOC", "title"), _mention("روسيا", "LOC"), _mention("كورت كامبل", "PERS"),
                _mention("كورت كامبل", "PERS")]
    tags = suggest_tags("أمريكا توافق على سحب قواتها من النيجر", "نص", mentions)
    assert tags[:2] == ["النيجر", "كورت كامبل"]
    assert "روسيا" not in tags  # named once, not in the title


def test_entity_ref_is_plain_data():
    ref = EntityRef("LOC", "x", "x")
    assert ref.country is None and ref.place_kind is None
