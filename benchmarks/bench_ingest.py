"""Ingest throughput and peak memory, marsad against a plain baseline, in one run.

Cases (each runs in its own process so peak RSS is its own):
  baseline_jsonl   json.loads + executemany of the raw SaudiNewsNet records into one SQLite table
  marsad_ingest    `marsad.ingest(enrich=False)` of the full corpus into a fresh database: parse,
                   store, search index, then copies and stories (first run), timed by stage;
                   entity tagging is measured by ner_eval.py
  marsad_reingest  the same again into the same database (idempotent re-run: nothing new)
  marsad_search_first  `ingest(enrich=False, stories=False)` (`marsad ingest --no-stories`) into
                   another fresh database: the path from file to a searchable database, with
                   copies and stories left for later
  baseline_pages   reading text pages and splitting them into lines
  marsad_pages     `marsad.parse.parse_text_file()` on the same pages

Text pages are written from real corpus records in the scraped-aggregator layout
(title, date line, paragraphs, source, tags, a read-also block gluing a second article).

    python benchmarks/bench_ingest.py [--corpus ../shared/data/saudinewsnet.jsonl.gz] [--pages 2000]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "saudinewsnet.jsonl.gz"


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def case_baseline_jsonl(corpus: str, workdir: str) -> dict:
    db = sqlite3.connect(Path(workdir) / "baseline.db")
    db.execute("CREATE TABLE raw (id TEXT PRIMARY KEY, source TEXT, url TEXT, date TEXT, title TEXT, author TEXT, text TEXT)")
    start = time.perf_counter()
    count, batch = 0, []
    with gzip.open(corpus, "rt", encoding="utf-8") as lines:
        for line in lines:
            r = json.loads(line)
            batch.append((r["id"], r["source"], r["url"], r["date"], r["title"], r["author"], r["text"]))
            if len(batch) == 500:
                db.executemany("INSERT OR IGNORE INTO raw VALUES (?,?,?,?,?,?,?)", batch)
                db.commit()
                count, batch = count + len(batch), []
    db.executemany("INSERT OR IGNORE INTO raw VALUES (?,?,?,?,?,?,?)", batch)
    db.commit()
    count += len(batch)
    return {"articles": count, "seconds": time.perf_counter() - start}


def _marsad_ingest(corpus: str, workdir: str, *, db: str = "marsad.db", stories: bool = True) -> dict:
    from marsad import ingest, open_store

    with open_store(Path(workdir) / db) as store:
        start = time.perf_counter()
        report = ingest(store, [corpus], enrich=False, stories=stories)
        seconds = time.perf_counter() - start
        total = store.count_articles()
    return {"articles": report.seen, "new": report.new, "unchanged": report.unchanged,
            "failed": len(report.failed), "stored_total": total, "seconds": seconds,
            "stages": {stage: round(secs, 2) for stage, secs in report.seconds.items()}}


case_marsad_ingest = _marsad_ingest
case_marsad_reingest = _marsad_ingest


def case_marsad_search_first(corpus: str, workdir: str) -> dict:
    return _marsad_ingest(corpus, workdir, db="search-first.db", stories=False)


def _pages(workdir: str) -> list[Path]:
    return sorted((Path(workdir) / "pages").glob("*.txt"))


def case_baseline_pages(corpus: str, workdir: str) -> dict:
    start = time.perf_counter()
    lines = 0
    for page in _pages(workdir):
        lines += len([ln for ln in page.read_text(encoding="utf-8").splitlines() if ln.strip()])
    return {"articles": 2 * len(_pages(workdir)), "lines": lines, "seconds": time.perf_counter() - start}


def case_marsad_pages(corpus: str, workdir: str) -> dict:
    from marsad.parse import parse_text_file

    start = time.perf_counter()
    articles = 0
    for page in _pages(workdir):
        articles += len(parse_text_file(page))
    return {"articles": articles, "seconds": time.perf_counter() - start}


def write_pages(corpus: str, workdir: str, count: int) -> None:
    """Lay real corpus records out as aggregator text pages (main article + one read-also)."""
    from marsad.ingest.outlets import resolve_outlet

    folder = Path(workdir) / "pages"
    folder.mkdir(exist_ok=True)
    records = []
    with gzip.open(corpus, "rt", encoding="utf-8") as lines:
        for line in lines:
            r = json.loads(line)
            if r["text"].strip():
                records.append(r)
            if len(records) == 2 * count:
                break
    for i in range(count):
        main, glued = records[2 * i], records[2 * i + 1]
        outlet = resolve_outlet(main["source"])
        body = [p.strip() for p in main["text"].split("\n") if p.strip()]
        glued_body = [p.strip() for p in glued["text"].split("\n") if p.strip()]
        page = [main["title"], f"تاريخ النشر: {main['date']}", *body,
                f"المصدر: {outlet.name if outlet else main['source']}", "كلمات دلالية: السعودية الرياض",
                "إقرأ أيضاً:", glued["title"], *glued_body]
        (folder / f"page-{i:05d}.txt").write_text("\n".join(page) + "\n", encoding="utf-8")


CASES = ["baseline_jsonl", "marsad_ingest", "marsad_reingest", "marsad_search_first", "baseline_pages", "marsad_pages"]


def run_case(name: str, corpus: str, workdir: str) -> dict:
    """Run one case in a child process and return its figures (with peak RSS)."""
    out = subprocess.run(
        [sys.executable, __file__, "--case", name, "--corpus", corpus, "--workdir", workdir],
        check=True, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--case")
    parser.add_argument("--workdir")
    args = parser.parse_args()
    if args.case:
        result = globals()[f"case_{args.case}"](args.corpus, args.workdir)
        result["peak_rss_mib"] = round(_peak_mib(), 1)
        print(json.dumps(result))
        return

    with tempfile.TemporaryDirectory(prefix="marsad-bench-") as workdir:
        sys.path.insert(0, str(REPO / "src"))
        write_pages(args.corpus, workdir, args.pages)
        results = {name: run_case(name, args.corpus, workdir) for name in CASES}
        db_mib = (Path(workdir) / "marsad.db").stat().st_size / 2**20

    print(f"corpus: {args.corpus}; text pages: {args.pages}; one process, one core each")
    print(f"{'case':<18}{'articles':>10}{'seconds':>10}{'articles/s':>12}{'peak RSS MiB':>14}")
    for name, r in results.items():
        rate = r["articles"] / r["seconds"] if r["seconds"] else float("inf")
        print(f"{name:<18}{r['articles']:>10}{r['seconds']:>10.2f}{rate:>12.0f}{r['peak_rss_mib']:>14.1f}")
    first, second = results["marsad_ingest"], results["marsad_reingest"]
    print(f"stored after first run: {first['stored_total']}, after second run: {second['stored_total']} "
          f"(second run: {second['new']} new, {second['unchanged']} unchanged); database {db_mib:.0f} MiB")
    for name in ("marsad_ingest", "marsad_reingest", "marsad_search_first"):
        stages = results[name]["stages"]
        n = results[name]["articles"]
        print(f"{name} by stage: " + ", ".join(
            f"{stage} {secs:.1f}s ({n / secs:,.0f} art/s)" for stage, secs in stages.items() if secs > 0))
    stages = first["stages"]
    core = stages.get("read", 0) + stages.get("store", 0)
    print(f"marsad_ingest without the dedup/story stage (read + store + index): {first['articles'] / core:,.0f} art/s; "
          f"measured as its own run (marsad_search_first): "
          f"{results['marsad_search_first']['articles'] / results['marsad_search_first']['seconds']:,.0f} art/s")


if __name__ == "__main__":
    main()
