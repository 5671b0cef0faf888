"""Build src/marsad/data/multiword_names.txt: the multi-word names that tag lines are split by.

Tag lines on Arabic aggregator pages separate tags with single spaces although a tag
may be several words ("النيجر الولايات المتحدة"), so `marsad.parse.tags.split_tags`
needs to know which word sequences are one name. The list is built from three sources,
each kept only where the news corpus confirms it is used:

1. Arabic country names from pycountry's iso3166-1 gettext catalogue (name, official and
   common names; parenthetical parts removed, "X، Y" forms split), plus the longer
   forms the corpus uses ("الولايات المتحدة" -> "الولايات المتحدة الأمريكية").
2. Multi-word LOC / ORG / PERS entities of the ANERcorp gold NER data.
3. Collocations mined from SaudiNewsNet: n-grams shaped like names (a definite noun with
   definite adjectives, "الأمم المتحدة"; an institution or place head noun with its
   complement, "مجلس الأمن", "قطاع غزة"; a place name with its adjective, "كوريا الشمالية")
   that are frequent and strongly associated (PMI); and person names that often follow
   a title ("الرئيس الأمريكي باراك أوباما").

Usage: python scripts/build_lexicon.py [--corpus PATH] [--anercorp DIR] [--out PATH]
"""

from __future__ import annotations

import argparse
import gettext
import gzip
import json
import math
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pycountry

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from marsad.normalize import fold, strip_tashkeel  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "data" / "saudinewsnet.jsonl.gz"
DEFAULT_ANERCORP = ROOT.parent / "shared" / "data" / "anercorp"
DEFAULT_OUT = ROOT / "src" / "marsad" / "data" / "multiword_names.txt"

MAX_N = 4  # longest mined n-gram, in words
MIN_COUNT = 15  # a mined collocation must occur this often in the 8.8M-word corpus
MIN_PMI = 5.0  # log2 association of the n-gram's first part with its last word
MIN_PAIR_PMI = 3.0  # and of each adjacent word pair inside it
MIN_CONFIRM = 3  # a gazetteer / gold entry must occur this often in the corpus

# Indefinite head nouns that open institution and place names in an idafa
# ("مجلس الأمن", "قطاع غزة", "خادم الحرمين الشريفين"); folded spelling.
HEADS = {fold(w) for w in """
    مجلس وزارة وزير قطاع جامعة منظمة هيئة حزب حركة تنظيم جماعة مدينة محافظة منطقة إمارة
    جزيرة جزر بحر خليج مضيق شبه دولة جمهورية مملكة اتحاد ولي خادم صندوق بنك مصرف وكالة
    شركة نادي مطار ميناء جبل نهر قناة مجمع مستشفى مسجد مركز معهد محكمة برلمان رابطة غرفة
    أمير ملك رئيس سمو جائزة كأس دوري بطولة مؤسسة مجموعة سوق بورصة هيئة جهاز قوات حرس
    """.split()}

# Function words and vague time words that make an n-gram a phrase, not a name.
STOP = {fold(w) for w in """
    الذي التي الذين اللذين اللتين اللذان اللتان اللاتي اللواتي إلى الى إلا ألا الآن
    اليوم أمس غدا هذا هذه ذلك تلك هناك هنا كل بعض غير بين عن على من في مع قبل بعد عند
    خلال حول ضد أن إن لا ما لم لن قد كان كانت تم يتم وقد وكان أو ثم حتى منذ
    العام الأسبوع الشهر الوقت الساعات الأيام السنوات الفترة المرحلة الجاري الماضي الماضية
    الحالي الحالية المقبل المقبلة القادم القادمة الأخير الأخيرة السابق السابقة المنصرم
    المنصرمة الأول الأولى الثاني الثانية الثالث الثالثة الرابع الرابعة الخامس الخامسة
    السادس السادسة السابع السابعة الثامن الثامنة التاسع التاسعة العاشر العاشرة
    نفسه نفسها ذاته ذاتها أيضا الموافق التابع التابعة الواقع الواقعة المعروف المعروفة
    المسمى المسماة المكلف المكلفة الصادر الصادرة المتحدث المتحدثة المذكور المذكورة
    المشار الشقيق الشقيقة الصديق الصديقة المعني المعنية
    """.split()}

