"""`search()`: parse, compile for SQLite FTS5, rank, count, facet, and cut snippets.

    1. parse the user's text into a backend-neutral tree (query.py)
    2. compile it: FTS5 MATCH over analysed terms + SQL filters (fts5.py)
    3. count the matches and fetch one page, ranked by BM25 (title weighted; the best NEAR_POOL then
       re-ranked by proximity), date, or BM25 with recency
    4. if a query of several words matched nothing, retry it as "any of the words" (`relaxed`)
    5. facets over the whole match set, when asked
    6. snippets cut from the original text, matched words marked (highlight.py)
"""

from __future__ import annotations

import html
import math
import os
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..normalize import WORD, fold
from .analyzer import Analyzer, default_analyzer
from .fts5 import MIN_PREFIX_CHARS, SQLFilter, _quote, compile_filters, compile_match, compile_near
from .highlight import Matcher, Snippet, highlight, snippet
from .index import FTS_TABLE, index_state
from .query import Filters, InvalidQuery, Query, Term, parse_query, positive_leaves, relaxed, require_searchable

SORTS = ("relevance", "date", "recent")
TITLE_WEIGHT, BODY_WEIGHT = 5.0, 1.0  # chosen on seed 1 of benchmarks/search_quality.py (flat from 5 to 12)
# the exact-form columns (a word as typed, beside its stem): chosen on seed 1 too
TITLE_EXACT_WEIGHT, BODY_EXACT_WEIGHT = 10.0, 2.0
MAX_LIMIT = 200
MAX_OFFSET = 10_000
RECENT_POOL = 200  # "recent" re-ranks this many best BM25 matches by age
RECENT_HALF_LIFE_DAYS = 7.0
FACET_SIZE = 20
ENTITY_FACET_SIZE = 10  # per entity type
ENTITY_FACET_WINDOW = 2_000  # entity and place facets count at most the newest this many matches
RANK_WINDOW = 5_000  # rank at most this many (the newest) matches; see _Plan.page
NEAR_POOL = 30  # the best this many BM25 matches are re-ranked by proximity (the NEAR group); see _Plan.page
NEAR_BOOST = 1.5  # score x (1 + NEAR_BOOST) for those holding the words in a sentence (seed 1; flat from 1 to 3)

_BM25 = f"bm25({FTS_TABLE}, {TITLE_WEIGHT}, {BODY_WEIGHT}, {TITLE_EXACT_WEIGHT}, {BODY_EXACT_WEIGHT})"


@dataclass
class SearchHit:
    """One matching article, with a highlighted snippet cut from its original text."""

    id: str
    title: str
    source: str | None
    published_at: datetime | None
    score: float  # higher is better (negated BM25; with sort="recent", scaled by age)
    url: str | None
    snippet: str  # HTML: matched words in <mark>, everything else escaped
    snippet_text: str  # the same passage as plain text
    title_html: str

    def to_dict(self) -> dict:
        """JSON-ready dict (published_at as ISO 8601)."""
        data = asdict(self)
        data["published_at"] = self.published_at.strftime("%Y-%m-%dT%H:%M:%SZ") if self.published_at else None
        data["score"] = round(self.score, 4)
        return data


@dataclass
class Facets:
    """Counts over the whole result set: by source, tag and month (YYYY-MM), largest first.

    `entity`: (type, entity id, name, articles), the ENTITY_FACET_SIZE entities of each type
    named in most results, PERS then LOC, ORG, MISC; `place`: (ISO country, articles naming a
    place there). Both empty where the store keeps no entities. Counting every mention of a
    large result set is slow, so when more than ENTITY_FACET_WINDOW articles match these two
    count the newest ENTITY_FACET_WINDOW of them, and `entity_sample` says how many (None: all).
    `sample`: on PostgreSQL, where more than RANK_WINDOW articles match (the total is then a lower
    bound, unless the query is filters alone), every facet counts the newest matches only, this
    many (None: all of them).
    """

    source: list[tuple[str, int]] = field(default_factory=list)
    tag: list[tuple[str, int]] = field(default_factory=list)
    month: list[tuple[str, int]] = field(default_factory=list)
    entity: list[tuple[str, int, str, int]] = field(default_factory=list)
    place: list[tuple[str, int]] = field(default_factory=list)
    entity_sample: int | None = None
    sample: int | None = None


