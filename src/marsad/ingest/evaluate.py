"""Scoring extraction against hand-checked expectations (the quality gate and bench_extract).

A case is a saved page, its `.gold.json` (URL, date, sometimes the whole main text) and
its entry in `expected.json` (title, first paragraph, furniture that must stay out).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from ..normalize import fold

_WORD = re.compile(r"\w+")
# The youm7 gold texts (magic-html's benchmark) include a video player's menu: cut it.
_PLAYER = re.compile(r"^Error loading media$.*?^advertisement$", re.M | re.S)


@dataclass
class Case:
    """One page to extract and what it should give."""

    name: str
    html: Path
    url: str
    title: str
    first_paragraph: str
    date: date | None = None
    main_text: str | None = None
    not_in_text: list[str] = field(default_factory=list)


@dataclass
class Output:
    """What an extractor gave for a page (marsad's or trafilatura's alone)."""

    title: str
    paragraphs: list[str]
    date: date | None


def load_cases(folder: Path) -> tuple[list[Case], dict[str, float]]:
    """The cases of `folder/expected.json` with their gold files, and the recorded floors."""
    expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    cases = []
    for name, spec in sorted(expected["pages"].items()):
        gold = json.loads((folder / f"{name}.gold.json").read_text(encoding="utf-8"))
        main = _PLAYER.sub("", gold["content"]) if spec.get("main_text") and gold.get("content") else None
        cases.append(Case(name=name, html=folder / f"{name}.html", url=gold["url"], title=spec["title"],
                          first_paragraph=spec["first_paragraph"],
                          date=date.fromisoformat(gold["date"]) if gold.get("date") else None,
                          main_text=main, not_in_text=spec.get("not_in_text", [])))
    return cases, expected["floors"]


def words(text: str) -> list[str]:
    """Comparison tokens: folded (spelling variants merged) word characters."""
    return _WORD.findall(fold(text))


def word_f1(predicted: str, reference: str) -> float:
    """Bag-of-words F1 of a predicted text against a reference."""
    p, r = Counter(words(predicted)), Counter(words(reference))
    overlap = sum((p & r).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(p.values()), overlap / sum(r.values())
    return 2 * precision * recall / (precision + recall)


def _same(a: str, b: str) -> bool:
    return " ".join(words(a)) == " ".join(words(b))


def score(case: Case, output: Output) -> dict[str, float | None]:
    """Per-page scores in [0, 1] (None where the case has no expectation)."""
    text = "\n".join(output.paragraphs)
    first = output.paragraphs[0] if output.paragraphs else ""
    main_text = None
    if case.main_text:
        # The gold main text starts with the headline; compare title + body with it.
        main_text = word_f1(output.title + "\n" + text, case.main_text)
    return {
        "date": None if case.date is None else float(output.date == case.date),
        "title": float(_same(output.title, case.title)),
        "first_paragraph": float(" ".join(words(case.first_paragraph)) in " ".join(words(first))),
        "clean": float(not any(noise in text for noise in case.not_in_text)),
        "main_text_f1": main_text,
    }


def summarise(scores: list[dict[str, float | None]]) -> dict[str, float]:
    """Mean of each score over the pages that have it."""
    keys = scores[0].keys() if scores else []
    out = {}
    for key in keys:
        values = [s[key] for s in scores if s[key] is not None]
        out[key] = sum(values) / len(values) if values else 0.0
    return out


def local_date(value: datetime | None) -> date | None:
    """The calendar date as the page wrote it (its own UTC offset)."""
    return value.date() if value else None
