"""The NER tagger's parts: tokens with offsets, Arabic features, CoNLL files, entity scoring, CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from marsad.cli import cli
from marsad.enrich.features import Resources, clitic_candidates, light_stem, shape, strip_article
from marsad.enrich.gazetteer import load_resources
from marsad.enrich.ner import default_tagger, evaluate, extract_mentions, read_conll, spans, write_conll
from marsad.enrich.tokens import sentences, tokenize

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ner"


# -- tokens -------------------------------------------------------------------------------

def test_tokens_split_punctuation_but_keep_clitics_and_offsets():
    text = 'قال مسؤولون لوكالة "فرانس برس"، وواشنطن.'
    tokens = tokenize(text)
    assert [t.text for t in tokens] == ["قال", "مسؤولون", "لوكالة", '"', "فرانس", "برس", '"', "،", "وواشنطن", "."]
    assert all(text[t.start : t.end] == t.text for t in tokens)


def test_tokens_keep_diacritics_inside_words():
    assert [t.text for t in tokenize("قوّاتها البالغ")] == ["قوّاتها", "البالغ"]


def test_sentences_end_at_stops_and_line_breaks():
    split = sentences("وصل الوفد. ثم غادر؟\nفقرة ثانية")
    assert [[t.text for t in s] for s in split] == [["وصل", "الوفد", "."], ["ثم", "غادر", "؟"], ["فقرة", "ثانية"]]


# -- features -----------------------------------------------------------------------------

def test_clitic_readings_cover_conjunction_preposition_and_article():
    assert clitic_candidates("لواشنطن") == [("", "لواشنطن"), ("ل", "واشنطن")]
    assert ("ل", "الولايات") in clitic_candidates("للولايات")
    assert ("و", "الصادرات") in clitic_candidates("والصادرات")
    assert clitic_candidates("في") == [("", "في")]


def test_split_clitics_prefers_known_words_and_never_strips_a_known_name():
    resources = Resources(clusters={w: ("0", "0", "0") for w in ["الولايات", "الصادرات", "مال", "واشنطن"]},
                          gazetteer={("واشنطن",): "LOC"})
    assert resources.split_clitics("لواشنطن") == ("ل", "واشنطن")
    assert resources.split_clitics("واشنطن") == ("", "واشنطن")
    assert resources.split_clitics("للولايات") == ("ل", "الولايات")
    assert resources.split_clitics("والصادرات") == ("و", "الصادرات")
    assert resources.split_clitics("بازوم") == ("", "بازوم")  # ازوم is no known word


def test_light_stem_and_article():
    assert strip_article("الولايات") == "ولايات"
    assert light_stem("الامريكيه") == "امريك"
    assert light_stem("مسؤولون") == "مسؤول"
    assert light_stem("زين") == "زين"  # too short to stem


def test_shape_classes():
    assert [shape(t) for t in ["2012", "٢٦", "3.5", "NATO", "،", ".", "ف16", "النيجر", "x²", "①"]] == [
        "digit", "digit", "digit", "latin", "punct", "punct", "mixed", "arabic", "mixed", "digit"]


def test_sentence_features_include_word_clitic_cluster_gazetteer_and_context():
    clusters = {"الولايات": ("7", "8", "9"), "في": ("4", "5", "6"), "واشنطن": ("1", "2", "3")}
    clusters.update({f"word{i}": ("0", "0", "0") for i in range(20)})  # a vocabulary to rank against
    resources = Resources(clusters=clusters,
                          gazetteer={("واشنطن",): "LOC", ("الولايات", "المتحده"): "LOC"},
                          words={"الرييس": "TITLE"})
    feats = resources.sentence_features(["الرئيس", "في", "لواشنطن", "والولايات", "المتحدة"])
    third = set(feats[2])
    assert {"w=لواشنطن", "bare=واشنطن", "pro=ل", "c1k=3", "gaz=B-LOC", "-1:w=في", "-2:lex=TITLE",
            "1:gaz=B-LOC", "shape=arabic"} <= third
    assert "gaz=B-LOC" in feats[3] and "gaz=I-LOC" in feats[4]
    assert "-2:pad" in feats[0] and "2:pad" in feats[-1]
    assert "al=1" in feats[3] and "pro=و" in feats[3]


def test_shipped_resources_load_and_know_common_words():
    resources = load_resources()
    assert len(resources.clusters) > 50_000
    assert ("النيجر",) in resources.gazetteer
    assert resources.words.get("الرييس") == "TITLE"


# -- scoring and files --------------------------------------------------------------------

def test_spans_read_iob2_and_stray_inside_tags():
    assert spans(["B-PERS", "I-PERS", "O", "B-LOC", "B-LOC", "I-ORG"]) == [
        (0, 2, "PERS"), (3, 4, "LOC"), (4, 5, "LOC"), (5, 6, "ORG")]


def test_evaluate_counts_exact_spans_and_types():
    gold = [["B-PERS", "I-PERS", "O", "B-LOC"], ["B-ORG", "O"]]
    predicted = [["B-PERS", "O", "O", "B-LOC"], ["B-ORG", "O"]]
    scores = evaluate(gold, predicted)
    assert (scores.micro.true_positives, scores.micro.predicted, scores.micro.gold) == (2, 3, 3)
    assert scores.by_type["PERS"].f1 == 0.0 and scores.by_type["LOC"].f1 == 1.0
    assert round(scores.micro.f1, 4) == round(2 / 3, 4)


def test_conll_round_trip_ignores_extra_columns(tmp_path):
    sentences_ = read_conll(FIXTURES / "tiny.conll")
    assert len(sentences_) == 3 and sentences_[0][1][5] == "B-PERS"
    out = tmp_path / "out.txt"
    with out.open("w", encoding="utf-8") as handle:
        write_conll(sentences_, handle)
    assert read_conll(out) == sentences_


# -- the shipped model --------------------------------------------------------------------

def test_mentions_have_offsets_into_the_text():
    text = "ووافق نائب وزير الخارجية الأمريكي كورت كامبل على طلب سلطات نيامي، وذلك خلال اجتماع في واشنطن."
    mentions = extract_mentions(text)
    assert all(text[m.start : m.end] == m.text for m in mentions)
    found = {(m.text, m.type) for m in mentions}
    assert ("كورت كامبل", "PERS") in found and ("واشنطن", "LOC") in found


def test_tagger_handles_empty_and_odd_input():
    tagger = default_tagger()
    assert tagger.tag([]) == []
    assert len(tagger.tag(["2012", "NATO", "،", "ـ"])) == 4
    assert extract_mentions("") == []


def test_ner_tag_command_prints_token_tag_lines_in_the_same_layout():
    result = CliRunner().invoke(cli, ["ner-tag", str(FIXTURES / "tiny.conll")])
    assert result.exit_code == 0, result.output
    blocks = result.output.strip("\n").split("\n\n")
    assert len(blocks) == 3
    first = [line.split(" ") for line in blocks[0].splitlines()]
    assert [t for t, _ in first] == [t for t in read_conll(FIXTURES / "tiny.conll")[0][0]]
    assert all(len(parts) == 2 for parts in first)
    assert dict(first)["كامبل"] == "I-PERS"


# -- the BiLSTM-CRF's numpy inference -------------------------------------------------------

def test_viterbi_finds_the_best_path_of_each_sentence_in_a_batch():
    import itertools

    import numpy as np

    from marsad.enrich.neural import viterbi

    rng = np.random.default_rng(3)
    emissions, transitions = rng.normal(size=(3, 4, 3)), rng.normal(size=(3, 3))
    start, end = rng.normal(size=3), rng.normal(size=3)
    lengths = [4, 2, 1]

    def score(b, path):
        return (start[path[0]] + end[path[-1]] + sum(emissions[b, i, t] for i, t in enumerate(path))
                + sum(transitions[a, c] for a, c in zip(path, path[1:])))

    best = [list(max(itertools.product(range(3), repeat=n), key=lambda p, b=b: score(b, p)))
            for b, n in enumerate(lengths)]
    assert viterbi(emissions, lengths, transitions, start, end) == best


def test_numpy_lstm_and_character_cnn_match_torch():
    torch = pytest.importorskip("torch")  # a training-only dependency
    import numpy as np

    from marsad.enrich.neural import BiLSTMCRF, _lstm_weights

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(5, 8, batch_first=True, bidirectional=True)
    lengths = [6, 3, 1]
    x = torch.randn(3, 6, 5)
    for b, n in enumerate(lengths):
        x[b, n:] = 0
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
    expected, _ = torch.nn.utils.rnn.pad_packed_sequence(lstm(packed)[0], batch_first=True, total_length=6)
    s = {k: v.detach().numpy() for k, v in lstm.state_dict().items()}
    model = BiLSTMCRF.__new__(BiLSTMCRF)  # only the parts under test
    model.lstm = {d: _lstm_weights(s[f"weight_ih_l0{r}"], s[f"weight_hh_l0{r}"],
                                   s[f"bias_ih_l0{r}"] + s[f"bias_hh_l0{r}"])
                  for d, r in (("f", ""), ("b", "_reverse"))}
    reverse = np.zeros((3, 6), dtype=np.int64)
    for b, n in enumerate(lengths):
        reverse[b, :n], reverse[b, n:] = np.arange(n - 1, -1, -1), np.arange(n, 6)
    xn = x.numpy()
    w_ih, _, bias = model._stacked_lstm
    projected = np.stack([(inputs @ w_ih[d] + bias[d]).transpose(1, 0, 2)  # time-major, per direction
                          for d, inputs in enumerate((xn, np.take_along_axis(xn, reverse[:, :, None], axis=1)))])
    forward, backward = model._run_projected(projected.astype(np.float32), lengths)
    got = np.concatenate([forward, np.take_along_axis(backward, reverse[:, :, None], axis=1)], axis=2)
    for b, n in enumerate(lengths):
        assert np.allclose(got[b, :n], expected[b, :n].detach().numpy(), atol=1e-5)

    embedding, conv = torch.nn.Embedding(10, 4, padding_idx=0), torch.nn.Conv1d(4, 6, 3, padding=1)
    model.char_embeddings = embedding.weight.detach().numpy()
    model.conv_w, model.conv_b = conv.weight.detach().numpy(), conv.bias.detach().numpy()
    model.char_projection = np.einsum("cd,fdk->kcf", model.char_embeddings, model.conv_w)
    chars = (3, 5, 7, 2)
    want = conv(embedding(torch.tensor([chars])).transpose(1, 2))[0].max(dim=1).values.detach().numpy()
    assert np.allclose(model._char_vector(chars), want, atol=1e-5)


def test_batched_tagging_equals_one_sentence_at_a_time():
    tagger = default_tagger()
    batch = [s for s, _ in read_conll(FIXTURES / "tiny.conll")] + [[], ["واشنطن"]]
    assert list(tagger.tag_sentences(batch)) == [tagger.tag(s) for s in batch]


def test_clear_caches_gives_a_cold_start_with_the_same_tags():
    from marsad.enrich.ner import Tagger

    tagger = Tagger()
    sentences = [s for s, _ in read_conll(FIXTURES / "tiny.conll")]
    warm = list(tagger.tag_sentences(sentences))
    tagger.clear_caches()
    member = tagger._network.members[0]
    sizes = [len(member._projections), member.char_vector.cache_info().currsize,
             member.encoder.token.cache_info().currsize, tagger.resources.word_features.cache_info().currsize]
    assert sizes == [0, 0, 0, 0]
    assert list(tagger.tag_sentences(sentences)) == warm


def test_a_full_projection_cache_starts_again_without_losing_a_batch(monkeypatch):
    import marsad.enrich.neural as neural
    from marsad.enrich.ner import Tagger

    tagger = Tagger()
    sentences = [s for s, _ in read_conll(FIXTURES / "tiny.conll")]
    expected = list(tagger.tag_sentences(sentences))
    tagger.clear_caches()
    monkeypatch.setattr(neural, "PROJECTION_CACHE", 12)  # fewer than one sentence's word types
    member = tagger._network.members[0]
    assert [tagger.tag(s) for s in sentences] == expected
    assert len(member._projections) <= max(12, max(len(set(s)) for s in sentences))
    assert list(tagger.tag_sentences(sentences)) == expected  # all of them in one pass, over the bound
    monkeypatch.setattr(neural, "PROJECTION_CACHE", 20)  # fewer than the three sentences hold
    tagger.clear_caches()
    assert [tagger.tag(s) for s in sentences + sentences[::-1]] == expected + expected[::-1]
    assert len(member._projections) <= 20


# -- self-training lexicons ------------------------------------------------------------------

def test_each_model_reads_the_self_training_lexicon_it_was_trained_with(tmp_path):
    import numpy as np

    from marsad.enrich.gazetteer import (NETWORK_SELFTRAIN_FILE, SELFTRAIN_FILE, data_path, lexicon_file,
                                         load_resources, shipped_resources)
    from marsad.enrich.ner import CRF_MODEL_FILE, Tagger

    np.savez(tmp_path / "old.npz", chars=np.array("اب"))  # a network from before lexicons were recorded
    np.savez(tmp_path / "new.npz", chars=np.array("اب"), selftrain=np.array(NETWORK_SELFTRAIN_FILE))
    assert lexicon_file(tmp_path / "old.npz") == SELFTRAIN_FILE
    assert lexicon_file(tmp_path / "new.npz") == NETWORK_SELFTRAIN_FILE
    assert default_tagger().resources is load_resources(lexicon_file(default_tagger().path)) is shipped_resources()
    assert Tagger(data_path(CRF_MODEL_FILE)).resources is load_resources()


def test_prediction_counts_per_word_and_multi_word_name():
    from marsad.enrich.training import count_predictions

    words, names = {}, {}
    count_predictions(words, names, ["قال", "محمد", "بازوم", "في", "نيامي"], ["O", "B-PERS", "I-PERS", "O", "B-LOC"])
    count_predictions(words, names, ["محمد", "بازوم"], ["B-PERS", "I-PERS"])
    assert words["محمد"] == [0, 2, 0, 0, 0] and words["نيامي"] == [0, 0, 1, 0, 0] and words["قال"] == [1, 0, 0, 0, 0]
    assert names == {(("محمد", "بازوم"), "PERS"): 2}  # one-word names count only as words


def test_the_network_lexicon_is_made_from_tagged_corpus_articles(tmp_path):
    import gzip
    from importlib import resources

    from marsad.enrich.gazetteer import data_path
    from marsad.enrich.ner import MODEL_FILE
    from marsad.enrich.training import build_network_lexicon, iter_corpus_articles

    sample = Path(str(resources.files("marsad").joinpath("sample"))) / "saudinewsnet-sample.jsonl.gz"
    corpus = tmp_path / "corpus.jsonl.gz"
    with gzip.open(sample, "rt", encoding="utf-8") as source, gzip.open(corpus, "wt", encoding="utf-8") as out:
        out.writelines(line for _, line in zip(range(40), source))
    documents = list(iter_corpus_articles(corpus))
    assert len(documents) == 40 - sum(1 for d in documents if not d)
    out = tmp_path / "selftrain.bilstm.tsv.gz"
    tokens = build_network_lexicon(corpus, data_path(MODEL_FILE), out)
    assert tokens == sum(len(s) for d in documents for s in d)
    lines = gzip.open(out, "rt", encoding="utf-8").read().splitlines()
    assert lines[0].startswith("# self-training counts") and "a BiLSTM-CRF (bilstm.npz)" in lines[0]
    rows = [line.split("\t") for line in lines[1:]]
    assert {r[0] for r in rows} == {"W", "N"}
    assert all(len(r[2].split()) == 5 for r in rows if r[0] == "W")
