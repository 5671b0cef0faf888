"""Annotation helper for the story/duplicate evaluation set (tests/fixtures/eval/).

This tool only *proposes* candidates and prints texts for a human annotator; the labels in
tests/fixtures/eval/stories.jsonl were decided by reading what it prints (docs/dedup.md
describes the procedure). It deliberately shares nothing with marsad.dedup or marsad.stories:
words are `marsad.normalize.fold`ed and split on non-letters, unstemmed, and the signals are
different from the ones marsad clusters with.

    label_stories.py seeds --n 40 --source was --seed 1     random seed articles to label from
    label_stories.py candidates ID [--days 3] [--top 40]    articles that may cover the same event
    label_stories.py grep WORD [WORD...] --around ID         articles whose title or lead has all the words
    label_stories.py show ID [ID...]                         title, time, outlet and lead of each
    label_stories.py copies ID [ID...]                       pairwise: start and end of each text, overlap hints
    label_stories.py diff ID ID                              word-level difference of two texts ([-only in the first-] {+only in the second+})
    label_stories.py check                                   validate stories.jsonl (ids exist, pairs inside stories)

Signals for `candidates` (any one suffices): (1) two or more shared rare title words
(corpus df <= 60), (2) cosine >= 0.12 of unstemmed TF-IDF over title + first paragraph,
(3) a shared run of 8 words in the body, (4) a shared rare word from a gazetteer-free list of
capitalised-in-Latin or digit tokens (numbers such as casualty counts). Everything is limited to
the days around the seed.
"""

from __future__ import annotations

import argparse
import difflib
import gzip
import json
import math
import os
import pickle
import random
import re
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from marsad.normalize import fold  # noqa: E402

DATA = Path(os.environ.get("MARSAD_SHARED_DATA") or REPO.parent / "shared" / "data") / "saudinewsnet.jsonl.gz"
EVAL = REPO / "tests" / "fixtures" / "eval" / "stories.jsonl"
CACHE = Path(os.environ.get("TMPDIR", "/tmp")) / "marsad-label-cache.pkl"
WORD = re.compile(r"[^\W_]+")
# Agency datelines ("الرياض 26 شوال 1436 هـ الموافق 11 أغسطس 2015 م واس") are dropped: every SPA item
# of a day shares one, which would make unrelated items look alike.
DATELINE = re.compile(r"^.{0,60}\d{1,2}\s*\S+\s*14\d\d\s*ه.{0,40}الموافق.{0,40}20\d\d\s*م?\s*(واس|\(واس\))?\s*$")
# Function words only, so that candidate scores are not dominated by them (not marsad's list).
STOP = set(fold(
    "في من على إلى الى عن مع أن ان إن لا ما لم لن هذا هذه ذلك التي الذي الذين و أو او ثم قد كان كانت "
    "يكون بين كل بعد قبل عند حتى وقد وفي ومن وعلى وأن وان فيه فيها منه منها له لها به بها هو هي هم "
    "أنه انه أنها انها إنه خلال اليوم أمس امس أيضا ايضا وذلك حيث التى الى او غير بن عبد"
).split())


def words(text: str) -> list[str]:
    return [w for w in WORD.findall(fold(text)) if w not in STOP and len(w) > 1]


def load() -> dict:
    if CACHE.exists():
        return pickle.loads(CACHE.read_bytes())
    rows = {}
    with gzip.open(DATA, "rt", encoding="utf-8") as handle:
        for line in handle:
            r = json.loads(line)
            paras = [p.strip() for p in r["text"].split("\n") if p.strip() and not DATELINE.search(p)]
            rows[r["id"]] = {
                "id": r["id"], "source": r["source"], "date": r["date"], "title": r["title"] or "",
                "lead": paras[0] if paras else "", "text": "\n".join(paras),
            }
    df_title, df_doc = Counter(), Counter()
    for r in rows.values():
        r["tw"] = sorted(set(words(r["title"])))
        r["lw"] = words(r["title"] + " " + " ".join(r["text"].split()[:60]))
        df_title.update(r["tw"])
        df_doc.update(set(r["lw"]))
    data = {"rows": rows, "df_title": df_title, "df_doc": df_doc}
    CACHE.write_bytes(pickle.dumps(data))
    return data