@dataclass
class SearchResults:
    """A page of results and what it was a page of."""

    query: str
    total: int
    hits: list[SearchHit]
    offset: int = 0
    limit: int = 10
    sort: str = "relevance"
    relaxed: bool = False  # True: no article had every word; these match some of them
    facets: Facets | None = None
    took_ms: float = 0.0
    #: False when `total` is a lower bound: on PostgreSQL, when more than the ranking window
    #: (RANK_WINDOW) match, the rest are not counted (counting them reads every matching row).
    total_exact: bool = True

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        data = {k: v for k, v in asdict(self).items() if k not in ("hits", "facets")}
        data["hits"] = [h.to_dict() for h in self.hits]
        data["facets"] = asdict(self.facets) if self.facets else None
        return data


def _matcher(query: Query, analyzer: Analyzer) -> Matcher:
    terms: set[str] = set()
    prefixes: list[str] = []
    for leaf in positive_leaves(query.expr):
        if isinstance(leaf, Term) and leaf.prefix:
            key = analyzer.prefix(leaf.text)
            if key:
                prefixes.append(key)
        else:
            terms.update(analyzer.terms(leaf.text))
            if isinstance(leaf, Term):
                terms.update(analyzer.alternatives(leaf.text))
    return Matcher(frozenset(terms), tuple(prefixes))


def _known_sources(conn: sqlite3.Connection) -> dict[str, str]:
    import json

    known: dict[str, str] = {}
    for name, aliases in conn.execute("SELECT name, aliases FROM sources"):
        for alias in [name, *json.loads(aliases or "[]")]:
            known[alias.casefold()] = name
            known[fold(alias).strip()] = name
    return known


