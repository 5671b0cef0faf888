"""Tag lines: space-separated multi-word tags split by the lexicon, delimiters, hashtags."""

from __future__ import annotations

from importlib import resources

import pytest

from marsad.normalize import fold
from marsad.parse.tags import multiword_names, split_tags


@pytest.mark.parametrize(
    ("line", "tags"),
    [
        ("النيجر الولايات المتحدة", ["النيجر", "الولايات المتحدة"]),
        (
            "المملكة العربية السعودية الأمم المتحدة البيت الأبيض قطاع غزة",
            ["المملكة العربية السعودية", "الأمم المتحدة", "البيت الأبيض", "قطاع غزة"],
        ),
        ("مجلس الأمن إيران الأمم المتحدة الحرس الثوري", ["مجلس الأمن", "إيران", "الأمم المتحدة", "الحرس الثوري"]),
        ("الشرق الأوسط إيران الاتفاق النووي", ["الشرق الأوسط", "إيران", "الاتفاق النووي"]),
        ("كوريا الشمالية كوريا الجنوبية", ["كوريا الشمالية", "كوريا الجنوبية"]),
        ("جامعة الدول العربية مجلس التعاون الخليجي", ["جامعة الدول العربية", "مجلس التعاون الخليجي"]),
        ("الضفة الغربية القدس إسرائيل", ["الضفة الغربية", "القدس", "إسرائيل"]),
        ("حزب الله لبنان", ["حزب الله", "لبنان"]),
        ("منظمة الصحة العالمية كورونا وزارة الصحة", ["منظمة الصحة العالمية", "كورونا", "وزارة الصحة"]),
        ("بشار الأسد سوريا روسيا", ["بشار الأسد", "سوريا", "روسيا"]),
        ("باراك أوباما جون كيري البيت الأبيض", ["باراك أوباما", "جون كيري", "البيت الأبيض"]),
        ("الإمارات العربية المتحدة مصر", ["الإمارات العربية المتحدة", "مصر"]),
        ("الولايات المتحدة الأمريكية إيران", ["الولايات المتحدة الأمريكية", "إيران"]),
        ("جمهورية مصر العربية ولي العهد", ["جمهورية مصر العربية", "ولي العهد"]),
        ("أبو ظبي دبي الشارقة", ["أبو ظبي", "دبي", "الشارقة"]),
        # name particles hold a person's name together even when the lexicon lacks it
        ("سلمان بن عبدالعزيز آل سعود", ["سلمان بن عبدالعزيز آل سعود"]),
        ("فهد بن سعد الرياض", ["فهد بن سعد", "الرياض"]),
        ("عبد الرحيم جدة", ["عبد الرحيم", "جدة"]),
        # a number belongs to the tag before it
        ("كأس العالم 2022 قطر", ["كأس العالم 2022", "قطر"]),
        ("رؤية ٢٠٣٠ السعودية", ["رؤية ٢٠٣٠", "السعودية"]),
        # spelling variants match, and the line's own spelling is kept
        ("الولايات المتّحدة النيجر", ["الولايات المتّحدة", "النيجر"]),
        ("الامم المتحده مجلس الامن", ["الامم المتحده", "مجلس الامن"]),
        ("الأمـــم المتحدة اليمن", ["الأمـــم المتحدة", "اليمن"]),
        # explicit delimiters: each piece is one tag as written
        ("السعودية، الإمارات، الأمم المتحدة", ["السعودية", "الإمارات", "الأمم المتحدة"]),
        ("إيران | الولايات المتحدة | الاتفاق النووي", ["إيران", "الولايات المتحدة", "الاتفاق النووي"]),
        ("مصر؛ السودان؛ سد النهضة", ["مصر", "السودان", "سد النهضة"]),
        ("المغرب,داعش ,وزارة الداخلية", ["المغرب", "داعش", "وزارة الداخلية"]),
        ("Niger, United States", ["Niger", "United States"]),
        # hashtags: "_" stands for a space
        ("#السعودية #الأمم_المتحدة #اليمن", ["السعودية", "الأمم المتحدة", "اليمن"]),
        ("#قطاع_غزة حماس", ["قطاع غزة", "حماس"]),
        # noise
        ("  النيجر   الولايات   المتحدة  ", ["النيجر", "الولايات المتحدة"]),
        ("\u200fالنيجر\u00a0الولايات المتحدة\u200b", ["النيجر", "الولايات المتحدة"]),
        ('"النيجر" (الولايات المتحدة).', ["النيجر", "الولايات المتحدة"]),
        ("النيجر النيجر", ["النيجر"]),
        ("النيجر، نيجر، النّيجر", ["النيجر", "نيجر"]),
        ("", []),
        ("،،  | ", []),
    ],
)
def test_split_tags(line, tags):
    assert split_tags(line) == tags


def _lexicon_lines() -> list[str]:
    return resources.files("marsad").joinpath("data/multiword_names.txt").read_text(encoding="utf-8").splitlines()


def test_lexicon_file_is_small_sorted_and_documented():
    lines = _lexicon_lines()
    header = [line for line in lines if line.startswith("#")]
    names = [line for line in lines if line and not line.startswith("#")]
    assert lines[: len(header)] == header and any("build_lexicon.py" in line for line in header)
    assert names == sorted(names)
    assert len("\n".join(lines).encode("utf-8")) < 300_000
    assert all(len(name.split()) > 1 for name in names)  # one-word tags need no lexicon
    assert len({tuple(fold(w) for w in name.split()) for name in names}) == len(names)


@pytest.mark.parametrize(
    "name",
    ["الأمم المتحدة", "البيت الأبيض", "مجلس الأمن", "قطاع غزة", "المملكة العربية السعودية", "الشرق الأوسط",
     "الولايات المتحدة", "الاتحاد الأوروبي", "منظمة الصحة العالمية", "جنوب السودان", "البوسنة والهرسك"],
)
def test_lexicon_knows_common_names(name):
    names, _ = multiword_names()
    assert tuple(fold(w) for w in name.split()) in names


def test_lexicon_is_loaded_once():
    assert multiword_names() is multiword_names()
