"""Known-item search quality on SaudiNewsNet: marsad against plain SQLite FTS5, in one run.

    python benchmarks/search_quality.py [--articles 31030] [--queries 2000] [--seed 7] [--variants]

How it works (nothing is tuned on a fixed list; change --seed and the numbers barely move):

1. Load the corpus (or a seeded random subset of --articles) and store it twice:
   (a) a plain FTS5 table, ``tokenize='unicode61 remove_diacritics 2'``, title and body
       columns, ranked by ``bm25(5.0, 1.0)`` (marsad's weights) -- what an application gets from SQLite alone;
   (b) a marsad store (`SQLiteStore.upsert_articles`, which feeds marsad's index),
       searched with `marsad.search()` exactly as the CLI does.
2. Draw --queries target articles with a seeded RNG. For each, take 2-4 consecutive
   words (stopwords skipped, as people type keywords) from the title (60%) or from a
   random body sentence (40%), then rewrite them the way people really type Arabic,
   each rule with a fixed probability per word (every query gets at least one change):
   diacritics dropped (always) or extra ones added; hamza on alef dropped or added;
   ة/ه and ى/ي swapped at the end of a word; a clitic added or removed (و ال بال لل,
   attached pronoun ها/هم); another inflection (ة↔ات, ون↔ين, ي↔ية); digits typed as ٠-٩.
   An article whose words no rule can change (a Latin-only title, say) is skipped: the
   generator used to loop forever on one (seed 1 on the whole corpus); no other query changes.
3. Run each query on both systems (AND of the words; marsad also retries "any word"
   when nothing has all of them, as its search does by default). The known item counts
   as found at the rank of the first result that is it *or an exact duplicate of it*
   (same normalised title, or same normalised body: outlets republish wire copies).
4. Report MRR@10 and recall@10 for each system. --variants adds marsad's analyzer with
   other stemmers (light10 = Lucene's ArabicStemmer, Snowball, none) and strict AND.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import random
import re
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from marsad.ingest.records import article_from_record
from marsad.normalize import fold, normalize, stopwords, strip_tashkeel
from marsad.search import search
from marsad.search.analyzer import Analyzer
from marsad.search.fts5 import compile_match
from marsad.search.query import InvalidQuery, parse_query, relaxed
from marsad.store.sqlite import SQLiteStore

TOP = 10
HARAKAT = "\u064e\u064f\u0650\u0651\u0652\u064b\u064c\u064d"


def shared_data() -> Path:
    """Where the shared corpus lives: $MARSAD_SHARED_DATA, else ../shared/data beside the repo."""
    env = os.environ.get("MARSAD_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def load_articles(path: Path, limit: int | None = None, seed: int = 7) -> list:
    """Articles from the JSONL dump (a seeded random subset of *limit* when given)."""
    records = []
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for n, line in enumerate(lines):
            record = json.loads(line)
            if record.get("title", "").strip():
                records.append((n, record))
    if limit and limit < len(records):
        records = sorted(random.Random(seed).sample(records, limit), key=lambda r: r[0])
    return [article_from_record(r, f"{path.name}:{n}") for n, r in records]


# -- how people type --------------------------------------------------------------

_WORD = re.compile(r"[\u0621-\u064a\u0660-\u0669\u0670a-zA-Z0-9\u064b-\u0652]+")


def _content_words(text: str) -> list[str]:
    """Words people would type: three letters or more, not a function word (with or without و/ف)."""
    stop = stopwords()

    def content(word: str) -> bool:
        folded = normalize(word)
        return len(strip_tashkeel(word)) >= 3 and folded not in stop and not (folded[0] in "وف" and folded[1:] in stop)

    return [w for w in _WORD.findall(text) if content(w)]


def _add_diacritics(word: str, rng: random.Random) -> str:
    chars = list(word)
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(chars))
        if "\u0621" <= chars[i] <= "\u064a":
            chars[i] += rng.choice(HARAKAT)
    return "".join(chars)


def _hamza(word: str, rng: random.Random) -> str | None:
    if any(c in word for c in "أإآ"):
        return word.translate(str.maketrans("أإآ", "ااا"))
    lead = "ال" if word.startswith("ال") else ""  # never on the alef of the article itself
    if word[len(lead):].startswith("ا") and len(word) > len(lead) + 2:
        return lead + rng.choice("أإ") + word[len(lead) + 1:]
    return None


def _ending(word: str, rng: random.Random) -> str | None:
    swaps = {"ة": "ه", "ه": "ة", "ى": "ي", "ي": "ى"}
    return word[:-1] + swaps[word[-1]] if word[-1] in swaps else None


def _clitic(word: str, rng: random.Random) -> str | None:
    if word.startswith("ال") and len(word) > 4:
        return rng.choice([word[2:], "و" + word, "ب" + word, "لل" + word[2:]])
    if word[:1] in "وب" and word[1:3] == "ال":
        return word[1:]
    if word.endswith(("ها", "هم")) and len(word) > 5:
        return word[:-2]
    if word.endswith("ة"):
        return word[:-1] + "ت" + rng.choice(["ها", "هم"])
    return rng.choice(["ال" + word, "و" + word, word + "ها"])


def _inflection(word: str, rng: random.Random) -> str | None:
    for old, new in (("ات", "ة"), ("ون", "ين"), ("ين", "ون"), ("ية", "ي"), ("ة", "ات"), ("ي", "ية")):
        if word.endswith(old) and len(word) > len(old) + 2:
            return word[: -len(old)] + new
    return None


def _digits(word: str, rng: random.Random) -> str | None:
    if word.isascii() and word.isdigit():
        return word.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    return None


RULES = [  # (name, probability per word, rewrite, must the result be a word form seen in the corpus?)
    ("extra diacritics", 0.08, _add_diacritics, False),
    ("hamza dropped/added", 0.35, _hamza, False),
    ("ة/ه ى/ي swapped", 0.25, _ending, False),
    ("clitic added/removed", 0.25, _clitic, True),
    ("other inflection", 0.15, _inflection, True),
    ("Arabic-Indic digits", 0.5, _digits, False),
]


# Every query gets at least one rewrite; words no rule can change (a Latin-only title,
# say) would loop forever, so such an article is skipped after this many draws. A cap
# this high is never reached by words any rule applies to, so it changes no query.
MAX_REWRITE_TRIES = 200


@dataclass
class KnownItem:
    target: int  # pk
    query: str
    source: str  # title | body
    rules: list[str]


def _vocabulary(articles: list) -> dict[str, int]:
    """Document frequency of every folded word form in the corpus."""
    df: dict[str, int] = {}
    for article in articles:
        for word in set(fold(article.title + " " + article.text).split()):
            df[word] = df.get(word, 0) + 1
    return df


def make_queries(articles: list, pks: list[int], count: int, seed: int) -> list[KnownItem]:
    """Seeded known-item queries: 2-4 words from a random article, rewritten by RULES.

    Title queries take consecutive words; body queries sample words of one sentence
    with weight log(N/df) (Azzopardi et al.'s discriminative known-item model), in
    their order. Clitic and inflection rewrites must produce a word form that occurs
    in the corpus, so queries hold real words (no الوجرحى).
    """
    rng = random.Random(seed)
    df = _vocabulary(articles)
    total = len(articles)

    def weight(word: str) -> float:
        return math.log((total + 1) / (df.get(fold(word), 0) + 1)) + 0.01
    items: list[KnownItem] = []
    order = list(range(len(articles)))
    rng.shuffle(order)
    for i in order:
        if len(items) >= count:
            break
        article = articles[i]
        use_title = rng.random() < 0.6 or not article.text.strip()
        if use_title:
            words = _content_words(article.title)
        else:
            sentences = [s for s in re.split(r"[.!?؟\n]", article.text) if len(_content_words(s)) >= 4]
            words = _content_words(rng.choice(sentences)) if sentences else []
        k = rng.choice([2, 2, 3, 3, 3, 4])
        if len(words) < k:
            continue
        if use_title:
            start = rng.randrange(len(words) - k + 1)
            picked = words[start : start + k]
        else:
            weights = [weight(w) for w in words]
            positions: set[int] = set()
            while len(positions) < k:
                positions.add(rng.choices(range(len(words)), weights)[0])
            picked = [words[i] for i in sorted(positions)]
        chosen = [strip_tashkeel(w) for w in picked]
        applied: list[str] = []
        tries = 0
        while not applied and tries < MAX_REWRITE_TRIES:
            tries += 1
            out = []
            for word in chosen:
                for name, p, rule, attested in RULES:
                    if rng.random() < p and (changed := rule(word, rng)) and changed != word:
                        if attested and fold(strip_tashkeel(changed)) not in df:
                            continue
                        word = changed
                        applied.append(name)
                out.append(word)
        if not applied:  # no rule can change these words (Latin, say): not a query this benchmark makes
            continue
        items.append(KnownItem(pks[i], " ".join(out), "title" if use_title else "body", applied))
    return items


# -- systems ------------------------------------------------------------------------


def build_baseline(conn: sqlite3.Connection, rows: list[tuple[int, str, str]]) -> float:
    """Plain FTS5 over the raw text; returns seconds taken."""
    started = time.perf_counter()
    conn.execute("CREATE VIRTUAL TABLE base USING fts5(title, body, tokenize='unicode61 remove_diacritics 2')")
    with conn:
        conn.executemany("INSERT INTO base (rowid, title, body) VALUES (?,?,?)", rows)
    return time.perf_counter() - started


def baseline_search(conn: sqlite3.Connection, query: str) -> list[int]:
    """What an application does with FTS5 alone: each word quoted, all required."""
    words = query.split()
    match = " AND ".join('"' + w.replace('"', '""') + '"' for w in words)
    try:
        return [r[0] for r in conn.execute(
            f"SELECT rowid FROM base WHERE base MATCH ? ORDER BY bm25(base, 5.0, 1.0) LIMIT {TOP}", (match,))]
    except sqlite3.OperationalError:
        return []


def build_variant(conn: sqlite3.Connection, name: str, analyzer: Analyzer, rows) -> float:
    """An FTS5 table of *analyzer*'s terms (what marsad's index holds, with another stemmer)."""
    started = time.perf_counter()
    conn.execute(f"CREATE VIRTUAL TABLE {name} USING fts5(title, body, content='', tokenize='ascii')")
    with conn:
        conn.executemany(f"INSERT INTO {name} (rowid, title, body) VALUES (?,?,?)",
                         ((pk, analyzer.index_text(t), analyzer.index_text(b)) for pk, t, b in rows))
    return time.perf_counter() - started


def lucene_like() -> Analyzer:
    """Lucene's ArabicAnalyzer, as near as marsad's parts get: its normaliser (alef forms, ى, ة,
    tatweel, harakat, decimal digits; no NFKC, no ؤ/ئ, no Persian letters), light10, stopwords
    (marsad's list standing in for Lucene's), each word required, no proximity boost."""
    from marsad.normalize import Normalizer, NormalizerConfig

    config = NormalizerConfig(nfkc=False, hamza=False, persian=False, punctuation=False)
    return Analyzer("light10", conjunctions=False, normalizer=Normalizer(config))


def variant_search(conn: sqlite3.Connection, name: str, analyzer: Analyzer, query: str, relax: bool,
                   proximity: bool = True) -> list[int]:
    """marsad's compile path against a variant table (same parser, compiler, broadening as search())."""
    try:
        parsed = parse_query(query)
    except InvalidQuery:
        return []
    for attempt in (parsed, relaxed(parsed) if relax else None):
        if attempt is None:
            continue
        match = compile_match(attempt.expr, analyzer, proximity=proximity)
        if not match:
            return []
        rows = [r[0] for r in conn.execute(
            f"SELECT rowid FROM {name} WHERE {name} MATCH ? ORDER BY bm25({name}, 5.0, 1.0) LIMIT {TOP}", (match,))]
        if rows:
            return rows
    return []


