"""The neural NER tagger: a BiLSTM-CRF over word embeddings, a character CNN and lexicon flags.

Inference is plain numpy on purpose: torch is only needed to *train* the model
(scripts/train_ner.py, the `train` extra), so the runtime stays numpy-only. The weights
ship as .npz files (`bilstm.npz` and `bilstm.emb.npz`, one pair per ensemble member), written by
`marsad.enrich.training.train_bilstm`. The input encoding (`Encoder`) is shared by training
and inference, so both see exactly the same ids.

Per token the network sees:

- the SaudiNewsNet word2vec vector (fine-tuned) of its folded form and of its clitic-free
  form (`Resources.split_clitics`), from the most frequent words; others share an unknown row
- a character CNN over the folded form (width-3 filters, max-pooled)
- a bag of discrete features from `marsad.enrich.features`: shape, proclitics, length, cluster
  ids, gazetteer and trigger-word classes, the self-training lexicon, gazetteer spans
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property, lru_cache
from itertools import islice
from pathlib import Path

import numpy as np

from .features import Resources, strip_article

TAGS = ("O", "B-PERS", "I-PERS", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC")
MODEL_FILE = "bilstm.npz"  # the first member; bilstm.2.npz ... are the others of the ensemble
CRF_FILE = "model.crfsuite"
# Weight of the CRF's log-marginals in the shipped ensemble's emissions (0: networks alone).
CRF_WEIGHT = 0.0
SUB_BATCH = 32  # sentences per network pass, after sorting a batch by length
MAX_CHARS = 16  # longer words keep their first and last 8 characters
# Word types whose LSTM input projections are kept (4 KB each at hidden 128: at most about 270 MB,
# about what the 200,000 input vectors kept before took; the 65,536 most recently used types cover
# most of a news text).
PROJECTION_CACHE = 65_536
PAD, UNK = 0, 1
# Word features (from Resources.word_features) that go into the bag; identity features
# (w=, bare=, stem=, affixes) are left to the embeddings and the character CNN.
_BAG_PREFIXES = ("shape=", "pro=", "al=", "len=", "c64=", "c256=", "c1k=", "bc1k=", "sc1k=", "lex=", "sne=",
                 "slex", "c=oov")


def bag_strings(word_feats: Sequence[str]) -> list[str]:
    """The discrete features of one word type that the network sees as a bag."""
    return [f for f in word_feats if f.startswith(_BAG_PREFIXES)]


def span_features(resources: Resources, bares: Sequence[str]) -> list[list[str]]:
    """The sentence-level bag features of each token: its place in a gazetteer name and in a
    self-training name (B-/I- and type), from the sentence's clitic-free words."""
    out: list[list[str]] = [[] for _ in bares]
    spans_ = [("gaz=", resources.gazetteer_tags(bares))]
    if resources.names:
        spans_.append(("sgaz=", resources.gazetteer_tags(bares, resources.names, resources.max_self_name)))
    for prefix, tags in spans_:
        for t, tag in enumerate(tags):
            if tag:
                out[t].append(prefix + tag)
    return out


class Encoder:
    """Turns tokens into the network's integer inputs (word ids, character ids, feature bags)."""

    def __init__(self, resources: Resources, words: Sequence[str], chars: str, bag: Sequence[str]):
        self.resources = resources
        self.words = list(words)  # row i + 2 of the embedding table (0 pad, 1 unknown)
        self.word_ids = {w: i + 2 for i, w in enumerate(self.words)}
        self.chars = chars
        self.char_ids = {c: i + 2 for i, c in enumerate(chars)}
        self.bag = list(bag)
        self.bag_ids = {f: i for i, f in enumerate(self.bag)}
        self.token = lru_cache(maxsize=200_000)(self._token)

    def _word_id(self, *forms: str) -> int:
        for form in forms:
            found = self.word_ids.get(form)
            if found is not None:
                return found
        return UNK

    def char_sequence(self, word: str) -> list[int]:
        """Character ids of a folded word (first and last MAX_CHARS/2 of a long one)."""
        if len(word) > MAX_CHARS:
            word = word[: MAX_CHARS // 2] + word[-MAX_CHARS // 2 :]
        return [self.char_ids.get(c, UNK) for c in word]

    def _token(self, token: str) -> tuple[int, int, tuple[int, ...], tuple[str, ...], str]:
        feats, info = self.resources.word_features(token)
        w, bare = info["w"], info["bare"]  # info["w"] is key(token)
        return (self._word_id(w, bare), self._word_id(bare, strip_article(bare)),
                tuple(self.char_sequence(w)), feats, bare)

    def sentence(self, tokens: Sequence[str]) -> tuple[list[int], list[int], list[tuple[int, ...]], list[list[int]]]:
        """(word ids, clitic-free word ids, character ids, bag ids) of one sentence."""
        rows = [self.token(t) for t in tokens]
        spans_ = span_features(self.resources, [r[4] for r in rows])
        bags = [[i for f in bag_strings(r[3]) + extra if (i := self.bag_ids.get(f)) is not None]
                for r, extra in zip(rows, spans_)]
        return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], bags


