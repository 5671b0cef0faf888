"""The text-page parser: the seed page's contract, every fixture page exactly, line
accounting, unreadable files, source inference, and a never-raises property."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marsad.errors import ParseError
from marsad.models import Article
from marsad.parse.inference import infer_source
from marsad.parse.labels import is_blank, strip_line
from marsad.parse.textpage import (
    METADATA_ROLES,
    PARAGRAPH,
    READ_ALSO_LABEL,
    READ_ALSO_LABEL_TITLE,
    TITLE,
    LineRole,
    account_lines,
    parse_text_file,
    parse_text_page,
    read_text_file,
)

PAGES = Path(__file__).parent / "fixtures" / "pages"
SEED = PAGES / "seed.txt"
REFERENCE = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
UTC = timezone.utc


def _expected(name: str):
    return json.loads((PAGES / f"{name}.expected.json").read_text(encoding="utf-8"))


FIXTURES = sorted(p.name.removesuffix(".expected.json") for p in PAGES.glob("*.expected.json"))
ARTICLE_PAGES = [n for n in FIXTURES if isinstance(_expected(n), list)]
ERROR_PAGES = [n for n in FIXTURES if isinstance(_expected(n), dict)]


def as_expected(articles: list[Article]) -> list[dict]:
    """Articles in the fixtures' JSON shape (read-also ids shown as the titles they point at)."""
    titles = {a.id: a.title for a in articles}
    return [
        {
            "title": a.title,
            "published_at": a.published_at.isoformat() if a.published_at else None,
            "source": a.source,
            "source_inferred": a.source_inferred,
            "tags": a.tags,
            "text": a.text,
            "read_also": [titles[i] for i in a.read_also],
        }
        for a in articles
    ]


def check_accounting(text: str, articles: list[Article], roles: list[LineRole]) -> None:
    """Every non-blank line lands in exactly one place, and titles / paragraphs rebuild the articles."""
    lines = text.splitlines()
    assert [r.line for r in roles] == [n for n, line in enumerate(lines, 1) if not is_blank(line)]
    known = {TITLE, PARAGRAPH, READ_ALSO_LABEL, READ_ALSO_LABEL_TITLE, *METADATA_ROLES}
    assert {r.role for r in roles} <= known
    if not articles:
        assert all(r.article is None for r in roles)
        return
    assert {r.article for r in roles} == set(range(len(articles)))
    for k, article in enumerate(articles):
        mine = [r for r in roles if r.article == k]
        paragraphs = [strip_line(lines[r.line - 1]) for r in mine if r.role == PARAGRAPH]
        assert paragraphs == article.paragraphs
        heads = [r for r in mine if r.role in (TITLE, READ_ALSO_LABEL_TITLE)]
        assert len(heads) == 1
        head = strip_line(lines[heads[0].line - 1])
        assert head == article.title if heads[0].role == TITLE else head.endswith(article.title)


# -- the seed page -------------------------------------------------------------------


def test_seed_page_contract():
    articles = parse_text_file(SEED)
    lines = SEED.read_text(encoding="utf-8").splitlines()
    assert len(articles) == 2
    main, glued = articles

    assert main.title == "أمريكا توافق على سحب قواتها من النيجر"
    assert main.published_at == datetime(2024, 4, 20, tzinfo=UTC)
    assert main.date_precision == "day"
    assert (main.source, main.source_inferred) == ("صدى البلد", False)
    assert main.tags == ["النيجر", "الولايات المتحدة"]
    assert len(main.paragraphs) == 7
    assert main.paragraphs == lines[2:9]
    assert "قوّاتها" in main.paragraphs[0]  # verbatim: the shadda is kept
    assert main.read_also == [glued.id]

    assert glued.title == "مصدر لـعربي21: الولايات المتحدة تدعم عملية برية وشيكة ضد الحوثيين"
    assert glued.published_at is None and glued.date_precision is None
    assert (glued.source, glued.source_inferred) == ("عربي21", True)
    assert glued.tags == []
    assert len(glued.paragraphs) == 8
    assert glued.paragraphs == lines[13:21]
    assert glued.read_also == []

    for article in articles:
        assert article.origin == str(SEED)
        assert article.language == "ar"
    assert main.id != glued.id
    assert [a.id for a in parse_text_file(SEED)] == [main.id, glued.id]  # content-derived, stable


