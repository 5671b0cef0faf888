"""Arabic named-entity recognition: the shipped tagger, CoNLL files, entity-level scoring.

Tags follow ANERcorp: PERS, LOC, ORG, MISC in IOB2. The shipped model is a BiLSTM-CRF
(`marsad.enrich.neural`, numpy inference) over word embeddings, a character CNN and the
features of `marsad.enrich.features`; the earlier linear-chain CRF (python-crfsuite) still
loads from a .crfsuite file. Both are trained by scripts/train_ner.py on ANERcorp train.txt.
Sentences are tagged one by one, then a document's tags are made consistent across its
sentences (`marsad.enrich.consistency`): `tag_documents`, `mentions_many`, `tag_conll_sentences`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import islice
from pathlib import Path

from .features import Resources
from .gazetteer import data_path, lexicon_file, load_resources
from .tokens import Token, sentences

TYPES = ("PERS", "LOC", "ORG", "MISC")
MODEL_FILE = "bilstm.npz"  # the shipped model: an ensemble's first member (see marsad.enrich.neural)
CRF_MODEL_FILE = "model.crfsuite"
BATCH = 64  # sentences run through the network together (an article's, typically)
# In a file of sentences with no document boundaries (a CoNLL file), a sentence's document for
# label consistency is the DOCUMENT_WINDOW sentences either side of it.
DOCUMENT_WINDOW = 50
DOCSTART = "-DOCSTART-"  # CoNLL's document boundary: a sentence of this one token


@dataclass(frozen=True)
class Mention:
    """A named entity found in a text: its exact text, type and character offsets."""

    text: str
    type: str
    start: int
    end: int


class Tagger:
    """A trained tagger with the feature resources it was trained with.

    *model_path* is a BiLSTM-CRF (.npz, the default) or a CRF (.crfsuite) file.
    """

    def __init__(self, model_path: str | Path | None = None, resources: Resources | None = None):
        self.path = Path(model_path) if model_path else data_path(MODEL_FILE)
        self._network = self._crf = None
        if self.path.suffix == ".npz":
            from .neural import Ensemble

            self.resources = resources or load_resources(lexicon_file(self.path))
            self._network = Ensemble.load(self.path, self.resources)
        else:
            import pycrfsuite

            self.resources = resources or load_resources()
            self._crf = pycrfsuite.Tagger()
            self._crf.open(str(self.path))

    def files(self) -> list[Path]:
        """The model's files (the network's weights and embeddings, or the CRF)."""
        return self._network.files() if self._network is not None else [self.path]

    def clear_caches(self) -> None:
        """Forget cached word features and encodings (for timing a cold start)."""
        self.resources.word_features.cache_clear()
        if self._network is not None:
            self._network.clear_caches()

    def tag(self, tokens: Sequence[str]) -> list[str]:
        """IOB2 tags for one sentence of tokens."""
        if not tokens:
            return []
        if self._network is not None:
            return self._network.tag_batch([tokens])[0]
        return list(self._crf.tag(self.resources.sentence_features(tokens)))

    def tag_sentences(self, batch: Iterable[Sequence[str]]) -> Iterator[list[str]]:
        """Tags for each sentence of *batch* (the network tags BATCH sentences at a time: faster)."""
        if self._network is None:
            for tokens in batch:
                yield self.tag(tokens)
            return
        iterator = iter(batch)
        while chunk := list(islice(iterator, BATCH)):
            yield from self._network.tag_batch(chunk)

    def key(self, token: str) -> str:
        """The form in which label consistency compares words: folded, clitics off (لسولانا -> سولانا)."""
        return self.resources.word_features(token)[1]["bare"]

    def harmonise(self, tokens: Sequence[Sequence[str]], tags: Sequence[Sequence[str]],
                  window: int | None = None) -> list[list[str]]:
        """*tags* of one document's sentences made consistent across them (`marsad.enrich.consistency`)."""
        from .consistency import harmonise

        if all(t.count("O") == len(t) for t in tags):  # no names: nothing to make consistent
            return [list(t) for t in tags]
        key = self.key
        return harmonise([[key(t) for t in sentence] for sentence in tokens], tags, window)

    def tag_documents(self, documents: Sequence[Sequence[Sequence[str]]]) -> list[list[list[str]]]:
        """Tags of each document's sentences: every sentence tagged on its own, then made consistent
        across its document (`harmonise`).

        All the documents' sentences go through the network together, longest first, so each pass
        is full and steps over sentences of about the same length (an article's title alone, or its
        few sentences, would leave the network stepping for one).
        """
        flat = [sentence for document in documents for sentence in document]
        order = sorted(range(len(flat)), key=lambda i: -len(flat[i]))  # stable: ties keep their order
        tagged: list[list[str]] = [[] for _ in flat]
        for i, tags in zip(order, self.tag_sentences([flat[i] for i in order])):
            tagged[i] = tags
        out, first = [], 0
        for document in documents:
            out.append(self.harmonise(document, tagged[first : first + len(document)]))
            first += len(document)
        return out

    def tag_conll_sentences(self, sentences_: Sequence[Sequence[str]], *, consistent: bool = True) -> list[list[str]]:
        """Tags of a CoNLL file's sentences: documents split at -DOCSTART- lines, each with label
        consistency over DOCUMENT_WINDOW sentences either side (*consistent* False: sentence by sentence)."""
        tagged = list(self.tag_sentences(sentences_))
        if not consistent:
            return tagged
        out: list[list[str]] = []
        start = 0
        for end in [i for i, s in enumerate(sentences_) if list(s) == [DOCSTART]] + [len(sentences_)]:
            out += self.harmonise(sentences_[start:end], tagged[start:end], DOCUMENT_WINDOW)
            if end < len(sentences_):
                out.append(["O"])
            start = end + 1
        return out

    def mentions(self, text: str) -> list[Mention]:
        """Every entity mention in *text*, with offsets into it (text[start:end] == mention.text)."""
        return self.mentions_many([text])[0]

    def mentions_many(self, texts: Sequence[str], documents: Sequence[Hashable] | None = None) -> list[list[Mention]]:
        """`mentions` of several texts at once (their sentences tagged together: `tag_documents`).

        Texts with the same *documents* entry (an article's title and text) are one document for
        label consistency; by default each text is its own.
        """
        split = [sentences(text) for text in texts]
        groups: dict[Hashable, list[int]] = {}
        for n in range(len(texts)):
            groups.setdefault(documents[n] if documents is not None else n, []).append(n)
        tagged = self.tag_documents([[[t.text for t in sentence] for n in members for sentence in split[n]]
                                     for members in groups.values()])
        found: list[list[Mention]] = [[] for _ in texts]
        for members, document in zip(groups.values(), tagged):
            tags_of = iter(document)
            for n in members:
                for sentence in split[n]:
                    for start, end, kind in spans(next(tags_of)):
                        first, last = sentence[start], sentence[end - 1]
                        found[n].append(Mention(texts[n][first.start : last.end], kind, first.start, last.end))
        return found


