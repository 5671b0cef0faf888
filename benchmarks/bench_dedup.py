"""Duplicate detection and story assignment: throughput and peak memory, marsad against datasketch.

Cases (each in its own process, so its peak RSS is its own; CPU time of that process is
what "articles per second on one core" counts):

  marsad_real       features -> duplicates -> stories over the 31,030 SaudiNewsNet articles
  datasketch_real   datasketch's MinHashLSH used the plain way on the same articles: one
                    MinHash(num_perm=128) per article over its word 3-shingles, query then
                    insert (threshold 0.5); no verification, no stories
  marsad_synth      the same as marsad_real over a synthetic corpus of N articles (default
                    1,000,000) built from the real one, with planted duplicates (see below)
  datasketch_synth  datasketch as above over the first M articles of the synthetic corpus
                    (default 200,000: it is the slow side; its growth is reported per 50,000)

Every case runs with the garbage collector's youngest threshold raised as `marsad ingest` and
`marsad restory` raise it while these stages run (`marsad.pipeline.fewer_gc_passes`), datasketch's
cases too.

Synthetic corpus: article k takes real article k mod 31,030 and replaces a third of its words
with words of another real article (seeded by k), so it is new text; every tenth article is
instead a planted duplicate of an article up to 5,000 (and two days) before it, edited as outlets edit wire
copies (`marsad.stories.evaluation.perturb`: prefix, suffix, trimmed end, diacritics and
hamza, reordered paragraphs, or all of these). Times run evenly over a year (about 2,700
articles a day). Articles are generated on the fly, so the corpus itself takes no memory;
marsad's duplicate stage re-generates an old article when it needs its text again (as the
store re-reads it), keeping 50,000 in cache.

    python benchmarks/bench_dedup.py [--synthetic 1000000] [--datasketch 200000] [--quick] [--cases ...]
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing as mp
import random
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "saudinewsnet.jsonl.gz"
YEAR = 365 * 86400.0
T0 = 1420070400.0  # 2015-01-01
CHECKPOINT = 50_000  # RSS (and progress on stderr) every this many articles


def _rss_mib() -> float:
    """Current resident set size (Linux), MiB."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return float("nan")


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _real(corpus: str) -> list:
    from marsad.stories.evaluation import read_corpus

    return [a for _, a in read_corpus(corpus)]


class Synthetic:
    """A deterministic stream of N synthetic articles with planted duplicates (see the module doc)."""

    def __init__(self, base: list, n: int, seed: int = 11):
        self.base = [(a.title, list(a.paragraphs)) for a in base if a.paragraphs]
        self.n, self.seed = n, seed
        # Planted copies come from up to 5,000 articles and two days back (copies are looked
        # for within three days, so a smaller corpus, with more days per article, still finds them).
        self.back = max(10, min(5000, int(2 * n / 365)))
        self.words = [w for _, paras in self.base[:3000] for p in paras for w in p.split()][:400_000]

    def planted(self, k: int) -> int | None:
        """The earlier article that article k duplicates, if it is a planted duplicate."""
        rng = random.Random(self.seed * 1_000_003 + k)
        if k >= 10 and rng.random() < 0.1:
            return k - rng.randint(1, min(self.back, k))
        return None

    def article(self, k: int) -> tuple[str, list[str], float]:
        """(title, paragraphs, time) of article k."""
        from marsad.stories.evaluation import PERTURBATIONS, perturb

        rng = random.Random(self.seed * 1_000_003 + k)
        when = T0 + k * YEAR / self.n
        source = self.planted(k)
        if source is not None:
            title, paras, _ = self.article(source)
            return title, perturb(paras, PERTURBATIONS[k % len(PERTURBATIONS)], rng), when
        title, paras = self.base[k % len(self.base)]
        words = self.words
        out = []
        for p in paras:
            ws = p.split()
            for i in range(0, len(ws), 3):  # a third of the words replaced
                ws[i] = words[rng.randrange(len(words))]
            out.append(" ".join(ws))
        return f"{title} {k}", out, when


def _growth(points: list[tuple[int, float]]) -> str:
    return ", ".join(f"{n // 1000}k:{m:.0f}" for n, m in points)