def test_seed_page_line_roles():
    roles = account_lines(SEED.read_text(encoding="utf-8"))
    assert [(r.role, r.article) for r in roles[:2]] == [(TITLE, 0), ("date", 0)]
    assert [(r.line, r.role) for r in roles[9:13]] == [
        (10, "source"), (11, "tags"), (12, READ_ALSO_LABEL), (13, TITLE)
    ]


# -- every fixture page: the parse accuracy gate -----------------------------------------


@pytest.mark.parametrize("name", ARTICLE_PAGES)
def test_fixture_page_parses_exactly(name):
    articles = parse_text_file(PAGES / f"{name}.txt", reference=REFERENCE)
    assert as_expected(articles) == _expected(name)


@pytest.mark.parametrize("name", ARTICLE_PAGES)
def test_fixture_page_accounts_for_every_line(name):
    text = read_text_file(PAGES / f"{name}.txt")
    articles = parse_text_page(text, reference=REFERENCE)
    check_accounting(text, articles, account_lines(text, reference=REFERENCE))


@pytest.mark.parametrize("name", ERROR_PAGES)
def test_unreadable_fixture_raises_parse_error_naming_the_file(name):
    path = PAGES / f"{name}.txt"
    with pytest.raises(ParseError) as caught:
        parse_text_file(path)
    assert _expected(name)["error"] in caught.value.message
    assert caught.value.subject == str(path)
    assert str(path) in str(caught.value)


def test_missing_file_and_folder_raise_parse_error(tmp_path):
    for path in (tmp_path / "missing.txt", tmp_path):
        with pytest.raises(ParseError) as caught:
            read_text_file(path)
        assert caught.value.subject == str(path)


# -- layout rules not covered by a whole page --------------------------------------------


def test_page_without_text_lines_gives_no_article_but_accounts_for_its_lines():
    text = "المصدر: صدى البلد\nاقرأ أيضا:\nكلمات دلالية: النيجر"
    assert parse_text_page(text) == []
    assert [(r.role, r.article) for r in account_lines(text)] == [
        ("source", None), (READ_ALSO_LABEL, None), ("tags", None)
    ]


def test_read_also_labels_in_a_row_and_at_the_end_open_no_empty_article():
    text = "عنوان\nفقرة\nاقرأ أيضا:\nشاهد أيضا:\nعنوان ثان\nفقرة ثانية\nاقرأ أيضا:\nالمصدر: عربي21"
    main, second = parse_text_page(text)
    assert main.read_also == [second.id]
    # The trailing label opened nothing: its source line falls back to the last article.
    assert (second.title, second.source) == ("عنوان ثان", "عربي21")


def test_inline_label_at_the_top_makes_the_main_article():
    (article,) = parse_text_page("اقرأ أيضا: عنوان الخبر\nفقرة أولى")
    assert (article.title, article.paragraphs) == ("عنوان الخبر", ["فقرة أولى"])


@pytest.mark.parametrize(
    "line",
    [
        "اقرأ المزيد من الأخبار حول هذا الموضوع عبر موقعنا",  # a sentence, not the label
        "بتاريخ عريق من العمل المشترك بين البلدين",  # weak date label, no date
        "المصدر: قال مسؤول رفيع إن الحكومة تدرس خطة جديدة لإصلاح قطاع الكهرباء خلال العام المقبل",
        "مصدر: الحكومة تدرس خطة جديدة",  # a headline formula, not a source line
        "قد يهمك أن تعرف أن المعرض يفتح أبوابه يوميا",
    ],
)
def test_sentences_that_begin_like_labels_stay_paragraphs(line):
    (article,) = parse_text_page(f"عنوان\n{line}")
    assert article.paragraphs == [line]


def test_unparsable_date_value_is_metadata_without_a_date():
    (article,) = parse_text_page("عنوان\nتاريخ النشر: قريبا\nفقرة")
    assert article.published_at is None and article.paragraphs == ["فقرة"]


def test_publish_date_wins_over_update_date_whatever_the_order():
    text = "عنوان\nآخر تحديث: 22 أبريل 2024\nتاريخ النشر: 20 أبريل 2024\nفقرة"
    (article,) = parse_text_page(text)
    assert article.published_at == datetime(2024, 4, 20, tzinfo=UTC)


