"""Search on PostgreSQL: marsad's analysed terms in a GIN-indexed `tsvector`, the query tree compiled to `tsquery`.

The same analyzer as SQLite (`analyzer.py`) turns text into terms, and the same
parser (`query.py`) turns user text into a tree; only the last step differs. Terms
are written as a tsvector *literal* (title positions weighted A), never passed
through a PostgreSQL text-search configuration, so both backends index exactly
the same terms and a query matches the same articles on either. Queries are
tsquery literals built from analysed terms only (letters and digits, quoted),
so no user text is read as tsquery syntax; filters are SQL with bound values.
"""

from __future__ import annotations

import html
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ..normalize import fold
from .analyzer import Analyzer, default_analyzer
from .fts5 import MIN_PREFIX_CHARS, SQLFilter, _entity_conditions, _source_names
from .highlight import Matcher, Snippet, highlight, snippet
from .query import (Filters, InvalidQuery, Node, Not, Or, Phrase, Query, Term, parse_query, relaxed,
                    require_searchable)

MAX_POSITION = 16383  # PostgreSQL's largest tsvector position
MAX_POSITIONS_PER_TERM = 255  # and at most 256 positions per lexeme
PROBE_SPAN = 20_000  # newest articles the first look for the newest matches covers (`_Plan.newest`)
RANK_WEIGHTS = "{0.2, 0.0, 0.0, 1.0}"  # {D, C, B, A} (each <= 1): title 5x body, as engine.TITLE_WEIGHT / BODY_WEIGHT
_RANK = f"ts_rank('{RANK_WEIGHTS}'::float4[], a.search_tsv, %s::tsquery)"  # an article's score; %s: the tsquery


def _lexeme(term: str) -> str:
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(title: str, text: str, analyzer: Analyzer | None = None) -> str:
    """The tsvector (as text) of an article: title terms at positions 1.. weighted A, body terms after them."""
    analyzer = analyzer or default_analyzer()
    positions: dict[str, list[str]] = defaultdict(list)
    position = 0
    for weight, part in (("A", title), ("", text)):
        for term in analyzer.terms(part):
            position = min(position + 1, MAX_POSITION)
            slots = positions[term]
            if len(slots) < MAX_POSITIONS_PER_TERM:
                slots.append(f"{position}{weight}")
        position += 1  # a gap, so a phrase never spans the end of the title and the start of the body
    return " ".join(f"{_lexeme(term)}:{','.join(slots)}" for term, slots in positions.items())


# -- index state ------------------------------------------------------------------


def index_state(conn) -> str:
    """The analyzer version the index was built with ('' empty and unclaimed, 'stale', 'reindexing')."""
    row = conn.execute("SELECT value FROM search_state WHERE key = 'analyzer'").fetchone()
    return row[0] if row else "stale"


def claim_index(conn, analyzer: Analyzer | None = None) -> Analyzer | None:
    """The analyzer to index new rows with, or None while the index belongs to another analyzer version."""
    analyzer = analyzer or default_analyzer()
    state = index_state(conn)
    if state == "":
        conn.execute("UPDATE search_state SET value = %s WHERE key = 'analyzer' AND value = ''", (analyzer.version,))
        return analyzer
    return analyzer if state == analyzer.version else None


def reindex(store, *, batch_size: int = 2000, on_progress=None, **_ignored) -> dict:
    """Recompute every article's tsvector with the current analyzer; returns counts and timing."""
    analyzer = default_analyzer()
    started = time.perf_counter()
    with store.atomic() as conn:
        conn.execute("UPDATE search_state SET value = 'reindexing' WHERE key = 'analyzer'")
    total = store.count_articles()
    done, last = 0, 0
    while True:
        with store.atomic() as conn:
            rows = conn.execute("SELECT pk, title, text FROM articles WHERE pk > %s ORDER BY pk LIMIT %s",
                                (last, batch_size)).fetchall()
            if not rows:
                break
            with conn.cursor() as cur:
                cur.executemany("UPDATE articles SET search_tsv = %s::tsvector WHERE pk = %s",
                                [(tsvector_literal(title, text, analyzer), pk) for pk, title, text in rows])
        last = rows[-1][0]
        done += len(rows)
        if on_progress:
            on_progress(done, total)
    with store.atomic() as conn:
        conn.execute("UPDATE search_state SET value = %s WHERE key = 'analyzer'", (analyzer.version,))
    seconds = time.perf_counter() - started
    return {"articles": done, "seconds": round(seconds, 2), "rate": round(done / seconds, 1) if seconds else 0.0,
            "analyzer": analyzer.version}


