"""marsad's query language: user text -> a backend-neutral syntax tree.

    حرس الحدود "وزارة الداخلية" -تدريب مكة OR جدة سعو* source:sabq tag:أمن from:2015-08-01 to:2015-08-11 lang:ar

* words are ANDed; ``"exact phrase"``; ``a OR b`` (also ``|``); ``-word`` or ``NOT word``
  excludes; ``word*`` matches a prefix; ``( ... )`` groups.
* filters: ``source:`` (outlet code, name or alias), ``tag:``, ``from:`` / ``to:``
  (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``, inclusive), ``lang:``. A leading ``-``
  excludes a source, tag or language. Several ``source:`` (or ``lang:``) mean any of
  them; several ``tag:`` mean all of them. Values with spaces go in quotes: ``tag:"كرة القدم"``.
* entity filters: ``entity:`` names a canonical entity (person, place, organisation) by any
  of its spellings (``entity:نتانياهو``, ``entity:"الولايات المتحدة الأمريكية"``), or by id
  (``entity:#42``); several mean all of them, ``-entity:`` excludes. ``type:PERS|LOC|ORG|MISC``
  keeps articles naming at least one entity of that type (several: any of them); beside
  ``entity:`` it only says which type the named entity has. ``country:SA`` (ISO code, or a
  country's name) keeps articles naming a place in that country. The store resolves names.

The parser is forgiving (an unclosed quote ends at the end of the text, a stray
parenthesis is ignored, ``*`` alone or a trailing ``OR`` is dropped); what it cannot
make sense of raises `InvalidQuery` with a message in English and Arabic. It never
produces backend syntax: each store compiles the tree (`marsad.search.fts5` for SQLite),
so no user text reaches a database except as a bound value or an analysed term.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field, replace
from datetime import date

from ..errors import MarsadError

MAX_QUERY_CHARS = 2000
MAX_CLAUSES = 64
FILTER_KEYS = ("source", "tag", "from", "to", "lang", "entity", "type", "country")
ENTITY_TYPES = ("PERS", "LOC", "ORG", "MISC")
# what `type:` accepts, besides the four codes (case-insensitive): common English and Arabic words
_TYPE_NAMES = {"PER": "PERS", "PERSON": "PERS", "PEOPLE": "PERS", "شخص": "PERS", "اشخاص": "PERS",
               "أشخاص": "PERS", "LOCATION": "LOC", "PLACE": "LOC", "مكان": "LOC", "اماكن": "LOC",
               "أماكن": "LOC", "ORGANISATION": "ORG", "ORGANIZATION": "ORG", "هيئة": "ORG", "هيئات": "ORG",
               "منظمة": "ORG", "OTHER": "MISC", "أخرى": "MISC", "اخرى": "MISC"}


class InvalidQuery(MarsadError):
    """The search text cannot be understood; `message` (English) and `message_ar` say why."""

    status = 400

    def __init__(self, message: str, message_ar: str):
        self.message_ar = message_ar
        super().__init__(f"invalid query: {message}")


# -- the tree ----------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One word as the user typed it; `prefix` for ``word*``."""

    text: str
    prefix: bool = False


@dataclass(frozen=True)
class Phrase:
    """Words that must appear together, in order."""

    text: str


@dataclass(frozen=True)
class And:
    """Every item must match (items may be `Not`)."""

    items: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    """At least one item must match."""

    items: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    """The item must not match (only meaningful inside an `And` with something positive)."""

    item: "Node"


Node = Term | Phrase | And | Or | Not


@dataclass(frozen=True)
class Filters:
    """Conditions on article fields, applied as SQL (never full-text)."""

    sources: tuple[str, ...] = ()
    exclude_sources: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    exclude_tags: tuple[str, ...] = ()
    langs: tuple[str, ...] = ()
    exclude_langs: tuple[str, ...] = ()
    date_from: date | None = None  # inclusive
    date_to: date | None = None  # inclusive
    entities: tuple[str, ...] = ()  # names (or "#id") as typed; the store resolves them
    exclude_entities: tuple[str, ...] = ()
    entity_types: tuple[str, ...] = ()  # PERS, LOC, ORG, MISC
    exclude_entity_types: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()  # ISO 3166 alpha-2 codes, or names the store resolves
    exclude_countries: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self != Filters()

    @property
    def uses_entities(self) -> bool:
        """Whether these filters need the entity tables (entity:, type: or country:)."""
        return bool(self.entities or self.exclude_entities or self.entity_types or self.exclude_entity_types
                    or self.countries or self.exclude_countries)


@dataclass(frozen=True)
class Query:
    """A parsed query: the text, its full-text expression (None for a filter-only query) and filters."""

    text: str
    expr: Node | None
    filters: Filters = field(default_factory=Filters)


# -- lexing ------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
_QUOTES = str.maketrans({"“": '"', "”": '"', "«": '"', "»": '"', "„": '"', "‟": '"', "＂": '"'})
_DASHES = "-\u2010\u2011\u2012\u2013\u2212"


