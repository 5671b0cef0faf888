"""Article extraction: marsad versus trafilatura alone, on the real Arabic fixture pages, in one run.

For each extractor: pages per second (after one warm-up pass), and accuracy against the
hand-checked expectations of tests/fixtures/html/expected.json (the quality gate's cases):
publication date, title, first paragraph, page furniture kept out, and word F1 of the
main text where the gold has it (the youm7 pages).

    python benchmarks/bench_extract.py [--rounds 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "html"


def marsad_extract(html: str, url: str):
    from marsad.ingest.evaluate import Output, local_date
    from marsad.ingest.extract import extract_page

    page = extract_page(html, url)
    return Output(page.title, page.paragraphs, local_date(page.published_local))


def trafilatura_extract(html: str, url: str):
    import trafilatura

    from marsad.ingest.evaluate import Output

    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True)
    doc = doc.as_dict() if hasattr(doc, "as_dict") else (doc or {})
    paragraphs = [line.strip() for line in (doc.get("text") or "").splitlines() if line.strip()]
    day = date.fromisoformat(doc["date"][:10]) if doc.get("date") else None
    return Output(doc.get("title") or "", paragraphs, day)


def run(rounds: int) -> dict:
    from marsad.ingest.evaluate import load_cases, score, summarise

    cases, floors = load_cases(FIXTURES)
    pages = [(case, case.html.read_bytes().decode("utf-8")) for case in cases]
    results = {}
    for name, extract in (("trafilatura alone", trafilatura_extract), ("marsad", marsad_extract)):
        outputs = [extract(html, case.url) for case, html in pages]  # warm-up, and the outputs scored
        start = time.perf_counter()
        for _ in range(rounds):
            for case, html in pages:
                extract(html, case.url)
        elapsed = time.perf_counter() - start
        scores = summarise([score(case, out) for (case, _), out in zip(pages, outputs)])
        results[name] = {"pages_per_s": round(rounds * len(pages) / elapsed, 1),
                         **{k: round(v, 3) for k, v in scores.items()}}
    return {"pages": len(pages), "rounds": rounds, "floors": floors, "results": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    report = run(args.rounds)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['pages']} real Arabic pages x {report['rounds']} rounds (after a warm-up pass)\n")
    keys = ["pages_per_s", "date", "title", "first_paragraph", "clean", "main_text_f1"]
    print("| extractor | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for name, row in report["results"].items():
        print(f"| {name} | " + " | ".join(str(row[k]) for k in keys) + " |")
    print("\nfloors (quality gate):", report["floors"])


if __name__ == "__main__":
    main()
