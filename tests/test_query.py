"""The query language: parsing, compiling to FTS5, and never failing on hostile input."""

from __future__ import annotations

import sqlite3
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marsad.search.analyzer import default_analyzer
from marsad.search.fts5 import compile_filters, compile_match
from marsad.search.query import (
    MAX_QUERY_CHARS,
    And,
    Filters,
    InvalidQuery,
    Not,
    Or,
    Phrase,
    Term,
    parse_query,
    positive_leaves,
    relaxed,
)


def expr(text):
    return parse_query(text).expr


# -- parsing -----------------------------------------------------------------------


def test_words_are_anded():
    assert expr("وزارة الداخلية") == And((Term("وزارة"), Term("الداخلية")))
    assert expr("وزارة") == Term("وزارة")


def test_phrases_or_exclusion_prefix():
    assert expr('"ولي العهد"') == Phrase("ولي العهد")
    assert expr("مكة OR جدة") == Or((Term("مكة"), Term("جدة")))
    assert expr("مكة | جدة") == Or((Term("مكة"), Term("جدة")))
    assert expr("حرس -تدريب") == And((Term("حرس"), Not(Term("تدريب"))))
    assert expr("حرس NOT تدريب") == And((Term("حرس"), Not(Term("تدريب"))))
    assert expr('حرس -"حرس الحدود"') == And((Term("حرس"), Not(Phrase("حرس الحدود"))))
    assert expr("سعو*") == Term("سعو", prefix=True)


def test_or_binds_tighter_than_and_and_groups_work():
    assert expr("أمن مكة OR جدة") == And((Term("أمن"), Or((Term("مكة"), Term("جدة")))))
    assert expr("(مكة جدة) OR الرياض") == Or((And((Term("مكة"), Term("جدة"))), Term("الرياض")))
    assert expr("أمن -(مكة جدة)") == And((Term("أمن"), Not(And((Term("مكة"), Term("جدة"))))))


def test_filters():
    q = parse_query("أمن source:sabq source:okaz tag:أمن -tag:رياضة lang:AR from:2015-08 to:2015-08-11")
    assert q.expr == Term("أمن")
    assert q.filters == Filters(
        sources=("sabq", "okaz"), tags=("أمن",), exclude_tags=("رياضة",), langs=("ar",),
        date_from=date(2015, 8, 1), date_to=date(2015, 8, 11),
    )
    assert parse_query('tag:"كرة القدم"').filters.tags == ("كرة القدم",)
    assert parse_query("to:2015").filters.date_to == date(2015, 12, 31)
    assert parse_query("to:2016-02").filters.date_to == date(2016, 2, 29)
    assert parse_query("source:sabq").expr is None  # a filter-only query lists by date


def test_forgiving_parse():
    assert expr('"ولي العهد') == Phrase("ولي العهد")  # unclosed quote ends at the end
    assert expr("(مكة جدة") == And((Term("مكة"), Term("جدة")))  # unclosed group
    assert expr("مكة) جدة)") == And((Term("مكة"), Term("جدة")))  # stray parentheses
    assert expr("OR مكة OR") == Term("مكة")
    assert expr("*") is None
    assert expr("مكة AND جدة") == And((Term("مكة"), Term("جدة")))
    assert expr("“ولي العهد”") == Phrase("ولي العهد")  # typographic quotes
    assert expr("مكة\x00\x07جدة") == And((Term("مكة"), Term("جدة")))  # control characters split words


@pytest.mark.parametrize(
    "text, message",
    [
        ("from:yesterday", "from: expects a date"),
        ("to:2015-13-01", "to: expects a date"),
        ("from:2016 to:2015", "from: is after to:"),
        ("مكة OR -جدة", "cannot be one side of OR"),
        ("source:", "needs a value"),
        ("x" * (MAX_QUERY_CHARS + 1), "longer than"),
        (" ".join(["كلمة"] * 70), "more than 64 words"),
    ],
)
def test_invalid_queries_say_why_in_both_languages(text, message):
    with pytest.raises(InvalidQuery) as info:
        parse_query(text)
    assert message in str(info.value)
    assert str(info.value).startswith("invalid query: ")
    assert info.value.message_ar
    assert info.value.status == 400


def test_positive_leaves_and_relaxed():
    q = parse_query("حرس الحدود -تدريب")
    assert positive_leaves(q.expr) == [Term("حرس"), Term("الحدود")]
    loose = relaxed(q)
    assert loose.expr == And((Or((Term("حرس"), Term("الحدود"))), Not(Term("تدريب"))))
    assert relaxed(parse_query("حرس")) is None


# -- compiling to FTS5 -----------------------------------------------------------


