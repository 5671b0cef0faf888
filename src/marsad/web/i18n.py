"""The reader's words in Arabic and English, read from i18n/<lang>.json.

A value is a string with {placeholders}, or, for counts, an object of CLDR plural
forms (zero/one/two/few/many/other; English needs only one/other).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from .format import plural_form

LANGUAGES = ("ar", "en")
DIRECTIONS = {"ar": "rtl", "en": "ltr"}


@cache
def strings(lang: str) -> dict:
    """Every string of *lang* (Arabic for an unknown language)."""
    lang = lang if lang in LANGUAGES else "ar"
    text = resources.files("marsad.web").joinpath("i18n", f"{lang}.json").read_text(encoding="utf-8")
    return json.loads(text)


def translate(lang: str, key: str, **values) -> str:
    """The string *key* in *lang*, with {placeholders} filled (the key itself when it is missing)."""
    value = strings(lang).get(key)
    if value is None and lang != "ar":
        value = strings("ar").get(key)
    if value is None:
        return key
    if isinstance(value, dict):
        value = value.get("other") or next(iter(value.values()))
    return value.format(**values) if values else value


def plural(lang: str, key: str, n: int, shown: str | None = None) -> str:
    """The plural form of *key* for the count *n*; `{n}` is filled with *shown* (the count in the reader's digits)."""
    value = strings(lang).get(key)
    if not isinstance(value, dict):
        return translate(lang, key, n=shown if shown is not None else n)
    form = plural_form(lang, n)
    text = value.get(form) or value.get("many" if form == "few" else "other") or value.get("other") or ""
    return text.format(n=shown if shown is not None else n)
