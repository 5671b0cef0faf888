"""Arabic normalisation for matching and search.

Nothing here alters stored text: these functions build *keys* that two spellings
of the same word share (قوّاتها / قواتها, أمريكا / امريكا, الأمريكيّة / الامريكيه).
"""

from __future__ import annotations

import re
import unicodedata

# Harakat, tanween, shadda, sukun, dagger alef, Quranic marks and the tatweel.
_TASHKEEL = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_FOLD_TABLE = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ى": "ي",
        "ة": "ه",
        "ؤ": "و",
        "ئ": "ي",
        "ک": "ك",  # Persian keheh
        "ی": "ي",  # Persian yeh
        "ے": "ي",
        "ہ": "ه",
        "\u0654": None,  # combining hamza above / below, left by NFKC decompositions
        "\u0655": None,
        # Arabic-Indic and Eastern Arabic-Indic digits
        **{chr(0x0660 + i): str(i) for i in range(10)},
        **{chr(0x06F0 + i): str(i) for i in range(10)},
    }
)


def strip_tashkeel(text: str) -> str:
    """Remove diacritics (harakat, shadda, sukun, tanween, dagger alef) and tatweel."""
    return _TASHKEEL.sub("", text)


def fold(text: str) -> str:
    """Fold *text* to its matching key: NFKC, no diacritics, one alef, ي for ى, ه for ة.

    Latin letters are lower-cased; spacing and punctuation are kept as they are.
    """
    text = unicodedata.normalize("NFKC", text)
    return strip_tashkeel(text).translate(_FOLD_TABLE).lower()
