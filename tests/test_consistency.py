"""Label consistency across a document's sentences (`marsad.enrich.consistency`)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from marsad.cli import cli
from marsad.enrich.consistency import harmonise
from marsad.enrich.ner import default_tagger


def _words(*sentences: str) -> list[list[str]]:
    return [s.split() for s in sentences]


def test_a_multi_word_name_found_once_is_tagged_where_it_was_missed():
    keys = _words("فاز البنك التجاري امس", "وقال البنك التجاري ان")
    tags = [["O", "B-ORG", "I-ORG", "O"], ["O", "O", "O", "O"]]
    assert harmonise(keys, tags) == [["O", "B-ORG", "I-ORG", "O"], ["O", "B-ORG", "I-ORG", "O"]]


def test_a_shorter_name_inside_grows_to_the_documents_name_but_a_crossing_span_is_not_cut():
    keys = _words("تغلب على ستيوا بوخارست امس", "مع ستيوا بوخارست", "ستيوا بوخارست الروماني")
    tags = [["O", "O", "B-ORG", "I-ORG", "O"], ["O", "O", "B-ORG"], ["O", "B-ORG", "I-ORG"]]
    # The second sentence's بوخارست lies inside the name; the third's span runs past its end.
    assert harmonise(keys, tags) == [["O", "O", "B-ORG", "I-ORG", "O"], ["O", "B-ORG", "I-ORG"],
                                     ["O", "B-ORG", "I-ORG"]]


def test_a_span_takes_the_type_the_document_gives_its_words_most_often():
    keys = _words("دينامو كييف فاز", "امام دينامو كييف", "لاعب دينامو كييف")
    tags = [["B-ORG", "I-ORG", "O"], ["O", "B-ORG", "I-ORG"], ["O", "B-LOC", "I-LOC"]]
    assert harmonise(keys, tags)[2] == ["O", "B-ORG", "I-ORG"]


def test_a_one_word_name_spreads_only_if_tagged_at_half_its_occurrences():
    tags = [["B-PERS", "O"], ["O", "O"], ["O", "O"]]
    # علي tagged once of three times: left alone (it is also the preposition).
    assert harmonise(_words("علي قال", "علي الطاولة", "علي الارض"), tags) == tags
    # لحود tagged once of two times: tagged again.
    assert harmonise(_words("لحود قال", "انتقد لحود", "وقال اخرون"), tags)[1] == ["O", "B-PERS"]


def test_a_two_letter_word_never_spreads_as_a_one_word_name():
    # ولله split as و + ل + له: a tagger's MISC on it must not reach the pronoun له elsewhere.
    keys = _words("له الحمد", "المخطط له")
    tags = [["B-MISC", "O"], ["O", "O"]]
    assert harmonise(keys, tags) == tags
    # A two-word name with a two-letter word still spreads.
    keys = _words("خطة بي بي", "شركة بي بي")
    assert harmonise(keys, [["O", "B-ORG", "I-ORG"], ["O", "O", "O"]])[1] == ["O", "B-ORG", "I-ORG"]


def test_a_window_limits_how_far_a_name_reaches():
    keys = _words("البنك التجاري", "خبر", "خبر", "البنك التجاري")
    tags = [["B-ORG", "I-ORG"], ["O"], ["O"], ["O", "O"]]
    assert harmonise(keys, tags, window=2)[3] == ["O", "O"]
    assert harmonise(keys, tags, window=3)[3] == ["B-ORG", "I-ORG"]
    assert harmonise(keys, tags)[3] == ["B-ORG", "I-ORG"]


def test_keys_and_tags_must_line_up():
    with pytest.raises(ValueError, match="2 sentences of keys but 1 of tags"):
        harmonise(_words("ا", "ب"), [["O"]])


# -- with the shipped model ------------------------------------------------------------------

# A report's headline and a sentence of its text (ANERcorp dev.txt, sentences 121 and 126): the
# tagger finds the company in the text only when it sees the two as one document.
REPORT = ("روسيا تراقب الآبار التي تستثمرها شركة توتال الفرنسية ( الفرنسية - أرشيف ) .",
          "وقال إنه يتم مراقبة الآبار التي تستثمرها شركة توتال الفرنسية والشركة الروسية البريطانية تي إن كي بي بي .")


def _found(mentions):
    return [[(m.text, m.type, m.start) for m in found] for found in mentions]


def test_an_articles_title_and_text_are_one_document():
    tagger = default_tagger()
    assert _found(tagger.mentions_many(list(REPORT))) == [
        [("روسيا", "LOC", 0), ("توتال", "ORG", 38)], [("تي إن كي بي بي", "ORG", 88)]]
    assert _found(tagger.mentions_many(list(REPORT), documents=[7, 7])) == [
        [("روسيا", "LOC", 0), ("توتال", "ORG", 38)], [("توتال", "ORG", 46), ("تي إن كي بي بي", "ORG", 88)]]


def test_ner_tag_splits_documents_at_docstart_lines(tmp_path):
    tokens = [s.split() for s in REPORT]
    path = tmp_path / "report.conll"
    path.write_text("\n\n".join("\n".join(t) for t in (tokens[0], ["-DOCSTART-"], tokens[1])) + "\n", encoding="utf-8")
    runner = CliRunner()
    apart = runner.invoke(cli, ["ner-tag", str(path)])
    assert apart.exit_code == 0, apart.output
    sentences = apart.output.strip("\n").split("\n\n")
    assert sentences[1] == "-DOCSTART- O"
    assert "توتال O" in sentences[2].splitlines()
    path.write_text("\n\n".join("\n".join(t) for t in tokens) + "\n", encoding="utf-8")
    together = runner.invoke(cli, ["ner-tag", str(path)]).output.strip("\n").split("\n\n")
    assert "توتال B-ORG" in together[1].splitlines()
    sentence_level = runner.invoke(cli, ["ner-tag", "--sentence-level", str(path)]).output.strip("\n").split("\n\n")
    assert "توتال O" in sentence_level[1].splitlines()
    assert [len(s.splitlines()) for s in together] == [len(t) for t in tokens]