def equivalents(articles: list, pks: list[int]) -> dict[int, set[int]]:
    """pk -> pks of exact duplicates (same folded title, or same folded non-empty body)."""
    groups: dict[tuple[str, str], set[int]] = {}
    for article, pk in zip(articles, pks):
        groups.setdefault(("t", fold(article.title).strip()), set()).add(pk)
        body = fold(article.text).strip()
        if len(body) > 80:
            groups.setdefault(("b", body), set()).add(pk)
    out: dict[int, set[int]] = {}
    for article, pk in zip(articles, pks):
        same = set(groups[("t", fold(article.title).strip())])
        body = fold(article.text).strip()
        if len(body) > 80:
            same |= groups[("b", body)]
        out[pk] = same
    return out


def rank_of(ranked: list[int], item: KnownItem, same: dict[int, set[int]]) -> int | None:
    """The rank (1-based) of the first result that is the known item or a duplicate of it, else None."""
    return next((rank for rank, pk in enumerate(ranked, 1) if pk in same[item.target]), None)


def score(results: list[list[int]], items: list[KnownItem], same: dict[int, set[int]]) -> dict:
    """MRR@10 and recall@10 of ranked pk lists against the known items."""
    rr, found = 0.0, 0
    for ranked, item in zip(results, items):
        if (rank := rank_of(ranked[:TOP], item, same)) is not None:
            rr += 1 / rank
            found += 1
    n = len(items) or 1
    return {"mrr@10": round(rr / n, 4), "recall@10": round(found / n, 4)}


