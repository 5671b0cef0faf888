"""Quality gate: extraction on real Arabic pages against hand-checked expectations and recorded floors.

As trafilatura's evaluation gate: a change that makes extraction worse on these pages fails CI.
When extraction improves, raise the floors in tests/fixtures/html/expected.json.
"""

from __future__ import annotations

import pytest
from httpserver import FIXTURES

from marsad.ingest.evaluate import Output, load_cases, local_date, score, summarise
from marsad.ingest.extract import extract_page

CASES, FLOORS = load_cases(FIXTURES / "html")


def _extract(case):
    page = extract_page(case.html.read_bytes().decode("utf-8"), case.url)
    return Output(page.title, page.paragraphs, local_date(page.published_local))


@pytest.fixture(scope="module")
def results():
    return {case.name: score(case, _extract(case)) for case in CASES}


def test_every_case_has_its_page():
    assert len(CASES) == 10 and all(case.html.exists() for case in CASES)


@pytest.mark.parametrize("metric", sorted(FLOORS))
def test_quality_floor(results, metric):
    achieved = summarise(list(results.values()))[metric]
    failing = {name: s[metric] for name, s in results.items() if s[metric] is not None and s[metric] < 1.0}
    assert achieved >= FLOORS[metric], f"{metric} fell to {achieved:.3f} (floor {FLOORS[metric]}); pages: {failing}"
