"""Web server throughput and latency: the article page, the search page and the search API, cached and not.

Starts `marsad serve` on 127.0.0.1 over the full SaudiNewsNet corpus (31,030 articles; built
once into bench-data/web.db), then drives it with a bounded number of concurrent keep-alive
clients (a small asyncio HTTP/1.1 client, so the load generator costs little CPU) and reports
requests/s, p50/p90/p99 latency and the server's CPU time per request, per scenario:

  article          /articles/{id}, 300 articles requested over and over (the response cache answers:
                   what readers of the day's news hit)
  article-cold     /articles/{id}, every request a different article, never requested before
                   (nothing cached: article, related articles and rendering all computed)
  search-page      /search?q=... over a mix of 50 common news queries (cached after the first time)
  search-page-cold /search?q=..., every query a new one (words taken from the corpus's headlines)
  search-api       /api/v1/search?q=... over the mix (cached; facets off, as by default)
  search-api-cold  /api/v1/search, every query a new one (every one computed)

`--baseline-src DIR` also serves the same database with the marsad package found in DIR (e.g. the
last commit's `src`: `git archive HEAD src | tar -x -C /tmp/base`) and runs every scenario against
it right before the current code, so both are measured under the same machine load; the two
servers never see the same cold URL. Server and load generator share the machine; the load
average before and after each scenario is printed with the figures, and so is the CPU time
the server processes (and the load generator) spent per request, which moves far less with
the machine's other load than req/s and latency do.

`--rounds N` runs every scenario N times per server, the servers taking turns at going first, each
run on URLs of its own, and reports the median of each figure: on a shared machine the other
load moves more between two 10 s runs than most changes do.

`--cost-rounds N` first measures the app alone: the three cold scenarios' URLs sent straight to
the ASGI app in one process (no HTTP server; handlers run inline, so the process's CPU time is
theirs), N rounds of `--cost-requests` new URLs, the baseline and the current code alternating
on the same URLs; the minimum and median CPU ms per request are printed.

    python benchmarks/bench_web.py [--corpus ../shared/data/saudinewsnet.jsonl.gz] [--workers 2]
        [--concurrency 20] [--seconds 10] [--baseline-src /tmp/base/src] [--rounds 3] [--cost-rounds 3]
        [--json out.json]
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


def start_server(db: Path, port: int, workers: int, src: Path | None = None) -> subprocess.Popen:
    """`marsad serve` on *port*; with *src*, the marsad package from that folder (a baseline)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARSAD_")}
    if src is not None:
        env["PYTHONPATH"] = str(src)
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
    raise SystemExit(f"the server ({src or 'current'}) did not start: " + process.stderr.read().decode(errors="replace")[-2000:])