# Titles open the *next* name ("... المكرمة الأمير خالد"): never inside or at the end of
# a mined phrase. They also announce a person's name, after optional definite words
# ("الرئيس الأمريكي باراك أوباما", "وزير الخارجية عادل الجبير").
TITLES = {fold(w) for w in """
    الأمير الأميرة الملك الشيخ الرئيس الدكتور الدكتورة السيد السيدة الفريق اللواء العميد
    العقيد المقدم الرائد النقيب المهندس الأستاذ المستشار الوزير السفير الإمام الزعيم
    المتحدث الناطق المبعوث المرشح النائب وزير وزيرة رئيس نائب زعيم قائد مبعوث سفير
    أمير أميرة ولي سمو معالي فخامة أول ركن
    """.split()}
# Name particles: a person's name never ends on one ("محمد بن", "عبد").
PARTICLES = {fold(w) for w in "بن بنت ابن آل عبد أبو أبي أم".split()}
_NOT_IN_NAME = STOP | TITLES
PERSON_MIN_CONTEXT = 8  # times a name must follow a title
PERSON_MIN_SHARE = 0.1  # of its first words' occurrences after a title

_SPLIT_PUNCT = re.compile(r"[.,،؛;:!?؟()\[\]{}«»\"“”'‘’/\\|<>=+*&^%$#@~\n\r\t–—-]+")
_TOKEN = re.compile(r"[^\W_]+")
_PAREN = re.compile(r"\s*\([^)]*\)")

_fold_cache: dict[str, str] = {}


def fold_token(token: str) -> str:
    """fold() memoised: the corpus has 9M tokens but only about 260k distinct ones."""
    folded = _fold_cache.get(token)
    if folded is None:
        folded = _fold_cache[token] = fold(token)
    return folded


def corpus_segments(path: Path):
    """Yield lists of surface tokens, one per punctuation-free stretch of each article."""
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            for field in ("title", "text"):
                text = strip_tashkeel(record.get(field) or "")
                for chunk in _SPLIT_PUNCT.split(text):
                    tokens = _TOKEN.findall(chunk)
                    if tokens:
                        yield tokens


def is_definite(surface: str) -> bool:
    # On the surface word: folding makes "ألقت" and "آلاف" look like "ال" words.
    return surface.startswith("ال") and len(surface) > 3 and surface[2:].isalpha()


def candidate_ngrams(tokens: list[str], keys: list[str], places: set[str]):
    """The n-grams (2..MAX_N words) of a segment that have a name's shape."""
    for i, first in enumerate(keys):
        if first in STOP:
            continue
        # After a definite noun or a place name only definite adjectives follow
        # ("الأمم المتحدة", "كوريا الشمالية"); a head noun takes any complement first
        # ("قطاع غزة", "حزب الله"), then definite words ("جامعة الدول العربية").
        free_second = first in HEADS and not is_definite(tokens[i])
        if not (is_definite(tokens[i]) or free_second or first in places):
            continue
        for j in range(i + 1, min(i + MAX_N, len(keys))):
            word = keys[j]
            if word in STOP or word in TITLES or word.isdigit():
                break
            if not (is_definite(tokens[j]) or (free_second and j == i + 1)):
                break
            yield tuple(keys[i : j + 1])


def person_ngrams(tokens: list[str], keys: list[str]):
    """Names right after a title: "الرئيس الأمريكي باراك أوباما" gives باراك, باراك أوباما."""
    for i, key in enumerate(keys):
        if key not in TITLES:
            continue
        j = i + 1
        while j < len(keys) and j - i <= 3 and is_definite(tokens[j]) and keys[j] not in TITLES:
            j += 1  # "الأمريكي", "الخارجية", "السابق"
        if j >= len(keys) or is_definite(tokens[j]) or keys[j] in STOP or keys[j] in TITLES:
            continue
        end = j + 1
        while end < len(keys) and end - j < MAX_N and keys[end] not in _NOT_IN_NAME and not keys[end].isdigit():
            # Surnames may be definite ("عادل الجبير", "محمد الخالد الصباح"), but nothing
            # indefinite follows them: "إقليم كردستان العراق مسعود" runs into the next name.
            if is_definite(tokens[end - 1]) and not is_definite(tokens[end]):
                break
            end += 1
        for k in range(j + 1, end + 1):
            yield tuple(keys[j:k])


