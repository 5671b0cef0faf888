"""marsad.parse.language: script-based language of a title and lead."""

from __future__ import annotations

import pytest

from marsad.parse.language import detect_language


@pytest.mark.parametrize(
    "text, expected",
    [
        ("أمريكا توافق على سحب قوّاتها من النيجر", "ar"),
        ("ﻣﺮﺣﺒﺎ", "ar"),  # presentation forms are Arabic letters too
        ("US agrees to withdraw troops from Niger", "en"),
        ("قمة G20 في الرياض", "ar"),  # mostly Arabic letters, a Latin acronym
        ("Apple تطلق iPhone جديد", "en"),  # more Latin letters than Arabic
        ("Ça va", "en"),
        ("", None),
        ("2024 ١٢٣ ... !", None),  # digits and punctuation: no letters at all
        ("x" * 700 + " عربي", "en"),  # only the first 600 characters are read
    ],
)
def test_detect_language(text, expected):
    assert detect_language(text) == expected
