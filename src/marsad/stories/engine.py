"""Online story clustering: each new article joins the best recent story or starts one.

The model is EMM NewsBrief's, made incremental: an article is a TF-IDF vector of its
title and lead (normalised, stemmed terms from `marsad.search.analyzer`; names of places and
people from the NER gazetteer weigh more), a story is the sum of its members' vectors, and
an article joins the story whose centroid it is most similar to, among the stories seen in
the last `window_hours`, when that similarity reaches `join`. Copies found by the duplicate
stage join their original's story outright. When an article is close to two stories and
the two centroids are close to each other, the stories are merged and the merge recorded.

Document frequencies come from a sliding window of recent articles, so the engine's
state is a function of the articles processed so far (in order) and can be rebuilt from
storage exactly: processing in batches gives the same stories as one article at a time.
"""

from __future__ import annotations

import heapq
import math
from itertools import islice, repeat
from operator import add, mul, sub, truediv
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..dedup.features import Features, entity_terms

HOUR = 3600.0


@dataclass(frozen=True)
class StoryConfig:
    """Parameters of the story stage (chosen on the labelled set, see docs/dedup.md)."""

    window_hours: float = 72.0  # a story takes new articles this long after its last one ...
    max_span_hours: float = 120.0  # ... and only this long after its first one (0: no limit)
    df_window_hours: float = 168.0  # document frequencies count the articles of the last week
    title_weight: float = 2.0  # a title word counts as this many lead words
    lead_terms: int = 80  # body terms read (at most features.LEAD_TERMS)
    entity_boost: float = 1.5  # names of places and people weigh this much more
    vector_terms: int = 30  # terms kept per article vector
    query_terms: int = 10  # an article looks up candidate stories by its heaviest terms
    index_terms: int = 12  # each member indexes its story under its heaviest terms
    max_candidates: int = 4  # stories scored exactly per article
    max_postings: int = 25  # a term that indexes more active stories than this is too common to look up
    join: float = 0.45  # cosine with a story's centroid needed to join it
    merge_article: float = 0.50  # an article this close to a second story may merge the two ...
    merge_centroids: float = 0.60  # ... when the two centroids are this close
    related: float = 0.20  # other stories this close to an article are recorded as related
    min_df_docs: int = 50  # below this many articles in the window, idf is smoothed towards flat


Vector = dict[str, float]


def _norm(vec: Vector) -> float:
    weights = vec.values()
    return math.sqrt(sum(map(mul, weights, weights)))


def cosine(a: Vector, b: Vector) -> float:
    """Cosine similarity of two sparse vectors."""
    if len(a) > len(b):
        a, b = b, a
    dot = sum(w * b.get(t, 0.0) for t, w in a.items())
    if not dot:
        return 0.0
    return dot / ((_norm(a) * _norm(b)) or 1.0)


class _LogTable(dict):
    """count -> 1 + log(count), computed on first sight."""

    def __missing__(self, count: float) -> float:
        value = self[count] = 1.0 + math.log(count)
        return value


@dataclass
class StoryState:
    """A story the engine still considers (its members' vectors and their sum)."""

    key: int  # the key of its first article
    first: float
    last: float
    members: list[tuple[int, Vector, float]] = field(default_factory=list)  # (article key, vector, time)
    centroid: Vector = field(default_factory=dict)
    indexed: set[str] = field(default_factory=set)
    _norm: float | None = None

    @property
    def count(self) -> int:
        """Members still held in memory (all of them while the story is active)."""
        return len(self.members)

    def add(self, key: int, vec: Vector, when: float) -> None:
        """Add a member (members arrive in key order, so the sum is the same as a rebuilt one)."""
        self.members.append((key, vec, when))
        c = self.centroid
        for t, w in vec.items():
            c[t] = c.get(t, 0.0) + w
        self._norm = None
        self.first = min(self.first, when)
        self.last = max(self.last, when)

    def rebuild(self) -> None:
        """Recompute the centroid from the members, in key order."""
        self.members.sort(key=lambda m: m[0])
        c: Vector = {}
        for _, vec, _ in self.members:
            for t, w in vec.items():
                c[t] = c.get(t, 0.0) + w
        self.centroid = c
        self._norm = None

    @property
    def norm(self) -> float:
        """Length of the centroid (computed when first needed after a change)."""
        if self._norm is None:
            self._norm = _norm(self.centroid)
        return self._norm

    def score(self, vec: Vector) -> float:
        """Cosine of a (unit) article vector with the centroid."""
        norm = self.norm
        if not norm:
            return 0.0
        return sum(map(mul, vec.values(), map(self.centroid.get, vec.keys(), repeat(0.0)))) / norm

    def lead(self) -> int:
        """The member closest to the centroid (the earliest such): the story's representative."""
        best, best_key = -1.0, self.key
        for key, vec, _ in self.members:
            s = self.score(vec)
            if s > best + 1e-9:
                best, best_key = s, key
        return best_key


