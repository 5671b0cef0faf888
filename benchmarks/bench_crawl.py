"""Crawl throughput with politeness on: a local server simulates many outlets, each on its own host.

A child process serves N outlets, each on its own loopback address (127.0.0.2, 127.0.0.3 ...)
with a robots.txt, an RSS feed of E entries and real Arabic article pages (the test fixtures),
every answer delayed by a per-host latency. The crawler (this process) imports the outlets
from an OPML file and runs one `marsad crawl` pass with the default politeness settings
(1 s between requests to a host, 2 in flight per host, 32 in all, robots.txt obeyed).

Reports articles stored per second and the crawler's peak memory (the server's is not counted),
with the pipeline's enrichment stage on (as `marsad crawl` runs) or off (`--no-enrich`).

    python benchmarks/bench_crawl.py [--outlets 200] [--entries 5] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "src"))


def host(i: int) -> str:
    return f"127.0.{(i + 2) // 256}.{(i + 2) % 256}"


def serve(outlets: int, entries: int, latency: float) -> None:
    """Child process: serve every outlet until stdin closes."""
    import random

    from httpserver import PAGES, LocalServer, Reply, page_bytes, rss_feed

    hosts = tuple(host(i) for i in range(outlets))
    server = LocalServer(hosts)
    server.start()
    rng = random.Random(7)
    slugs = list(PAGES)
    bodies = {slug: page_bytes(slug) for slug in slugs}
    for i, name in enumerate(hosts):
        delay = latency * rng.uniform(0.5, 1.5)
        base = server.url("", name)
        items = [(f"/story/{j}", f"خبر {i}-{j}", "Mon, 20 May 2024 07:00:00 GMT") for j in range(entries)]
        server.route("/feed.xml", Reply(rss_feed(base, items, title=f"outlet {i}"), delay=delay,
                                        content_type="application/rss+xml"), host=name)
        server.route("/robots.txt", Reply("User-agent: *\nDisallow: /private/\n", delay=delay,
                                          content_type="text/plain"), host=name)
        for j in range(entries):
            slug = slugs[(i + j) % len(slugs)]
            server.route(f"/story/{j}", Reply(bodies[slug], content_type=PAGES[slug][1], delay=delay), host=name)
    print(server.port, flush=True)
    sys.stdin.read()
    server.stop()


def crawl_bench(outlets: int, entries: int, latency: float, enrich: bool = True) -> dict:
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(outlets), str(entries), str(latency)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(child.stdout.readline())
        from marsad.ingest.crawl import CrawlSettings, crawl
        from marsad.ingest.fetch import FetchSettings
        from marsad.ingest.opml import OpmlSource, write_opml
        from marsad.ingest.safety import NetworkPolicy
        from marsad.ingest.sources import import_opml
        from marsad.store.sqlite import SQLiteStore

        network = NetworkPolicy.from_setting("127.0.0.0/8")
        settings = CrawlSettings(fetch=FetchSettings(network=network), enrich=enrich)  # default politeness
        with tempfile.TemporaryDirectory() as workdir:
            opml = Path(workdir) / "outlets.opml"
            opml.write_text(write_opml([OpmlSource(f"outlet {i}", f"http://{host(i)}:{port}/",
                                                   [f"http://{host(i)}:{port}/feed.xml"], "ar")
                                        for i in range(outlets)]), encoding="utf-8")
            with SQLiteStore(Path(workdir) / "bench.db") as store:
                import_opml(store, opml, settings=settings.fetch)
                rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                start = time.perf_counter()
                report = crawl(store, settings, handle_signals=False)
                elapsed = time.perf_counter() - start
                stored = store.count_articles()
                raw = store.conn.execute("SELECT count(*), sum(size), sum(length(body)) FROM raw_responses").fetchone()
    finally:
        child.stdin.close()
        child.wait(30)
    return {
        "outlets": outlets, "entries_per_feed": entries, "latency_s": latency, "enrich": enrich,
        "articles": stored, "new": report.new, "from_feed": report.from_feed,
        "errors": dict(report.errors), "requests": report.requests,
        "seconds": round(elapsed, 1), "articles_per_s": round(stored / elapsed, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_before_crawl_mib": round(rss_before, 1),
        "raw_kept_mib": round((raw[1] or 0) / 2**20, 1), "raw_stored_mib": round((raw[2] or 0) / 2**20, 1),
        "cpu_count": os.cpu_count(),
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outlets", type=int, default=200)
    parser.add_argument("--entries", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.05, help="mean per-host answer delay, seconds")
    parser.add_argument("--no-enrich", action="store_true",
                        help="skip the pipeline's enrichment stage (measure collection alone)")
    args = parser.parse_args()
    print(json.dumps(crawl_bench(args.outlets, args.entries, args.latency, enrich=not args.no_enrich), indent=2))


if __name__ == "__main__":
    main()
