"""Compile a parsed query (`marsad.search.query`) into SQLite FTS5 MATCH text and SQL filters.

Only analysed terms reach FTS5, each inside double quotes, so no user text can be
read as FTS5 syntax (column names, NEAR, ^, bare operators): the analyzer emits
letters and digits only. Filters become SQL with bound parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from ..ingest.outlets import resolve_outlet
from .analyzer import Analyzer
from .query import And, Filters, Node, Not, Or, Phrase, Term

MIN_PREFIX_CHARS = 3  # shorter prefixes would match half the vocabulary
NEAR_DISTANCE = 20  # proximity window in index terms (about a sentence); chosen on seed 1 of the quality benchmark


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def compile_match(node: Node | None, analyzer: Analyzer, *, expand: bool = True, proximity: bool = True,
                  exact: bool = False) -> str | None:
    """FTS5 MATCH text for *node*, or None when nothing searchable is left (stopwords only, say).

    `expand` looks words up with their other readings too (`Analyzer.alternatives`).
    `proximity` adds the words of a top-level AND as one phrase, OR-ed in: the match set
    is the same (the phrase implies every word) but BM25 then scores articles holding the
    words side by side, as typed, above those that scatter them. `exact` likewise OR-s each
    word's exact form (`Analyzer.exact_form`, found only in the exact-form columns) in
    beside its stem: the same matches, the articles holding the very form typed scored higher.
    """
    expr = _compile(node, analyzer, expand, exact)
    words = _proximity_words(node, analyzer) if proximity and expr else None
    if words:
        return f"({expr} OR {_quote(' '.join(t for w in words for t in w))})"
    return expr


def compile_near(node: Node | None, analyzer: Analyzer) -> str | None:
    """A NEAR group of the words of a top-level AND (all within NEAR_DISTANCE index terms, any
    order), or None: `engine` re-ranks the best BM25 matches that hold it (one sentence's words)."""
    words = _proximity_words(node, analyzer)
    unique = list(dict.fromkeys(t for w in words for t in w)) if words else []
    return f"NEAR({' '.join(map(_quote, unique))}, {NEAR_DISTANCE})" if len(unique) >= 2 else None


def _proximity_words(node: Node | None, analyzer: Analyzer) -> list[list[str]] | None:
    """The terms of each word of a top-level AND (or of a relaxed "any word" OR), when there are two or more."""
    if not isinstance(node, And) or any(isinstance(i, Not) for i in node.items):
        return None
    items = list(node.items)
    if len(items) == 1 and isinstance(items[0], Or):  # a relaxed query: any of the words
        items = list(items[0].items)
    words = [analyzer.terms(i.text) if isinstance(i, Term) and not i.prefix else [] for i in items]
    return words if len(words) >= 2 and all(words) else None


def _compile(node: Node | None, analyzer: Analyzer, expand: bool, exact: bool = False) -> str | None:
    if node is None:
        return None
    if isinstance(node, Term):
        if node.prefix:
            key = analyzer.prefix(node.text)
            return _quote(key) + "*" if len(key) >= MIN_PREFIX_CHARS else None
        alternatives = analyzer.alternatives(node.text) if expand else ()
        if len(alternatives) > 1:
            parts = list(map(_quote, alternatives))
        else:
            terms = analyzer.terms(node.text)
            parts = [_quote(" ".join(terms))] if terms else []
        form = analyzer.exact_form(node.text) if exact and parts else ""
        if form:
            parts.append(_quote(form))
        if len(parts) <= 1:
            return parts[0] if parts else None
        return "(" + " OR ".join(parts) + ")"
    if isinstance(node, Phrase):
        terms = analyzer.terms(node.text)
        return _quote(" ".join(terms)) if terms else None
    if isinstance(node, Or):
        parts = [p for p in (_compile(i, analyzer, expand, exact) for i in node.items) if p]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"
    if isinstance(node, Not):
        return None  # a lone exclusion has nothing to subtract from
    positive = [p for p in (_compile(i, analyzer, expand, exact) for i in node.items if not isinstance(i, Not)) if p]
    # an excluded word's exact form would exclude nothing more
    negative = [p for p in (_compile(i.item, analyzer, expand) for i in node.items if isinstance(i, Not)) if p]
    if not positive:
        return None
    # a repeated word adds nothing but another full scan for BM25's IDF
    positive, negative = list(dict.fromkeys(positive)), list(dict.fromkeys(negative))
    expr = positive[0] if len(positive) == 1 else "(" + " AND ".join(positive) + ")"
    for part in negative:
        expr = f"({expr} NOT {part})"
    return expr


@dataclass
class SQLFilter:
    """WHERE conditions on `articles a` and their parameters."""

    conditions: list[str] = field(default_factory=list)
    params: list = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.conditions)

    def where(self) -> str:
        """' AND '-joined conditions (or '1')."""
        return " AND ".join(self.conditions) or "1"


