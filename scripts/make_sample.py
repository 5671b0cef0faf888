"""Build the demo sample bundled with marsad from the SaudiNewsNet corpus.

Picks every article collected on two consecutive days from a fixed list of
outlets, capped per outlet, so the sample holds real cross-outlet copies of the
same wire stories (useful to show deduplication and stories). Deterministic:
re-running gives the same file.

    python scripts/make_sample.py ../shared/data/saudinewsnet.jsonl.gz src/marsad/sample/saudinewsnet-sample.jsonl.gz
"""

from __future__ import annotations

import gzip
import json
import sys
from collections import Counter

DAYS = ("2015-08-10", "2015-08-11")
PER_OUTLET = 25


def main(src: str, dst: str) -> None:
    taken: Counter[str] = Counter()
    kept = []
    with gzip.open(src, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if record["date"][:10] not in DAYS or not record["text"].strip():
                continue
            if taken[record["source"]] >= PER_OUTLET:
                continue
            taken[record["source"]] += 1
            kept.append(record)
    # mtime=0 keeps the gzip bytes identical between runs.
    with open(dst, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        for record in kept:
            out.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
    print(f"{len(kept)} articles from {len(taken)} outlets: {dict(taken)}", file=sys.stderr)


if __name__ == "__main__":
    main(*sys.argv[1:3])
