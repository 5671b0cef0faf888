"""marsad.dedup: fingerprints, boilerplate, MinHash/LSH, copy decisions, groups, batches, perturbations."""

from __future__ import annotations

import random

import numpy as np
import pytest

from marsad.dedup import DedupEngine, Featurizer, compare, is_copy, strip_boilerplate, title_conflict
from marsad.dedup.features import minhash
from marsad.dedup.lsh import KeyIndex

# A wire text (hand-written in the style of SPA items), reused with the changes outlets make.
WIRE = [
    "أعلنت وزارة الصحة اليوم عن تسجيل ثلاث حالات إصابة جديدة بفيروس كورونا في مدينة الرياض، "
    "مشيرة إلى أن المصابين يتلقون العلاج في المستشفيات المتخصصة وأن حالتهم مستقرة.",
    "وأوضحت الوزارة في بيان صحفي أن فرق الرصد الوبائي باشرت فحص المخالطين للحالات المسجلة، "
    "وأن النتائج الأولية جاءت سلبية لجميع أفراد الأسر الذين خضعوا للفحص خلال اليومين الماضيين.",
    "ودعت الوزارة المواطنين والمقيمين إلى الالتزام بالإرشادات الوقائية وغسل اليدين بانتظام وتجنب "
    "الاختلاط بالإبل، والتواصل مع مركز الاتصال في حال ظهور أعراض تنفسية.",
    "وأكدت أن المملكة تعمل بالتعاون مع منظمة الصحة العالمية على تطوير لقاح مضاد للفيروس، "
    "وأن التجارب السريرية الأولى ستبدأ قبل نهاية العام الجاري في عدد من المراكز البحثية.",
]
OTHER = [
    "افتتح أمير منطقة مكة المكرمة مساء أمس فعاليات سوق عكاظ في محافظة الطائف بحضور عدد من "
    "المسؤولين والمثقفين والشعراء من مختلف الدول العربية.",
    "وتضمن الحفل عرضا مسرحيا يروي سيرة الشاعر لبيد بن ربيعة، وتكريم الفائزين بجوائز السوق "
    "في الشعر والرواية والخط العربي والفنون التشكيلية.",
]


@pytest.fixture(scope="module")
def fz() -> Featurizer:
    return Featurizer()


def engine_decide(fz, texts, batch=None):
    engine = DedupEngine()
    feats = [fz.features(title, paras) for title, paras in texts]
    keys = list(range(1, len(feats) + 1))
    if batch is None:
        engine.process(keys, feats)
    else:
        for start in range(0, len(feats), batch):
            engine.process(keys[start : start + batch], feats[start : start + batch])
    return engine


# -- fingerprints -------------------------------------------------------------------------------


def test_fingerprint_ignores_diacritics_hamza_tatweel_and_spacing(fz):
    plain = fz.features("وزارة الصحة تعلن", WIRE)
    marked = [p.replace("أ", "ا").replace("إ", "ا").replace("ة", "ه") for p in WIRE]
    marked[0] = marked[0].replace("الصحة", "الصّحـــة").replace("وزارة", "وِزارَة")
    variant = fz.features("وزارة الصحه تعلن", ["  " + p + "  " for p in marked])
    assert variant.text_fp == plain.text_fp
    assert variant.title_fp == plain.title_fp
    assert fz.features("عنوان آخر", WIRE[:3]).text_fp != plain.text_fp


def test_exact_copy_is_found_whatever_its_url_and_title(fz):
    engine = engine_decide(fz, [("وزارة الصحة تعلن", WIRE), ("كورونا: ثلاث إصابات", WIRE), ("سوق عكاظ", OTHER)])
    assert engine.group_of(2) == engine.group_of(1) == 1
    assert engine.group_of(3) == 3
    assert engine.copies(2) == [1, 2]


def test_short_bodies_need_the_title_too(fz):
    short = ["تلقى خادم الحرمين الشريفين اتصالا هاتفيا."]
    engine = engine_decide(fz, [("اتصال هاتفي من ملك المغرب", short), ("اتصال هاتفي من ملك الأردن", short),
                                ("اتصال هاتفي من ملك المغرب", short)])
    assert engine.group_of(3) == 1
    assert engine.group_of(2) == 2


# -- boilerplate ---------------------------------------------------------------------------------