def _source_names(value: str, known: dict[str, str]) -> list[str]:
    """Stored source names a `source:` value means: an outlet code, name or alias."""
    names = {value}
    outlet = resolve_outlet(value)
    if outlet:
        names.add(outlet.name)
    folded = value.casefold()
    names.update(name for alias, name in known.items() if alias == folded)
    return sorted(names)


def compile_filters(filters: Filters, known_sources: dict[str, str] | None = None,
                    entity_ids: dict[str, tuple[int, ...]] | None = None) -> SQLFilter:
    """SQL conditions for *filters* over `articles a`; `known_sources` maps folded alias -> stored name.

    `entity_ids` maps each `entity:` value to the entity ids it was resolved to
    (marsad.enrich.entity_store.resolve_filters); a value missing or resolved to none matches nothing.
    """
    out = SQLFilter()
    known = known_sources or {}
    if filters.sources:
        names = sorted({n for v in filters.sources for n in _source_names(v, known)})
        out.conditions.append(f"a.source IN ({','.join('?' * len(names))})")
        out.params += names
    if filters.exclude_sources:
        names = sorted({n for v in filters.exclude_sources for n in _source_names(v, known)})
        out.conditions.append(f"coalesce(a.source, '') NOT IN ({','.join('?' * len(names))})")
        out.params += names
    if filters.langs:
        out.conditions.append(f"a.language IN ({','.join('?' * len(filters.langs))})")
        out.params += list(filters.langs)
    if filters.exclude_langs:
        out.conditions.append(f"coalesce(a.language, '') NOT IN ({','.join('?' * len(filters.exclude_langs))})")
        out.params += list(filters.exclude_langs)
    if filters.date_from:
        out.conditions.append("a.published_at >= ?")
        out.params.append(filters.date_from.isoformat())
    if filters.date_to:
        out.conditions.append("a.published_at < ?")
        out.params.append((filters.date_to + timedelta(days=1)).isoformat())
    for tag in filters.tags:
        out.conditions.append("EXISTS (SELECT 1 FROM article_tags t WHERE t.article_pk = a.pk AND t.tag = ?)")
        out.params.append(tag)
    if filters.exclude_tags:
        marks = ",".join("?" * len(filters.exclude_tags))
        out.conditions.append(
            f"NOT EXISTS (SELECT 1 FROM article_tags t WHERE t.article_pk = a.pk AND t.tag IN ({marks}))"
        )
        out.params += list(filters.exclude_tags)
    if filters.uses_entities:
        _entity_conditions(out, filters, entity_ids or {})
    return out


def country_code(value: str) -> str:
    """The ISO alpha-2 code a `country:` value means: a code as is, or a country's name through the
    canonicaliser's alias table (السعودية, المملكة العربية السعودية -> SA); else the value (matches nothing)."""
    if len(value) == 2 and value.isascii() and value.isalpha():
        return value.upper()
    from ..enrich.entities import alias_table, clean_name, name_key

    for key in (clean_name(value)[0], name_key(value)):
        alias = alias_table().get(key)
        if alias and alias[2]:
            return alias[2]
    return value


def _entity_conditions(out: SQLFilter, filters: Filters, entity_ids: dict[str, tuple[int, ...]]) -> None:
    """entity: (each one named), -entity: (none named), type: (one of these types named), -type:."""
    for value in filters.entities:
        ids = entity_ids.get(value, ())
        if not ids:
            out.conditions.append("0")
            continue
        out.conditions.append(f"a.pk IN (SELECT mn.article_pk FROM mentions mn WHERE mn.entity_id IN "
                              f"({','.join('?' * len(ids))}))")
        out.params += list(ids)
    excluded = sorted({i for value in filters.exclude_entities for i in entity_ids.get(value, ())})
    if excluded:
        out.conditions.append(f"a.pk NOT IN (SELECT mn.article_pk FROM mentions mn WHERE mn.entity_id IN "
                              f"({','.join('?' * len(excluded))}))")
        out.params += excluded
    # type: (a handful of types, each named in many articles): look at each article's own mentions;
    # beside entity:, type: has only said which entity was meant
    wanted = () if filters.entities else filters.entity_types
    for negated, kinds in ((False, wanted), (True, filters.exclude_entity_types)):
        if kinds:
            marks = ",".join("?" * len(kinds))
            out.conditions.append(f"{'NOT ' if negated else ''}EXISTS (SELECT 1 FROM mentions mn JOIN entities e "
                                  f"ON e.id = mn.entity_id WHERE mn.article_pk = a.pk AND e.type IN ({marks}))")
            out.params += list(kinds)
    for negated, values in ((False, filters.countries), (True, filters.exclude_countries)):
        if values:  # a place in one of these countries: its places first, then their articles
            codes = sorted({country_code(v) for v in values})
            marks = ",".join("?" * len(codes))
            out.conditions.append(f"a.pk {'NOT ' if negated else ''}IN (SELECT mn.article_pk FROM mentions mn "
                                  f"WHERE mn.entity_id IN (SELECT e.id FROM entities e WHERE e.type = 'LOC' "
                                  f"AND e.country IN ({marks})))")
            out.params += codes
