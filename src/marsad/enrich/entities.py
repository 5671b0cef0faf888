"""Canonical entities: one entity for all spellings and clitic forms of a name.

Rules, in order (each is data or a small pure function, tested in tests/test_entities.py):

1. The matching key of a mention: diacritics removed, folded (أ/ا, ة/ه, ى/ي), proclitics
   stripped from the first word (لواشنطن -> واشنطن, للولايات المتحدة -> الولايات المتحدة),
   "عبد ال..." and "أبو ..." joined, and alefs inside words dropped, so common spelling
   variants of transliterated names meet (نتنياهو / نتانياهو).
2. Known aliases from data: country_aliases.tsv and pycountry's Arabic names (أمريكا, الولايات
   المتحدة الأمريكية -> الولايات المتحدة), entity_aliases.tsv for people and organisations.
3. Co-occurrence: in one article a person's surname (بازوم) or shorter name joins the full
   name mentioned there (محمد بازوم); the store remembers the pairing, so a later article
   that says only "بازوم" joins the same entity.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Sequence
from functools import cache

from ..normalize import fold, strip_tashkeel
from .features import Resources
from .gazetteer import data_lines, read_country_aliases, shipped_resources
from .places import resolve_place
from .records import EntityMention, EntityRef


def _clean_words(text: str) -> list[str]:
    """A mention's words without diacritics, tatweel or surrounding punctuation."""
    text = strip_tashkeel(unicodedata.normalize("NFKC", text))
    words = []
    for word in text.replace("-", " ").split():
        word = word.strip("\"'«»()[]{}.,،:;؛!?؟")
        if word:
            words.append(word)
    return words


def _variant_free(word: str) -> str:
    """Drop alefs after a word's first two letters: نتانياهو and نتنياهو share نتنيهو."""
    return word[:2] + word[2:].replace("ا", "")


def split_proclitics(word: str, resources: Resources) -> tuple[str, str]:
    """(proclitics, rest) of a folded word for naming: the tagger's split, then و/ف/ب/ك before ال.

    The tagger's split (features.Resources.split_clitics) is cautious, as its features must
    not change under the model; a name may lose a conjunction or preposition glued to the
    article whenever the rest is a known word (والفصائل -> الفصائل).
    """
    proclitics, rest = resources.split_clitics(word)
    if not proclitics and len(word) > 4 and word[0] in "وفبك" and word[1:3] == "ال" and word[1:] in resources.rank:
        return word[0], word[1:]
    return proclitics, rest


def clean_name(text: str, resources: Resources | None = None) -> tuple[str, str]:
    """(matching key, display form) of a mention: clitics off the first word, spelling folded.

    >>> clean_name("لواشنطن")[1]
    'واشنطن'
    """
    resources = resources or shipped_resources()
    words = _clean_words(text)
    if not words:
        return "", ""
    first = words[0]
    folded_first = fold(first)
    proclitics, rest = split_proclitics(folded_first, resources)
    if proclitics:
        if folded_first[len(proclitics) :] != rest:  # ل + ال written لل: restore the article's alef
            first = "ال" + first[len(proclitics) + 1 :]
        else:
            first = first[len(proclitics) :]
        words[0] = first
    display = " ".join(words)
    return name_key(display), display


def name_key(name: str) -> str:
    """The matching key of an already clitic-free name."""
    folded = [fold(w) for w in _clean_words(name)]
    joined: list[str] = []
    for word in folded:
        if joined and joined[-1] in ("عبد", "ابو") and word.startswith("ال" if joined[-1] == "عبد" else ""):
            joined[-1] += word
        else:
            joined.append(word)
    return " ".join(_variant_free(w) for w in joined)