def case_marsad(corpus: str, synthetic: int) -> dict:
    """features -> duplicates -> stories, in batches of 500 as the pipeline runs them."""
    from marsad.dedup import DedupEngine, Featurizer
    from marsad.stories.engine import StoryEngine

    base = _real(corpus)
    fz = Featurizer()
    if synthetic:
        synth = Synthetic(base, synthetic)
        n = synthetic
        del base
        gc.collect()

        def get(k):
            title, paras, when = synth.article(k)
            return title, paras, when

        def loader(k):
            title, paras, _ = synth.article(k)
            return fz.features(title, paras)
        dedup = DedupEngine(loader=loader, cache_size=50_000)
    else:
        n = len(base)

        def get(k):
            a = base[k]
            return a.title, a.paragraphs, a.published_at.timestamp() if a.published_at else 0.0
        dedup = DedupEngine()
    stories = StoryEngine()
    groups_hit = planted = 0
    cpu = {"generate": 0.0, "features": 0.0, "duplicates": 0.0, "stories": 0.0}
    points = []
    start_rss = _rss_mib()
    for start in range(0, n, 500):
        keys = list(range(start, min(start + 500, n)))
        t0 = time.process_time()
        items = [get(k) for k in keys]
        t1 = time.process_time()
        feats = fz.batch([t for t, _, _ in items], [p for _, p, _ in items])
        t2 = time.process_time()
        decisions = dedup.process(keys, feats, [when for _, _, when in items])
        t3 = time.process_time()
        for k, (_, _, when), f, d in zip(keys, items, feats, decisions):
            stories.assign(k, when, f, d.match)
        stories.evict()
        t4 = time.process_time()
        cpu["generate"] += t1 - t0
        cpu["features"] += t2 - t1
        cpu["duplicates"] += t3 - t2
        cpu["stories"] += t4 - t3
        if (keys[-1] + 1) % CHECKPOINT == 0 or keys[-1] + 1 == n:
            points.append((keys[-1] + 1, _rss_mib()))
            done = sum(cpu.values()) - cpu["generate"]
            found = ""
            if synthetic:  # planted copies found so far (partial runs still say something)
                pairs = [(k, synth.planted(k)) for k in range(keys[-1] + 1 - CHECKPOINT, keys[-1] + 1)]
                pairs = [(k, j) for k, j in pairs if j is not None]
                hit = sum(dedup.group_of(k) == dedup.group_of(j) for k, j in pairs)
                found = f", planted found {hit}/{len(pairs)} in this part"
            print(f"  marsad {keys[-1] + 1:,}: {(keys[-1] + 1) / done:,.0f} art/s, rss {points[-1][1]:,.0f} MiB, "
                  f"peak {_peak_mib():,.0f} MiB, " + ", ".join(f"{k} {v:.0f}s" for k, v in cpu.items()) + found,
                  file=sys.stderr, flush=True)
    if synthetic:
        for k in range(n):
            j = synth.planted(k)
            if j is not None:
                planted += 1
                groups_hit += dedup.group_of(k) == dedup.group_of(j)
    stages = cpu["features"] + cpu["duplicates"] + cpu["stories"]
    return {
        "articles": n, "cpu_s": cpu, "rate_both_stages": n / stages,
        "rate_duplicates": n / (cpu["features"] + cpu["duplicates"]),
        "peak_mib": _peak_mib(), "start_rss_mib": start_rss, "rss_growth": _growth(points),
        "lsh_mib": dedup.bands.nbytes / 2**20, "planted": planted,
        "planted_recall": groups_hit / planted if planted else None,
        "exact": dedup.stats["exact"], "near": dedup.stats["near"], "verified": dedup.stats["verified"],
        "loaded": dedup.stats["loaded"], "active_stories": len(stories.stories),
    }