def test_compile_uses_analysed_terms_only():
    a = default_analyzer()
    assert compile_match(expr("الأمريكيّة"), a, expand=False) == '"امريك"'
    assert compile_match(expr("وزير"), a) == '("زير" OR "وزير")'
    assert compile_match(expr("حرس الحدود"), a) == '(("حرس" AND "حدود") OR "حرس حدود")'  # proximity boost
    assert compile_match(expr('"ولي العهد"'), a) == '"ولي عهد"'
    assert compile_match(expr("سعو*"), a) == '"سعو"*'
    assert compile_match(expr("بالسعو*"), a) == '"سعو"*'  # clitics stripped from prefixes
    assert compile_match(expr("سع*"), a) is None  # too short to be useful
    assert compile_match(expr("في من"), a) is None  # stopwords only
    assert compile_match(expr("مكة OR جدة"), a, expand=False) == '("مكه" OR "جده")'
    assert compile_match(expr("أمن -جدة"), a, expand=False) == '("امن" NOT "جده")'
    assert compile_match(expr("title:x NEAR(a b) ^c"), a, expand=False, proximity=False) == '("titl x" AND "near" AND ("a" AND "b") AND "c")'


def test_compile_filters_binds_values():
    sql = compile_filters(parse_query("x source:sabq lang:ar from:2015-08-01 to:2015-08-02 tag:أمن -source:okaz").filters)
    assert "a.source IN" in sql.where() and "NOT IN" in sql.where() and "article_tags" in sql.where()
    assert "2015-08-01" in sql.params and "2015-08-03" in sql.params  # to: is inclusive
    assert "سبق" in sql.params  # the outlet code resolves to its stored name
    assert not any(value in sql.where() for value in ("سبق", "okaz", "2015-08-01", "أمن"))  # bound, never spliced


# -- fuzzing: any text yields a result or InvalidQuery, never another error ----------

_ALPHABET = st.sampled_from(
    list("مكةجدالأمريكيّةسعودىئؤءًٌٍَُِّْـ٠١٢") + list('"()*-:|&^+,.;\'\\%_') + ["OR", "AND", "NOT", "NEAR",
    "title:", "body:", "source:", "tag:", "from:", "to:", "lang:", "entity:", "type:", "country:", "#", "PERS",
    "loc", "{", "}", "\x00", "\x1b", "\u200f", "NEAR(",
    " ", "  ", "\n", "\t", "'; DROP TABLE articles; --", "*", "**", "a", "Z", "9", "ﷺ", "😀", "\ud7ff", "\ufeff"]
)
_QUERIES = st.one_of(st.text(max_size=200), st.lists(_ALPHABET, max_size=60).map("".join))

_DB = sqlite3.connect(":memory:")
_DB.execute("CREATE VIRTUAL TABLE search_fts USING fts5(title, body, content='', tokenize='ascii', prefix='3')")
_DB.execute("INSERT INTO search_fts (rowid, title, body) VALUES (1, 'امريك مكه', 'جده سعود')")
_DB.execute("CREATE TABLE articles (pk INTEGER PRIMARY KEY, source TEXT, language TEXT, published_at TEXT)")
_DB.execute("CREATE TABLE article_tags (article_pk INTEGER, position INTEGER, tag TEXT)")
_DB.execute("INSERT INTO articles VALUES (1, 'سبق', 'ar', '2015-08-01T00:00:00Z')")
_DB.execute("CREATE TABLE mentions (article_pk INTEGER, entity_id INTEGER, type TEXT)")
_DB.execute("CREATE TABLE entities (id INTEGER PRIMARY KEY, type TEXT, country TEXT)")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_QUERIES)
def test_fuzz_parse_and_compile_never_crash(text):
    try:
        q = parse_query(text)
    except InvalidQuery:
        return
    match = compile_match(q.expr, default_analyzer())
    where = compile_filters(q.filters)
    if match:  # whatever compiles must be valid FTS5 and valid SQL
        _DB.execute(
            f"SELECT count(*) FROM search_fts f JOIN articles a ON a.pk = f.rowid "
            f"WHERE search_fts MATCH ? AND {where.where()}", [match, *where.params]
        ).fetchone()


def test_long_and_hostile_inputs():
    for text in ["كلمة " * 2000, "(" * 500 + "مكة", '"' * 301, "-" * 999, "\x00" * 50, "NEAR(a b, 3)",
                 "title:مكة", "body:*", "'; DROP TABLE articles; --", "a" * 1999, "* * *"]:
        try:
            q = parse_query(text)
        except InvalidQuery as exc:
            assert str(exc).startswith("invalid query")
            continue
        match = compile_match(q.expr, default_analyzer())
        if match:
            _DB.execute("SELECT count(*) FROM search_fts WHERE search_fts MATCH ?", [match]).fetchone()