@cache
def alias_table() -> dict[str, tuple[str, str, str | None]]:
    """Matching key -> (type, canonical display name, ISO country code or None), from the data files."""
    from .training import country_names

    table: dict[str, tuple[str, str, str | None]] = {}
    try:
        countries = country_names()
    except ImportError:  # pycountry missing: the hand-checked file alone
        countries = {code: list(names) for code, names in read_country_aliases().items()}
    for code, names in countries.items():
        canonical = read_country_aliases().get(code, names)[0]
        for name in names:
            table.setdefault(name_key(name), ("LOC", canonical, code))
    for line in data_lines("entity_aliases.tsv"):
        kind, names = line.split("\t", 1)
        parts = [n.strip() for n in names.split("|") if n.strip()]
        for name in parts:
            table.setdefault(name_key(name), (kind, parts[0], None))
    return table


def canonical_entity(text: str, kind: str, *, context_countries: Iterable[str] = (),
                     resources: Resources | None = None) -> EntityRef | None:
    """The canonical entity a mention names (before co-occurrence), or None for an empty mention."""
    key, display = clean_name(text, resources)
    if not key:
        return None
    alias = alias_table().get(key)
    country = None
    if alias and (alias[0] == kind or (alias[2] and kind in ("LOC", "ORG"))):
        kind, display, country = alias
        key = name_key(display)
    if kind != "LOC":
        return EntityRef(kind, key, display)
    place = resolve_place(display, context_countries=context_countries)
    if place is None:
        return EntityRef(kind, key, display, country=country)
    return EntityRef(kind, key, display, country=place.country, place_kind=place.kind, place_id=place.id,
                     latitude=place.latitude, longitude=place.longitude)


def link_mentions(mentions: Sequence[tuple[str, int, int, str, str]], *,
                  lookup_aliases: Callable[[set[tuple[str, str]]], dict[tuple[str, str], str]] | None = None,
                  resources: Resources | None = None) -> tuple[list[EntityMention], list[tuple[str, str, str]]]:
    """Canonical entities for one article's mentions (field, start, end, text, type).

    Returns the mentions with their entities and the (type, short key, full key) pairs that
    co-occurrence taught, for the store to remember. *lookup_aliases* is asked, once, for the
    full keys that earlier articles paired this article's lone person names with.
    """
    resources = resources or shipped_resources()
    # Countries named in the article disambiguate its cities (الحديدة beside اليمن).
    context: set[str] = set()
    for _field, _start, _end, text, kind in mentions:
        if kind in ("LOC", "ORG"):
            alias = alias_table().get(clean_name(text, resources)[0])
            if alias and alias[2]:
                context.add(alias[2])
    refs = [canonical_entity(text, kind, context_countries=context, resources=resources)
            for _f, _s, _e, text, kind in mentions]
    # Co-occurrence: a shorter person or organisation name whose words end a longer one here.
    full: dict[tuple[str, str], EntityRef] = {}
    for ref in refs:
        if ref and ref.type in ("PERS", "ORG") and " " in ref.key:
            words = ref.key.split()
            for n in range(1, len(words)):
                suffix = " ".join(words[-n:])
                # Keep the first full name for a suffix; skip first names and generic words.
                full.setdefault((ref.type, suffix), ref)
    lone = {(r.type, r.key) for r in refs if r and r.type == "PERS" and (r.type, r.key) not in full}
    known_aliases = lookup_aliases(lone) if lookup_aliases and lone else {}
    learnt: list[tuple[str, str, str]] = []
    result: list[EntityMention] = []
    for (field, start, end, text, kind), ref in zip(mentions, refs):
        if ref is None:
            continue
        target = full.get((ref.type, ref.key))
        # A person's surname alone joins; an organisation needs at least two words in common.
        if target is not None and target.key != ref.key and (ref.type == "PERS" or " " in ref.key):
            learnt.append((ref.type, ref.key, target.key))
            ref = target
        elif (ref.type, ref.key) in known_aliases:
            ref = EntityRef(ref.type, known_aliases[(ref.type, ref.key)], ref.name)
        result.append(EntityMention(field, start, end, text, kind, ref))
    return result, sorted(set(learnt))
