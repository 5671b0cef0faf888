"""Search speed: index build rate, query latency, size on disk; marsad and plain FTS5 in the same run.

    python benchmarks/search_speed.py                      # the real corpus (31,030 articles)
    python benchmarks/search_speed.py --synthetic 1000000  # 1M articles recombined from it, in /tmp

The synthetic corpus is generated, never committed: each article takes a real title
and a real number of real paragraphs drawn at random from SaudiNewsNet, a source drawn
from the real source mix, and a date that advances with insertion order from 2016 to
2025 (with a few days of jitter, as crawl order does). It is bulk-inserted straight
into `articles`; then the timed part runs:

* index build: `SQLiteStore.reindex()` (analysis + FTS5 insert + optimize), articles/s;
  baseline (a): a contentless FTS5 table with ``unicode61 remove_diacritics 2`` over
  the raw title and text.
* latency: `marsad.search()` as the CLI calls it (top 10 + total count + snippets) for
  1-, 2- and 3-word queries of consecutive title words, and for 2 words with
  ``source:`` and a one-year ``from:``/``to:`` range; baseline: count + top-10 BM25 over
  the same words (filters as the same SQL). p50/p99 over --queries of each kind.
* size: database pages used by the index (and the covering index it adds) next to the
  UTF-8 bytes of the raw titles and texts.

Machine load matters on a shared box: the report prints the load average and CPU time.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sqlite3
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from marsad.search import search
from marsad.search.analyzer import default_analyzer
from marsad.search.index import FTS_TABLE
from marsad.store.sqlite import SQLiteStore

QUERY_KINDS = ("1 word", "2 words", "3 words", "2 words + source + dates")


def shared_data() -> Path:
    env = os.environ.get("MARSAD_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def load_records(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [r for r in map(json.loads, lines) if r.get("title", "").strip()]


# -- corpora ------------------------------------------------------------------------


def build_real(db: Path, records: list[dict]) -> dict:
    """Store the real corpus with `upsert_articles` (store and index in step, as ingest does,
    without ingest's enrichment stages, which are not search's to measure)."""
    from marsad.ingest.records import article_from_record

    articles = [article_from_record(r, f"saudinewsnet:{i}") for i, r in enumerate(records)]
    store = SQLiteStore(db)
    started, cpu = time.perf_counter(), time.process_time()
    result = store.upsert_articles(articles)
    seconds = time.perf_counter() - started
    info = {"upsert_seconds": round(seconds, 1), "upsert_cpu_seconds": round(time.process_time() - cpu, 1),
            "articles": len(result.new), "upsert_rate": round(len(result.new) / seconds)}
    store.close()
    return info


def build_synthetic(db: Path, records: list[dict], count: int, seed: int) -> dict:
    """Bulk-insert *count* recombined articles into a fresh store (not timed as index build)."""
    rng = random.Random(seed)
    paragraphs = [p.strip() for r in records for p in r["text"].split("\n") if p.strip()]
    counts = [max(1, sum(1 for p in r["text"].split("\n") if p.strip())) for r in records]
    titles = [r["title"].strip() for r in records]
    sources = [r["source"] for r in records]
    from marsad.ingest.outlets import resolve_outlet

    names = {s: (resolve_outlet(s).name if resolve_outlet(s) else s) for s in set(sources)}
    store = SQLiteStore(db)
    conn = store.conn
    start = datetime(2016, 1, 1, tzinfo=timezone.utc)
    span = (datetime(2025, 12, 31, tzinfo=timezone.utc) - start).total_seconds()
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    started = time.perf_counter()

    def rows(first: int, last: int):
        for pk in range(first, last):
            source = names[rng.choice(sources)]
            text = "\n".join(rng.choice(paragraphs) for _ in range(rng.choice(counts)))
            when = start + timedelta(seconds=span * pk / count + rng.uniform(-3, 3) * 86400)
            ident = f"{pk:016x}"
            yield (pk, ident, f"https://example.invalid/{pk}", source, rng.choice(titles), text,
                   when.strftime("%Y-%m-%dT%H:%M:%SZ"), "ar", "synthetic", ident, ident, now, now)

    for first in range(1, count + 1, 20_000):
        with store.transaction() as tx:
            tx.executemany(
                """INSERT INTO articles (pk, id, url, source, title, text, published_at, language, origin,
                       content_hash, version_hash, stored_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                rows(first, min(first + 20_000, count + 1)),
            )
    with store.transaction() as tx:
        tx.execute("UPDATE search_state SET value = 'stale' WHERE key = 'analyzer'")
    store.close()
    return {"generate_seconds": round(time.perf_counter() - started, 1), "articles": count}