# -- compiling the query tree -------------------------------------------------------


def _phrase(terms: list[str]) -> str:
    return "(" + " <-> ".join(map(_lexeme, terms)) + ")" if len(terms) > 1 else _lexeme(terms[0])


def compile_tsquery(node: Node | None, analyzer: Analyzer, *, expand: bool = True) -> str | None:
    """tsquery text for *node* (as `fts5.compile_match` for FTS5), or None when nothing searchable is left."""
    if node is None:
        return None
    if isinstance(node, Term):
        if node.prefix:
            key = analyzer.prefix(node.text)
            return f"{_lexeme(key)}:*" if len(key) >= MIN_PREFIX_CHARS else None
        alternatives = analyzer.alternatives(node.text) if expand else ()
        if len(alternatives) > 1:
            return "(" + " | ".join(map(_lexeme, alternatives)) + ")"
        terms = analyzer.terms(node.text)
        return _phrase(terms) if terms else None
    if isinstance(node, Phrase):
        terms = analyzer.terms(node.text)
        return _phrase(terms) if terms else None
    if isinstance(node, Or):
        parts = [p for p in (compile_tsquery(i, analyzer, expand=expand) for i in node.items) if p]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else "(" + " | ".join(parts) + ")"
    if isinstance(node, Not):
        return None
    positive = [p for p in (compile_tsquery(i, analyzer, expand=expand) for i in node.items
                            if not isinstance(i, Not)) if p]
    negative = [p for p in (compile_tsquery(i.item, analyzer, expand=expand) for i in node.items
                            if isinstance(i, Not)) if p]
    if not positive:
        return None
    expr = positive[0] if len(positive) == 1 else "(" + " & ".join(positive) + ")"
    for part in negative:
        expr = f"({expr} & !{part})"
    return expr


@dataclass
class PGFilter:
    """WHERE conditions on `articles a` with %s placeholders, and their parameters."""

    conditions: list[str] = field(default_factory=list)
    params: list = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.conditions)

    def where(self) -> str:
        """' AND '-joined conditions (or 'TRUE')."""
        return " AND ".join(self.conditions) or "TRUE"


def compile_filters(filters: Filters, known_sources: dict[str, str] | None = None,
                    entity_ids: dict[str, tuple[int, ...]] | None = None) -> PGFilter:
    """SQL conditions for *filters* over `articles a`; `known_sources` maps folded alias -> stored name.

    `entity_ids` maps each `entity:` value to the entity ids it was resolved to, as for SQLite.
    """
    out = PGFilter()
    known = known_sources or {}
    if filters.sources:
        out.conditions.append("a.source = ANY(%s)")
        out.params.append(sorted({n for v in filters.sources for n in _source_names(v, known)}))
    if filters.exclude_sources:
        out.conditions.append("NOT (coalesce(a.source, '') = ANY(%s))")
        out.params.append(sorted({n for v in filters.exclude_sources for n in _source_names(v, known)}))
    if filters.langs:
        out.conditions.append("a.language = ANY(%s)")
        out.params.append(list(filters.langs))
    if filters.exclude_langs:
        out.conditions.append("NOT (coalesce(a.language, '') = ANY(%s))")
        out.params.append(list(filters.exclude_langs))
    if filters.date_from:
        out.conditions.append("a.published_at >= %s")
        out.params.append(datetime.combine(filters.date_from, datetime.min.time(), timezone.utc))
    if filters.date_to:
        out.conditions.append("a.published_at < %s")
        out.params.append(datetime.combine(filters.date_to + timedelta(days=1), datetime.min.time(), timezone.utc))
    for tag in filters.tags:
        out.conditions.append("EXISTS (SELECT 1 FROM article_tags t WHERE t.article_pk = a.pk AND t.tag = %s)")
        out.params.append(tag)
    if filters.exclude_tags:
        out.conditions.append("NOT EXISTS (SELECT 1 FROM article_tags t WHERE t.article_pk = a.pk AND t.tag = ANY(%s))")
        out.params.append(list(filters.exclude_tags))
    if filters.uses_entities:
        # The entity conditions are plain SQL over the same tables on both backends: written
        # once (fts5._entity_conditions), with SQLite's placeholders and constants swapped.
        shared = SQLFilter()
        _entity_conditions(shared, filters, entity_ids or {})
        out.conditions += ["FALSE" if c == "0" else c.replace("?", "%s") for c in shared.conditions]
        out.params += shared.params
    return out


