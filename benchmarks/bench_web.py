"""Web server throughput and latency: the article page, a search page and the search API.

Starts `marsad serve` on 127.0.0.1 over the full SaudiNewsNet corpus (31,030 articles; built
once into bench-data/web.db), then drives it with a bounded number of concurrent keep-alive
clients (a small asyncio HTTP/1.1 client, so the load generator costs little CPU) and reports
requests/s and p50/p90/p99 latency per scenario:

  article        /articles/{id}, a fixed set of articles requested over and over (warm: what
                 readers of the day's news hit)
  article-cold   /articles/{id}, every request a different article, never requested before
                 (nothing cached: article, related articles and rendering all computed)
  search-page    /search?q=... over a mix of common news queries (warm)
  search-api     /api/v1/search?q=... over the same mix (warm; facets off, as by default)
  search-api-cold  /api/v1/search over queries never asked before (every one computed)

Server and load generator share the machine; the figures are for both together.

    python benchmarks/bench_web.py [--corpus ../shared/data/saudinewsnet.jsonl.gz] [--workers 2]
        [--concurrency 20] [--seconds 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "saudinewsnet.jsonl.gz"
DEFAULT_DB = REPO / "bench-data" / "web.db"

# Common words and phrases of Saudi news in August 2015, as readers type them (some with diacritics).
QUERIES = [
    "الهلال", "النصر", "وزارة الداخلية", "خادم الحرمين الشريفين", "الأمير محمد بن سلمان", "اليمن", "الحوثيين",
    "عاصفة الحزم", "داعش", "إيران", "أسعار النفط", "سوق الأسهم", "وزارة الصحة", "كورونا", "الحج", "مكة المكرمة",
    "جدة", "الرياض", "الدمام", "التعليم", "الطلاب", "المعلمين", "البطالة", "الإسكان", "أمطار", "حريق",
    "حادث مروري", "الدفاع المدني", "كأس السوبر", "الاتحاد", "الأهلي", "المنتخب السعودي", "التحالف العربي",
    "مجلس الوزراء", "الشورى", "السياحة", "الاقتصاد", "البنك المركزي", "الميزانية", "مُكافحة الإرهاب",
    '"وزارة الداخلية" source:was', "الهلال OR النصر", "سعو*", "الحج -كورونا", "أمطار from:2015-08-01",
    "الطاقة الشمسية", "العمالة المنزلية", "هيئة السياحة", "جامعة الملك سعود", "القمة الخليجية",
]
COLD_WORDS = ["تدريب", "مشروع", "افتتاح", "توقيع", "اجتماع", "زيارة", "مؤتمر", "برنامج", "مبادرة", "حملة",
              "تقرير", "دراسة", "إطلاق", "تكريم", "ندوة", "معرض", "خطة", "اتفاقية", "قرار", "لجنة"]


# -- the corpus database -------------------------------------------------------------------------


def build_db(corpus: Path, db: Path) -> None:
    """Ingest the corpus once (no enrichment: the reader does not need it to be measured)."""
    from marsad.pipeline import ingest
    from marsad.store.sqlite import SQLiteStore

    db.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with SQLiteStore(db) as store:
        report = ingest(store, [str(corpus)], enrich=False)
    print(f"built {db} ({report.new} articles) in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def ensure_index(db: Path) -> None:
    """Rebuild the search index when it was made by another analyzer version."""
    from marsad.search import default_analyzer
    from marsad.search.index import index_state
    from marsad.store.sqlite import SQLiteStore

    with SQLiteStore(db) as store:
        if index_state(store.conn) not in ("", default_analyzer().version):
            print("search index is stale: reindexing ...", file=sys.stderr)
            store.reindex()


# -- the server ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(db: Path, port: int, workers: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARSAD_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "marsad.cli", "--db", str(db), "serve", "--port", str(port), "--workers", str(workers),
         "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start: " + process.stderr.read().decode(errors="replace")[-2000:])


# -- the load generator ------------------------------------------------------------------------------


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> int:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length is None:
        raise RuntimeError(f"no content-length in the answer to {path}")
    await reader.readexactly(length)
    return status


async def load(port: int, paths: list[str], *, concurrency: int, seconds: float, warmup: float,
               cycle: bool = True) -> dict:
    """Drive *paths* (in order, shared by all clients) for *seconds* after *warmup*; latency per request."""
    latencies: list[float] = []
    errors = 0
    position = 0
    measuring = False
    stop_at = time.monotonic() + warmup + seconds
    measure_from = time.monotonic() + warmup

    def next_path() -> str | None:
        nonlocal position
        if position >= len(paths):
            if not cycle:
                return None
            position = 0
        path = paths[position]
        position += 1
        return path

    async def client() -> None:
        nonlocal errors, measuring
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while (now := time.monotonic()) < stop_at:
                path = next_path()
                if path is None:
                    return
                started = time.perf_counter()
                status = await _get(reader, writer, path)
                elapsed = time.perf_counter() - started
                if now >= measure_from:
                    if status != 200:
                        errors += 1
                    latencies.append(elapsed)
        finally:
            writer.close()

    began = time.monotonic()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    wall = time.monotonic() - max(began + warmup, began)
    if not latencies:
        return {"requests": 0}
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000, 1)

    measured = min(wall, seconds) if cycle else wall
    return {"requests": len(latencies), "errors": errors, "rps": round(len(latencies) / measured, 1),
            "p50_ms": pct(50), "p90_ms": pct(90), "p99_ms": pct(99), "max_ms": round(latencies[-1] * 1000, 1),
            "mean_ms": round(statistics.fmean(latencies) * 1000, 1)}


# -- scenarios ---------------------------------------------------------------------------------------


def article_ids(db: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM articles WHERE text != '' ORDER BY pk")]


def scenarios(db: Path, seed: int) -> dict[str, tuple[list[str], bool]]:
    rng = random.Random(seed)
    ids = article_ids(db)
    rng.shuffle(ids)
    hot, cold = ids[:300], ids[300:]
    mix = [rng.choice(QUERIES) for _ in range(5000)]
    cold_queries = [f"{a} {b} {c}" for a in COLD_WORDS for b in COLD_WORDS for c in COLD_WORDS[:5]
                    if len({a, b, c}) == 3]
    rng.shuffle(cold_queries)
    return {
        "article": ([f"/articles/{i}" for i in hot], True),
        "article-cold": ([f"/articles/{i}" for i in cold], False),
        "search-page": ([f"/search?q={quote(q)}" for q in mix], True),
        "search-api": ([f"/api/v1/search?q={quote(q)}" for q in mix], True),
        "search-api-cold": ([f"/api/v1/search?q={quote(q)}" for q in cold_queries], False),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--db", type=Path, default=DEFAULT_DB)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (default 2: one per core)")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per scenario")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds first (warm scenarios)")
    parser.add_argument("--only", nargs="*", default=None, help="scenarios to run (default: all)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    if not args.db.exists():
        if not args.corpus.exists():
            raise SystemExit(f"corpus not found: {args.corpus}")
        build_db(args.corpus, args.db)
    ensure_index(args.db)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    port = free_port()
    server = start_server(args.db, port, args.workers)
    results = {}
    try:
        for name, (paths, cycle) in scenarios(args.db, args.seed).items():
            if args.only and name not in args.only:
                continue
            warmup = args.warmup if cycle else 0.0
            results[name] = asyncio.run(load(port, paths, concurrency=args.concurrency, seconds=args.seconds,
                                             warmup=warmup, cycle=cycle))
            print(f"{name:16} {json.dumps(results[name])}", file=sys.stderr)
    finally:
        server.terminate()
        server.wait(timeout=20)

    print(f"\n{args.workers} server worker(s), {args.concurrency} concurrent clients, {os.cpu_count()} CPU(s)\n")
    print(f"| {'scenario':16} | {'req/s':>7} | {'p50 ms':>7} | {'p90 ms':>7} | {'p99 ms':>7} | {'errors':>6} |")
    print(f"|{'-' * 18}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 8}|")
    for name, r in results.items():
        print(f"| {name:16} | {r['rps']:>7} | {r['p50_ms']:>7} | {r['p90_ms']:>7} | {r['p99_ms']:>7} | "
              f"{r['errors']:>6} |")
    if args.json:
        args.json.write_text(json.dumps({"workers": args.workers, "concurrency": args.concurrency,
                                         "cpus": os.cpu_count(), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