def test_outlet_bylines_datelines_and_footers_are_stripped():
    paras = [
        "الرياض 26 شوال 1436 هـ الموافق 11 أغسطس 2015 م واس",
        "عين اليوم – جدة",
        "أحمد علي- سبق- الرياض: أعلنت وزارة الصحة اليوم عن تسجيل حالات.",
        "وأوضحت الوزارة أن الفحوص سلبية. رابط الخبر بصحيفة الوئام: وزارة الصحة تعلن",
        "// انتهى // 17:36 ت م",
    ]
    assert strip_boilerplate(paras) == [
        "أعلنت وزارة الصحة اليوم عن تسجيل حالات.", "وأوضحت الوزارة أن الفحوص سلبية.",
    ]
    assert strip_boilerplate(["(واس) - أعلنت الوزارة اليوم."]) == ["أعلنت الوزارة اليوم."]


# -- MinHash and the LSH index -------------------------------------------------------------------


def test_minhash_is_deterministic_and_estimates_jaccard(fz):
    a = fz.features("", WIRE).shingles
    b = fz.features("", WIRE[:3]).shingles
    sig = minhash([a, b, a, np.empty(0, dtype=np.uint64)], 96)
    assert (sig[0] == sig[2]).all() and (sig[3] == 0xFFFFFFFF).all()
    true_j = len(np.intersect1d(a, b)) / len(np.union1d(a, b))
    assert abs((sig[0] == sig[1]).mean() - true_j) < 0.15


def test_key_index_finds_every_stored_pair_across_runs():
    index = KeyIndex()
    rng = np.random.default_rng(1)
    stored = {}
    for batch in range(7):  # several batches: several sorted runs, merged as they grow
        keys = rng.integers(1, 2**32 - 1, size=300, dtype=np.uint64).astype(np.uint32)
        keys[:5] = 12345  # a key many articles share (copies of one text)
        vals = np.arange(batch * 300, (batch + 1) * 300)
        index.add(keys, vals)
        for k, v in zip(keys.tolist(), vals.tolist()):
            stored.setdefault(k, set()).add(v)
    query = np.array([12345, 7, *list(stored)[:50]], dtype=np.uint32)
    pos, vals = index.lookup(query)
    found: dict[int, set[int]] = {}
    for p, v in zip(pos.tolist(), vals.tolist()):
        found.setdefault(int(query[p]), set()).add(v)
    for k in query.tolist():
        assert found.get(k, set()) == stored.get(k, set())
    assert len(index) == 7 * 300


# -- copies, templates, groups -------------------------------------------------------------------


def test_copy_decision_uses_real_overlap(fz):
    full = fz.features("", WIRE)
    trimmed = fz.features("", WIRE[:2])  # an outlet that kept the first half
    assert is_copy(full, trimmed)[0]
    assert compare(full, trimmed).containment == 1.0
    assert not is_copy(full, fz.features("", OTHER))[0]
    # A two-line item quoted inside a long roundup is not judged a copy of the roundup.
    assert not is_copy(fz.features("", WIRE[:1]), fz.features("", WIRE + OTHER * 3))[0]


def test_same_template_different_country_is_not_a_copy(fz):
    def cable(country: str, president: str):
        return fz.features(
            f"الملك ونائبه يهنئان رئيس {country} بذكرى الاستقلال",
            [f"بعث خادم الحرمين الشريفين الملك سلمان بن عبدالعزيز آل سعود برقية تهنئة لفخامة الرئيس {president} "
             f"رئيس جمهورية {country} بمناسبة ذكرى استقلال بلاده.",
             "وعبر الملك المفدى باسمه واسم شعب وحكومة المملكة العربية السعودية عن أصدق التهاني وأطيب "
             f"التمنيات بالصحة والسعادة لفخامته، ولحكومة وشعب {country} الصديق اطراد التقدم والازدهار."])

    bolivia, jamaica = cable("بوليفيا", "إيفو موراليس"), cable("جامايكا", "باتريك ألين")
    assert compare(bolivia, jamaica).containment > 0.6  # the texts are near-identical ...
    assert title_conflict(bolivia, jamaica)  # ... but the headlines name different countries
    assert not is_copy(bolivia, jamaica)[0]
    assert is_copy(bolivia, cable("بوليفيا", "إيفو موراليس"))[0]


def test_a_roundup_of_two_items_does_not_join_their_groups(fz):
    texts = [("الصحة", WIRE), ("الصحة", WIRE[:3]), ("عكاظ", OTHER), ("عكاظ", OTHER),
             ("أخبار اليوم", WIRE[:2] + OTHER)]
    engine = engine_decide(fz, texts)
    assert engine.group_of(2) == 1 and engine.group_of(4) == 3
    assert engine.group_of(1) != engine.group_of(3)  # the roundup (5) matched both, merged neither


