"""Search snippets and highlighted titles (marsad.search.highlight) as the reader and the API show them.

The analyzer's own `word_terms` is the reference: a word is marked exactly when its terms
meet the query's, whichever fast path the highlighter takes to find that out.
"""

from __future__ import annotations

import html

import pytest

from marsad.search import default_analyzer
from marsad.search import highlight as hl
from marsad.search.highlight import Matcher, highlight, snippet

TEXTS = [
    "السوق الأمريكيّة تغلق على ارتفاع، و<السوق> الأوروبية & الآسيوية تتراجع.",
    "قال وزير المالية إن السُّوقَ\n\nالأمريكية ستتعافى خلال عام 2015 (بحسب تقرير_السوق).",
    "snake_case السوق_الأمريكية __ _السوق_ ــ الســوق market markets",
    " «السوق» ",
    "!!!",
    "",
]


@pytest.fixture
def analyzer():
    return default_analyzer()


def expected_marks(text: str, analyzer, matcher: Matcher) -> list[str]:
    return [text[s:e] for s, e, terms in analyzer.word_terms(text) if matcher(terms)]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("prefixes", [(), ("امريك",)])
def test_title_marks_exactly_the_words_whose_terms_match(analyzer, text, prefixes):
    matcher = Matcher(frozenset(analyzer.terms("السوق market")), prefixes)
    title = highlight(text, analyzer, matcher)
    assert title.text.split() == text.split() and "\n" not in title.text.strip()  # line breaks folded
    assert [title.text[s:e] for s, e in title.marks] == expected_marks(text, analyzer, matcher)
    assert title.html == _marked(title.text, title.marks)


@pytest.mark.parametrize("text", TEXTS)
def test_snippet_is_a_run_of_the_text_with_its_matches_marked(analyzer, text):
    matcher = Matcher(frozenset(analyzer.terms("الأمريكية")))
    passage = snippet(text, analyzer, matcher, words=6)
    words = [text[s:e] for s, e, _ in analyzer.word_terms(text)]
    shown = [passage.text[s:e] for s, e, _ in analyzer.word_terms(passage.text)]
    assert len(shown) == min(6, len(words))
    assert any(words[i:i + len(shown)] == shown for i in range(len(words) - len(shown) + 1))
    assert "\n" not in passage.text  # line breaks inside the passage are folded to spaces
    assert [passage.text[s:e] for s, e in passage.marks] == expected_marks(passage.text, analyzer, matcher)
    assert passage.html == _marked(passage.text, passage.marks)


def test_snippet_finds_the_passage_with_the_most_distinct_matches(analyzer):
    filler = " ".join(["كلمة"] * 60)
    text = f"{filler} النفط {filler} النفط والذهب معا {filler}"
    passage = snippet(text, analyzer, Matcher(frozenset(analyzer.terms("النفط الذهب"))), words=10)
    assert "<mark>النفط</mark> <mark>والذهب</mark>" in passage.html
    assert passage.text.startswith("… ") and passage.text.endswith(" …")


def test_words_learnt_before_the_vocabulary_restarts_still_match(analyzer, monkeypatch):
    monkeypatch.setattr(hl, "VOCABULARY_LIMIT", 3)
    matcher = Matcher(frozenset(analyzer.terms("الأمريكية")))
    first = [highlight(text, analyzer, matcher) for text in TEXTS]
    again = [highlight(text, analyzer, matcher) for text in TEXTS]
    assert first == again
    assert [t.text[s:e] for t in first for s, e in t.marks] == [
        w for text in TEXTS for w in expected_marks(text, analyzer, matcher)]


def _marked(text: str, marks) -> str:
    out, pos = [], 0
    for s, e in marks:
        out += [html.escape(text[pos:s], quote=False), "<mark>", html.escape(text[s:e], quote=False), "</mark>"]
        pos = e
    return "".join(out) + html.escape(text[pos:], quote=False)