# -- running a search -----------------------------------------------------------------


class _Plan:
    """SQL for one compiled query: a tsquery (or None for filter-only) and filters over `articles a`."""

    def __init__(self, tsquery: str | None, where: PGFilter):
        self.tsquery = tsquery
        self.where = where

    def _from(self) -> tuple[str, list]:
        if self.tsquery is None:
            return f"FROM articles a WHERE {self.where.where()}", list(self.where.params)
        return (f"FROM articles a WHERE a.search_tsv @@ %s::tsquery AND {self.where.where()}",
                [self.tsquery, *self.where.params])

    def count(self, conn) -> int:
        sql, params = self._from()
        return conn.execute(f"SELECT count(*) {sql}", params).fetchone()[0]

    def newest(self, conn, want: int) -> tuple[list[int], bool]:
        """The pks of the newest *want* matches, newest first, and whether they are all the matches.

        Looks at ever wider ranges of the newest articles (a pk range ANDed with the GIN index's
        bitmap), widened at the density seen so far, so a common word's newest matches are found
        without visiting the rows of its many older ones: at 1,000,000 articles, counting the
        288,000 matches of السعودية took 2.2 s, and a pk index scan that tested each row's
        tsvector on the way, hundreds of ms.
        """
        sql, params = self._from()
        top = conn.execute("SELECT max(pk) FROM articles").fetchone()[0]
        if top is None:
            return [], True
        span = PROBE_SPAN
        # Off for these statements only: the planner's alternative, the pk index read backwards with
        # the tsquery tested row by row, fetches (and decompresses) every row's tsvector on the way.
        conn.execute("SET enable_indexscan = off")
        try:
            while True:
                lo = top - span
                pks = [pk for (pk,) in conn.execute(f"SELECT a.pk {sql} AND a.pk > %s ORDER BY a.pk DESC LIMIT %s",
                                                    [*params, lo, want + 1])]
                if len(pks) > want:
                    return pks[:want], False
                if lo < 1:
                    return pks, True
                # Widened to where, at the density seen, one and a half times as many would be: one
                # more look, usually. (The planner's estimate would size the first look, but for
                # phrases and several words it is too low: 3,618 for 47,465, and a range too wide
                # reads every match in it; each phrase candidate is even read to check positions.)
                span = int(span * max(2.0, 1.5 * (want + 1) / max(len(pks), 0.5)))
        finally:
            conn.execute("RESET enable_indexscan")

    def newest_filtered(self, conn, want: int) -> list[int]:
        """The pks of the newest *want* matches of a query of filters only (no text), newest first."""
        sql, params = self._from()
        return [pk for (pk,) in conn.execute(f"SELECT a.pk {sql} ORDER BY a.pk DESC LIMIT %s", [*params, want])]

    def rank(self, conn, pks: list[int], limit: int, offset: int) -> list[tuple[int, float]]:
        """(pk, score) of a page of matches *pks*, best first (ties: newest first)."""
        rows = conn.execute(f"SELECT a.pk, {_RANK} AS score FROM articles a WHERE a.pk = ANY(%s) "
                            "ORDER BY score DESC, a.pk DESC LIMIT %s OFFSET %s",
                            [self.tsquery, pks, limit, offset]).fetchall()
        return [(pk, float(score)) for pk, score in rows]

    def page(self, conn, sort: str, limit: int, offset: int) -> list[tuple[int, float]]:
        """(pk, score) of one page over every match (a ranking window goes through `newest` and `rank`)."""
        sql, params = self._from()
        if self.tsquery is None:
            rows = conn.execute(f"SELECT a.pk, 0.0 {sql} ORDER BY a.published_at DESC NULLS LAST, a.pk DESC "
                                "LIMIT %s OFFSET %s", [*params, limit, offset]).fetchall()
            return [(pk, float(score)) for pk, score in rows]
        if sort == "date":
            # The page first, then the scores of its rows only: a score in the select list was computed
            # (its tsvector read) for every match before the sort (11 s for a common word at 1M articles).
            pks = [pk for (pk,) in conn.execute(f"SELECT a.pk {sql} ORDER BY a.published_at DESC NULLS LAST, a.pk DESC "
                                                "LIMIT %s OFFSET %s", [*params, limit, offset])]
            scores = dict(self.rank(conn, pks, len(pks), 0)) if pks else {}
            return [(pk, scores.get(pk, 0.0)) for pk in pks]
        rows = conn.execute(f"SELECT a.pk, {_RANK} AS score {sql} ORDER BY score DESC, a.pk DESC LIMIT %s OFFSET %s",
                            [self.tsquery, *params, limit, offset]).fetchall()
        return [(pk, float(score)) for pk, score in rows]

    def facets(self, conn, total: int | None = None, sample: list[int] | None = None):
        """Source, tag, month, entity and place facets of the matches (of the newest matches *sample*,
        pks, when given: the search found more than it counted)."""
        from .engine import FACET_SIZE, Facets

        sql, params = self._from()
        matched = f"WITH m AS MATERIALIZED (SELECT a.pk {sql}) "
        if sample is not None:
            matched, params = "WITH m AS MATERIALIZED (SELECT unnest(%s::bigint[]) AS pk) ", [sample]

        def top(select: str, join: str) -> list[tuple[str, int]]:
            rows = conn.execute(
                f"{matched} SELECT {select} AS k, count(*) AS n FROM m {join} "
                f"WHERE {select} IS NOT NULL GROUP BY {select} ORDER BY n DESC, {select} COLLATE \"C\" "
                f"LIMIT {FACET_SIZE}", params
            ).fetchall()
            return [(k, n) for k, n in rows]

        from ..enrich.entity_store import search_facets
        from ..store.postgres import PostgresStore
        from .engine import ENTITY_FACET_SIZE, ENTITY_FACET_WINDOW

        # Entity and place facets use the entity store's SQL (SQLite's dialect, translated), over the
        # newest ENTITY_FACET_WINDOW matches when more match, as on SQLite.
        total = self.count(conn) if total is None else total  # the caller has usually counted already
        entity_sample = ENTITY_FACET_WINDOW if total > ENTITY_FACET_WINDOW or sample is not None else None
        if sample is not None:
            pks, entity_params = "SELECT unnest(?::bigint[]) AS pk", [sample[:ENTITY_FACET_WINDOW]]
        else:
            pks = f"SELECT a.pk {sql}" + (f" ORDER BY a.pk DESC LIMIT {ENTITY_FACET_WINDOW}" if entity_sample else "")
            pks, entity_params = pks.replace("%s", "?"), params
        entities, places = search_facets(PostgresStore.sqlite_style(conn), f"WITH m AS MATERIALIZED ({pks}) ",
                                         entity_params, per_type=ENTITY_FACET_SIZE, countries=FACET_SIZE)
        return Facets(
            source=top("a.source", "JOIN articles a ON a.pk = m.pk"),
            tag=top("t.tag", "JOIN article_tags t ON t.article_pk = m.pk"),
            month=top("to_char(a.published_at AT TIME ZONE 'UTC', 'YYYY-MM')", "JOIN articles a ON a.pk = m.pk"),
            entity=entities, place=places, entity_sample=entity_sample,
            sample=len(sample) if sample is not None else None,
        )


