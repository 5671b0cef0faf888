"""Which language a text is in, by script: enough to tell Arabic from English pages."""

from __future__ import annotations


def detect_language(text: str) -> str | None:
    """"ar" when most letters are Arabic script, "en" when most are Latin, else None."""
    arabic = latin = 0
    for char in text[:2000]:
        if "\u0600" <= char <= "\u06ff" or "\u0750" <= char <= "\u077f" or "\ufb50" <= char <= "\ufeff":
            arabic += char.isalpha()
        elif char.isascii() and char.isalpha():
            latin += 1
    if arabic == latin == 0:
        return None
    return "ar" if arabic >= latin else "en"