def arabic_country_names() -> tuple[set[str], set[str]]:
    """Multi-word and one-word Arabic country names from pycountry's gettext catalogue."""
    arabic = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["ar"])
    multi: set[str] = set()
    single: set[str] = set()
    for country in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            english = getattr(country, attr, None)
            if not english:
                continue
            translated = arabic.gettext(english)
            if translated == english:
                continue
            for name in split_catalogue_name(translated):
                (multi if " " in name else single).add(name)
    return multi, single


def split_catalogue_name(name: str) -> list[str]:
    """"X، Y" -> X and Y (Y only when it names X again or X is itself multi-word), no (...)."""
    name = " ".join(strip_tashkeel(_PAREN.sub("", name)).split())
    if "،" not in name:
        return [name]
    head, _, tail = (part.strip() for part in name.partition("،"))
    parts = [head]
    # "الكونغو، جمهورية الكونغو الديموقراطية" names the country twice; "تايوان، محافظة
    # صينية" appends a description, which is no name.
    if fold(head) in fold(tail) or " " in head:
        parts.append(tail)
    return parts


def subdivision_names() -> set[str]:
    """Arabic subdivision names, when pycountry ships an Arabic iso3166-2 catalogue (it did not
    when this was written: the build notes it and goes on)."""
    try:
        arabic = gettext.translation("iso3166-2", pycountry.LOCALES_DIR, languages=["ar"])
    except OSError:
        print("no Arabic iso3166-2 catalogue in pycountry; subdivisions skipped", file=sys.stderr)
        return set()
    names = set()
    for sub in pycountry.subdivisions:
        translated = arabic.gettext(sub.name)
        if translated != sub.name:
            names.update(n for n in split_catalogue_name(translated) if " " in n)
    return names


def anercorp_entities(folder: Path) -> Counter:
    """LOC / ORG / PERS entities of the ANERcorp gold data: (kind, surface text) -> count."""
    entities: Counter = Counter()
    for name in ("train.txt", "dev.txt"):
        path = folder / name
        if not path.exists():
            continue
        current: list[str] = []
        kind = ""
        for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
            parts = line.split()
            tag = parts[1] if len(parts) == 2 else "O"
            if tag.startswith("I-") and current and tag[2:] == kind:
                current.append(parts[0])
                continue
            if current and kind in {"LOC", "ORG", "PERS"}:
                entities[kind, " ".join(current)] += 1
            current, kind = ([parts[0]], tag[2:]) if tag.startswith("B-") else ([], "")
    return entities


def with_clitic_variants(name: str) -> list[str]:
    """A name with a separate "و" word ("البوسنة و الهرسك") is written joined in news."""
    words = name.split()
    variants = [name]
    if "و" in words[1:-1]:
        joined, skip = [], False
        for k, word in enumerate(words):
            if skip:
                skip = False
                continue
            if word == "و" and 0 < k < len(words) - 1:
                joined.append("و" + words[k + 1])
                skip = True
            else:
                joined.append(word)
        variants.append(" ".join(joined))
    return variants


def without_prefix(words: tuple[str, ...]) -> tuple[str, ...]:
    """ANERcorp keeps clitics on the first word ("والاتحاد الأوروبي", "للصليب"): drop a
    و/ف/ب/ك before the article and turn لل into ال. Other first letters are left alone,
    as "بشار" and "وليد" begin with them."""
    first = words[0]
    if len(first) > 4 and first[0] in "وفبك" and first[1:3] == "ال":
        return (first[1:], *words[1:])
    if len(first) > 3 and first.startswith("لل"):
        return ("ا" + first[1:], *words[1:])
    return words