def _trimmed_versions(seed: int, every: int) -> list[tuple[str, list[str]]]:
    """60 (title, paragraphs): the wire text, or another text ending in part of it, paragraphs dropped at random."""
    rng = random.Random(seed)
    texts = []
    for i in range(60):
        base = WIRE if i % every else OTHER + WIRE[2:]
        paras = [p for p in base if rng.random() > 0.25] or base[:1]
        texts.append((f"عنوان {i}", paras))
    return texts


def test_batches_give_the_same_groups_as_one_batch(fz):
    texts = _trimmed_versions(3, 2)
    one = engine_decide(fz, texts)
    many = engine_decide(fz, texts, batch=7)
    single = engine_decide(fz, texts, batch=1)
    groups = [[e.group_of(k) for k in range(1, 61)] for e in (one, many, single)]
    assert groups[0] == groups[1] == groups[2]


def test_features_loaded_back_give_the_decisions_of_a_full_cache(fz):
    """A long-running store keeps only recent features and loads older ones back from the stored text."""
    texts = _trimmed_versions(5, 3)
    feats = [fz.features(title, paras) for title, paras in texts]
    keys = list(range(1, len(feats) + 1))
    full = DedupEngine()
    small = DedupEngine(loader=lambda key: fz.features(*texts[key - 1]), cache_size=4)
    for start in range(0, len(feats), 5):
        a = full.process(keys[start : start + 5], feats[start : start + 5])
        b = small.process(keys[start : start + 5], feats[start : start + 5])
        assert [(d.group, d.kind, d.match, d.score, d.merged) for d in a] == \
            [(d.group, d.kind, d.match, d.score, d.merged) for d in b]
    assert small.stats["loaded"] > 0


def test_an_exact_copy_of_an_old_text_loads_no_features_back(fz):
    """Its group's seed is read only when the copy matches a second group too."""
    texts = [("الصحة", WIRE)] + [(f"عكاظ {i}", OTHER + [f"الفقرة رقم {i} من خبر آخر عن السوق والشعراء والخط"])
                                   for i in range(6)] + [("الصحة اليوم", WIRE)]
    engine = DedupEngine(loader=lambda key: fz.features(*texts[key - 1]), cache_size=2)
    feats = [fz.features(t, p) for t, p in texts]
    n = len(texts)
    engine.process(list(range(1, n)), feats[:-1])
    loaded = engine.stats["loaded"]
    (decision,) = engine.process([n], feats[-1:])
    assert (decision.kind, decision.group) == ("exact", 1)
    assert engine.stats["loaded"] == loaded


# -- robustness to the edits outlets make (synthetic perturbations of a text) --------------------

