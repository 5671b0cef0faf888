"""Similar headlines, for "related news" while marsad.stories is not there to say which articles belong together.

An in-memory inverted index of every headline's analysed terms (marsad.search's analyzer,
so الأمريكيّة and الامريكيه meet), read from the store once and topped up with new rows as
they arrive. A lookup scores the articles published within a few days of the one being read
by the IDF-weighted cosine of their headline terms, closer in time ranking higher: a few
milliseconds, where a full-text OR query over the whole corpus costs tens.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from datetime import datetime

from ..search import default_analyzer

WINDOW_DAYS = 3.0  # candidates published this close to the article
MIN_SCORE = 0.18  # below this, two headlines share only common words
ONE_WORD_SCORE = 0.5  # a single shared word is enough only in short headlines
COMMON_SHARE = 0.01  # terms in more headlines than this do not make candidates on their own
MAX_TITLES = 300_000  # the newest headlines kept in memory (older articles get no similar list)
REBUILD_SECONDS = 1800.0  # full rebuild now and then, so edited and deleted headlines are forgotten


def _epoch(value: str | None) -> float | None:
    return datetime.fromisoformat(value).timestamp() if value else None


class TitleIndex:
    """Headline terms of the stored articles, searchable by shared terms within a time window."""

    def __init__(self):
        self._lock = threading.Lock()
        self._analyzer = default_analyzer()
        self._reset()

    def _reset(self) -> None:
        self.ids: list[str] = []
        self.titles: list[str] = []
        self.sources: list[str | None] = []
        self.dates: list[float | None] = []
        self.terms: list[frozenset[str]] = []
        # term -> day number (None: undated) -> rows, so a lookup only walks the days in its window
        self.postings: dict[str, dict[int | None, list[int]]] = defaultdict(lambda: defaultdict(list))
        self.df: dict[str, int] = defaultdict(int)
        self.row_of: dict[str, int] = {}
        self.last_pk = 0
        self.built_at = time.monotonic()
        self._idf_of: dict[str, float] = {}  # term -> IDF
        self._norm_of: list[float] = []  # row -> norm of its IDF-weighted terms
        self._weights_at = 0  # how many headlines the weights were computed over

    def refresh(self, store) -> None:
        """Add the articles stored since the last refresh (all of them the first time)."""
        with self._lock:
            if time.monotonic() - self.built_at > REBUILD_SECONDS:
                self._reset()
            if not self.last_pk:
                first = store.conn.execute("SELECT coalesce(max(pk), 0) FROM articles").fetchone()[0]
                self.last_pk = max(0, first - MAX_TITLES)
            rows = store.conn.execute(
                "SELECT pk, id, title, source, published_at FROM articles WHERE pk > ? ORDER BY pk",
                (self.last_pk,)).fetchall()
            for pk, article_id, title, source, published in rows:
                terms = frozenset(self._analyzer.terms(title))
                row = len(self.ids)
                self.ids.append(article_id)
                self.titles.append(title.strip())
                self.sources.append(source)
                when = _epoch(published)
                day = int(when // 86400) if when is not None else None
                self.dates.append(when)
                self.terms.append(terms)
                self.row_of[article_id] = row
                for term in terms:
                    self.postings[term][day].append(row)
                    self.df[term] += 1
                self.last_pk = pk

    def _weights(self) -> None:
        """IDF of every term and the norm of every headline, computed at once (caller holds the lock).

        Recomputed once the index grew by 2% since the last time, so a lookup only reads dicts
        (computing them lazily cost a lookup ~0.3 ms on 31k headlines, most of its time).
        """
        log = math.log
        if self._weights_at and len(self.ids) <= self._weights_at * 1.02:
            idf, norms, total = self._idf_of, self._norm_of, self._weights_at
            for terms in self.terms[len(norms):]:  # headlines added since: weighed with the IDF in force
                for term in terms:
                    if term not in idf:
                        idf[term] = log(1 + total / self.df[term])
                norms.append(math.sqrt(sum(idf[t] ** 2 for t in terms)))
            return
        total = max(len(self.ids), 1)
        idf = {term: log(1 + total / n) for term, n in self.df.items()}
        self._idf_of = idf
        self._norm_of = [math.sqrt(sum(idf[t] ** 2 for t in terms)) for terms in self.terms]
        self._weights_at = len(self.ids)

    def similar(self, article_id: str, title: str, published_at: datetime | None, source: str | None = None,
                *, limit: int = 8) -> list[tuple[str, float]]:
        """(id, score) of the articles whose headlines best match *title*, published near *published_at*."""
        terms = frozenset(self._analyzer.terms(title))
        if not terms:
            return []
        when = published_at.timestamp() if published_at else None
        window = WINDOW_DAYS * 86400
        with self._lock:
            self._weights()
            idf_of, norm_of = self._idf_of, self._norm_of
            idf = {t: idf_of[t] for t in terms if t in idf_of}
            if not idf:
                return []
            # Candidates share at least one distinctive term (in under COMMON_SHARE of headlines), so the
            # long lists of words like السعودية are not walked; a headline of common words only walks them all.
            common_above = max(COMMON_SHARE * len(self.ids), 200)
            rare = [t for t in idf if self.df[t] <= common_above] or list(idf)
            if when is None:
                days = None  # an undated article: every day is in its window
            else:
                today = int(when // 86400)
                span = int(WINDOW_DAYS) + 1
                days = [*range(today - span, today + span + 1), None]
            candidates = set()
            for term in rare:
                by_day = self.postings[term]
                for day in (by_day if days is None else days):
                    rows = by_day.get(day)
                    if rows:
                        candidates.update(rows)
            squared = {t: w * w for t, w in idf.items()}
            norm = math.sqrt(sum(squared.values()))
            known = frozenset(idf)
            own_title = title.strip()
            scored = []
            dates, row_terms, ids = self.dates, self.terms, self.ids
            for row in candidates:
                other = dates[row]
                gap = abs(other - when) if other is not None and when is not None else 0.0
                if gap > window:
                    continue
                common = known & row_terms[row]
                score = sum([squared[t] for t in common]) / (norm * norm_of[row])
                if score >= MIN_SCORE and (len(common) > 1 or score >= ONE_WORD_SCORE) and ids[row] != article_id:
                    scored.append((score / (1 + gap / window), row))
            scored.sort(reverse=True)
            picked, titles = [], {own_title}
            for score, row in scored:
                if self.titles[row] in titles:  # the same wire copy under several outlets: show it once
                    continue
                titles.add(self.titles[row])
                picked.append((self.ids[row], round(score, 3)))
                if len(picked) >= limit:
                    break
            return picked