def test_latin_page_is_english():
    text = "US agrees to pull troops from Niger\nSource: AFP\nThe United States agreed on Friday."
    (article,) = parse_text_page(text)
    assert (article.language, article.source) == ("en", "AFP")


# -- source inference ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "paragraphs", "outlet"),
    [
        ("مصدر لـعربي21: تفاصيل جديدة", ["قال المصدر إن الاتفاق قريب."], "عربي21"),
        ("خاص لـ«الشرق الأوسط»: الاتفاق قريب", ["نص."], "الشرق الأوسط"),
        ("عنوان", ['وقال المسؤول لـ"عربي21" إن الاتفاق قريب.', 'وأضاف في تصريح لـ"عربي21" أن الموعد قريب.'], "عربي21"),
        ("عنوان", ['وقال مصدر لموقع "مصراوي" إن الاتفاق قريب.', "وكان مصراوي قد نشر تفاصيل."], "مصراوي"),
        ("عنوان", ["وقال المسؤول لـ الشرق الأوسط إن الاتفاق قريب.", "وأكد لـ الشرق الأوسط ذلك."], "الشرق الأوسط"),
    ],
)
def test_outlet_named_by_a_given_to_construction_is_inferred(title, paragraphs, outlet):
    assert infer_source(title, paragraphs) == outlet


@pytest.mark.parametrize(
    ("title", "paragraphs"),
    [
        ("عنوان", ['وقال المسؤول لـ"سكاي نيوز عربية" إن الاتفاق قريب.']),  # once, not in the title
        ("عنوان", ['وقال مسؤولون لوكالة "فرانس برس" إن الاتفاق قريب.', 'وأضافوا لوكالة "فرانس برس" أن الموعد قريب.']),
        ("عنوان", ['قال مسؤول لـ"رويترز" إن الاتفاق قريب.', 'وأضاف لـ"رويترز" أن الموعد قريب.']),
        ("عنوان", ['وصرح المتحدث لـ"وكالة الأنباء الألمانية" بذلك.', 'وأكد لـ"وكالة الأنباء الألمانية" ذلك.']),
        ("المقاومة تعد لـ«معركة العند»", ["نص الخبر."]),  # no telling word, no colon
        ("عنوان", ['مقاتلون تابعون لـ"داعش" في المدينة.', 'وأعلنت مجموعة موالية لـ"داعش" مسؤوليتها.']),
        ("عنوان", ["وقال لـه المسؤول إن الاتفاق قريب، وأكد لـه ذلك مرة أخرى."]),
    ],
)
def test_no_outlet_is_inferred_without_a_sure_construction(title, paragraphs):
    assert infer_source(title, paragraphs) is None


def test_explicit_source_line_wins_over_inference():
    text = "مصدر لـعربي21: عنوان\nقال المصدر لـ\"عربي21\" إن الاتفاق قريب.\nالمصدر: صدى البلد"
    (article,) = parse_text_page(text)
    assert (article.source, article.source_inferred) == ("صدى البلد", False)


# -- robustness and speed -------------------------------------------------------------------

_PIECES = st.sampled_from(
    [
        "إقرأ أيضاً:", "اقرأ أيضا: عنوان", "المصدر: صدى البلد", "المصدر:", "كلمات دلالية: النيجر الولايات المتحدة",
        "كلمات دلالية:", "تاريخ النشر: 20th, April 2024 GMT", "تاريخ النشر:", "بتاريخ 3 مايو 2024", "وكالات",
        "اقرأ المزيد", "مصدر لـعربي21: عنوان", 'وقال لـ"عربي21"', "قوّاتها", "\u200f\u00a0", "ً", "ـ", "#", "،", "",
    ]
)
_LINE = st.one_of(st.text(max_size=40), _PIECES, st.lists(_PIECES, max_size=3).map(" ".join))
_BREAK = st.sampled_from(["\n", "\r\n", "\r", "\u2028", "\x0c", "\x85"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_LINE, _BREAK), max_size=14))
def test_parse_never_raises_and_never_loses_a_line(pieces):
    text = "".join(line + brk for line, brk in pieces)
    articles = parse_text_page(text, reference=REFERENCE)
    check_accounting(text, articles, account_lines(text, reference=REFERENCE))
    for article in articles:
        assert article.title and article.title == strip_line(article.title)