class _Plan:
    """The SQL for one compiled query: match text (or None) and filters over `articles a`.

    Filters read `articles` through the narrow covering index (pk, published_at, source,
    language), so checking a match never touches the wide rows that hold the text.
    """

    def __init__(self, match: str | None, where: SQLFilter, pk_range: tuple[int, int] | None = None,
                 rank_match: str | None = None, near: str | None = None):
        self.match = match  # what to count and filter by
        self.rank_match = rank_match or match  # the same articles, with the proximity phrase and exact forms for BM25
        self.near = near  # the words as a NEAR group (fts5.compile_near), for the re-ranking
        self.where = where
        self.pk_range = pk_range

    def _from(self, *, with_articles: bool = False, match: str | None = None) -> tuple[str, list]:
        if self.match is None:
            return f"FROM articles a WHERE {self.where.where()}", list(self.where.params)
        match = match or self.match
        if not self.where and not with_articles:
            return f"FROM {FTS_TABLE} f WHERE {FTS_TABLE} MATCH ?", [match]
        sql = (f"FROM {FTS_TABLE} f JOIN articles a INDEXED BY articles_search_cover ON a.pk = f.rowid "
               f"WHERE {FTS_TABLE} MATCH ? AND {self.where.where()}")
        params = [match, *self.where.params]
        if self.pk_range:  # FTS5 seeks straight to this rowid range instead of walking every match
            sql += " AND f.rowid BETWEEN ? AND ?"
            params += list(self.pk_range)
        return sql, params

    def count(self, conn: sqlite3.Connection) -> int:
        sql, params = self._from()
        return conn.execute(f"SELECT count(*) {sql}", params).fetchone()[0]

    def page(self, conn: sqlite3.Connection, sort: str, limit: int, offset: int, *, total: int,
             window: int | None) -> list[tuple[int, float]]:
        """(pk, score) of one page; score is -BM25 (0 for filter-only queries).

        BM25 costs about a microsecond per matching article, so when more than *window*
        articles match, only the newest *window* of them (by insertion order, which
        FTS5 walks without scoring) are ranked: a million-article index answers a
        one-word query in milliseconds, and news readers want recent matches first anyway.
        """
        if self.match is None:
            sql, params = self._from()
            rows = conn.execute(f"SELECT a.pk, 0.0 {sql} ORDER BY a.published_at DESC, a.pk DESC LIMIT ? OFFSET ?",
                                [*params, limit, offset]).fetchall()
            return [(pk, score) for pk, score in rows]
        if sort == "date":
            sql, params = self._from(with_articles=True)
            rows = conn.execute(f"SELECT f.rowid, -{_BM25} {sql} ORDER BY a.published_at DESC, f.rowid DESC "
                                "LIMIT ? OFFSET ?", [*params, limit, offset]).fetchall()
            return [(pk, score) for pk, score in rows]
        if window and total > window:
            sql, params = self._from()
            cutoff = conn.execute(f"SELECT f.rowid {sql} ORDER BY f.rowid DESC LIMIT 1 OFFSET ?",
                                  [*params, window - 1]).fetchone()
            if cutoff:
                sql, params = sql + " AND f.rowid >= ?", [*params, cutoff[0]]
        else:
            # The proximity phrase costs BM25 one more pass over the articles holding every
            # word (for its IDF): worth it for a focused query, not for a windowed broad one.
            sql, params = self._from(match=self.rank_match)
            if self.near and offset < NEAR_POOL:  # the re-ranking only reorders the first NEAR_POOL
                rows = conn.execute(f"SELECT f.rowid, -{_BM25} AS score {sql} ORDER BY {_BM25} LIMIT ?",
                                    [*params, max(NEAR_POOL, offset + limit)]).fetchall()
                rows = self._near_rerank(conn, rows[:NEAR_POOL]) + [(pk, score) for pk, score in rows[NEAR_POOL:]]
                return rows[offset : offset + limit]
        rows = conn.execute(f"SELECT f.rowid, -{_BM25} AS score {sql} ORDER BY {_BM25} LIMIT ? OFFSET ?",
                            [*params, limit, offset]).fetchall()
        return [(pk, score) for pk, score in rows]

    def _near_rerank(self, conn: sqlite3.Connection, rows: list) -> list[tuple[int, float]]:
        """*rows* (pk, -BM25), the scores of those holding every word within NEAR_DISTANCE terms raised.

        Known-item queries taken from one body sentence are found far more often when the
        articles holding the words in one sentence rank first. Scoring the NEAR group inside
        BM25 ranks a little better still, but BM25 then reads each word's whole document list
        again for its IDF (+3 to +4 ms a query at 1M articles); asking FTS5 which of these few
        rows hold the group is a seek per row.
        """
        if len(rows) < 2:
            return [(pk, score) for pk, score in rows]
        pks = [pk for pk, _ in rows]
        near = {r[0] for r in conn.execute(
            f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ? AND rowid IN ({','.join('?' * len(pks))})",
            [self.near, *pks])}
        rescored = [(pk, score * (1 + NEAR_BOOST) if pk in near else score) for pk, score in rows]
        return sorted(rescored, key=lambda r: -r[1])

    def facets(self, conn: sqlite3.Connection, total: int | None = None) -> Facets:
        sql, params = self._from()
        base = f"SELECT {'f.rowid' if self.match is not None else 'a.pk'} AS pk {sql}"
        matched = f"WITH m AS MATERIALIZED ({base}) "

        # one pass over the matches for source and month together, one for tags
        by_source: dict[str, int] = {}
        by_month: dict[str, int] = {}
        for source, month, n in conn.execute(
            f"{matched} SELECT a.source, substr(a.published_at, 1, 7), count(*) FROM m "
            "JOIN articles a INDEXED BY articles_search_cover ON a.pk = m.pk GROUP BY 1, 2", params
        ):
            if source is not None:
                by_source[source] = by_source.get(source, 0) + n
            if month is not None:
                by_month[month] = by_month.get(month, 0) + n
        tags = conn.execute(
            f"{matched} SELECT t.tag, count(*) AS n FROM m JOIN article_tags t ON t.article_pk = m.pk "
            f"GROUP BY t.tag ORDER BY n DESC, t.tag LIMIT {FACET_SIZE}", params
        ).fetchall()

        def top(counts: dict[str, int]) -> list[tuple[str, int]]:
            return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:FACET_SIZE]

        from ..enrich.entity_store import search_facets

        sample = ENTITY_FACET_WINDOW if total is None or total > ENTITY_FACET_WINDOW else None
        newest = f"WITH m AS MATERIALIZED ({base} ORDER BY pk DESC LIMIT {ENTITY_FACET_WINDOW}) "
        entities, places = search_facets(conn, newest if sample else matched, params, per_type=ENTITY_FACET_SIZE,
                                         countries=FACET_SIZE)
        return Facets(source=top(by_source), tag=[(k, n) for k, n in tags], month=top(by_month),
                      entity=entities, place=places, entity_sample=sample)