def embeddings_path(model_path: str | Path) -> Path:
    """Where a member's embeddings are: bilstm.npz -> bilstm.emb.npz, bilstm.2.npz -> bilstm.2.emb.npz."""
    path = Path(model_path)
    return path.with_name(path.name[: -len(".npz")] + ".emb.npz")


def ensemble_paths(model_path: str | Path) -> list[Path]:
    """The members of the ensemble whose first file is *model_path* (bilstm.npz, bilstm.2.npz, ...)."""
    path = Path(model_path)
    stem = path.name[: -len(".npz")]
    others = sorted((p for p in path.parent.glob(stem + ".*.npz") if p.name[len(stem) + 1 : -4].isdigit()),
                    key=lambda p: int(p.name[len(stem) + 1 : -4]))
    return [path, *others]


def _lstm_weights(w_ih: np.ndarray, w_hh: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, ...]:
    """torch's LSTM weights (gates i, f, g, o) transposed, gates reordered to i, f, o, g.

    One sigmoid then covers the three sigmoid gates in a single call.
    """
    hidden = w_hh.shape[1]
    order = np.r_[0 : 2 * hidden, 3 * hidden : 4 * hidden, 2 * hidden : 3 * hidden]
    return (np.ascontiguousarray(w_ih[order].T), np.ascontiguousarray(w_hh[order].T), bias[order].copy())


def viterbi(emissions: np.ndarray, lengths: Sequence[int], transitions: np.ndarray, start: np.ndarray,
            end: np.ndarray) -> list[list[int]]:
    """Best tag paths of a batch: emissions (batch, time, tags), scores as the CRF was trained."""
    batch, steps, n = emissions.shape
    lengths = np.asarray(lengths)
    score = start[None, :] + emissions[:, 0]
    back = np.zeros((batch, steps, n), dtype=np.int32)
    for t in range(1, steps):
        candidates = score[:, :, None] + transitions[None, :, :]  # from -> to
        best = candidates.argmax(axis=1)
        new = candidates.max(axis=1) + emissions[:, t]
        active = (t < lengths)[:, None]
        score = np.where(active, new, score)
        back[:, t] = best
    paths = []
    final = (score + end[None, :]).argmax(axis=1)
    for b in range(batch):
        tag = int(final[b])
        path = [tag]
        for t in range(lengths[b] - 1, 0, -1):
            tag = int(back[b, t, tag])
            path.append(tag)
        paths.append(path[::-1])
    return paths