def _known_sources(conn) -> dict[str, str]:
    known: dict[str, str] = {}
    for name, aliases in conn.execute("SELECT name, aliases FROM sources"):
        aliases = json.loads(aliases) if isinstance(aliases, str) else (aliases or [])
        for alias in [name, *aliases]:
            known[alias.casefold()] = name
            known[fold(alias).strip()] = name
    return known


def _compile(parsed: Query, analyzer: Analyzer, conn) -> _Plan:
    tsquery = compile_tsquery(parsed.expr, analyzer)
    require_searchable(parsed, tsquery)
    known = _known_sources(conn) if parsed.filters.sources or parsed.filters.exclude_sources else None
    entity_ids = None
    if parsed.filters.uses_entities:
        from ..enrich.entity_store import resolve_filters
        from ..store.postgres import PostgresStore

        filters = parsed.filters
        entity_ids = resolve_filters(PostgresStore.sqlite_style(conn), (*filters.entities, *filters.exclude_entities),
                                     filters.entity_types)
    return _Plan(tsquery, compile_filters(parsed.filters, known, entity_ids))


def _hits(conn, rows: list[tuple[int, float]], matcher: Matcher | None, analyzer: Analyzer, words: int) -> list:
    from .engine import SearchHit

    if not rows:
        return []
    stored = {r[0]: r for r in conn.execute(
        "SELECT pk, id, title, text, source, published_at, url FROM articles WHERE pk = ANY(%s)",
        ([pk for pk, _ in rows],))}
    hits = []
    for pk, score in rows:
        if pk not in stored:
            continue
        _, article_id, title, text, source, published, url = stored[pk]
        body = snippet(text, analyzer, matcher, words=words) if matcher else Snippet("", "")
        hits.append(SearchHit(
            id=article_id, title=title, source=source,
            published_at=published.astimezone(timezone.utc) if published else None,
            score=score, url=url, snippet=body.html, snippet_text=body.text,
            title_html=highlight(title, analyzer, matcher).html if matcher else html.escape(title),
        ))
    return hits