@dataclass
class Counts:
    """What one pass over the corpus counts."""

    total: int = 0
    unigrams: Counter = field(default_factory=Counter)
    ngrams: Counter = field(default_factory=Counter)  # name-shaped n-grams and gazetteer entries
    after_title: Counter = field(default_factory=Counter)  # word runs right after a title
    before_bin: Counter = field(default_factory=Counter)  # words before "بن": given names
    surfaces: dict[str, Counter] = field(default_factory=dict)  # folded word -> spellings

    def pmi(self, gram: tuple[str, ...]) -> float:
        """Association of the n-gram's first n-1 words with its last word."""
        head = gram[:-1]
        head_count = self.ngrams.get(head, 0) if len(head) > 1 else self.unigrams[head[0]]
        tail_count = self.unigrams[gram[-1]]
        if not head_count or not tail_count or not self.ngrams[gram]:
            return 0.0
        return math.log2(self.ngrams[gram] * self.total / (head_count * tail_count))


def count_corpus(path: Path, places: set[str], wanted: set[tuple[str, ...]]) -> Counts:
    """One pass over the corpus."""
    counts = Counts()
    longest = max(len(w) for w in wanted)
    for tokens in corpus_segments(path):
        keys = [fold_token(t) for t in tokens]
        counts.total += len(keys)
        counts.unigrams.update(keys)
        for token, key in zip(tokens, keys):
            counts.surfaces.setdefault(key, Counter())[token] += 1
        counts.ngrams.update(candidate_ngrams(tokens, keys, places))
        counts.after_title.update(person_ngrams(tokens, keys))
        counts.before_bin.update(keys[k - 1] for k in range(1, len(keys)) if keys[k] == "بن")
        for i in range(len(keys)):
            for n in range(2, min(longest, len(keys) - i) + 1):
                gram = tuple(keys[i : i + n])
                if gram in wanted:
                    counts.ngrams[gram] += 1
    print(f"corpus: {counts.total} tokens, {len(counts.unigrams)} types", file=sys.stderr)
    return counts


def select_collocations(counts: Counts, wanted: set, country_words: set[str]) -> set[tuple[str, ...]]:
    """Gazetteer entries the corpus confirms, and name-shaped n-grams it makes a unit of."""

    def cohesive(gram: tuple[str, ...]) -> bool:
        # Every word must belong with the one before it, not only the last with the
        # rest: "المعيبد المتحدث" or "الإسرائيلي المسؤولية المباشرة" straddle two phrases.
        # A pair that opens no name-shaped n-gram was not counted: nothing to judge by.
        pairs = (gram[k : k + 2] for k in range(len(gram) - 1))
        return all(counts.pmi(pair) >= MIN_PAIR_PMI for pair in pairs if pair in counts.ngrams)

    selected = set()
    for gram, count in counts.ngrams.items():
        if not name_like(gram, country_words):
            continue
        if gram in wanted:
            if count >= MIN_CONFIRM:
                selected.add(gram)
        elif count >= MIN_COUNT and counts.pmi(gram) >= MIN_PMI and cohesive(gram):
            selected.add(gram)
    return selected


def select_country_forms(counts: Counts, countries: set[tuple[str, ...]]) -> set[tuple[str, ...]]:
    """Country names, and the longer forms the corpus uses ("الولايات المتحدة الأمريكية")."""
    selected = {k for k in countries if len(k) > 1}
    for gram, count in counts.ngrams.items():
        if gram[:-1] in countries and count >= MIN_COUNT and count >= 0.05 * counts.ngrams.get(gram[:-1], 1):
            selected.add(gram)
    return selected


