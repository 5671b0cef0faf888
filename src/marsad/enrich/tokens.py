"""Tokens with offsets, split the way ANERcorp is: words keep their clitics, punctuation stands alone."""

from __future__ import annotations

import re
from typing import NamedTuple

# A word is a run of letters, digits and Arabic diacritics/tatweel (Python's \w does not
# count combining marks as word characters, so they are listed); anything else that is
# not a space is a one-character token, as ANERcorp splits "(" "،" "." off words.
_TOKEN = re.compile(r"(?:[^\W_]|[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640])+|[^\s]")
# Sentence ends: a full stop, question or exclamation mark, or a line break.
_SENTENCE_END = frozenset(".!?؟…")


class Token(NamedTuple):
    """One token of a text and where it is: text[start:end] == token.text.

    A named tuple, not a dataclass: articles are cut into millions of tokens, and a tuple is
    made in C (a frozen dataclass's __init__ cost a fifth of tagging a text).
    """

    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Split *text* into word and punctuation tokens with character offsets."""
    make = tuple.__new__  # Token(...) without the Python-level __new__ a named tuple adds
    return [make(Token, (m.group(), *m.span())) for m in _TOKEN.finditer(text)]


def sentences(text: str) -> list[list[Token]]:
    """Tokenise *text* and cut it into sentences at . ! ? ؟ and line breaks."""
    result: list[list[Token]] = []
    current: list[Token] = []
    previous_end = 0
    for token in tokenize(text):
        if current and "\n" in text[previous_end : token.start]:
            result.append(current)
            current = []
        current.append(token)
        previous_end = token.end
        if token.text in _SENTENCE_END:
            result.append(current)
            current = []
    if current:
        result.append(current)
    return result
