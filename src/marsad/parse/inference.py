"""Inferring the outlet of an article that has no source line, from how its text names it.

Arabic outlets write their own name into exclusives: "مصدر لـعربي21:", "قال لـ"عربي21"",
"في تصريح لـ «الشرق الأوسط»", "لموقع "X"". Other outlets' names appear the same way
when an article quotes another outlet's interview, so this is conservative:

- only a given-to construction counts: "لـ" (with tatweel), or "ل" right before a quote
  mark, or "ل" + a kind of medium ("لموقع", "لصحيفة") + a quoted name;
- a telling word ("قال", "تصريح", "مصدر" ...) must come shortly before it, or, in a
  title, a colon right after the name ("... لـعربي21: ...");
- the name must be given-to in the title, or named more than once in the article;
- news agencies ("فرانس برس", "رويترز", any "وكالة ...") are never the outlet: articles
  quote them as sources of information.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources

from ..normalize import fold
from .labels import vocabulary

_QUOTES = {'"': '"', "«": "»", "“": "”", "”": "”", "'": "'", "„": "“"}
_OPEN = "".join(re.escape(q) for q in _QUOTES)
_CUE_WINDOW = 6  # words before "لـ" searched for a telling word
_CLAUSE_END = re.compile(r"[.،,؛;:!?؟\n]")
_MAX_NAME = 40
_NAME_WORD = re.compile(r"[^\s:،,.؛;!?؟()\[\]\"'«»“”„]+")
_PRONOUNS = {"ه", "ها", "هم", "هن", "هما", "نا", "ك", "كم", "كن", "ي"}


@dataclass(frozen=True)
class _Mention:
    name: str  # as written
    key: str  # fold()ed, spaces collapsed
    in_title: bool
    position: int


@cache
def _patterns() -> tuple[re.Pattern[str], frozenset[str], tuple[tuple[str, ...], ...]]:
    config = vocabulary()["source_inference"]
    media = "|".join(re.escape(m) for m in sorted(config["media"], key=len, reverse=True))
    # "لـ" + optional quote, "ل" + quote, or "ل" + medium word + quote; a "و" may precede.
    given_to = re.compile(
        rf"(?<![^\s(\[{_OPEN}])و?ل(?:\u0640+\s*(?P<q1>[{_OPEN}])?|(?P<q2>[{_OPEN}])|(?:{media})\s+(?P<q3>[{_OPEN}]))"
    )
    cues = frozenset(fold(c) for c in config["given_to_cues"])
    agencies = tuple(tuple(fold(a).split()) for a in config["agencies"])
    return given_to, cues, agencies


@cache
def _known_outlets() -> tuple[tuple[str, ...], ...]:
    """Multi-word outlet names from data/outlets.json, to read an unquoted name whole."""
    raw = json.loads(resources.files("marsad").joinpath("data/outlets.json").read_text(encoding="utf-8"))
    names = {
        tuple(fold(n).split())
        for outlet in raw.get("outlets", [])
        for n in (outlet.get("name", ""), *outlet.get("aliases", []))
    }
    return tuple(sorted((n for n in names if len(n) > 1), key=len, reverse=True))


def infer_source(title: str, paragraphs: list[str]) -> str | None:
    """The outlet an article's own text says it was given to, or None when unsure."""
    mentions = list(_mentions(title, in_title=True, offset=0))
    offset = len(title) + 1
    for paragraph in paragraphs:
        mentions.extend(_mentions(paragraph, in_title=False, offset=offset))
        offset += len(paragraph) + 1
    if not mentions:
        return None
    whole = fold(" ".join([title, *paragraphs]))
    best: tuple[bool, int, int] | None = None
    chosen = None
    for mention in mentions:
        given = sum(m.key == mention.key for m in mentions)
        named = max(given, _count_words(whole, mention.key))
        if not (mention.in_title or given > 1 or named > 1):
            continue
        score = (any(m.in_title for m in mentions if m.key == mention.key), named, -mention.position)
        if best is None or score > best:
            best, chosen = score, mention
    return chosen.name if chosen else None


def _count_words(folded_text: str, key: str) -> int:
    """How often *key* stands as whole words in *folded_text*."""
    return len(re.findall(rf"(?<![^\W_]){re.escape(key)}(?![^\W_])", folded_text))


def _mentions(text: str, *, in_title: bool, offset: int) -> Iterator[_Mention]:
    given_to, cues, agencies = _patterns()
    for found in given_to.finditer(text):
        quote = found.group("q1") or found.group("q2") or found.group("q3")
        name = _read_name(text, found.end(), quote)
        if not name:
            continue
        key = " ".join(fold(name).split())
        if _is_agency(key, agencies) or key in _PRONOUNS or len(key.replace(" ", "")) < 2:
            continue
        # Headlines give the outlet in the formula "مصدر لـعربي21: ..." (a colon after the
        # name); "المقاومة تعد لـ«معركة العند»" names no outlet.
        told = _cue_before(text, found.start(), cues)
        if not (told or (in_title and _colon_after(text, found.end(), name, quote))):
            continue
        yield _Mention(name, key, in_title, offset + found.start())


def _read_name(text: str, start: int, quote: str | None) -> str | None:
    if quote:
        end = text.find(_QUOTES[quote], start)
        if end < 0 or end - start > _MAX_NAME:
            return None
        name = text[start:end].strip()
        return name if "\n" not in name else None
    rest = fold(text[start : start + _MAX_NAME])
    for outlet in _known_outlets():
        if rest.split()[: len(outlet)] == list(outlet):
            words = text[start:].split()[: len(outlet)]
            return " ".join(words).strip(":،,.")
    word = _NAME_WORD.match(text, start)
    return word.group(0) if word else None


def _is_agency(key: str, agencies: tuple[tuple[str, ...], ...]) -> bool:
    words = key.split()
    if words and words[0] == "وكاله":
        return True
    return any(words[i : i + len(a)] == list(a) for a in agencies for i in range(len(words) - len(a) + 1))


def _colon_after(text: str, start: int, name: str, quote: str | None) -> bool:
    end = text.find(name, start) + len(name)
    rest = text[end:].lstrip(_QUOTES.get(quote or "", "") + " ")
    return rest.startswith(":")


def _cue_before(text: str, start: int, cues: frozenset[str]) -> bool:
    """Whether a telling word is among the few words before *start*, in the same clause."""
    before = text[max(0, start - 120) : start]
    clause = _CLAUSE_END.split(before)[-1]
    for word in clause.split()[-_CUE_WINDOW:]:
        key = fold(word)
        if key in cues or (key[:1] in "وف" and key[1:] in cues):
            return True
    return False