def when(r: dict) -> datetime:
    return datetime.strptime(r["date"], "%Y-%m-%d %H:%M:%S")


def vector(r: dict, df: Counter, n: int) -> dict[str, float]:
    counts = Counter(r["lw"])
    vec = {w: (1 + math.log(c)) * math.log(n / df[w]) for w, c in counts.items()}
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    return {w: v / norm for w, v in vec.items()}


def grams(text: str, n: int = 8) -> set[int]:
    ws = WORD.findall(fold(text))
    return {hash(tuple(ws[i : i + n])) for i in range(len(ws) - n + 1)}


def candidates(data: dict, seed_id: str, days: float, top: int) -> list[tuple[float, str, str]]:
    rows = data["rows"]
    seed = rows[seed_id]
    t0 = when(seed)
    lo, hi = t0 - timedelta(days=days), t0 + timedelta(days=days)
    n = len(rows)
    sv = vector(seed, data["df_doc"], n)
    rare = {w for w in seed["tw"] if data["df_title"][w] <= 60}
    sg = grams(seed["text"])
    digits = {w for w in seed["lw"] if w.isdigit() and len(w) >= 3 and w not in {"2015", "1436"}}
    out = []
    for r in rows.values():
        if r["id"] == seed_id or not (lo <= when(r) <= hi):
            continue
        why = []
        shared_rare = rare & set(r["tw"])
        if len(shared_rare) >= 2 or (len(rare) == 1 and shared_rare):
            why.append("title:" + ",".join(sorted(shared_rare)))
        cos = sum(v * sv.get(w, 0.0) for w, v in vector(r, data["df_doc"], n).items())
        if cos >= 0.12:
            why.append(f"cos={cos:.2f}")
        if sg and grams(r["text"]) & sg:
            why.append("8gram")
        if digits and len(digits & set(r["lw"])) >= 2:
            why.append("numbers")
        if why:
            out.append((cos + 0.3 * len(why), r["id"], " ".join(why)))
    out.sort(reverse=True)
    return out[:top]


