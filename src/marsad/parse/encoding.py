"""Turning the bytes of a scraped page into text, whatever encoding it was saved in.

Order: byte-order marks; BOM-less UTF-16; binary data refused; strict UTF-8; UTF-8
with a few damaged bytes; the two Arabic code pages (windows-1256, ISO-8859-6),
scored by the share of Arabic among the non-ASCII characters they produce and by how
many words start with the article "ال"; charset-normalizer as the general fallback.
Detectors alone confuse the Arabic code pages with each other and with Cyrillic or
Latin ones, hence the explicit scoring.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

from charset_normalizer import from_bytes

from ..errors import ParseError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE, whose BOM is its prefix
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
ARABIC_CODE_PAGES = ("cp1256", "iso-8859-6")  # in order of preference on a tie
# C0 controls other than tab, LF, VT, FF, CR and ESC: text never holds them, binary does.
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f\ufffe\uffff]")
_MAX_CONTROL_SHARE = 0.01
# "Nearly UTF-8": well-formed non-ASCII characters outnumber the damaged ones this much.
_MIN_SOUND_PER_DAMAGED = 20
# Random bytes read as UTF-16 land a tenth of the time in the private-use area, and often
# in unassigned code points or lone surrogates; real text almost never does.
_ODD_CATEGORIES = {"Co", "Cn", "Cs"}
_MAX_ODD_SHARE = 0.03
_SAMPLE = 4096
# Share of the non-ASCII characters that must come out Arabic for a code-page decoding to
# be believed. ISO-8859-6 read as cp1256 turns ي ه و into ê ç è and ، ط into ¬ ×;
# Latin-1 read as cp1256 keeps its accented letters (only "ä" becomes ن).
_MIN_ARABIC_SHARE = 0.6


def decode_bytes(data: bytes, *, subject: str) -> str:
    """Decode a page's bytes to text; raise ParseError(subject=...) for empty or binary data."""
    if not data:
        raise ParseError("empty file", subject=subject)
    text = _decode(data, subject)
    if text.startswith("\ufeff"):
        text = text[1:]
    if _looks_binary(text):
        raise ParseError("binary data, not a text page", subject=subject)
    return text


def _looks_binary(text: str) -> bool:
    """Controls, or (behind a chance UTF-16 BOM) unassigned, private-use and broken characters."""
    if _share(len(_CONTROL_CHARS.findall(text)), len(text)) > _MAX_CONTROL_SHARE:
        return True
    sample = text[:_SAMPLE]
    odd = sum(1 for char in sample if char > "\u2fff" and unicodedata.category(char) in _ODD_CATEGORIES)
    return _share(odd + sample.count("\ufffd"), len(sample)) > _MAX_ODD_SHARE


def _decode(data: bytes, subject: str) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            # A BOM is a deliberate statement: trust it, repairing a damaged byte or two.
            return data[len(bom) :].decode(encoding, errors="replace")
    utf16 = _bomless_utf16(data)
    if utf16:
        return data.decode(utf16, errors="replace")
    if _share(len(_CONTROL_BYTES.findall(data)), len(data)) > _MAX_CONTROL_SHARE:
        raise ParseError("binary data, not a text page", subject=subject)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # A page cut mid-character or with one stray byte is still UTF-8; cp1256 text read
    # as UTF-8 fails on nearly every Arabic letter instead, and Latin-1 has no sound
    # multi-byte characters at all.
    repaired = data.decode("utf-8", errors="replace")
    damaged = repaired.count("\ufffd")
    sound = sum(1 for char in repaired if char > "\x7f") - damaged
    if sound >= _MIN_SOUND_PER_DAMAGED * damaged:
        return repaired
    best = _best_arabic_code_page(data)
    if best is not None:
        return best
    match = from_bytes(data).best()
    if match is None:
        raise ParseError("cannot tell the text encoding (not UTF-8, windows-1256 or ISO-8859-6)", subject=subject)
    return str(match)


def _bomless_utf16(data: bytes) -> str | None:
    """The UTF-16 byte order when every other byte is the high byte of Latin or Arabic text."""
    if len(data) < 4 or len(data) % 2:
        return None
    for encoding, high in (("utf-16-le", data[1::2]), ("utf-16-be", data[0::2])):
        # High bytes 0x00 (ASCII) and 0x06 (Arabic block) make up such text.
        if _share(high.count(0) + high.count(6), len(high)) > 0.9:
            return encoding
    return None


def _best_arabic_code_page(data: bytes) -> str | None:
    """The Arabic code page reading that looks most like Arabic, or None if neither does."""
    best, best_score = None, (0.0, 0)
    for encoding in ARABIC_CODE_PAGES:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue  # ISO-8859-6 leaves many bytes undefined: proof it is not that one
        words = text.split()
        # Real Arabic is full of the article "ال"; the wrong code page turns it into
        # "ان" (ISO-8859-6 read as cp1256), and Cyrillic or Greek text read as cp1256
        # has Arabic letters but no article. The count also breaks ties of share, when a
        # short text holds none of the bytes that tell the code pages apart.
        articles = sum(word.startswith("ال") for word in words)
        if len(words) >= 20 and articles < 0.05 * len(words):
            continue
        score = (arabic_share(text), articles)
        if score[0] >= _MIN_ARABIC_SHARE and score > best_score:
            best, best_score = text, score
    return best


def arabic_share(text: str) -> float:
    """Share of the non-ASCII characters of *text* that are Arabic script or «» (0.0 with none)."""
    wide = arabic = 0
    for char in text:
        if char > "\x7f":
            wide += 1
            arabic += "\u0600" <= char <= "\u06ff" or "\ufb50" <= char <= "\ufefc" or char in "«»"
    return _share(arabic, wide)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0