def cpu_seconds(root: int) -> float:
    """User + system CPU seconds used so far by process *root* and its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        times[pid] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        todo += children.get(pid, [])
    return total


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
    warmup_requests = 0
    position = 0
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
        nonlocal errors, warmup_requests
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
                else:
                    warmup_requests += 1
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
    return {"requests": len(latencies), "warmup_requests": warmup_requests, "errors": errors, "rps": round(len(latencies) / measured, 1),
            "p50_ms": pct(50), "p90_ms": pct(90), "p99_ms": pct(99), "max_ms": round(latencies[-1] * 1000, 1),
            "mean_ms": round(statistics.fmean(latencies) * 1000, 1)}


# -- scenarios ---------------------------------------------------------------------------------------


def article_ids(db: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM articles WHERE text != '' ORDER BY pk")]


def headline_queries(db: Path, seed: int, count: int) -> list[str]:
    """*count* distinct queries of two or three consecutive words of the corpus's headlines (what a reader
    might type after reading one), none of them in QUERIES, none of stopwords alone."""
    import sqlite3

    from marsad.search import default_analyzer

    analyzer = default_analyzer()
    rng = random.Random(seed)
    with sqlite3.connect(db) as conn:
        titles = [r[0] for r in conn.execute("SELECT title FROM articles WHERE title != '' ORDER BY pk")]
    rng.shuffle(titles)
    seen, out = set(QUERIES), []
    for title in titles * 3:
        words = [w for w in title.split() if len(w) > 2 and not any(c in w for c in '":*()-')]
        if len(words) < 3:
            continue
        n = rng.choice((2, 3))
        start = rng.randrange(len(words) - n + 1)
        query = " ".join(words[start : start + n])
        if query not in seen and analyzer.terms(query):
            seen.add(query)
            out.append(query)
            if len(out) >= count:
                break
    return out


def scenarios(db: Path, seed: int, part: int = 0, parts: int = 1) -> dict[str, tuple[list[str], bool]]:
    """Each scenario's URLs; cold lists are cut into *parts* disjoint slices, this is slice *part*."""
    rng = random.Random(seed)
    ids = article_ids(db)
    rng.shuffle(ids)
    hot, cold = ids[:300], ids[300:][part::parts]
    mix = [rng.choice(QUERIES) for _ in range(5000)]
    cold_queries = headline_queries(db, seed, max(24_000, 8_000 * parts))  # 4,000 a slice: 10 s at 400 req/s
    page_cold, api_cold = cold_queries[0::2][part::parts], cold_queries[1::2][part::parts]
    # "cold" must mean never asked before: no query twice, none shared by the page and the API
    assert len(set(cold_queries)) == len(cold_queries) and len(set(cold)) == len(cold)
    return {
        "article": ([f"/articles/{i}" for i in hot], True),
        "article-cold": ([f"/articles/{i}" for i in cold], False),
        "search-page": ([f"/search?q={quote(q)}" for q in mix], True),
        "search-page-cold": ([f"/search?q={quote(q)}" for q in page_cold], False),
        "search-api": ([f"/api/v1/search?q={quote(q)}" for q in mix], True),
        "search-api-cold": ([f"/api/v1/search?q={quote(q)}" for q in api_cold], False),
    }


def run_scenario(port: int, pid: int, paths: list[str], cycle: bool, args) -> dict:
    """One scenario against one server, with the server's CPU time per request and the load average."""
    load_before = os.getloadavg()[0]
    cpu_before, client_before = cpu_seconds(pid), time.process_time()
    result = asyncio.run(load(port, paths, concurrency=args.concurrency, seconds=args.seconds,
                              warmup=args.warmup if cycle else 0.0, cycle=cycle))
    cpu, client = cpu_seconds(pid) - cpu_before, time.process_time() - client_before
    served = result.get("requests", 0) + result.get("warmup_requests", 0)
    # CPU time per request does not move with the machine's other load the way req/s and latency do
    result["server_cpu_ms"] = round(cpu * 1000 / served, 2) if served else None
    result["client_cpu_ms"] = round(client * 1000 / served, 2) if served else None
    result["load"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return result


# -- CPU cost per request, in one process (steadier than req/s on a busy machine) -----------------------

COST_SCENARIOS = ("article-cold", "search-page-cold", "search-api-cold")


def cost_child(db: Path, seed: int, part: int, parts: int, count: int, warm: int) -> dict[str, float]:
    """CPU ms per request of the app itself (no HTTP server) for *count* distinct URLs per cold scenario,
    after *warm* others; runs in a process whose `marsad` is the code to measure."""
    import anyio.to_thread

    async def inline(func, *args, **_):  # handlers run on this thread, so its CPU time is theirs
        return func(*args)

    anyio.to_thread.run_sync = inline
    from marsad.web import WebSettings, create_app

    # Caches stay on, as served: every measured URL is new, so only what all pages share (outlet counts,
    # the headline index) is reused, as it is in the server.
    app = create_app(WebSettings(db=str(db)))
    plans = scenarios(db, seed, part, parts)

    async def get(url: str) -> int:
        path, _, query = url.partition("?")
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
                 "root_path": "", "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 1),
                 "server": ("127.0.0.1", 80)}
        status = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope, receive, send)
        return status[0]

    async def measure() -> dict[str, float]:
        out = {}
        for name in COST_SCENARIOS:
            paths = plans[name][0][: warm + count]
            for url in paths[:warm]:
                await get(url)
            started = time.process_time()
            for url in paths[warm:]:
                if await get(url) != 200:
                    raise SystemExit(f"{url} did not answer 200")
            out[name] = (time.process_time() - started) * 1000 / count
        return out

    return asyncio.run(measure())