def _recent(rows: list[tuple[int, float]], dates: dict[int, datetime | None]) -> list[tuple[int, float]]:
    """Scale BM25 by freshness: half the weight every RECENT_HALF_LIFE_DAYS, never below a quarter."""
    now = max((d for d in dates.values() if d), default=datetime.now(timezone.utc))
    rescored = []
    for pk, score in rows:
        when = dates.get(pk)
        age = (now - when).total_seconds() / 86400 if when else 365.0
        rescored.append((pk, score * (0.25 + 0.75 * math.pow(0.5, max(age, 0.0) / RECENT_HALF_LIFE_DAYS))))
    return sorted(rescored, key=lambda r: -r[1])


def search(
    db,
    query: str,
    *,
    limit: int = 10,
    offset: int = 0,
    sort: str = "relevance",
    facets: bool = False,
    snippet_words: int = 30,
    snippets: bool = True,
    relax: bool = True,
    rank_window: int | None = RANK_WINDOW,
    analyzer: Analyzer | None = None,
) -> SearchResults:
    """Search stored articles with marsad's query language (see `marsad.search.query`).

    :param db: a `SQLiteStore`, or a database path (opened and closed here).
    :param sort: "relevance" (BM25, title weighted), "date" (newest first) or "recent" (BM25 scaled by freshness).
    :param facets: also count the whole result set by source, tag and month.
    :param snippets: cut highlighted snippets (off: hits carry empty snippets, for speed).
    :param relax: when a query of several words matches nothing, return articles matching any of them.
    :param rank_window: when more articles match, rank only the newest this many (None: rank all).
    :raises InvalidQuery: the text cannot be understood (the message says why, in English and Arabic).
    """
    started = time.perf_counter()
    if sort not in SORTS:
        raise InvalidQuery(f"sort must be one of {', '.join(SORTS)}", "ترتيب غير معروف")
    limit = max(0, min(int(limit), MAX_LIMIT))
    offset = max(0, min(int(offset), MAX_OFFSET))
    if isinstance(db, (str, os.PathLike, Path)):
        from ..store import open_store

        with open_store(db) as store:
            return search(store, query, limit=limit, offset=offset, sort=sort, facets=facets,
                          snippet_words=snippet_words, snippets=snippets, relax=relax, rank_window=rank_window,
                          analyzer=analyzer)
    if getattr(db, "backend", "sqlite") == "postgresql":  # tsvector + GIN instead of FTS5
        from .postgres import search as search_postgres

        return search_postgres(db, query, limit=limit, offset=offset, sort=sort, facets=facets,
                               snippet_words=snippet_words, snippets=snippets, relax=relax,
                               rank_window=rank_window, analyzer=analyzer)
    conn: sqlite3.Connection = db.conn
    analyzer = analyzer or default_analyzer()
    parsed = parse_query(query)
    analyzer.require_index(index_state(conn))

    plan = _compile(parsed, analyzer, conn)
    try:
        total = plan.count(conn)
        was_relaxed = False
        if total == 0 and relax and (looser := relaxed(parsed)) is not None:
            loose_plan = _compile(looser, analyzer, conn)
            loose_total = loose_plan.count(conn)
            if loose_total:
                plan, total, was_relaxed = loose_plan, loose_total, True
        if sort == "recent" and plan.match is not None:
            pool = plan.page(conn, "relevance", max(RECENT_POOL, offset + limit), 0, total=total, window=rank_window)
            dates = _dates(conn, [pk for pk, _ in pool])
            rows = _recent(pool, dates)[offset : offset + limit]
        else:
            rows = plan.page(conn, sort, limit, offset, total=total, window=rank_window) if limit else []
        facet_counts = plan.facets(conn, total) if facets else None
    except sqlite3.OperationalError as exc:  # should not happen: every MATCH is compiled from analysed terms
        raise InvalidQuery(f"the search engine refused this query ({exc})", "رفض محرك البحث هذا الاستعلام") from exc

    hits = _hits(conn, rows, _matcher(parsed, analyzer) if snippets else None, analyzer, snippet_words)
    return SearchResults(
        query=query, total=total, hits=hits, offset=offset, limit=limit, sort=sort, relaxed=was_relaxed,
        facets=facet_counts, took_ms=round((time.perf_counter() - started) * 1000, 2),
    )


