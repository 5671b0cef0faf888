"""Deciding which articles are copies of which: exact fingerprints, LSH candidates, a real check.

`DedupEngine` holds the state of one corpus (its LSH bands, fingerprints and groups of
copies) and decides for each new article, in arrival order, which earlier articles it
copies. It knows articles only by an integer key (the store's row id); storage is the
caller's business (`marsad.stories.indexer`), so the engine runs the same in a test, a
benchmark and the ingest pipeline.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .features import NUM_PERM, Features, entity_terms, minhash, stable_hash64, to_signed
from .lsh import LEAD_PERM, NUM_BANDS, KeyIndex, band_keys

@dataclass(frozen=True)
class DedupConfig:
    """Thresholds of the duplicate decision (chosen on the labelled set, see docs/dedup.md)."""

    min_shingles: int = 12  # shorter bodies are judged by their exact fingerprint only
    min_exact_terms: int = 12  # a body this long is identified by its text alone; shorter ones need the title too
    min_title_terms: int = 3
    containment: float = 0.60  # share of the shorter text's shingles found in the longer one
    min_size_ratio: float = 0.34  # a short item quoted inside a text three times as long is not judged a copy
    seed_containment: float = 0.20  # joining a group also needs this much overlap with its first article
    max_candidates: int = 64  # candidates verified per article, most band hits first
    template_guard: bool = True  # apply `title_conflict` (off only to measure what it does)
    near_window_days: float = 3.0  # near copies are looked for this close in time (exact ones at any time)


@dataclass(frozen=True)
class Match:
    """Why two texts are copies (or not): their shingle overlap."""

    shared: int
    smaller: int
    larger: int

    @property
    def containment(self) -> float:
        """Share of the shorter text's shingles that the longer one has."""
        return self.shared / self.smaller if self.smaller else 0.0

    @property
    def jaccard(self) -> float:
        """Shared shingles over all distinct shingles of the two."""
        union = self.smaller + self.larger - self.shared
        return self.shared / union if union else 0.0


def compare(a: Features, b: Features) -> Match:
    """The exact shingle overlap of two articles (the 'real similarity check' after LSH)."""
    small, large = (a.shingles, b.shingles) if a.size <= b.size else (b.shingles, a.shingles)
    if not len(small):
        return Match(0, 0, len(large))
    # Both are sorted and unique: look each shingle of the smaller set up in the larger one.
    pos = np.searchsorted(large, small)
    pos[pos == len(large)] = 0
    shared = int(np.count_nonzero(large[pos] == small)) if len(large) else 0
    return Match(shared, len(small), len(large))


def title_conflict(a: Features, b: Features) -> bool:
    """Whether each title names a place or person that the other article never mentions.

    Agencies reuse one text for many cables ("the King congratulates the president of
    Bolivia / of Jamaica on independence day"): the texts are near-identical but the news
    differs, and the headline says how. Copies keep the names their headlines carry.
    """
    names = entity_terms()
    if not names:
        return False
    ta, tb = set(a.title_terms), set(b.title_terms)
    only_a = [t for t in ta - tb if t in names]
    only_b = [t for t in tb - ta if t in names]
    if not only_a or not only_b:
        return False
    body_a = set(a.lead_terms) | ta
    body_b = set(b.lead_terms) | tb
    return any(t not in body_b and not _mentions(b, t) for t in only_a) and \
        any(t not in body_a and not _mentions(a, t) for t in only_b)


def _mentions(f: Features, term: str) -> bool:
    return stable_hash64(term) in f.body_set


def is_copy(a: Features, b: Features, config: "DedupConfig | None" = None) -> tuple[bool, float]:
    """Whether *a* and *b* are copies of one text, and the containment that decided it."""
    config = config or DEFAULT_CONFIG
    m = compare(a, b)
    if m.smaller < config.min_shingles:
        return False, m.containment
    ok = m.containment >= config.containment and m.smaller >= config.min_size_ratio * m.larger
    if ok and config.template_guard and title_conflict(a, b):
        return False, m.containment
    return ok, m.containment


DEFAULT_CONFIG = DedupConfig()


@dataclass
class Decision:
    """What the engine decided for one article."""

    key: int
    group: int  # key of the group's first article (itself when it copies nothing)
    kind: str | None = None  # "exact" or "near" when it copies an earlier article
    match: int | None = None  # the earlier article it matched best
    score: float = 0.0  # containment with `match` (1.0 for exact)
    merged: list[int] = field(default_factory=list)  # groups folded into `group`
    verified: int = 0  # candidates compared