def cost(args) -> dict[str, dict[str, list[float]]]:
    """Interleaved rounds of `cost_child` for the baseline and the current code: both get the same URLs in a
    round (nothing is cached across processes), each round other URLs."""
    codes = {"baseline": args.baseline_src, "current": None} if args.baseline_src else {"current": None}
    found: dict[str, dict[str, list[float]]] = {label: {} for label in codes}
    for round_no in range(args.cost_rounds):
        for index, (label, src) in enumerate(codes.items()):
            env = {k: v for k, v in os.environ.items() if not k.startswith("MARSAD_")}
            if src is not None:
                env["PYTHONPATH"] = str(src)
            answer = subprocess.run(
                [sys.executable, __file__, "--db", str(args.db), "--seed", str(args.seed), "--cost-child",
                 f"{round_no},{args.cost_rounds},{args.cost_requests}"],
                env=env, capture_output=True, text=True, check=True)
            for name, ms in json.loads(answer.stdout.strip().splitlines()[-1]).items():
                found[label].setdefault(name, []).append(round(ms, 3))
            print(f"round {round_no + 1} {label:8} {answer.stdout.strip().splitlines()[-1]}", file=sys.stderr)
    return found


def _median_round(found: list[dict]) -> dict:
    """One scenario's rounds as one row: the median of each figure, loads from the first round's to the last's."""
    found = [f for f in found if f.get("requests")]
    if not found:
        return {"requests": 0}
    row = {key: round(statistics.median(f[key] for f in found), 2)
           for key in ("rps", "p50_ms", "p90_ms", "p99_ms", "server_cpu_ms", "client_cpu_ms")}
    row.update(requests=sum(f["requests"] for f in found), errors=sum(f["errors"] for f in found),
               load=[found[0]["load"][0], found[-1]["load"][1]], rounds=len(found))
    return row


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
    parser.add_argument("--baseline-src", type=Path, default=None,
                        help="a folder holding another marsad package (e.g. the last commit's src/) to measure "
                        "first in the same run")
    parser.add_argument("--cost-rounds", type=int, default=0,
                        help="also measure the app's CPU time per uncached request in one process, this many "
                        "interleaved rounds per code (steadier than req/s on a busy machine)")
    parser.add_argument("--cost-requests", type=int, default=300, help="distinct URLs per scenario and round")
    parser.add_argument("--cost-only", action="store_true", help="measure only the CPU cost, start no server")
    parser.add_argument("--cost-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--current-first", action="store_true", help="with --baseline-src: measure the current "
                        "code first in each scenario (to see what the order costs on a busy machine)")
    parser.add_argument("--rounds", type=int, default=1, help="run each scenario this many times per server, "
                        "alternating which server goes first, and report the median of each figure (the "
                        "machine's other load moves from one run to the next)")
    args = parser.parse_args()
    if args.cost_child:
        part, parts, count = (int(x) for x in args.cost_child.split(","))
        print(json.dumps(cost_child(args.db, args.seed, part, parts, count, warm=100)))
        return 0

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

    costs = cost(args) if args.cost_rounds or args.cost_only else {}
    if costs:
        print("\nCPU ms per uncached request, the app alone (no HTTP server), in one process; "
              f"minimum (and median) of {args.cost_rounds or 1} rounds of {args.cost_requests} distinct URLs:\n")
        print(f"| {'scenario':16} | " + " | ".join(f"{label:>16}" for label in costs) + " |")
        print(f"|{'-' * 18}|" + "|".join("-" * 18 for _ in costs) + "|")
        for name in COST_SCENARIOS:
            cells = [f"{min(v):.2f} ({statistics.median(v):.2f})" for v in (costs[label][name] for label in costs)]
            print(f"| {name:16} | " + " | ".join(f"{c:>16}" for c in cells) + " |")
        if args.cost_only:
            if args.json:
                args.json.write_text(json.dumps({"cost_ms": costs}, indent=2))
            return 0
    servers: dict[str, tuple[int, subprocess.Popen]] = {}
    if args.baseline_src:
        port = free_port()
        servers["baseline"] = (port, start_server(args.db, port, args.workers, args.baseline_src))
    port = free_port()
    servers["current"] = (port, start_server(args.db, port, args.workers))
    # every (server, round) gets its own slice of the cold URLs: no URL is ever requested twice
    parts = len(servers) * args.rounds
    plans = {(label, r): scenarios(args.db, args.seed, r * len(servers) + i, parts)
             for r in range(args.rounds) for i, label in enumerate(servers)}
    names = list(plans["current", 0])
    rounds: dict[str, dict[str, list[dict]]] = {label: {} for label in servers}
    for label, (port, _) in servers.items():  # each worker builds its headline index on its first article
        asyncio.run(load(port, plans[label, 0]["article"][0][:200], concurrency=args.concurrency, seconds=30,
                         warmup=0.0, cycle=False))
    started_load = os.getloadavg()
    try:
        for name in names:
            if args.only and name not in args.only:
                continue
            for r in range(args.rounds):
                order = list(servers.items())  # baseline first, then current, back to back; swapped every round
                if args.current_first != (r % 2 == 1):
                    order.reverse()
                for label, (port, process) in order:
                    paths, cycle = plans[label, r][name]
                    found = run_scenario(port, process.pid, paths, cycle, args)
                    rounds[label].setdefault(name, []).append(found)
                    print(f"{label:8} {name:16} {json.dumps(found)}", file=sys.stderr)
    finally:
        for _, process in servers.values():
            process.terminate()
        for _, process in servers.values():
            process.wait(timeout=20)

    ended_load = os.getloadavg()
    results = {label: {name: _median_round(found) for name, found in by_name.items()} for label, by_name in rounds.items()}
    print(f"\n{args.workers} server worker(s), {args.concurrency} concurrent clients, {os.cpu_count()} CPU(s); "
          f"load average {started_load[0]:.2f} at the start, {ended_load[0]:.2f} at the end "
          f"(1-minute; 5-minute {ended_load[1]:.2f})\n")
    print(f"| {'code':8} | {'scenario':16} | {'req/s':>7} | {'p50 ms':>7} | {'p90 ms':>7} | {'p99 ms':>7} | "
          f"{'server CPU ms/req':>17} | {'client CPU ms/req':>17} | {'load':>11} | {'errors':>6} |")
    print(f"|{'-' * 10}|{'-' * 18}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 19}|{'-' * 19}|{'-' * 13}|{'-' * 8}|")
    for name in names:
        for label in servers:
            r = results[label].get(name)
            if not r or not r.get("requests"):
                continue
            load_text = f"{r['load'][0]:.1f} → {r['load'][1]:.1f}"
            print(f"| {label:8} | {name:16} | {r['rps']:>7} | {r['p50_ms']:>7} | {r['p90_ms']:>7} | {r['p99_ms']:>7} | "
                  f"{r['server_cpu_ms']:>17} | {r['client_cpu_ms']:>17} | {load_text:>11} | {r['errors']:>6} |")
    if args.json:
        args.json.write_text(json.dumps({"workers": args.workers, "concurrency": args.concurrency,
                                         "cpus": os.cpu_count(), "load": [started_load, ended_load],
                                         "baseline_src": str(args.baseline_src) if args.baseline_src else None,
                                         "cost_ms": costs, "rounds": rounds,
                                         "results": results}, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