def _compile(parsed: Query, analyzer: Analyzer, conn: sqlite3.Connection) -> _Plan:
    match = compile_match(parsed.expr, analyzer, proximity=False)
    require_searchable(parsed, match)
    known = _known_sources(conn) if parsed.filters.sources or parsed.filters.exclude_sources else None
    where = compile_filters(parsed.filters, known, _entity_ids(conn, parsed.filters))
    pk_range = _pk_range(conn, parsed.filters, known) if match is not None else None
    return _Plan(match, where, pk_range, rank_match=compile_match(parsed.expr, analyzer, exact=True),
                 near=compile_near(parsed.expr, analyzer))


def _entity_ids(conn: sqlite3.Connection, filters: Filters) -> dict[str, tuple[int, ...]] | None:
    """What each entity: value names (resolved by the canonicaliser's rules), or None without entity: values."""
    if not (filters.entities or filters.exclude_entities):
        return None
    from ..enrich.entity_store import resolve_filters

    return resolve_filters(conn, (*filters.entities, *filters.exclude_entities), filters.entity_types)


PK_RANGE_PROBE = 100_000  # filters passing more articles than this are not worth bounding


def _pk_range(conn: sqlite3.Connection, filters: Filters, known: dict[str, str] | None) -> tuple[int, int] | None:
    """The band of pks that can pass the indexed filters (sources, dates, tags), or None.

    Articles are stored roughly in publication order, so a source and a date range (or
    a tag) usually select a narrow band of pks; FTS5 then seeks to the band instead of
    walking every match. The band is exact whatever the order: it only ever skips
    articles that fail the filters.
    """
    bounds = []
    if filters.sources or filters.date_from or filters.date_to:
        sub = compile_filters(Filters(sources=filters.sources, date_from=filters.date_from,
                                      date_to=filters.date_to), known)
        lo, hi, n = conn.execute(f"SELECT min(pk), max(pk), count(*) FROM (SELECT a.pk AS pk FROM articles a "
                                 f"WHERE {sub.where()} LIMIT {PK_RANGE_PROBE})", sub.params).fetchone()
        if n < PK_RANGE_PROBE:
            bounds.append((lo, hi))
    for tag in filters.tags:
        bounds.append(conn.execute("SELECT min(article_pk), max(article_pk) FROM article_tags WHERE tag = ?",
                                   (tag,)).fetchone())
    if not bounds:
        return None
    if any(lo is None for lo, _ in bounds):
        return (1, 0)  # nothing passes
    return max(lo for lo, _ in bounds), min(hi for _, hi in bounds)