def build_baseline(db: Path, source_db: Path) -> dict:
    """Baseline (a): contentless FTS5 unicode61 over the raw text, in its own file."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"ATTACH DATABASE '{source_db}' AS src")
    conn.execute("CREATE VIRTUAL TABLE base USING fts5(title, body, content='', "
                 "tokenize='unicode61 remove_diacritics 2')")
    # the same bulk-load settings marsad's reindex uses, so the comparison is of analysis, not tuning
    conn.execute("INSERT INTO base (base, rank) VALUES ('automerge', 16)")
    conn.execute("INSERT INTO base (base, rank) VALUES ('hashsize', 67108864)")
    started, cpu = time.perf_counter(), time.process_time()
    last = conn.execute("SELECT max(pk) FROM src.articles").fetchone()[0] or 0
    for first in range(0, last + 1, 10_000):
        with conn:
            conn.execute("INSERT INTO base (rowid, title, body) SELECT pk, title, text FROM src.articles "
                         "WHERE pk > ? AND pk <= ? ORDER BY pk", (first, first + 10_000))
    with conn:
        conn.execute("INSERT INTO base (base) VALUES ('optimize')")
    seconds = time.perf_counter() - started
    count = conn.execute("SELECT count(*) FROM src.articles").fetchone()[0]
    conn.close()
    return {"seconds": round(seconds, 1), "cpu_seconds": round(time.process_time() - cpu, 1),
            "rate": round(count / seconds)}


def index_size(conn: sqlite3.Connection) -> dict:
    """Bytes of the FTS index, the covering index, and the raw title + text."""
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    try:
        rows = dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall())
    except sqlite3.OperationalError:
        rows = {}
    fts = sum(v for k, v in rows.items() if k.startswith(FTS_TABLE))
    raw = conn.execute("SELECT sum(length(CAST(title AS BLOB)) + length(CAST(text AS BLOB))) FROM articles").fetchone()[0]
    file_bytes = conn.execute("PRAGMA page_count").fetchone()[0] * page
    return {"raw_text_bytes": raw, "fts_bytes": fts or None, "cover_index_bytes": rows.get("articles_search_cover"),
            "database_bytes": file_bytes}


# -- queries ------------------------------------------------------------------------


def make_queries(records: list[dict], per_kind: int, seed: int, first: datetime, last: datetime
                 ) -> dict[str, list[str]]:
    """Consecutive content words of random real titles; the filtered kind adds a source and a
    date range a tenth of the corpus' span (a year of the synthetic ten)."""
    rng = random.Random(seed)
    analyzer = default_analyzer()
    sources = sorted({r["source"] for r in records})
    out: dict[str, list[str]] = {k: [] for k in QUERY_KINDS}
    for kind, k in zip(QUERY_KINDS, (1, 2, 3, 2)):
        while len(out[kind]) < per_kind:
            words = [w for w in rng.choice(records)["title"].split()
                     if len(w) >= 3 and w.isalpha() and analyzer.terms(w)]  # no stopword-only words
            if len(words) < k:
                continue
            i = rng.randrange(len(words) - k + 1)
            query = " ".join(words[i : i + k])
            if kind.endswith("dates"):
                span = (last - first) / 10
                start = first + (last - first - span) * rng.random()
                query += (f" source:{rng.choice(sources)} from:{start:%Y-%m-%d} "
                          f"to:{start + span:%Y-%m-%d}")
            out[kind].append(query)
    return out


