"""Each normalisation rule, stemmer and analyzer step on real Arabic words."""

from __future__ import annotations

import gzip
import json
import re
import unicodedata
from importlib import resources

import pytest

from marsad.normalize import (
    Normalizer,
    NormalizerConfig,
    fold,
    light10_stem,
    light_stem,
    normalize,
    snowball_stem,
    stopwords,
    strip_tashkeel,
    word_spans,
)
from marsad.search.analyzer import Analyzer, default_analyzer

# -- character rules -------------------------------------------------------------


@pytest.mark.parametrize(
    "written, expected",
    [
        ("مُحَمَّدٌ", "محمد"),  # damma, fatha, shadda, tanween damm
        ("قوّاتها", "قواتها"),  # shadda
        ("كتابًا", "كتابا"),  # tanween fath
        ("مَسْجِد", "مسجد"),  # sukun
        ("هٰذا", "هذا"),  # dagger alef
        ("الســـــلام", "السلام"),  # tatweel
    ],
)
def test_tashkeel_and_tatweel_are_removed(written, expected):
    assert strip_tashkeel(written) == expected
    assert normalize(written) == normalize(expected)


@pytest.mark.parametrize(
    "written, expected",
    [
        ("أحمد", "احمد"),
        ("إسلام", "اسلام"),
        ("آمال", "امال"),
        ("ٱلله", "الله"),  # alef wasla
    ],
)
def test_alef_forms_fold(written, expected):
    assert normalize(written) == expected


def test_decomposed_hamza_folds_like_the_composed_letter():
    decomposed = "ا\u0654حمد"  # alef + combining hamza above, as some keyboards emit
    assert normalize(decomposed) == normalize("أحمد") == "احمد"
    assert normalize("رئ\u0655يس") == "رييس"  # a stray combining hamza below is dropped


@pytest.mark.parametrize(
    "written, expected",
    [
        ("مستشفى", "مستشفي"),  # alef maqsura
        ("مدرسة", "مدرسه"),  # teh marbuta
        ("مسؤول", "مسوول"),  # hamza on waw
        ("رئيس", "رييس"),  # hamza on yeh
    ],
)
def test_letter_folds(written, expected):
    assert normalize(written) == expected


def test_presentation_forms_go_through_nfkc():
    assert normalize("ﺍﻟﻌﺮﺑﻴﺔ") == "العربيه"
    assert normalize("ﻻ") == "لا"
    assert normalize("ﻷن") == "لان"


def test_persian_and_urdu_lookalikes():
    assert normalize("کتاب") == "كتاب"  # keheh
    assert normalize("یوم") == "يوم"  # farsi yeh
    assert normalize("ہذا") == "هذا"  # heh goal


def test_digits_to_ascii():
    assert normalize("٢٠١٥") == "2015"  # Arabic-Indic
    assert normalize("۲۰۱۵") == "2015"  # Eastern Arabic-Indic (Persian)


def test_arabic_punctuation():
    assert normalize("الرياض، جدة؛ لماذا؟ «واس»") == 'الرياض, جده; لماذا? "واس"'
    assert fold("لماذا؟") == "لماذا؟"  # fold keeps punctuation as it is


def test_latin_is_lower_cased():
    assert normalize("Saudi ARAMCO") == "saudi aramco"


def test_each_rule_can_be_switched_off():
    keep_teh = Normalizer(NormalizerConfig(teh_marbuta=False))
    assert keep_teh("مدرسة") == "مدرسه".replace("ه", "ة")
    keep_all = Normalizer(NormalizerConfig(**{f: False for f in NormalizerConfig.__dataclass_fields__}))
    assert keep_all("أُسرةٌ ٢") == "أُسرةٌ ٢"