def _dates(conn: sqlite3.Connection, pks: list[int]) -> dict[int, datetime | None]:
    out: dict[int, datetime | None] = {}
    for start in range(0, len(pks), 900):
        part = pks[start : start + 900]
        marks = ",".join("?" * len(part))
        for pk, published in conn.execute(
            f"SELECT pk, published_at FROM articles INDEXED BY articles_search_cover WHERE pk IN ({marks})", part
        ):
            out[pk] = datetime.fromisoformat(published) if published else None
    return out


def _hits(conn: sqlite3.Connection, rows: list[tuple[int, float]], matcher: Matcher | None, analyzer: Analyzer,
          words: int) -> list[SearchHit]:
    if not rows:
        return []
    marks = ",".join("?" * len(rows))
    stored = {
        r[0]: r
        for r in conn.execute(
            f"SELECT pk, id, title, text, source, published_at, url FROM articles WHERE pk IN ({marks})",
            [pk for pk, _ in rows],
        )
    }
    matched_bodies = _bodies_matching(conn, list(stored), matcher) if matcher else None
    hits = []
    for pk, score in rows:
        if pk not in stored:
            continue
        _, article_id, title, text, source, published, url = stored[pk]
        if matched_bodies is not None and pk not in matched_bodies:
            text = _lead(text, words)  # nothing to find: the lead passage is the snippet, as a full read would give
        body = snippet(text, analyzer, matcher, words=words) if matcher else Snippet("", "")
        hits.append(SearchHit(
            id=article_id, title=title, source=source,
            published_at=datetime.fromisoformat(published) if published else None,
            score=float(score), url=url, snippet=body.html, snippet_text=body.text,
            title_html=highlight(title, analyzer, matcher).html if matcher else html.escape(title),
        ))
    return hits


LEAD_CHARS = 2_000  # what a body without a matched word is cut to before its snippet (the lead passage)
LEAD_MIN_CHARS, LEAD_CHARS_PER_WORD = 300, 12  # tried first: enough for *words* words of Arabic news


def _bodies_matching(conn: sqlite3.Connection, pks: list[int], matcher: Matcher) -> set[int] | None:
    """The pks among *pks* whose body holds a word the matcher marks, as the index says (None: not asked).

    A hit whose words are only in its title (common when a filter leaves few matches) would
    otherwise have its whole body analysed in search of a passage that is not there.
    """
    if any(len(p) < MIN_PREFIX_CHARS for p in matcher.prefixes):
        return None
    parts = [_quote(t) for t in sorted(matcher.terms) if t] + [_quote(p) + "*" for p in matcher.prefixes]
    if not parts or not pks:
        return set()
    marks = ",".join("?" * len(pks))
    try:
        return {r[0] for r in conn.execute(
            f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ? AND rowid IN ({marks})",
            ["body : (" + " OR ".join(parts) + ")", *pks])}
    except sqlite3.OperationalError:
        return None


def _lead(text: str, words: int) -> str:
    """The start of *text*, long enough that its snippet (no matches: the first *words* words) is unchanged.

    Any cut holding more than *words* words gives the same snippet (those words, then "…"), so
    the shortest likely one is tried first: everything cut off is text not analysed.
    """
    for size in (max(LEAD_MIN_CHARS, words * LEAD_CHARS_PER_WORD), LEAD_CHARS):
        if len(text) <= size:
            return text
        space = text.rfind(" ", 0, size)
        cut = text[: space if space > 0 else size]
        if len(WORD.findall(cut)) > words:
            return cut
    return text