def _perturb(paras: list[str], how: str, rng: random.Random) -> list[str]:
    paras = list(paras)
    if how == "prefix":
        return ["(واس) - الرياض:", "قالت مصادر مطلعة إن الخبر أثار اهتماما واسعا في الأوساط المحلية."] + paras
    if how == "suffix":
        return paras + ["يشار إلى أن الصحيفة ستتابع تطورات الموضوع.", "رابط الخبر بصحيفة الوئام: عنوان"]
    if how == "trim":
        return paras[: max(1, len(paras) * 2 // 3)]
    if how == "diacritics":
        return [p.replace("ا", "أ", 3).replace("ة", "ه").replace("ي ", "ى ").replace("ال", "الْ", 5) for p in paras]
    if how == "reorder":
        rng.shuffle(paras)
        return paras
    raise ValueError(how)


@pytest.mark.parametrize("how", ["prefix", "suffix", "trim", "diacritics", "reorder"])
def test_perturbed_copies_are_recognised(fz, how):
    rng = random.Random(7)
    original = fz.features("وزارة الصحة تعلن", WIRE)
    copy = fz.features("ثلاث إصابات جديدة", _perturb(WIRE, how, rng))
    assert is_copy(original, copy)[0], how


def test_the_token_cache_empties_between_articles_not_within_one(monkeypatch):
    from marsad.dedup import features as features_module

    monkeypatch.setattr(features_module, "_TOKEN_CACHE_LIMIT", 50)
    fz = Featurizer()
    reference = Featurizer().features("عنوان", WIRE)
    for i in range(30):  # far more distinct tokens than the cache holds
        f = fz.features(f"عنوان {i} 5000ريال", [f"{p} رقم{i} {i}/{i + 1}" for p in WIRE])
        assert len(f.lead_terms) > 10 and f.length > 40
    again = fz.features("عنوان", WIRE)
    assert again.text_fp == reference.text_fp and again.lead_terms == reference.lead_terms


@pytest.mark.parametrize("where", ["analysis", "commit"])
def test_a_batch_interrupted_while_learning_tokens_leaves_the_cache_usable(monkeypatch, where):
    fz = Featurizer()
    reference = Featurizer().features("عنوان", WIRE)
    fz.features("عنوان", OTHER)  # some tokens known before the interruption
    known_terms = dict(fz._tokens.term_ids)

    def interrupt(*args):
        monkeypatch.undo()
        raise KeyboardInterrupt

    if where == "analysis":
        monkeypatch.setattr(fz.analyzer, "chunk_terms", interrupt)
    else:  # new terms already have ids when the arrays are written
        monkeypatch.setattr(fz._tokens, "_grow", interrupt)
    with pytest.raises(KeyboardInterrupt):
        fz.features("عنوان", WIRE)
    assert not fz._tokens.ids.unseen and fz._tokens.term_ids == known_terms
    again = fz.features("عنوان", WIRE)
    assert again.text_fp == reference.text_fp and again.lead_terms == reference.lead_terms
    assert (again.shingles == reference.shingles).all()


# -- batched features and keys: the same values as one article at a time ----------------------------


def test_a_batch_of_features_equals_features_one_at_a_time():
    from marsad.dedup.features import _fingerprint, shingle_hashes, stable_hash64
    from marsad.search.analyzer import default_analyzer

    texts = [("عنوان الخبر", WIRE), ("", []), ("في من على", ["في من على", ""]), ("قصير", ["كلمتان فقط"]),
             ("5000ريال و(واس)", [p + " 12/13 رقم7" for p in OTHER]), (None, WIRE[:1])]
    batch = Featurizer().batch([t for t, _ in texts], [p for _, p in texts])
    analyzer = default_analyzer()
    for (title, paras), f in zip(texts, batch):
        single = Featurizer().features(title, paras)
        body = analyzer.terms(" ".join(strip_boilerplate(paras)))
        hashes = np.array([stable_hash64(t) or 1 for t in body], dtype=np.uint64)
        seq = shingle_hashes(hashes)
        assert f.lead_terms == single.lead_terms == body[:80]
        assert f.title_terms == single.title_terms == analyzer.terms(title or "")
        assert (f.body_hashes == hashes).all() and f.text_fp == single.text_fp == _fingerprint(hashes)
        assert (f.shingles == np.unique(seq)).all() and (f.lead == np.unique(seq[:40])).all()
        assert (single.shingles == f.shingles).all() and f.title_fp == single.title_fp


def test_texts_are_split_into_words_exactly_as_str_split_splits_them():
    from marsad.search.analyzer import default_analyzer

    spaces = [chr(c) for c in range(0x3001) if chr(c).isspace()]
    # Not whitespace to Python, so not to marsad either: zero-width (non-)joiners, marks, BOM, NBSP-like.
    joiners = ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060", "\ufeff", "\u180e", "\u061c"]
    words = ["وزارة", "الصحة", "تعلن", "نتائج", "الفحص", "سلبية", "الرياض", "مكة", "جدة", "الطائف"]
    body = "".join(words[i % len(words)] + (spaces + joiners)[i] for i in range(len(spaces + joiners)))
    texts = [("", [body]), (" ".join(spaces), ["  "]), (spaces[3] + "عنوان" + spaces[-1], [body[::-1]])]
    analyzer = default_analyzer()
    batch = Featurizer().batch([t for t, _ in texts], [p for _, p in texts])
    for (title, paras), f in zip(texts, batch):
        assert f.title_terms == analyzer.terms(title)
        assert f.lead_terms == analyzer.terms(" ".join(paras))[:80]
    assert len(batch[0].lead_terms) == len(spaces + joiners)


def test_word_hashes_depend_on_the_bytes_alone():
    import pyarrow as pa

    from marsad.dedup.features import word_hashes

    def hashes(words):
        array = pa.array(words, type=pa.large_string())
        _, offsets, data = array.buffers()
        return word_hashes(np.frombuffer(data, dtype=np.uint8), np.frombuffer(offsets, dtype=np.int64)).tolist()

    words = ["", "و", "وزارة", "الصحة", "الصحه", "ab", "ba", "a" * 64, "a" * 65, "a" * 63 + "b", "x" * 200]
    first = hashes(words)
    assert len(set(first)) == len(words) and 0 not in first
    assert hashes(["قبل", *reversed(words)])[1:] == first[::-1]  # same word, other position: same hash
    every = [" ".join(WIRE + OTHER).split()[i] for i in range(60)]
    assert len(set(hashes(every))) == len(set(every))


def test_the_word_table_finds_what_was_put_and_nothing_else():
    from marsad.dedup.features import _HashTable

    table = _HashTable(bits=4)  # tiny: many keys share slots, and the table grows several times
    rng = np.random.default_rng(7)
    keys = np.unique(rng.integers(1, 2**64 - 1, size=5000, dtype=np.uint64))
    keys = np.concatenate([keys, keys[:50] + np.uint64(16), np.array([16, 32, 48], dtype=np.uint64)])  # same slots
    keys = np.unique(keys)
    for part in np.array_split(np.arange(len(keys)), 7):
        table.insert(keys[part], part.astype(np.int64))
    assert (table.lookup(keys) == np.arange(len(keys))).all()
    absent = np.setdiff1d(rng.integers(1, 2**64 - 1, size=500, dtype=np.uint64), keys)
    assert (table.lookup(absent) == -1).all()
    assert table.size == len(keys) and 2 * table.size <= len(table.keys)


def test_text_that_is_not_utf8_is_split_in_python():
    # A lone surrogate (JSON may carry one) cannot go to Arrow; the words around it still count.
    f = Featurizer().features("عنوان \ud800 الخبر", ["أعلنت الوزارة\udc00 اليوم"])
    plain = Featurizer().features("عنوان الخبر", ["أعلنت الوزارة اليوم"])
    assert f.title_terms == plain.title_terms and f.lead_terms == plain.lead_terms


def test_minhash_equals_the_textbook_definition():
    from marsad.dedup.features import _PERM_A, _PERM_B

    rng = np.random.default_rng(7)
    sets = [np.unique(rng.integers(0, 2**63, size=int(k), dtype=np.uint64)) for k in rng.integers(0, 900, size=40)]
    sets[5] = np.empty(0, dtype=np.uint64)
    sig = minhash(sets, 16)
    for s, row in zip(sets, sig):
        if not len(s):
            assert (row == 0xFFFFFFFF).all()
            continue
        expected = [int(((s * _PERM_A[i] + _PERM_B[i]) >> np.uint64(32)).min()) for i in range(16)]
        assert row.tolist() == expected


def test_pairs_within_a_batch_are_every_earlier_article_with_the_same_key():
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 6, size=(30, 4)).astype(np.uint32)  # 0 = no key
    owner = np.repeat(np.arange(30), 4)
    article_keys = np.arange(100, 130)
    later, other = DedupEngine._pairs_within_batch(keys.ravel(), owner, article_keys)
    got: dict = {}
    for i, k in zip(later.tolist(), other.tolist()):
        got[(i, k)] = got.get((i, k), 0) + 1
    expected: dict = {}
    flat = keys.ravel().tolist()
    for a in range(len(flat)):
        for b in range(a):
            if flat[a] and flat[a] == flat[b] and owner[a] != owner[b]:
                i, j = max(owner[a], owner[b]), min(owner[a], owner[b])
                expected[(int(i), int(article_keys[j]))] = expected.get((int(i), int(article_keys[j])), 0) + 1
    assert got == expected


def test_keys_computed_with_the_features_elsewhere_give_the_same_decisions(fz):
    """A backfill's workers attach each article's duplicate keys to its features; the engine uses them."""
    rng = random.Random(11)
    texts = [(f"عنوان {i}", [p for p in (WIRE if i % 2 else OTHER) if rng.random() > 0.2] or WIRE[:1])
             for i in range(30)]
    plain = [fz.features(t, p) for t, p in texts]
    keyed = [fz.features(t, p) for t, p in texts]
    DedupEngine().attach_keys(keyed)
    assert all(f.dedup_keys is not None for f in keyed)
    a, b = DedupEngine(), DedupEngine()
    keys = list(range(1, 31))
    da, db = a.process(keys, plain), b.process(keys, keyed)
    assert [(d.group, d.kind, d.match, d.score) for d in da] == [(d.group, d.kind, d.match, d.score) for d in db]
    assert all((x == y).all() for x, y in zip(a.last_keys, b.last_keys))