def _old_fold(text: str) -> str:
    """fold() as it shipped before search existed: it must keep exactly this behaviour."""
    table = str.maketrans({
        "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي", "ک": "ك", "ی": "ي",
        "ے": "ي", "ہ": "ه", "\u0654": None, "\u0655": None,
        **{chr(0x0660 + i): str(i) for i in range(10)}, **{chr(0x06F0 + i): str(i) for i in range(10)},
    })
    tashkeel = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
    return tashkeel.sub("", unicodedata.normalize("NFKC", text)).translate(table).lower()


def test_fold_keeps_its_original_semantics_on_real_text():
    sample = resources.files("marsad").joinpath("sample/saudinewsnet-sample.jsonl.gz")
    with gzip.open(str(sample), "rt", encoding="utf-8") as lines:
        texts = [(r["title"] + "\n" + r["text"])[:3000] for r in map(json.loads, lines)]
    texts.append("ﷺ ﻷن قوّاتها ٢٠١٥ ۲۰ «الأمريكيّة» Saudi ـ")
    for text in texts:
        assert fold(text) == _old_fold(text)


def test_word_spans_point_into_the_original_text():
    text = "قالت «الأمريكيّة»، اليوم"
    words = [text[s:e] for s, e in word_spans(text)]
    assert words == ["قالت", "الأمريكيّة", "اليوم"]


# -- stemmers --------------------------------------------------------------------


@pytest.mark.parametrize(
    "word, stem",
    [  # cases from Lucene's TestArabicStemFilter (light10), after normalisation
        ("الحسن", "حسن"), ("والحسن", "حسن"), ("بالحسن", "حسن"), ("كالحسن", "حسن"), ("فالحسن", "حسن"),
        ("للاخر", "اخر"), ("وحسن", "حسن"), ("زوجها", "زوج"), ("ساهدان", "ساهد"), ("ساهدات", "ساهد"),
        ("ساهدون", "ساهد"), ("ساهدين", "ساهد"), ("ساهديه", "ساهد"), ("ساهده", "ساهد"), ("ساهدي", "ساهد"),
        ("وساهدون", "ساهد"),
    ],
)
def test_light10_matches_lucene(word, stem):
    assert light10_stem(normalize(word)) == stem


@pytest.mark.parametrize(
    "variants",
    [
        ["الأمريكيّة", "الامريكيه", "الأمريكي", "الأمريكيون", "والأمريكيين"],  # nisba, plural, clitics
        ["السعودية", "السعودي", "بالسعودية", "السعوديين", "للسعودية"],
        ["الحكومة", "حكومتهم", "بالحكومة", "الحكومات"],  # ة revealed as ت before a pronoun
        ["سياستها", "السياسة", "وبالسياسة"],
        ["قواتها", "قوات", "القوات"],
        ["المدرسة", "مدرستنا", "والمدرسة"],
        # a short ة noun and its pronoun forms: the ت is the ة, whatever the stem's length
        ["خطة", "خطتها", "الخطة", "خطتهم"],
        ["قمة", "قمتها", "القمة"],
        ["صحة", "صحتها", "والصحة"],
        ["نهاية", "نهايتها", "النهاية"],  # ية+pronoun stems as ية does
        ["اتفاقية", "اتفاقيتها", "الاتفاقية"],
        ["زيارة", "زيارته", "الزيارة"],  # ه ("his") is a pronoun too
        ["القرارات", "قراراته", "قرارات"],
        ["وفاة", "وفاته", "وفاتها"],  # ات before a pronoun with no plural stem left: the ة of اة
        ["الجزائية", "الجزائي", "جزائيين"],  # the ي before the nisba ية is the word's own
        ["القضائية", "القضائي", "قضائيون"],
    ],
)
def test_light_stem_conflates_inflections(variants):
    stems = {light_stem(normalize(v)) for v in variants}
    assert len(stems) == 1, stems