def case_datasketch(corpus: str, synthetic: int, limit: int) -> dict:
    """datasketch's MinHash + MinHashLSH the way its documentation shows, query then insert."""
    from datasketch import MinHash, MinHashLSH

    from marsad.normalize import normalize

    base = _real(corpus)
    if synthetic:
        synth = Synthetic(base, synthetic)
        n = min(limit, synthetic)
        get = lambda k: synth.article(k)[:2]  # noqa: E731
        del base
    else:
        n = len(base)
        get = lambda k: (base[k].title, base[k].paragraphs)  # noqa: E731
    gc.collect()
    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    cpu = gen = 0.0
    hits = planted = candidates = 0
    points = []
    for k in range(n):
        t0 = time.process_time()
        title, paras = get(k)
        t1 = time.process_time()
        tokens = normalize(" ".join(paras)).split()
        shingles = {" ".join(tokens[i : i + 3]).encode("utf-8") for i in range(len(tokens) - 2)}
        m = MinHash(num_perm=128)
        if shingles:
            m.update_batch(list(shingles))
        found = lsh.query(m)
        lsh.insert(k, m)
        t2 = time.process_time()
        gen += t1 - t0
        cpu += t2 - t1
        candidates += len(found)
        if synthetic:
            j = synth.planted(k)
            if j is not None:
                planted += 1
                hits += j in found
        if (k + 1) % CHECKPOINT == 0 or k + 1 == n:
            points.append((k + 1, _rss_mib()))
            print(f"  datasketch {k + 1:,}: {(k + 1) / cpu:,.0f} art/s, rss {points[-1][1]:,.0f} MiB",
                  file=sys.stderr, flush=True)
    return {"articles": n, "cpu_s": cpu, "rate": n / cpu, "peak_mib": _peak_mib(), "rss_growth": _growth(points),
            "candidates_per_article": candidates / n,
            "planted_found": hits / planted if planted else None}


def _in_pipeline_gc(case, *args) -> dict:
    """Run a case with the collector set as `marsad ingest` and `marsad restory` run these stages."""
    from marsad.pipeline import fewer_gc_passes

    with fewer_gc_passes():
        return case(*args)


def _run(case, *args) -> dict:
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(_in_pipeline_gc, (case, *args))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--synthetic", type=int, default=1_000_000)
    parser.add_argument("--datasketch", type=int, default=200_000, help="datasketch articles on the synthetic corpus")
    parser.add_argument("--quick", action="store_true", help="100,000 synthetic, 30,000 for datasketch")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    parser.add_argument("--cases", default=None,
                        help="comma-separated subset of marsad_real,datasketch_real,marsad_synth,datasketch_synth")
    args = parser.parse_args()
    if args.quick:
        args.synthetic, args.datasketch = 100_000, 30_000
    cases = {
        "marsad_real": (case_marsad, (0,)),
        "datasketch_real": (case_datasketch, (0, 0)),
        "marsad_synth": (case_marsad, (args.synthetic,)),
        "datasketch_synth": (case_datasketch, (args.synthetic, args.datasketch)),
    }
    chosen = args.cases.split(",") if args.cases else list(cases)
    with open("/proc/loadavg") as handle:
        load = " ".join(handle.read().split()[:3])
    print(f"load average before: {load}", flush=True)
    results = {}
    for name in chosen:
        case, extra = cases[name]
        started = time.time()
        results[name] = _run(case, args.corpus, *extra)
        results[name]["wall_s"] = round(time.time() - started, 1)
        with open("/proc/loadavg") as handle:
            results[name]["load_after"] = " ".join(handle.read().split()[:3])
        print(name, json.dumps(results[name], ensure_ascii=False), flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    print()
    print("| case | articles | articles/s (CPU, one core) | features / duplicates / stories CPU s | peak RSS MiB "
          "| RSS by articles (k:MiB) |")
    print("|---|---:|---:|---|---:|---|")
    for name, label in (("marsad_real", "marsad, duplicates + stories, real"),
                        ("datasketch_real", "datasketch MinHashLSH, naive, real"),
                        ("marsad_synth", "marsad, duplicates + stories, synthetic"),
                        ("datasketch_synth", "datasketch MinHashLSH, naive, synthetic")):
        r = results.get(name)
        if r is None:
            continue
        if name.startswith("marsad"):
            c = r["cpu_s"]
            rate = f"{r['rate_both_stages']:,.0f} (duplicates only {r['rate_duplicates']:,.0f})"
            stages = f"{c['features']:.1f} / {c['duplicates']:.1f} / {c['stories']:.1f}"
        else:
            rate, stages = f"{r['rate']:,.0f}", f"{r['cpu_s']:.1f} (MinHash + LSH only)"
        print(f"| {label} | {r['articles']:,} | {rate} | {stages} | {r['peak_mib']:,.0f} | {r['rss_growth']} |")
    ms, ds = results.get("marsad_synth"), results.get("datasketch_synth")
    if ms:
        print(f"\nplanted duplicates found: marsad {ms['planted_recall']:.3f} of {ms['planted']:,}", end="")
        print(f"; datasketch (candidates only) {ds['planted_found']:.3f}" if ds else "")

if __name__ == "__main__":
    main()