@dataclass
class _Tok:
    kind: str  # word | phrase | filter | or | not | ( | )
    text: str = ""
    key: str = ""
    negated: bool = False


def _lex(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "()":
            tokens.append(_Tok(ch))
            i += 1
            continue
        negated = False
        if ch in _DASHES and i + 1 < n and not text[i + 1].isspace():
            negated, i = True, i + 1
            ch = text[i]
        if ch == '"':
            end = text.find('"', i + 1)
            end = n if end < 0 else end
            tokens.append(_Tok("phrase", text[i + 1 : end], negated=negated))
            i = end + 1
            continue
        if ch in "()":  # "-(" : negate the group
            tokens.append(_Tok("not"))
            continue
        start = i
        while i < n and not text[i].isspace() and text[i] not in '()"':
            i += 1
        word = text[start:i]
        key, colon, value = word.partition(":")
        if colon and key.lower() in FILTER_KEYS:
            if not value and i < n and text[i] == '"':  # tag:"كرة القدم"
                end = text.find('"', i + 1)
                end = n if end < 0 else end
                value, i = text[i + 1 : end], end + 1
            tokens.append(_Tok("filter", value.strip(), key=key.lower(), negated=negated))
        elif word in ("OR", "|", "||") and not negated:
            tokens.append(_Tok("or"))
        elif word in ("AND", "&", "&&") and not negated:
            continue
        elif word == "NOT" and not negated:
            tokens.append(_Tok("not"))
        else:
            tokens.append(_Tok("word", word, negated=negated))
    return tokens


# -- parsing -----------------------------------------------------------------------


def _parse_date(value: str, *, end: bool) -> date:
    match = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", value)
    try:
        if not match:
            raise ValueError
        year = int(match[1])
        month = int(match[2]) if match[2] else (12 if end else 1)
        if match[3]:
            day = int(match[3])
        else:
            day = calendar.monthrange(year, month)[1] if end else 1
        return date(year, month, day)
    except ValueError:
        raise InvalidQuery(
            f"{'to' if end else 'from'}: expects a date as YYYY-MM-DD, YYYY-MM or YYYY, not {value[:40]!r}",
            f"يجب أن يكون التاريخ بعد {'to' if end else 'from'}: بالشكل YYYY-MM-DD",
        ) from None


class _Parser:
    def __init__(self, tokens: list[_Tok]):
        self.tokens = tokens
        self.pos = 0
        self.filters: dict[str, list] = {k: [] for k in ("sources", "exclude_sources", "tags", "exclude_tags",
                                                          "langs", "exclude_langs", "entities",
                                                          "exclude_entities", "entity_types",
                                                          "exclude_entity_types", "countries",
                                                          "exclude_countries")}
        self.date_from: date | None = None
        self.date_to: date | None = None
        self.clauses = 0

    def peek(self) -> _Tok | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def sequence(self, depth: int) -> list[Node]:
        """Clauses up to a closing parenthesis (or the end): an implicit AND."""
        items: list[Node] = []
        while (tok := self.peek()) is not None:
            if tok.kind == ")":
                if depth:
                    return items
                self.pos += 1  # stray ')'
                continue
            if tok.kind == "or":  # leading or doubled OR
                self.pos += 1
                continue
            node = self.disjunction(depth)
            if node is not None:
                items.append(node)
        return items

    def disjunction(self, depth: int) -> Node | None:
        options = [self.unit(depth)]
        while (tok := self.peek()) is not None and tok.kind == "or":
            self.pos += 1
            if self.peek() is None or self.peek().kind in ("or", ")"):
                continue
            options.append(self.unit(depth))
        options = [o for o in options if o is not None]
        if len(options) > 1:
            if any(isinstance(o, Not) for o in options):
                raise InvalidQuery("an excluded word cannot be one side of OR",
                                   "لا يمكن استخدام كلمة مستبعدة في أحد طرفي OR")
            return Or(tuple(options))
        return options[0] if options else None

    def unit(self, depth: int) -> Node | None:
        tok = self.tokens[self.pos]
        self.pos += 1
        if tok.kind == "not":
            nxt = self.peek()
            if nxt is None or nxt.kind in ("or", ")", "not"):
                return None
            inner = self.unit(depth)
            return Not(inner) if inner is not None and not isinstance(inner, Not) else inner
        if tok.kind == "(":
            if depth >= 8:
                raise InvalidQuery("too many nested parentheses", "أقواس متداخلة أكثر من اللازم")
            items = self.sequence(depth + 1)
            if self.peek() is not None and self.peek().kind == ")":
                self.pos += 1
            node = And(tuple(items)) if len(items) > 1 else (items[0] if items else None)
            return node
        if tok.kind == "filter":
            self.add_filter(tok)
            return None
        self.clauses += 1
        if self.clauses > MAX_CLAUSES:
            raise InvalidQuery(f"more than {MAX_CLAUSES} words", f"أكثر من {MAX_CLAUSES} كلمة")
        if tok.kind == "phrase":
            node: Node | None = Phrase(tok.text) if tok.text.strip() else None
        else:
            word = tok.text
            prefix = word.endswith("*")
            word = word.rstrip("*")
            node = Term(word, prefix) if word.strip("*") else None
        if node is not None and tok.negated:
            return Not(node)
        return node

    def add_filter(self, tok: _Tok) -> None:
        value = tok.text
        if not value:
            raise InvalidQuery(f"{tok.key}: needs a value", f"يحتاج {tok.key}: إلى قيمة")
        if tok.key in ("from", "to"):
            if tok.negated:
                raise InvalidQuery(f"-{tok.key}: is not supported", f"لا يمكن استبعاد {tok.key}:")
            if tok.key == "from":
                self.date_from = _parse_date(value, end=False)
            else:
                self.date_to = _parse_date(value, end=True)
            return
        name = {"source": "sources", "tag": "tags", "lang": "langs", "entity": "entities",
                "type": "entity_types", "country": "countries"}[tok.key]
        if tok.key == "lang":
            value = value.lower()
        elif tok.key == "type":
            value = entity_type(value)
        elif tok.key == "country" and re.fullmatch(r"[A-Za-z]{2}", value):
            value = value.upper()
        elif tok.key == "entity" and value.startswith("#") and not (value[1:].isdecimal() and len(value) < 17):
            raise InvalidQuery("entity:# expects an entity's number, as entity:#42",
                               "يجب أن يتبع entity:# رقم الكيان، مثل entity:#42")
        self.filters[("exclude_" if tok.negated else "") + name].append(value)


def entity_type(value: str) -> str:
    """PERS, LOC, ORG or MISC for a `type:` value (a code or a common English or Arabic word)."""
    upper = value.strip().upper()
    kind = upper if upper in ENTITY_TYPES else _TYPE_NAMES.get(upper)
    if kind is None:
        raise InvalidQuery(f"type: must be one of {', '.join(ENTITY_TYPES)}, not {value[:40]!r}",
                           "يجب أن يكون type: واحدا من PERS (شخص) أو LOC (مكان) أو ORG (هيئة) أو MISC (أخرى)")
    return kind


def parse_query(text: str) -> Query:
    """Parse a user's search text into a `Query`; raises `InvalidQuery` with a clear message."""
    if not isinstance(text, str):
        raise InvalidQuery("the query must be text", "يجب أن يكون الاستعلام نصا")
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidQuery(f"longer than {MAX_QUERY_CHARS} characters", f"أطول من {MAX_QUERY_CHARS} حرف")
    clean = _CONTROL.sub(" ", text).translate(_QUOTES)
    parser = _Parser(_lex(clean))
    items = parser.sequence(0)
    filters = Filters(**{k: tuple(dict.fromkeys(v)) for k, v in parser.filters.items()},
                      date_from=parser.date_from, date_to=parser.date_to)
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise InvalidQuery("from: is after to:", "تاريخ from: بعد تاريخ to:")
    expr: Node | None = None
    if items:
        expr = And(tuple(items)) if len(items) > 1 or isinstance(items[0], Not) else items[0]
    return Query(text, expr, filters)


# -- helpers every backend uses --------------------------------------------------


def positive_leaves(node: Node | None) -> list[Term | Phrase]:
    """The terms and phrases a match may contain (not the excluded ones): what snippets highlight."""
    if node is None or isinstance(node, Not):
        return []
    if isinstance(node, (Term, Phrase)):
        return [node]
    return [leaf for item in node.items for leaf in positive_leaves(item)]


def relaxed(query: Query) -> Query | None:
    """The same query with its top-level AND turned into OR (exclusions kept); None if nothing changes.

    Used when the strict query finds nothing: an article matching most of the words is
    better than an empty page.
    """
    expr = query.expr
    if not isinstance(expr, And):
        return None
    positive = [i for i in expr.items if not isinstance(i, Not)]
    negative = [i for i in expr.items if isinstance(i, Not)]
    if len(positive) < 2:
        return None
    return replace(query, expr=And((Or(tuple(positive)), *negative)))


def has_positive(node: Node | None) -> bool:
    """Whether *node* asks for something to be present (not only exclusions)."""
    if node is None or isinstance(node, Not):
        return False
    if isinstance(node, (Term, Phrase)):
        return True
    return any(has_positive(i) for i in node.items)


def require_searchable(parsed: Query, compiled: object | None) -> None:
    """Raise InvalidQuery when a parsed query compiled to nothing a backend can search for."""
    if parsed.expr is not None and compiled is None:
        if not has_positive(parsed.expr):
            raise InvalidQuery("add a word to look for, not only words to exclude",
                               "أضف كلمة للبحث عنها، لا كلمات مستبعدة فقط")
        if not parsed.filters:
            raise InvalidQuery("nothing to search for: only common words (stopwords) or punctuation",
                               "لا شيء للبحث عنه: كلمات شائعة أو علامات ترقيم فقط")
    if compiled is None and not parsed.filters:
        raise InvalidQuery("the query is empty", "الاستعلام فارغ")