@dataclass
class Assignment:
    """What the story stage decided for one article."""

    key: int
    story: int  # key of the story it belongs to (its own key when it starts one)
    similarity: float  # cosine with the story's centroid when it joined (1.0 for a copy, 0 for a new story)
    vector: Vector
    terms: list[str]  # distinct terms it adds to the document frequencies
    new_story: bool = False
    merged: list[tuple[int, int, float]] = field(default_factory=list)  # (from story, into story, centroid cosine)
    related: list[tuple[int, float]] = field(default_factory=list)  # (other story, cosine) close but not joined


class StoryEngine:
    """The online clusterer; feed it articles in arrival order with `assign`."""

    def __init__(self, config: StoryConfig | None = None):
        self.config = config or StoryConfig()
        self.stories: dict[int, StoryState] = {}
        self.story_of: dict[int, int] = {}  # article key -> story key, for articles of active stories
        self.redirect: dict[int, int] = {}  # merged story key -> surviving story key
        self.postings: dict[str, set[int]] = {}  # term -> active story keys
        self.df: Counter[str] = Counter()
        self.df_docs = 0
        self._decrements = 0  # since the last sweep of zero counts out of df
        self._df_heap: list[tuple[float, int, tuple[str, ...]]] = []
        self._by_last: list[tuple[float, int]] = []  # (a story's last article time, story key), for evict
        self.now = float("-inf")  # latest article time seen
        self._entities = entity_terms()
        self._tf = _LogTable()  # raw count -> 1 + log(count)
        self._log1: list[float] = [math.log(k + 1) for k in range(4096)]  # df -> log(df + 1)

    # -- vectors -----------------------------------------------------------------------------------

    def terms_of(self, features: Features) -> dict[str, float]:
        """Raw term counts of an article: title_weight for each title term, plus the lead's;
        in order of first appearance, title first (how `vectorize` breaks ties)."""
        counts: Counter[str] = Counter()
        tw = self.config.title_weight
        get = counts.get
        for t in features.title_terms:
            counts[t] = get(t, 0.0) + tw
        counts.update(features.lead_terms[: self.config.lead_terms])
        return counts

    def idf(self, term: str) -> float:
        """Inverse document frequency over the window (flat-ish while the window is nearly empty)."""
        n = max(self.df_docs, self.config.min_df_docs)
        return math.log((n + 1) / (self.df.get(term, 0) + 1)) + 1.0

    def vectorize(self, counts: dict[str, float], ordered: list[str] | None = None) -> Vector:
        """The unit TF-IDF vector of term counts, cut to its heaviest terms, weights rounded.

        Rounding makes the stored vector (JSON) the same as the one in memory. *ordered* is
        `list(counts)` when the caller has it already.
        """
        if ordered is None:
            ordered = list(counts)
        n = math.log(max(self.df_docs, self.config.min_df_docs) + 1) + 1.0
        logs = self._log1
        if self.df_docs >= len(logs):  # no term is in more articles than the window holds
            logs.extend(math.log(k + 1) for k in range(len(logs), 2 * self.df_docs + 1))
        # (1 + log c) * (n - log(df + 1)), the logarithms looked up, as C-level maps over the terms
        # (in the order of *counts*, so that the stable sort below breaks ties by first appearance:
        # title, then lead); then names boosted.
        idfs = map(sub, repeat(n), map(logs.__getitem__, map(self.df.get, ordered, repeat(0))))
        raw = dict(zip(ordered, map(mul, map(self._tf.__getitem__, map(counts.__getitem__, ordered)), idfs)))
        boost = 1.0 + self.config.entity_boost
        for t in self._entities.intersection(ordered):
            raw[t] *= boost
        # Heaviest first (the dict keeps this order); equal weights in order of first appearance.
        top = sorted(raw, key=raw.__getitem__, reverse=True)[: self.config.vector_terms]
        weights = list(map(raw.__getitem__, top))
        norm = math.sqrt(sum(map(mul, weights, weights))) or 1.0
        if weights and weights[-1] <= 0:  # only with a negative boost; weights are positive otherwise
            top = [t for t, w in zip(top, weights) if w > 0]
            weights = weights[: len(top)]
        # round(w / norm, 5) as round(w / norm * 1e5) / 1e5: the same double (the nearest to k / 10^5)
        # unless w / norm * 1e5 rounds onto a half; 63 ns a weight against round()'s 243.
        units = map(round, map(mul, map(truediv, weights, repeat(norm)), repeat(1e5)))
        return dict(zip(top, map(truediv, units, repeat(1e5))))

    # -- time and frequencies ------------------------------------------------------------------------

    def _advance(self, when: float) -> None:
        if when <= self.now:
            return
        self.now = when
        horizon = when - self.config.df_window_hours * HOUR
        heap = self._df_heap
        df = self.df
        while heap and heap[0][0] < horizon:
            _, _, terms = heapq.heappop(heap)
            self.df_docs -= 1
            # df[t] -= 1 for each of the article's (distinct) terms in one C-level pass. A count
            # that reaches 0 reads as an absent term; the zeros are swept out once there have been
            # four times more decrements than entries, so the sweep costs O(1) a decrement.
            dict.update(df, zip(terms, map(sub, map(df.__getitem__, terms), repeat(1))))
            self._decrements += len(terms)
        if self._decrements > 4 * len(df):
            self.df = Counter({t: c for t, c in df.items() if c})
            self._decrements = 0

    def _count(self, key: int, when: float, terms: Sequence[str]) -> None:
        if when < self.now - self.config.df_window_hours * HOUR:
            return
        heapq.heappush(self._df_heap, (when, key, tuple(terms)))
        self.df_docs += 1
        self.df.update(terms)

    def _bounds(self, when: float) -> tuple[float, float, float]:
        """(earliest last article, latest first article, longest span: 0 for none) of a story
        that can take an article published at *when*."""
        w = self.config.window_hours * HOUR
        return max(when - w, self.now - 2 * w), when + w, self.config.max_span_hours * HOUR

    def _active(self, story: StoryState, when: float) -> bool:
        lo, hi, span = self._bounds(when)
        return story.last >= lo and story.first <= hi and (not span or when - story.first <= span)

    def evict(self) -> list[int]:
        """Forget stories that can no longer take articles; returns their keys."""
        horizon = self.now - 2 * self.config.window_hours * HOUR
        # Each story's every `last` was pushed when it was set: its current one is in the heap,
        # so every story with last < horizon is popped here (older entries are skipped).
        heap = self._by_last
        gone = []
        while heap and heap[0][0] < horizon:
            _, key = heapq.heappop(heap)
            story = self.stories.get(key)
            if story is not None and story.last < horizon:
                self._drop(key)
                gone.append(key)
        return gone

    def _drop(self, key: int) -> StoryState:
        story = self.stories.pop(key)
        for t in story.indexed:
            keys = self.postings.get(t)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self.postings[t]
        for member, _, _ in story.members:
            if self.story_of.get(member) == key:
                del self.story_of[member]
        return story

    # -- assigning -------------------------------------------------------------------------------------

    def resolve(self, story: int) -> int:
        """The surviving story a (possibly merged) story key now belongs to."""
        while story in self.redirect:
            story = self.redirect[story]
        return story

    def _index(self, story: StoryState, vec: Vector) -> None:
        for t in islice(vec, self.config.index_terms):  # vectors are ordered heaviest first
            if t not in story.indexed:
                story.indexed.add(t)
                self.postings.setdefault(t, set()).add(story.key)

    def _candidates(self, vec: Vector, when: float) -> list[tuple[float, StoryState]]:
        c = self.config
        hits: dict[int, float] = {}
        get = hits.get
        for t, w in islice(vec.items(), c.query_terms):  # vectors are ordered heaviest first
            keys = self.postings.get(t)
            if not keys or len(keys) > c.max_postings:
                continue
            # hits[key] += w for each key, as one C-level pass (the keys of a set are distinct)
            hits.update(zip(keys, map(add, map(get, keys, repeat(0.0)), repeat(w))))
        out = []
        # Most shared weight first (ties by key, so a rebuilt engine picks the same ones);
        # more than max_candidates are looked at only when some of them have gone quiet.
        ranked = sorted(hits)
        if len(ranked) > c.max_candidates:
            # Heaviest first, ties by key (a stable sort keeps key order among equals, also reversed).
            ranked.sort(key=hits.__getitem__, reverse=True)
            del ranked[4 * c.max_candidates :]
        lo, hi, span = self._bounds(when)  # _active's test below, its bounds computed once
        stories = self.stories
        for key in ranked:
            story = stories[key]
            if story.last >= lo and story.first <= hi and (not span or when - story.first <= span):
                out.append((story.score(vec), story))
                if len(out) >= c.max_candidates:
                    break
        out.sort(key=lambda sc: (-sc[0], sc[1].key))
        return out

    def assign(self, key: int, when: float, features: Features, copy_of: int | None = None) -> Assignment:
        """Put one article in a story; `copy_of` is the earlier article it duplicates, if any."""
        self._advance(when)
        counts = self.terms_of(features)
        terms = list(counts)
        vec = self.vectorize(counts, terms)
        result = Assignment(key=key, story=key, similarity=0.0, vector=vec, terms=terms)
        target: StoryState | None = None
        scored = self._candidates(vec, when) if vec else []
        original = self.story_of.get(copy_of) if copy_of is not None else None
        if original is not None and original in self.stories and self._active(self.stories[original], when):
            target = self.stories[original]
            result.similarity = 1.0
        elif scored and scored[0][0] >= self.config.join:
            result.similarity, target = scored[0]
        if target is None:
            target = StoryState(key=key, first=when, last=when)
            self.stories[key] = target
            result.new_story = True
        target.add(key, vec, when)
        heapq.heappush(self._by_last, (target.last, target.key))
        self.story_of[key] = target.key
        self._index(target, vec)
        # Stories that turn out to be one: the article is close to another story too, and
        # the two centroids are close to each other.
        for score, other in scored:
            if other.key == target.key or other.key not in self.stories:
                continue
            if score < self.config.merge_article:
                break
            closeness = cosine(target.centroid, other.centroid)
            if closeness >= self.config.merge_centroids:
                into, gone = (target, other) if target.key < other.key else (other, target)
                self._merge(gone, into)
                result.merged.append((gone.key, into.key, round(closeness, 4)))
                target = into
        result.story = target.key
        merged_away = {gone for gone, _, _ in result.merged}
        result.related = [(other.key, round(score, 4)) for score, other in scored
                          if score >= self.config.related and other.key != target.key
                          and other.key not in merged_away][:3]
        self._count(key, when, terms)
        return result

    def _merge(self, gone: StoryState, into: StoryState) -> None:
        self._drop(gone.key)
        into.members.extend(gone.members)
        into.first = min(into.first, gone.first)
        into.last = max(into.last, gone.last)
        into.rebuild()
        heapq.heappush(self._by_last, (into.last, into.key))
        for member, vec, _ in gone.members:
            self.story_of[member] = into.key
            self._index(into, vec)
        self.redirect[gone.key] = into.key

    # -- restoring ---------------------------------------------------------------------------------------

    def restore(self, now: float, window: Iterable[tuple[int, float, Sequence[str]]],
                members: Iterable[tuple[int, int, float, Vector]], redirects: Iterable[tuple[int, int]]) -> None:
        """Rebuild the state from storage.

        :param now: the latest article time processed.
        :param window: (article key, time, terms) of the articles in the frequency window.
        :param members: (story key, article key, time, vector) of the members of active stories.
        :param redirects: (merged story, surviving story) pairs.
        """
        self.now = now
        for key, when, terms in sorted(window, key=lambda r: (r[1], r[0])):
            self._count(key, when, terms)
        by_story: dict[int, list[tuple[int, float, Vector]]] = {}
        for story, key, when, vec in members:
            by_story.setdefault(story, []).append((key, when, vec))
        for story_key, rows in by_story.items():
            rows.sort(key=lambda r: r[0])
            story = StoryState(key=story_key, first=rows[0][1], last=rows[0][1])
            for key, when, vec in rows:
                story.members.append((key, vec, when))
                story.first = min(story.first, when)
                story.last = max(story.last, when)
                self.story_of[key] = story_key
            story.rebuild()
            self.stories[story_key] = story
            heapq.heappush(self._by_last, (story.last, story_key))
            for _, vec, _ in story.members:
                self._index(story, vec)
        for gone, into in redirects:
            self.redirect[gone] = into