def search(store, query: str, *, limit: int = 10, offset: int = 0, sort: str = "relevance", facets: bool = False,
           snippet_words: int = 30, snippets: bool = True, relax: bool = True, rank_window: int | None = None,
           analyzer: Analyzer | None = None):
    """`marsad.search.search` on a `PostgresStore` (limits and sort already checked by the caller)."""
    from .engine import RECENT_POOL, SearchResults, _matcher, _recent

    started = time.perf_counter()
    analyzer = analyzer or default_analyzer()
    parsed = parse_query(query)
    with store.connection() as conn:
        analyzer.require_index(index_state(conn))
        plan = _compile(parsed, analyzer, conn)
        total, exact, newest = _count(plan, conn, rank_window)
        was_relaxed = False
        if total == 0 and relax and (looser := relaxed(parsed)) is not None:
            loose_plan = _compile(looser, analyzer, conn)
            loose_total, loose_exact, loose_newest = _count(loose_plan, conn, rank_window)
            if loose_total:
                plan, total, exact, newest, was_relaxed = loose_plan, loose_total, loose_exact, loose_newest, True
        if sort == "recent" and plan.tsquery is not None:
            depth = max(RECENT_POOL, offset + limit)
            pool = (plan.rank(conn, newest, depth, 0) if newest is not None
                    else plan.page(conn, "relevance", depth, 0))
            dates = {pk: (d.astimezone(timezone.utc) if d else None) for pk, d in conn.execute(
                "SELECT pk, published_at FROM articles WHERE pk = ANY(%s)", ([pk for pk, _ in pool],))}
            rows = _recent(pool, dates)[offset : offset + limit]
        elif not limit:
            rows = []
        elif sort == "relevance" and newest is not None:
            rows = plan.rank(conn, newest, limit, offset)
        else:
            rows = plan.page(conn, sort, limit, offset)
        facet_counts = None
        if facets:
            sample = None if exact else newest
            if sample is None and plan.tsquery is None and rank_window and total > rank_window:
                sample = plan.newest_filtered(conn, rank_window)  # a filter alone can match half the table
            facet_counts = plan.facets(conn, total, sample=sample)
        hits = _hits(conn, rows, _matcher(parsed, analyzer) if snippets else None, analyzer, snippet_words)
    return SearchResults(
        query=query, total=total, hits=hits, offset=offset, limit=limit, sort=sort, relaxed=was_relaxed,
        facets=facet_counts, took_ms=round((time.perf_counter() - started) * 1000, 2), total_exact=exact,
    )


def _count(plan: _Plan, conn, window: int | None) -> tuple[int, bool, list[int] | None]:
    """(total, whether it is exact, the newest *window* matches' pks or None).

    With a ranking window, the newest matches are found first (`_Plan.newest`); when more than
    *window* match, the total is given as *window*, a lower bound (``total_exact`` False), as
    counting every match of a common word reads all their rows (seconds at 1,000,000 articles).
    """
    if plan.tsquery is None or not window:
        return plan.count(conn), True, None
    newest, everything = plan.newest(conn, window)
    return len(newest), everything, newest