def show(r: dict, lead_chars: int = 220) -> str:
    lead = r["text"].replace("\n", " ¶ ")[:lead_chars]
    return f"{r['id']}  {r['date']}  {r['source']:<12} {r['title']}\n      {lead}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("seeds")
    p.add_argument("--n", type=int, default=40)
    p.add_argument("--source", default=None, help="only this outlet; '!was' for every outlet but was")
    p.add_argument("--seed", type=int, default=1)
    p = sub.add_parser("candidates")
    p.add_argument("id")
    p.add_argument("--days", type=float, default=3)
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--lead", type=int, default=0, help="also print this many characters of each lead")
    p = sub.add_parser("grep")
    p.add_argument("words", nargs="+")
    p.add_argument("--around", required=True)
    p.add_argument("--days", type=float, default=3)
    p = sub.add_parser("show")
    p.add_argument("ids", nargs="+")
    p.add_argument("--chars", type=int, default=220)
    p = sub.add_parser("diff")
    p.add_argument("a")
    p.add_argument("b")
    p = sub.add_parser("copies")
    p.add_argument("ids", nargs="+")
    p.add_argument("--chars", type=int, default=160)
    sub.add_parser("check")
    args = parser.parse_args()
    data = load()
    rows = data["rows"]

    if args.cmd == "seeds":
        pool = sorted(i for i, r in rows.items() if r["text"] and (
            args.source is None or (r["source"] != args.source[1:] if args.source.startswith("!")
                                    else r["source"] == args.source)))
        random.Random(args.seed).shuffle(pool)
        for i in pool[: args.n]:
            print(show(rows[i], 120))
    elif args.cmd == "candidates":
        print("SEED", show(rows[args.id]))
        for score, i, why in candidates(data, args.id, args.days, args.top):
            r = rows[i]
            print(f"{score:5.2f} {i}  {r['date'][5:16]}  {r['source']:<12} {r['title']}   [{why}]")
            if args.lead:
                print("        " + r["text"].replace("\n", " ¶ ")[: args.lead])
    elif args.cmd == "grep":
        t0 = when(rows[args.around])
        wanted = [fold(w) for w in args.words]
        for r in sorted(rows.values(), key=when):
            if abs((when(r) - t0).total_seconds()) > args.days * 86400:
                continue
            hay = fold(r["title"] + " " + r["text"][:600])
            if all(w in hay for w in wanted):
                print(f"{r['id']}  {r['date'][5:16]}  {r['source']:<12} {r['title']}")
    elif args.cmd == "show":
        for i in args.ids:
            print(show(rows[i], args.chars))
    elif args.cmd == "diff":
        x, y = rows[args.a]["text"].split(), rows[args.b]["text"].split()
        m = difflib.SequenceMatcher(None, [fold(w) for w in x], [fold(w) for w in y], autojunk=False)
        out = []
        for tag, i1, i2, j1, j2 in m.get_opcodes():
            if tag == "equal":
                out.append(" ".join(x[i1:i2]) if i2 - i1 < 12 else f"{' '.join(x[i1:i1 + 4])} …({i2 - i1})… {' '.join(x[i2 - 3:i2])}")
            else:
                out += [f"[-{' '.join(x[i1:i2])}-]" if i2 > i1 else "", f"{{+{' '.join(y[j1:j2])}+}}" if j2 > j1 else ""]
        print(" ".join(o for o in out if o))
    elif args.cmd == "copies":
        for i in args.ids:
            r = rows[i]
            text = r["text"].replace("\n", " ¶ ")
            print(f"{i} {r['source']:<12} {len(text.split()):5d}w  {r['title']}")
            print(f"     START {text[: args.chars]}")
            print(f"     END   {text[-args.chars:]}")
        ws = {i: WORD.findall(fold(rows[i]["text"])) for i in args.ids}
        for a in range(len(args.ids)):
            for b in range(a + 1, len(args.ids)):
                x, y = ws[args.ids[a]], ws[args.ids[b]]
                m = difflib.SequenceMatcher(None, x, y, autojunk=False)
                same = sum(block.size for block in m.get_matching_blocks())
                print(f"  {args.ids[a]} ~ {args.ids[b]}: aligned words {same}/{min(len(x), len(y)) or 1}"
                      f" of the shorter ({same / (min(len(x), len(y)) or 1):.2f}), of the longer "
                      f"{same / (max(len(x), len(y)) or 1):.2f}")
    elif args.cmd == "check":
        seen, stories, pairs = {}, set(), 0
        for line_no, line in enumerate(EVAL.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            s = json.loads(line)
            assert s["story"] not in stories, f"line {line_no}: story {s['story']} twice"
            stories.add(s["story"])
            for i in s["articles"]:
                assert i in rows, f"line {line_no}: unknown id {i}"
                assert i not in seen, f"line {line_no}: {i} already in story {seen[i]}"
                seen[i] = s["story"]
            members = set(s["articles"])
            both = {tuple(sorted(p)) for p in s["duplicate_pairs"]} & {tuple(sorted(p)) for p in s["unsure_pairs"]}
            assert not both, f"line {line_no}: pairs both copy and unsure: {both}"
            for pair in s["duplicate_pairs"] + s["unsure_pairs"]:
                assert len(pair) == 2 and set(pair) <= members, f"line {line_no}: pair {pair} outside the story"
            pairs += len(s["duplicate_pairs"])
        sizes = Counter(len([i for i in seen if seen[i] == st]) for st in stories)
        print(f"{len(seen)} articles in {len(stories)} stories ({sum(n for k, n in sizes.items() if k > 1)} with "
              f"two or more articles), {pairs} duplicate pairs; sizes {sorted(sizes.items())}")


if __name__ == "__main__":
    main()