class BiLSTMCRF:
    """The numpy forward pass of the trained network and its Viterbi decoding."""

    def __init__(self, model_path: str | Path, resources: Resources):
        with np.load(model_path, allow_pickle=False) as data:
            p = {k: data[k] for k in data.files}
        with np.load(embeddings_path(model_path), allow_pickle=False) as data:
            quantised, scale = data["words_q"], data["words_scale"]
            words = str(data["vocabulary"]).split("\n")
        # int8 rows times a per-row scale: a quarter of float32's size, error well under 1%.
        self.path = Path(model_path)
        self.embeddings = quantised.astype(np.float32) * scale.astype(np.float32)[:, None]
        f32 = {k: v.astype(np.float32) for k, v in p.items() if v.dtype.kind == "f"}
        self.encoder = Encoder(resources, words, str(p["chars"]), str(p["bag"]).split("\n"))
        self.char_embeddings = f32["char_emb"]
        self.conv_w, self.conv_b = f32["conv_w"], f32["conv_b"]  # (filters, char dim, width)
        self.bag_embeddings = f32["bag_emb"]
        self.lstm = {d: _lstm_weights(f32[f"w_ih_{d}"], f32[f"w_hh_{d}"], f32[f"b_{d}"]) for d in ("f", "b")}
        self.out_w, self.out_b = f32["out_w"].T.copy(), f32["out_b"]
        self.transitions, self.start, self.end = f32["transitions"], f32["start"], f32["end"]
        self.char_vector = lru_cache(maxsize=200_000)(self._char_vector)
        # Character CNN as lookups: filter response of each character at each window offset.
        self.char_projection = np.einsum("cd,fdk->kcf", self.char_embeddings, self.conv_w)
        # The LSTM's input projection (input @ w_ih + bias, both directions) is linear in the input, and
        # a token's input is its word type's vector plus the rows of its gazetteer-span features: so
        # it is the type's projection, computed once and kept, plus those rows' projections. In
        # articles that is one product per word type instead of one per token, where the product per
        # token was two thirds of the network's time. Projections are made in float64 and stored in
        # float32, so a type's row does not depend on which other types shared its product.
        w_ih, _, bias = self._stacked_lstm
        self._w_ih64, self._bias64 = w_ih.astype(np.float64), bias.astype(np.float64)
        bag_start = w_ih.shape[1] - self.bag_embeddings.shape[1]
        self._bag_projection = np.einsum("nb,dbg->ndg", self.bag_embeddings.astype(np.float64),
                                         self._w_ih64[:, bag_start:]).astype(np.float32)  # (bag, 2, 4h)
        self._projections: dict[str, tuple[np.ndarray, str]] = {}  # token -> ((2, 4h) projection, clitic-free form)

    def _char_vector(self, chars: tuple[int, ...]) -> np.ndarray:
        if not chars:  # e.g. a lone tatweel, which folding removes
            return np.zeros(self.conv_w.shape[0], dtype=np.float32)
        width = self.conv_w.shape[2]
        pad = width // 2
        ids = np.array((PAD,) * pad + chars + (PAD,) * pad, dtype=np.int64)
        # conv[j] = sum over offsets k of (embedding of character j + k) . filter[:, :, k]
        conv = sum(self.char_projection[k][ids[k : k + len(chars)]] for k in range(width)) + self.conv_b
        return conv.max(axis=0)

    @cached_property
    def _stacked_lstm(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The two directions' weights stacked (forward first): input, recurrent, bias."""
        return tuple(np.stack([self.lstm[d][n] for d in ("f", "b")]) for n in range(3))

    def _run_projected(self, projected: np.ndarray, lengths: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Both LSTM directions over a batch sorted by length, longest first (as packed sequences), given
        their input projections (2, steps, batch, 4h), time-major: the forward direction's over the
        sentences, the backward one's over each sentence reversed, left-aligned.

        The two directions step together, stacked, so each step costs one set of numpy calls for
        both: the steps' Python overhead, not arithmetic, is what this costs. At step t only the
        sentences longer than t are computed: no work on padding.
        """
        _, w_hh, _ = self._stacked_lstm
        _, steps, batch, _ = projected.shape
        hidden = w_hh.shape[1]
        h = np.zeros((2, batch, hidden), dtype=np.float32)
        c = np.zeros((2, batch, hidden), dtype=np.float32)
        out = np.zeros((2, steps, batch, hidden), dtype=np.float32)
        active = np.searchsorted(-np.asarray(lengths), -np.arange(steps), side="right")  # rows alive at t
        for t in range(steps):
            k = active[t]
            gates = projected[:, t, :k]
            gates += h[:, :k] @ w_hh
            # Gate columns were reordered at load time to (input, forget, output | cell); in-place
            # operations because the step's Python overhead, not arithmetic, dominates.
            sig = gates[:, :, : 3 * hidden]
            sig *= 0.5
            np.tanh(sig, out=sig)
            sig += 1.0
            sig *= 0.5  # sigmoid(x) = (tanh(x / 2) + 1) / 2
            cell = gates[:, :, 3 * hidden :]
            np.tanh(cell, out=cell)
            cell *= sig[:, :, :hidden]
            c_k = c[:, :k]
            c_k *= sig[:, :, hidden : 2 * hidden]
            c_k += cell
            h_k = h[:, :k]
            np.tanh(c_k, out=h_k)
            h_k *= sig[:, :, 2 * hidden :]
            out[:, t, :k] = h_k
        return out[0].transpose(1, 0, 2), out[1].transpose(1, 0, 2)

    def _token_vector(self, token: str) -> tuple[np.ndarray, str]:
        """A token's input vector without its sentence-level (gazetteer span) features, and its clitic-free form."""
        word, bare, chars, feats, bare_form = self.encoder.token(token)
        # The bag vocabulary holds only bag_strings' features, so a plain lookup filters them.
        bag = [i for f in feats if (i := self.encoder.bag_ids.get(f)) is not None]
        bag_vector = self.bag_embeddings[bag].sum(axis=0) if bag else np.zeros(self.bag_embeddings.shape[1], np.float32)
        vector = np.concatenate([self.embeddings[word], self.embeddings[bare], self.char_vector(chars), bag_vector])
        return vector, bare_form

    def _learn_projections(self, tokens: Sequence[str]) -> None:
        """Compute and keep the input projections of word types not seen yet (one product for all)."""
        cache = self._projections
        new = []
        hits = 0
        for token in dict.fromkeys(tokens):
            row = cache.pop(token, None)
            if row is None:
                new.append(token)
            else:
                cache[token] = row  # moved to the end: the dict's order is least recently used first
                hits += 1
        if not new:
            return
        if len(cache) + len(new) > PROJECTION_CACHE:
            # Bounded memory: the least recently used quarter goes, never one of this batch's types
            # (they are the last `hits` entries).
            for old in list(islice(cache, min(len(cache) - hits, PROJECTION_CACHE // 4 + len(new)))):
                del cache[old]
        vectors = [self._token_vector(t) for t in new]
        x = np.stack([v[0] for v in vectors]).astype(np.float64)
        rows = np.empty((len(new), 2, self._w_ih64.shape[2]), dtype=np.float32)
        for d in (0, 1):  # a BLAS product per direction (einsum would not use BLAS here)
            rows[:, d] = x @ self._w_ih64[d] + self._bias64[d]
        cache.update(zip(new, zip(rows, (v[1] for v in vectors))))

    def _sentence_projections(self, tokens: Sequence[str]) -> np.ndarray:
        """(len, 2, 4h): each token's type projection plus its gazetteer-span features' rows."""
        rows = [self._projections[t] for t in tokens]
        x = np.stack([r[0] for r in rows])
        for t, features in enumerate(span_features(self.encoder.resources, [r[1] for r in rows])):
            for feature in features:
                if (i := self.encoder.bag_ids.get(feature)) is not None:
                    x[t] += self._bag_projection[i]
        return x

    def emissions(self, batch: Sequence[Sequence[str]]) -> tuple[np.ndarray, list[int]]:
        """Per-tag scores (batch, time, tags) of non-empty sentences sorted longest first, and their lengths."""
        self._learn_projections([t for s in batch for t in s])
        inputs = [self._sentence_projections(s) for s in batch]
        lengths = [len(e) for e in inputs]
        assert all(a >= b for a, b in zip(lengths, lengths[1:])), "sort the batch longest first"
        steps, size = max(lengths), len(batch)
        # Time-major (2, steps, batch, 4h); the backward direction reads each sentence reversed,
        # left-aligned, and its outputs are flipped back below.
        projected = np.zeros((2, steps, size, inputs[0].shape[2]), dtype=np.float32)
        reverse_index = np.zeros((size, steps), dtype=np.int64)
        for b, rows in enumerate(inputs):
            n = lengths[b]
            projected[0, :n, b] = rows[:, 0]
            projected[1, :n, b] = rows[::-1, 1]
            reverse_index[b, :n] = np.arange(n - 1, -1, -1)
            reverse_index[b, n:] = np.arange(n, steps)
        forward, backward = self._run_projected(projected, lengths)
        backward = np.take_along_axis(backward, reverse_index[:, :, None], axis=1)
        return np.concatenate([forward, backward], axis=2) @ self.out_w + self.out_b, lengths

    def tag_batch(self, batch: Sequence[Sequence[str]]) -> list[list[str]]:
        """IOB2 tags for a batch of sentences, run through the network together."""
        return Ensemble([self]).tag_batch(batch)


class Ensemble:
    """Members' CRF scores averaged (emissions and transitions), then one Viterbi decode.

    With *crf* (the linear-chain CRF of model.crfsuite) and a *crf_weight*, the CRF's
    per-token label marginals join the emissions as weighted log-probabilities: the CRF's
    hand-made features and the networks make different mistakes.
    """

    def __init__(self, members: Sequence[BiLSTMCRF], crf=None, crf_weight: float = 0.0, crf_path: Path | None = None):
        if len({m.encoder.resources for m in members}) > 1:
            raise ValueError("an ensemble's members must share their feature resources (one self-training lexicon)")
        self.members = list(members)
        self.transitions = np.mean([m.transitions for m in members], axis=0)
        self.start = np.mean([m.start for m in members], axis=0)
        self.end = np.mean([m.end for m in members], axis=0)
        self.crf, self.crf_weight, self.crf_path = crf, crf_weight, crf_path

    @classmethod
    def load(cls, model_path: str | Path, resources: Resources) -> Ensemble:
        """The ensemble whose first member is *model_path* (with the CRF beside it, if CRF_WEIGHT)."""
        members = [BiLSTMCRF(p, resources) for p in ensemble_paths(model_path)]
        crf_path = Path(model_path).with_name(CRF_FILE)
        if CRF_WEIGHT and crf_path.exists():
            import pycrfsuite

            crf = pycrfsuite.Tagger()
            crf.open(str(crf_path))
            return cls(members, crf, CRF_WEIGHT, crf_path)
        return cls(members)

    def files(self) -> list[Path]:
        """Every member's weights and embeddings files (and the CRF's)."""
        files = [f for m in self.members for f in (m.path, embeddings_path(m.path))]
        return files + ([self.crf_path] if self.crf_path else [])

    def crf_log_marginals(self, batch: Sequence[Sequence[str]], steps: int) -> np.ndarray:
        """log P(tag of token t) under the CRF, (batch, steps, tags); padding rows are 0."""
        out = np.zeros((len(batch), steps, len(TAGS)), dtype=np.float32)
        from .gazetteer import load_resources

        labels = set(self.crf.labels())
        resources = load_resources()  # the CRF's own lexicon, which may not be the networks'
        for b, tokens in enumerate(batch):
            self.crf.set(resources.sentence_features(tokens))
            for j, tag in enumerate(TAGS):
                if tag in labels:
                    out[b, : len(tokens), j] = [self.crf.marginal(tag, t) for t in range(len(tokens))]
        return np.log(out + 1e-4)

    def clear_caches(self) -> None:
        """Forget cached encodings, word types' input projections and character vectors."""
        for member in self.members:
            member.encoder.token.cache_clear()
            member._projections.clear()
            member.char_vector.cache_clear()

    def tag_batch(self, batch: Sequence[Sequence[str]]) -> list[list[str]]:
        """IOB2 tags for a batch of sentences, run through every member together."""
        results: list[list[str]] = [[] for _ in batch]
        order = [i for i, s in enumerate(batch) if len(s)]
        if not order:
            return results
        # Longest first, in groups of similar length: the LSTM steps only as far as each group's longest.
        order.sort(key=lambda i: -len(batch[i]))
        for g in range(0, len(order), SUB_BATCH):
            group = order[g : g + SUB_BATCH]
            sentences_ = [batch[i] for i in group]
            emissions, lengths = self.members[0].emissions(sentences_)
            for member in self.members[1:]:
                emissions = emissions + member.emissions(sentences_)[0]
            emissions /= len(self.members)
            if self.crf is not None:
                emissions += self.crf_weight * self.crf_log_marginals(sentences_, emissions.shape[1])
            for b, path in zip(group, viterbi(emissions, lengths, self.transitions, self.start, self.end)):
                results[b] = [TAGS[t] for t in path]
        return results