def _baseline_query(conn: sqlite3.Connection, query: str, where: tuple[str, list] | None) -> None:
    words = [w for w in query.split() if ":" not in w]
    match = " AND ".join('"' + w.replace('"', '""') + '"' for w in words)
    if where is None:
        conn.execute("SELECT count(*) FROM base WHERE base MATCH ?", (match,)).fetchone()
        conn.execute("SELECT rowid FROM base WHERE base MATCH ? ORDER BY bm25(base, 5.0, 1.0) LIMIT 10",
                     (match,)).fetchall()
    else:
        cond, params = where
        conn.execute(f"SELECT count(*) FROM base JOIN src.articles a ON a.pk = base.rowid "
                     f"WHERE base MATCH ? AND {cond}", (match, *params)).fetchone()
        conn.execute(f"SELECT base.rowid FROM base JOIN src.articles a ON a.pk = base.rowid "
                     f"WHERE base MATCH ? AND {cond} ORDER BY bm25(base, 5.0, 1.0) LIMIT 10",
                     (match, *params)).fetchall()


def _filters(query: str) -> tuple[str, list]:
    from marsad.ingest.outlets import resolve_outlet

    parts = dict(p.split(":", 1) for p in query.split() if ":" in p)
    outlet = resolve_outlet(parts["source"])
    return ("a.source = ? AND a.published_at >= ? AND a.published_at < ?",
            [outlet.name if outlet else parts["source"], parts["from"], parts["to"] + "T24"])


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50_ms": round(pick(0.50), 2), "p99_ms": round(pick(0.99), 2),
            "mean_ms": round(statistics.fmean(ordered), 2), "max_ms": round(ordered[-1], 2)}


def measure(db: Path, base_db: Path, queries: dict[str, list[str]], warmup: int = 20) -> dict:
    store = SQLiteStore(db)
    base = sqlite3.connect(base_db)
    base.execute(f"ATTACH DATABASE '{db}' AS src")
    results: dict[str, dict] = {}
    totals: dict[str, list[int]] = {}
    for kind, items in queries.items():
        for q in items[:warmup]:  # warm the page cache the same way for both
            search(store, q, limit=10)
            _baseline_query(base, q, _filters(q) if "source:" in q else None)
        ours, theirs, counts, ours_cpu, theirs_cpu = [], [], [], [], []
        for q in items:
            t, c = time.perf_counter(), time.process_time()
            result = search(store, q, limit=10)
            ours.append((time.perf_counter() - t) * 1000)
            ours_cpu.append((time.process_time() - c) * 1000)
            counts.append(result.total)
            t, c = time.perf_counter(), time.process_time()
            _baseline_query(base, q, _filters(q) if "source:" in q else None)
            theirs.append((time.perf_counter() - t) * 1000)
            theirs_cpu.append((time.process_time() - c) * 1000)
        # CPU time too: on a shared machine the wall clock also counts other people's processes
        results[kind] = {"marsad": percentiles(ours), "baseline": percentiles(theirs),
                         "marsad_cpu": percentiles(ours_cpu), "baseline_cpu": percentiles(theirs_cpu)}
        totals[kind] = counts
        results[kind]["median_total"] = statistics.median(counts)
        results[kind]["max_total"] = max(counts)
    for label, options, items in (("2 words, with facets", {"facets": True}, queries["2 words"][:100]),
                                  ("2 words, ids only (no snippets)", {"snippets": False}, queries["2 words"])):
        wall, cpu = [], []
        for q in items:
            t, c = time.perf_counter(), time.process_time()
            search(store, q, limit=10, **options)
            wall.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
        results[label] = {"marsad": percentiles(wall), "marsad_cpu": percentiles(cpu)}
    store.close()
    base.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--synthetic", type=int, default=0, help="articles to synthesise (0: the real corpus)")
    parser.add_argument("--dir", default="/tmp/marsad-bench", help="where the databases go (not the repo)")
    parser.add_argument("--queries", type=int, default=200, help="queries of each kind")
    parser.add_argument("--workers", type=int, default=1, help="analysis processes for the index build")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--reuse", action="store_true", help="reuse databases built by an earlier run")
    parser.add_argument("--reuse-articles", action="store_true",
                        help="keep the generated articles of an earlier run, rebuild the indexes")
    parser.add_argument("--keep-baseline", action="store_true",
                        help="with --reuse-articles: keep the baseline index too (it does not depend on marsad)")
    args = parser.parse_args()

    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"synthetic-{args.synthetic}" if args.synthetic else "real"
    db, base_db = folder / f"{name}.db", folder / f"{name}-baseline.db"
    records = load_records(shared_data() / "saudinewsnet.jsonl.gz")
    report: dict = {"corpus": name, "load_average_start": os.getloadavg()}
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731

    if not args.reuse or not db.exists():
        if args.reuse_articles and db.exists():
            if not args.keep_baseline:
                for path in folder.glob(f"{name}-baseline.db*"):
                    path.unlink()
        else:
            for path in folder.glob(f"{name}*.db*"):
                path.unlink()
            if args.synthetic:
                report["generate"] = build_synthetic(db, records, args.synthetic, args.seed)
            else:
                report["ingest"] = build_real(db, records)
            log("corpus ready:", report.get("generate") or report.get("ingest"))
        store = SQLiteStore(db)
        cpu = time.process_time()
        report["index_build"] = store.reindex(workers=args.workers)
        report["index_build"]["cpu_seconds_main_process"] = round(time.process_time() - cpu, 1)
        log("index built:", report["index_build"])
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        report["size"] = index_size(store.conn)
        store.close()
        if not (args.keep_baseline and base_db.exists()):
            report["baseline_build"] = build_baseline(base_db, db)
            log("baseline built:", report["baseline_build"])
        report["baseline_size_bytes"] = base_db.stat().st_size
    with sqlite3.connect(db) as conn:
        first, last = (datetime.fromisoformat(v) for v in
                       conn.execute("SELECT min(published_at), max(published_at) FROM articles").fetchone())
    queries = make_queries(records, args.queries, args.seed, first, last)
    report["latency"] = measure(db, base_db, queries)
    report["load_average_end"] = os.getloadavg()
    print(json.dumps(report, ensure_ascii=False, indent=2))
    print(markdown(report), file=sys.stderr)