def select_people(counts: Counts, gold: Counter, country_words: set[str]) -> set[tuple[str, ...]]:
    """Person names: word runs that often follow a title and mostly take this form there.

    A name must start with a given name (a word seen before "بن", or the first word of a
    gold person name), or be two plain words strongly tied ("باراك أوباما"):
    "بشرطة المنطقة" or "للسياحة والتراث" follow titles too but are no names.
    """
    given = {w for w, c in counts.before_bin.items() if c >= MIN_CONFIRM}
    given |= {without_prefix((fold_token(n.split()[0]),))[0] for kind, n in gold if kind == "PERS" and " " in n}

    def plain(word: str) -> bool:
        # Not a preposition or "و" on a commoner word ("بشرطة"; but "باراك", "وليد").
        clitic = word[0] in "وبلفك" and counts.unigrams[word[1:]] > counts.unigrams[word]
        return not (clitic or word.startswith("ال"))

    selected = set()
    for gram, count in counts.after_title.items():
        if len(gram) < 2 or gram[-1] in PARTICLES or not name_like(gram, country_words):
            continue
        if count < PERSON_MIN_CONTEXT or count < PERSON_MIN_SHARE * counts.after_title[gram[:-1]]:
            continue
        # Its count after titles is a lower bound of its corpus count: a PMI lower bound.
        tied = math.log2(count * counts.total / (counts.unigrams[gram[0]] * counts.unigrams[gram[1]])) >= MIN_PMI
        if gram[0] in given or (len(gram) == 2 and all(map(plain, gram)) and tied):
            selected.add(gram)
    return selected


def name_like(gram: tuple[str, ...], country_words: set[str]) -> bool:
    """Two country names side by side are two tags ("السعودية الإمارات"), never one name."""
    return sum(word in country_words for word in gram) < 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--anercorp", type=Path, default=DEFAULT_ANERCORP)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    # 1. the gazetteers: country names (with their catalogue spelling) and gold entities
    multi_countries, single_countries = arabic_country_names()
    catalogue = {
        tuple(fold_token(w) for w in v.split()): v
        for n in multi_countries | subdivision_names()
        for v in with_clitic_variants(n)
    }
    gold = anercorp_entities(args.anercorp)
    country_words = {fold_token(n) for n in single_countries}
    # One-word gold places open "place + adjective" names too ("مكة المكرمة").
    places = country_words | {without_prefix((fold_token(n),))[0] for kind, n in gold if kind == "LOC" and " " not in n}
    wanted = set(catalogue) | {
        without_prefix(tuple(fold_token(w) for w in name.split())) for _, name in gold if " " in name
    }

    # 2. one pass over the corpus, 3. the names it supports
    counts = count_corpus(args.corpus, places, wanted)
    selected = select_collocations(counts, wanted, country_words)
    selected |= select_country_forms(counts, set(catalogue))
    selected |= select_people(counts, gold, country_words)
    # "وحزب الله" beside "حزب الله": the first only carries the conjunction.
    selected = {g for g in selected if not (g[0][0] in "وفبل" and (g[0][1:], *g[1:]) in selected)}

    # 4. each name once, spelt as the corpus mostly spells its words, else as the catalogue does
    def surface(gram: tuple[str, ...]) -> str:
        if all(w in counts.surfaces for w in gram):
            return " ".join(counts.surfaces[w].most_common(1)[0][0] for w in gram)
        return catalogue.get(gram, " ".join(gram))

    names = sorted(surface(g) for g in selected)
    header = [
        "# Multi-word names, one per line, for splitting space-separated tag lines.",
        "# Generated by scripts/build_lexicon.py; do not edit by hand, rebuild instead.",
        "# Sources: pycountry iso3166-1 Arabic catalogue (LGPL-2.1); ANERcorp multi-word",
        f"# LOC/ORG/PERS entities (CC BY-SA 4.0) seen >= {MIN_CONFIRM} times in SaudiNewsNet; SaudiNewsNet",
        f"# (CC BY-NC-SA 4.0) name-shaped n-grams with count >= {MIN_COUNT} and PMI >= {MIN_PMI}, and person",
        f"# names seen >= {PERSON_MIN_CONTEXT} times after a title (الرئيس, الأمير, وزير ...).",
        "# Matching is on fold()ed words, so spelling variants need no extra lines.",
    ]
    args.out.write_text("\n".join(header + names) + "\n", encoding="utf-8")
    print(f"wrote {len(names)} names to {args.out} ({args.out.stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
