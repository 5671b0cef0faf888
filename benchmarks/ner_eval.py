"""Score the shipped NER model on a gold file (default: ANERcorp dev.txt) and time it.

Reports entity-level precision, recall and F1 (exact span and type, as conlleval) per type
and micro-averaged, and tokens per second on one core: the first pass starts with empty
feature and encoding caches (what a fresh process sees), the second is warm. Sentences go
through `Tagger.tag_conll_sentences` (the BiLSTM tags 64 at a time, as the enrich stage does
with an article's sentences, then label consistency across each sentence's document, as
`marsad ner-tag` does); the scores of the same tagger sentence by sentence are shown beside
them. BLAS is held to one thread so that the figure is one core's.

Usage: python benchmarks/ner_eval.py [--gold FILE] [--model FILE] [--sentence-level] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# One core: numpy's BLAS would otherwise use every core for the network's matrix products.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from marsad.enrich.gazetteer import data_path  # noqa: E402
from marsad.enrich.ner import MODEL_FILE, TYPES, Tagger, evaluate, read_conll  # noqa: E402

DATA = Path(os.environ.get("MARSAD_SHARED_DATA") or ROOT.parent / "shared" / "data")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gold", type=Path, default=DATA / "anercorp" / "dev.txt")
    parser.add_argument("--model", type=Path, default=None,
                        help="a BiLSTM (.npz) or CRF (.crfsuite) model file (default: the shipped one)")
    parser.add_argument("--sentence-level", action="store_true",
                        help="time and score sentence by sentence, without label consistency")
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")
    args = parser.parse_args()
    if not args.gold.exists():
        sys.exit(f"gold file not found: {args.gold} (set MARSAD_SHARED_DATA)")

    began = time.perf_counter()
    tagger = Tagger(args.model)
    load_s = time.perf_counter() - began
    gold = read_conll(args.gold)
    tokens = sum(len(t) for t, _ in gold)
    speeds, cpu_speeds = [], []
    for _ in range(2):
        if not speeds:
            tagger.clear_caches()
        began, cpu_began = time.perf_counter(), time.process_time()
        predicted = tagger.tag_conll_sentences([t for t, _ in gold], consistent=not args.sentence_level)
        speeds.append(tokens / (time.perf_counter() - began))
        # CPU time: what one core does, even while other jobs share the machine.
        cpu_speeds.append(tokens / (time.process_time() - cpu_began))
    scores = evaluate([tags for _, tags in gold], predicted)
    by_sentence = evaluate([tags for _, tags in gold], list(tagger.tag_sentences([t for t, _ in gold])))
    model_path = args.model or data_path(MODEL_FILE)
    shipped = sum(p.stat().st_size for p in data_path("").iterdir() if p.is_file())
    report = {
        "gold": str(args.gold),
        "sentences": len(gold),
        "tokens": tokens,
        "label_consistency": not args.sentence_level,
        "scores": scores.as_dict(),
        "scores_sentence_level": by_sentence.as_dict(),
        "tokens_per_s_cold": round(speeds[0]),
        "tokens_per_s_warm": round(speeds[1]),
        "tokens_per_cpu_s_cold": round(cpu_speeds[0]),
        "tokens_per_cpu_s_warm": round(cpu_speeds[1]),
        "load_s": round(load_s, 2),
        "model_mb": round(sum(p.stat().st_size for p in tagger.files()) / 1e6, 2),
        "shipped_data_mb": round(shipped / 1e6, 2),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{args.gold}: {len(gold)} sentences, {tokens} tokens\n")
    print(f"{'type':<6} {'P':>6} {'R':>6} {'F1':>6} {'gold':>6} {'pred':>6}")
    for name in (*TYPES, "micro"):
        s = scores.micro if name == "micro" else scores.by_type[name]
        print(f"{name:<6} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} {s.gold:6d} {s.predicted:6d}")
    if not args.sentence_level:
        s = by_sentence.micro
        print(f"{'(sentence by sentence, no label consistency)':<6}\n{'micro':<6} {s.precision:6.3f} {s.recall:6.3f} "
              f"{s.f1:6.3f} {s.gold:6d} {s.predicted:6d}")
    print(f"\nspeed, one core: {speeds[0]:,.0f} tokens/s wall ({cpu_speeds[0]:,.0f} per CPU second) with a cold "
          f"feature cache, {speeds[1]:,.0f} ({cpu_speeds[1]:,.0f}) warm")
    print(f"model {model_path.name}: load {load_s:.2f} s; model files {report['model_mb']} MB; "
          f"shipped NER data {report['shipped_data_mb']} MB")


if __name__ == "__main__":
    main()