def test_light_stem_short_words_and_the_lone_waw():
    assert light_stem("قال") == "قال"  # three letters: untouched
    assert light_stem("وقال") == "قال"  # a lone و is stripped, as light10 does ...
    assert light_stem(normalize("وزارة")) == "زار"  # ... which also eats a first-letter و
    assert light_stem(normalize("وزارة"), conjunction=False) == light_stem(normalize("الوزارة")) == "وزار"
    assert light_stem("روماني") == "رومان"  # nisba ي alone; ان stays
    assert light_stem("وقت") == "وقت"
    # وال with too little after it is not the article: the lone و goes, as in any other word
    assert light_stem("والي") == "الي" and light_stem("والي", conjunction=False) == "وال"


def test_light_stem_reads_a_teh_before_a_pronoun_as_ta_marbuta_unless_asked_not_to():
    assert light_stem("بيتها") == "بيه"  # read as a ة noun: the search side also looks up بيت
    assert light_stem("بيتها", feminine=False) == light_stem("بيت") == "بيت"
    assert light_stem(normalize("ثابتة"), feminine=False) == "ثابت"


def test_snowball_is_available_for_both_scripts():
    assert snowball_stem("running", "english") == "run"
    assert snowball_stem("الكتاب", "arabic") == "كتاب"


# -- analyzer ----------------------------------------------------------------------


def test_stopwords_are_dropped_with_and_without_conjunction():
    analyzer = default_analyzer()
    assert "في" in stopwords()
    assert analyzer.terms("في وفي من") == []
    assert analyzer.terms("ولي العهد") == ["ولي", "عهد"]  # ولي is a word, not و + لي


def test_analyzer_handles_mixed_scripts_and_digits():
    analyzer = default_analyzer()
    assert analyzer.terms("أطلقت Apple هواتف iPhones عام ٢٠١٥") == ["اطلقت", "appl", "هواتف", "iphon", "عام", "2015"]
    assert analyzer.terms("بالـiPhone") == ["iphon"]  # the clitic glued on with a tatweel is dropped


def test_index_text_equals_terms_and_survives_odd_input():
    analyzer = default_analyzer()
    text = "الأمريكيّة\u200f «قوّاتها»\n\t١٢٣ ـــ ﷺ"
    assert analyzer.index_text(text).split() == analyzer.terms(text)
    assert analyzer.index_text("") == ""
    assert analyzer.index_text("!!! ،،، ...") == ""


def test_word_terms_map_back_to_original_words():
    analyzer = default_analyzer()
    text = "قالت الأمريكيّة إن"
    spans = analyzer.word_terms(text)
    assert [(text[s:e], terms) for s, e, terms in spans] == [
        ("قالت", ("قالت",)), ("الأمريكيّة", ("امريك",)), ("إن", ("",)),
    ]


def test_query_word_alternatives_cover_a_first_letter_waw():
    analyzer = default_analyzer()
    assert set(analyzer.alternatives("وزير")) == set(analyzer.alternatives("الوزير")) == {"زير", "وزير"}
    assert analyzer.alternatives("قال") == ("قال",)
    assert analyzer.alternatives("وقال")[0] == "قال"


@pytest.mark.parametrize(
    "query, indexed",
    [
        ("بيت", "بيتها"),  # a word ending in ت, and its pronoun form (indexed as a ة noun)
        ("بيتها", "بيت"),
        ("قدمت", "قدمتها"),
        ("ثابت", "ثابتة"),
        ("ثابتة", "ثابت"),
        ("وفاة", "وفاتها"),
        ("مفاجأتها", "مفاجأة"),  # ات before a pronoun: a plural's, or the ة of اة
        ("حياتها", "الحياة"),
        ("إلغاء", "الإلغاء"),  # ال stripped once: a word that starts with ال of its own
        ("الإلغاء", "إلغاء"),
        ("ألفها", "ألف"),
    ],
)
def test_query_word_alternatives_reach_the_other_reading(query, indexed):
    analyzer = default_analyzer()
    assert analyzer.term(indexed) in analyzer.alternatives(query)


def test_analyzer_versions_differ_by_stemmer():
    assert Analyzer("light10").version != Analyzer("marsad").version
    with pytest.raises(ValueError):
        Analyzer("porter")