MISS_DEPTH = 200  # how deep a missed known item is looked for, to say how far it ranked


def run(articles_n: int | None, queries_n: int, seed: int, variants: bool = False,
        corpus: Path | None = None, verbose: bool = True, misses: bool = False) -> dict:
    """Build both systems, generate queries, evaluate; returns the table as a dict.

    `misses` adds marsad's misses (query, rewrites, target title, rank within MISS_DEPTH or
    None): what to look at when changing the analyzer or the ranking.
    """
    corpus = corpus or shared_data() / "saudinewsnet.jsonl.gz"
    log = (lambda *a: print(*a, file=sys.stderr)) if verbose else (lambda *a: None)
    articles = load_articles(corpus, articles_n, seed)
    log(f"{len(articles)} articles loaded")
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "marsad.db")
        started = time.perf_counter()
        store.upsert_articles(articles)
        marsad_build = time.perf_counter() - started
        pk_of = {r[0]: r[1] for r in store.conn.execute("SELECT id, pk FROM articles")}
        pks = [pk_of[a.id] for a in articles]
        rows = [(pk, a.title, a.text) for pk, a in zip(pks, articles)]
        side = sqlite3.connect(Path(tmp) / "side.db")
        base_build = build_baseline(side, rows)
        items = make_queries(articles, pks, queries_n, seed)
        same = equivalents(articles, pks)
        log(f"{len(items)} queries; built marsad in {marsad_build:.1f}s, baseline in {base_build:.1f}s")

        table: dict[str, dict] = {}
        started = time.perf_counter()
        base = [baseline_search(side, item.query) for item in items]
        table["(a) FTS5 unicode61 remove_diacritics 2"] = score(base, items, same)
        table["(a) FTS5 unicode61 remove_diacritics 2"]["seconds"] = round(time.perf_counter() - started, 2)

        started = time.perf_counter()
        ours = []
        for item in items:
            try:
                result = search(store, item.query, limit=TOP, snippets=False)
            except InvalidQuery:  # counted as a miss
                ours.append([])
                continue
            ours.append([pk_of[h.id] for h in result.hits])
        table["(b) marsad"] = score(ours, items, same)
        table["(b) marsad"]["seconds"] = round(time.perf_counter() - started, 2)
        missed = []
        if misses:
            title_of = dict(zip(pks, (a.title for a in articles)))
            for ranked, item in zip(ours, items):
                if rank_of(ranked, item, same) is None:
                    deeper = search(store, item.query, limit=MISS_DEPTH, snippets=False)
                    missed.append({"query": item.query, "source": item.source, "rules": item.rules,
                                   "title": title_of[item.target], "total": deeper.total,
                                   "rank": rank_of([pk_of[h.id] for h in deeper.hits], item, same)})

        if variants:
            lucene = lucene_like()
            build_variant(side, "v_lucene", lucene, rows)
            ranked = [variant_search(side, "v_lucene", lucene, item.query, False, False) for item in items]
            table["Lucene ArabicAnalyzer equivalent (normaliser + light10 + stopwords, AND)"] = score(ranked, items, same)
            for stemmer in ("marsad", "light10", "snowball", "none"):
                analyzer = Analyzer(stemmer)
                name = f"v_{stemmer}"
                build_variant(side, name, analyzer, rows)
                for relax in (True, False):
                    ranked = [variant_search(side, name, analyzer, item.query, relax) for item in items]
                    label = f"marsad analyzer, stemmer={stemmer}" + ("" if relax else ", strict AND")
                    table[label] = score(ranked, items, same)
        store.close()
        side.close()

    rules: dict[str, int] = {}
    for item in items:
        for rule in item.rules:
            rules[rule] = rules.get(rule, 0) + 1
    return {"articles": len(articles), "queries": len(items), "seed": seed, "systems": table,
            "rules_applied": rules, "examples": [(i.query, i.source) for i in items[:8]], "misses": missed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=None, help="random subset size (default: whole corpus)")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--variants", action="store_true", help="also compare stemmers and strict AND")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--misses", action="store_true", help="also list marsad's misses (and how far they ranked)")
    args = parser.parse_args()
    report = run(args.articles, args.queries, args.seed, args.variants, misses=args.misses)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    print(f"{report['articles']} articles, {report['queries']} queries, seed {report['seed']}\n")
    print("| system | MRR@10 | recall@10 |\n|---|---:|---:|")
    for name, row in report["systems"].items():
        print(f"| {name} | {row['mrr@10']:.3f} | {row['recall@10']:.3f} |")
    print("\nrewrites applied:", ", ".join(f"{k} {v}" for k, v in sorted(report["rules_applied"].items())))
    print("examples:", " | ".join(q for q, _ in report["examples"]))
    for miss in report["misses"]:
        print(f"miss: rank {miss['rank']} of {miss['total']} | {miss['query']} | {miss['source']} "
              f"| {', '.join(miss['rules'])} | {miss['title']}")


if __name__ == "__main__":
    main()