@cache
def default_tagger() -> Tagger:
    """The shipped model, loaded once per process."""
    return Tagger()


def extract_mentions(text: str) -> list[Mention]:
    """Entity mentions in *text* found by the shipped model."""
    return default_tagger().mentions(text)


# -- CoNLL files ----------------------------------------------------------------------------

def read_conll(path: str | Path) -> list[tuple[list[str], list[str]]]:
    """Sentences of a one-token-a-line file as (tokens, tags); tags are "" where the file has none.

    Blank lines separate sentences; the second column is the tag, further columns are ignored.
    """
    result: list[tuple[list[str], list[str]]] = []
    tokens: list[str] = []
    tags: list[str] = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if not parts:
                if tokens:
                    result.append((tokens, tags))
                    tokens, tags = [], []
                continue
            tokens.append(parts[0])
            tags.append(parts[1] if len(parts) > 1 else "")
    if tokens:
        result.append((tokens, tags))
    return result


def write_conll(sentences_: Iterable[tuple[Sequence[str], Sequence[str]]], out) -> None:
    """Write (tokens, tags) sentences as `token TAG` lines, a blank line after each sentence."""
    for tokens, tags in sentences_:
        for token, tag in zip(tokens, tags):
            out.write(f"{token} {tag}\n")
        out.write("\n")


# -- scoring --------------------------------------------------------------------------------

def spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """Entity spans (start, end, type) of an IOB2 sequence; a stray I- opens a span (as conlleval)."""
    found: list[tuple[int, int, str]] = []
    if isinstance(tags, list) and tags.count("O") == len(tags):
        return found  # no names, as in most sentences: no scan
    start, kind = None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, _, label = tag.partition("-")
        if prefix == "I" and kind == label:
            continue
        if kind is not None:
            found.append((start, i, kind))
            start, kind = None, None
        if prefix in ("B", "I"):
            start, kind = i, label
    return found


@dataclass
class Score:
    """Entity-level counts for one type (or all): exact span and type must match."""

    true_positives: int = 0
    predicted: int = 0
    gold: int = 0

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Evaluation:
    """Per-type and micro-averaged entity scores."""

    by_type: dict[str, Score] = field(default_factory=dict)
    micro: Score = field(default_factory=Score)

    def as_dict(self) -> dict:
        """Plain numbers, rounded, for JSON reports."""
        row = lambda s: {"precision": round(s.precision, 4), "recall": round(s.recall, 4),  # noqa: E731
                         "f1": round(s.f1, 4), "gold": s.gold, "predicted": s.predicted}
        return {"micro": row(self.micro), **{t: row(s) for t, s in self.by_type.items()}}


def evaluate(gold: Iterable[Sequence[str]], predicted: Iterable[Sequence[str]]) -> Evaluation:
    """Score predicted tag sequences against gold ones, sentence by sentence."""
    result = Evaluation(by_type={t: Score() for t in TYPES})
    for gold_tags, predicted_tags in zip(gold, predicted, strict=True):
        gold_spans, predicted_spans = set(spans(gold_tags)), set(spans(predicted_tags))
        for spans_, attribute in ((gold_spans, "gold"), (predicted_spans, "predicted")):
            for *_, kind in spans_:
                score = result.by_type.setdefault(kind, Score())
                setattr(score, attribute, getattr(score, attribute) + 1)
        for *_, kind in gold_spans & predicted_spans:
            result.by_type[kind].true_positives += 1
    for score in result.by_type.values():
        result.micro.true_positives += score.true_positives
        result.micro.predicted += score.predicted
        result.micro.gold += score.gold
    return result


__all__ = ["Mention", "Tagger", "Token", "default_tagger", "evaluate", "extract_mentions", "read_conll",
           "spans", "write_conll"]