def markdown(report: dict) -> str:
    """The report as the tables docs/search.md shows."""
    load = report.get("load_average_start", [0])[0], report.get("load_average_end", [0])[0]
    lines = [f"corpus: {report['corpus']} (load average {load[0]:.1f} at start, {load[1]:.1f} at end, 2 cores)", "",
             "| query (top 10 + total) | marsad p50 / p99 wall | marsad p50 / p99 CPU | FTS5 p50 / p99 wall "
             "| FTS5 p50 / p99 CPU | median total |", "|---|---:|---:|---:|---:|---:|"]
    pair = lambda p: f"{p['p50_ms']:.1f} / {p['p99_ms']:.1f} ms" if p else ""  # noqa: E731
    for kind, row in report["latency"].items():
        lines.append(f"| {kind} | {pair(row['marsad'])} | {pair(row.get('marsad_cpu'))} | {pair(row.get('baseline'))} "
                     f"| {pair(row.get('baseline_cpu'))} | {row.get('median_total', '')} |")
    build = report.get("index_build")
    if build:
        size = report["size"]
        raw = size["raw_text_bytes"]
        lines += ["", f"index build: {build['rate']:.0f} articles/s wall "
                  f"({build['articles'] / max(build['cpu_seconds_main_process'], 0.1):.0f}/s per CPU-second); "
                  + (f"baseline {report['baseline_build']['rate']} articles/s wall "
                     f"({build['articles'] / max(report['baseline_build']['cpu_seconds'], 0.1):.0f}/s per CPU-second)"
                     if "baseline_build" in report else "baseline index reused from an earlier run"),
                  f"raw text {raw / 1e6:.0f} MB; marsad FTS {size['fts_bytes'] / 1e6:.0f} MB "
                  f"({size['fts_bytes'] / raw:.2f}x) + covering index {size['cover_index_bytes'] / 1e6:.0f} MB; "
                  f"baseline FTS {report['baseline_size_bytes'] / 1e6:.0f} MB ({report['baseline_size_bytes'] / raw:.2f}x)"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