class DedupEngine:
    """Exact and near-duplicate detection over a growing corpus, one batch at a time.

    :param loader: returns the `Features` of an earlier article by key when they are no
        longer cached (the store re-analyses the stored text); without one, every article's
        features stay in memory.
    :param cache_size: how many recent articles' features to keep for verification.
    """

    def __init__(self, loader: Callable[[int], Features | None] | None = None, cache_size: int = 100_000,
                 config: DedupConfig | None = None):
        self.config = config or DEFAULT_CONFIG
        self.bands = KeyIndex()
        self.fingerprints = KeyIndex(np.uint64)  # text fingerprint (long bodies) -> key
        self.titled = KeyIndex(np.uint64)  # title+text fingerprint (short bodies) -> key
        self.group: dict[int, int] = {}  # key -> group key, for articles in groups of two or more
        self.members: dict[int, list[int]] = {}  # group key -> keys, same
        self.loader = loader
        self.cache_size = cache_size if loader is not None else None
        self._features: OrderedDict[int, Features] = OrderedDict()
        self._cached_bytes = 0  # kept as features come and go: summing them per batch cost 4% of the stage
        self.last_keys: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # keys of the last batch, for storage
        self._times = np.full(0, np.nan)  # article key -> time (seconds), when given
        self.stats = {"articles": 0, "exact": 0, "near": 0, "verified": 0, "loaded": 0}

    # -- state ---------------------------------------------------------------------------------

    def group_of(self, key: int) -> int:
        """The group an article belongs to (its own key when it has no copies)."""
        return self.group.get(key, key)

    def copies(self, key: int) -> list[int]:
        """Every article in the same group, the article itself included."""
        return list(self.members.get(self.group_of(key), [key]))

    @property
    def nbytes(self) -> int:
        """Approximate memory held: indexes, groups and cached features."""
        return (self.bands.nbytes + self.fingerprints.nbytes + self.titled.nbytes + self._times.nbytes
                + 100 * len(self.group) + self._cached_bytes)

    def restore(self, keys: np.ndarray, band_rows: np.ndarray, fps: np.ndarray, titled: np.ndarray,
                groups: Sequence[tuple[int, int]], times: np.ndarray | None = None) -> None:
        """Load persisted state: band keys (n x NUM_BANDS), fingerprints, (key, group) pairs and times."""
        if times is not None and len(keys):
            self._set_times(keys, times)
        self.bands.add(band_rows.ravel(), np.repeat(keys, band_rows.shape[1]))
        self.fingerprints.add(fps, keys)
        self.titled.add(titled, keys)
        for key, group in groups:
            if key != group:
                self.group[key] = group
                self.group[group] = group
        for key in sorted(self.group):
            self.members.setdefault(self.group[key], []).append(key)
        self.stats["articles"] += len(keys)

    @staticmethod
    def _size(f: Features) -> int:
        return f.shingles.nbytes + f.lead.nbytes + f.body_hashes.nbytes + 200

    def _remember(self, key: int, features: Features) -> None:
        old = self._features.get(key)
        if old is not None:
            self._cached_bytes -= self._size(old)
        self._features[key] = features
        self._cached_bytes += self._size(features)
        if self.cache_size is not None:
            while len(self._features) > self.cache_size:
                self._cached_bytes -= self._size(self._features.popitem(last=False)[1])

    def _lookup_features(self, key: int) -> Features | None:
        f = self._features.get(key)
        if f is None and self.loader is not None:
            f = self.loader(key)
            self.stats["loaded"] += 1
            if f is not None:
                self._remember(key, f)
        return f

    # -- keys ------------------------------------------------------------------------------------

    def keys_for(self, features: Sequence[Features]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(band keys n x NUM_BANDS, exact text keys, exact title+text keys) for a batch; 0 = none."""
        c = self.config
        usable = np.array([f.size >= c.min_shingles for f in features], dtype=bool)
        whole = minhash([f.shingles for f in features], NUM_PERM)
        lead = minhash([f.lead for f in features], LEAD_PERM)
        bands = band_keys(whole, lead, usable)
        fps = np.array([f.text_fp if f.length >= c.min_exact_terms else 0 for f in features],
                       dtype=np.int64).view(np.uint64)
        titled = np.array(
            [to_signed((f.title_fp * 0x9E3779B97F4A7C15 ^ f.text_fp) & ((1 << 64) - 1))
             if f.length < c.min_exact_terms and len(f.title_terms) >= c.min_title_terms else 0
             for f in features], dtype=np.int64).view(np.uint64)
        return bands, fps, titled

    def attach_keys(self, features: Sequence[Features]) -> None:
        """Compute the duplicate keys of *features* now and keep them on each (`Features.dedup_keys`),
        so that `process` does not: a backfill's workers do this part of the work in parallel."""
        bands, fps, titled = self.keys_for(features)
        for f, row, fp, t in zip(features, bands, fps.tolist(), titled.tolist()):
            f.dedup_keys = (row, fp, t)

    def _keys(self, features: Sequence[Features]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        given = [f.dedup_keys for f in features]
        if self.config != DEFAULT_CONFIG or any(k is None for k in given):
            return self.keys_for(features)
        return (np.stack([k[0] for k in given]).astype(np.uint32),
                np.array([k[1] for k in given], dtype=np.uint64), np.array([k[2] for k in given], dtype=np.uint64))

    # -- deciding ----------------------------------------------------------------------------------

    def _fits_group(self, f: Features, group: int, matched: int, when: float | None = None) -> bool:
        seed = group  # the group's first article
        if seed == matched:
            return True
        if not self._near_in_time(seed, when):  # no chains of daily templates across weeks
            return False
        sf = self._lookup_features(seed)
        return sf is not None and compare(f, sf).containment >= self.config.seed_containment \
            and not (self.config.template_guard and title_conflict(f, sf))

    def process(self, keys: Sequence[int], features: Sequence[Features],
                times: Sequence[float] | None = None) -> list[Decision]:
        """Decide for each article, in order, which earlier ones (stored or in this batch) it copies.

        *times* (seconds) limit near copies to `near_window_days` apart: agencies' texts are
        republished within days, while a template reused weeks later (the next execution
        statement, tomorrow's weather) is new news. Without times there is no limit.
        """
        n = len(keys)
        if not n:
            return []
        keys_arr = np.asarray(keys, dtype=np.int64)
        if times is not None:
            self._set_times(keys_arr, np.asarray(times, dtype=np.float64))
        bands, fps, titled = self._keys(features)
        self.last_keys = (bands, fps, titled)

        # Stored articles that share a band or a fingerprint with each new one, and earlier
        # articles of this same batch found the same way (so that a batch gives exactly what
        # one article at a time would): (article in the batch, other key) pairs, counted.
        pos, vals = self.bands.lookup(bands.ravel())
        within_i, within_k = self._pairs_within_batch(bands.ravel(), np.repeat(np.arange(n), NUM_BANDS), keys_arr)
        band_hits = self._count_pairs(np.concatenate((pos // NUM_BANDS, within_i)),
                                      np.concatenate((vals, within_k)), n, count=True)
        owners, others = [within_i[:0]], [within_k[:0]]
        for index, source in ((self.fingerprints, fps), (self.titled, titled)):
            p, v = index.lookup(source)
            wi, wk = self._pairs_within_batch(source, np.arange(n), keys_arr)
            owners += [p, wi]
            others += [v, wk]
        exact_hits = self._count_pairs(np.concatenate(owners), np.concatenate(others), n, count=False)

        decisions = []
        for i in range(n):
            when = float(times[i]) if times is not None else None
            decisions.append(self._decide(int(keys_arr[i]), features[i], band_hits[i], exact_hits[i], when))
            self._remember(int(keys_arr[i]), features[i])
        self.bands.add(bands.ravel(), np.repeat(keys_arr, NUM_BANDS))
        self.fingerprints.add(fps, keys_arr)
        self.titled.add(titled, keys_arr)
        return decisions

    @staticmethod
    def _pairs_within_batch(flat_keys: np.ndarray, owner: np.ndarray,
                            keys_arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(later article, key of an earlier one) for every pair of batch articles sharing a key."""
        empty = np.empty(0, dtype=np.int64)
        nz = np.flatnonzero(flat_keys != 0)
        if len(nz) < 2:
            return empty, empty
        k, o = flat_keys[nz], owner[nz]
        order = np.lexsort((o, k))
        k, o = k[order], o[order]
        first = np.ones(len(k), dtype=bool)
        first[1:] = k[1:] != k[:-1]
        if first.all():
            return empty, empty
        # Each member of a run of equal keys pairs with every earlier member of its run.
        run_start = np.maximum.accumulate(np.where(first, np.arange(len(k)), 0))
        before = np.arange(len(k)) - run_start
        later = np.repeat(np.arange(len(k)), before)
        earlier = np.repeat(run_start, before) + (np.arange(len(later)) - np.repeat(np.cumsum(before) - before, before))
        later_o, earlier_o = o[later], o[earlier]
        keep = later_o != earlier_o
        return later_o[keep].astype(np.int64), keys_arr[earlier_o[keep]]

    @staticmethod
    def _count_pairs(owner: np.ndarray, other: np.ndarray, n: int, count: bool) -> list:
        """Per batch article, {other key: how many times} (count) or {other keys}."""
        hits: list = [dict() for _ in range(n)] if count else [set() for _ in range(n)]
        if not len(owner):
            return hits
        pairs = owner.astype(np.int64) << np.int64(32) | other.astype(np.int64)
        if count:
            pairs, counts = np.unique(pairs, return_counts=True)
            for p, k, c in zip((pairs >> np.int64(32)).tolist(), (pairs & np.int64(0xFFFFFFFF)).tolist(),
                               counts.tolist()):
                hits[p][k] = c
        else:
            pairs = np.unique(pairs)
            for p, k in zip((pairs >> np.int64(32)).tolist(), (pairs & np.int64(0xFFFFFFFF)).tolist()):
                hits[p].add(k)
        return hits

    def _set_times(self, keys: np.ndarray, times: np.ndarray) -> None:
        top = int(keys.max()) + 1
        if top > len(self._times):
            grown = np.full(max(top, 2 * len(self._times)), np.nan)
            grown[: len(self._times)] = self._times
            self._times = grown
        self._times[keys] = times

    def _near_in_time(self, other: int, when: float | None) -> bool:
        if when is None or other >= len(self._times):
            return True
        t = float(self._times[other])
        return t != t or abs(t - when) <= self.config.near_window_days * 86400.0  # t != t: NaN, no time known

    def _decide(self, key: int, f: Features, band_hits: dict[int, int], exact: set[int],
                when: float | None = None) -> Decision:
        self.stats["articles"] += 1
        decision = Decision(key=key, group=key)
        matched: dict[int, tuple[float, int, str]] = {}  # group -> (score, article, kind)
        for other in sorted(exact):
            if other == key:
                continue
            g = self.group_of(other)
            if g not in matched:
                matched[g] = (1.0, other, "exact")
        ranked = sorted(((-hits, other) for other, hits in band_hits.items() if other != key))
        for _, other in ranked[: self.config.max_candidates]:
            g = self.group_of(other)
            if g in matched or not self._near_in_time(other, when):
                continue
            of = self._lookup_features(other)
            if of is None:
                continue
            decision.verified += 1
            ok, score = is_copy(f, of, self.config)
            if ok:
                # Copies of copies drift (a trimmed version of a merged version of ...): the
                # group's fullest text must still be recognisably the same text.
                ok = self._fits_group(f, g, other, when)
            if ok:
                matched[g] = (score, other, "near")
        self.stats["verified"] += decision.verified
        if not matched:
            return decision
        # Join the group it matches best. Other matched groups are folded in only when their
        # first articles are copies of each other: a long article that quotes two different
        # wire items matches both, but does not make them one text.
        target = max(matched, key=lambda g: (matched[g][0], -g))
        score, other, kind = matched[target]
        decision.kind, decision.match, decision.score = kind, other, score
        self.stats[kind] += 1
        # The seed's features only when another group matched too: one matched group (nearly every
        # copy) needs none, and loading them back for each copy of an old text was a tenth of the
        # stage at 1,000,000 articles (py-spy on a backfill's story stage).
        seed = self._lookup_features(target) if len(matched) > 1 else None
        for g in sorted(matched):
            if g == target or seed is None:
                continue
            other_seed = self._lookup_features(g)
            if other_seed is not None and (matched[g][2] == "exact" and kind == "exact"
                                           or is_copy(seed, other_seed, self.config)[0]):
                decision.merged.append(g)
        if decision.merged:
            # The group keeps the key of its oldest article.
            new_target = min([target, *decision.merged])
            decision.merged = sorted(g for g in [target, *decision.merged] if g != new_target)
            target = new_target
        decision.group = target
        members = self.members.setdefault(target, [target])
        self.group[target] = target
        for g in decision.merged:
            for m in self.members.pop(g, [g]):
                self.group[m] = target
                members.append(m)
        self.group[key] = target
        members.append(key)
        return decision
