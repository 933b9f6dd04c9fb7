"""Out-of-fold valid probabilities of one ensemble member under overrides, and the score of their averages.

    python benchmarks/member_oof.py train NAME neural|tfidf [-p key=value ...] [--data-dir DIR]   # -> runs/oof/NAME.npy
    python benchmarks/member_oof.py score NAME [NAME ...]      # average them, choose thresholds (notebook 04's rule)

For quick member-level experiments (a TF-IDF setting takes 1-3 minutes, the BiGRU about 7); the numbers in
benchmarks/results.md come from whole pipeline runs (python -m utils.benchmark).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from utils.core.settings import ThresholdConfig  # noqa: E402
from utils.core.settings_io import load_config  # noqa: E402
from utils.core.splits import SPLIT_FILES, TEXT, label_matrix, read_split  # noqa: E402
from utils.run.benchmark import default_data_dir  # noqa: E402
from utils.training.scores import score_probs  # noqa: E402

OOF_DIR = ROOT / "runs" / "oof"


def train(name: str, member: str, overrides: list[str], data_dir: Path) -> None:
    from utils.core.seed import seed_everything
    from utils.members.tfidf import train_linear_member
    from utils.training.folds import valid_folds
    from utils.training.notebook import load_training_data, train_model

    tfidf = load_config(None, overrides).members["tfidf"]  # the member's settings with the overrides (tfidf.C=2, ...)
    config = load_config(None, ["members.tfidf=null", *overrides])
    config = config.model_copy(update={"name": name, "runs_dir": str(OOF_DIR / "runs"), "data_dir": str(data_dir)})
    seed_everything(config.seed)
    data = load_training_data(config)
    began = time.perf_counter()
    if member == "neural":
        probs = train_model(config, data).member_probs["neural"]
    else:
        folds = valid_folds(label_matrix(data.valid), config.train.folds, config.seed) if config.train.folds else None
        _, probs = train_linear_member(tfidf, config.text, data.train[TEXT].tolist(), label_matrix(data.train),
                                       data.valid[TEXT].tolist(), label_matrix(data.valid), data.test_texts, folds, tfidf.valid_weight)
    OOF_DIR.mkdir(parents=True, exist_ok=True)
    np.save(OOF_DIR / f"{name}.npy", probs)
    scores = score_probs(label_matrix(data.valid), probs)
    print(f"{name} ({member}, {' '.join(overrides) or 'defaults'}): weighted F1 {scores['weighted_f1_at_best_single_threshold']:.4f} "
          f"at the best single threshold, {time.perf_counter() - began:.0f} s")


def score(names: list[str], data_dir: Path) -> None:
    from utils.thresholds.search import choose_thresholds

    y = label_matrix(read_split(data_dir / SPLIT_FILES["valid"]))
    probs = np.mean([np.load(OOF_DIR / f"{name}.npy") for name in names], axis=0)
    choice = choose_thresholds(y, probs, ThresholdConfig(), seed=42)
    print(f"mean of {names}: weighted F1 {score_probs(y, probs)['weighted_f1_at_best_single_threshold']:.4f} at the best single threshold")
    print(choice.note)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="default: ../shared/data/cryptonite when present")
    commands = parser.add_subparsers(dest="command", required=True)
    training = commands.add_parser("train", help="out-of-fold probabilities of one member")
    training.add_argument("name")
    training.add_argument("member", choices=["neural", "tfidf"])
    training.add_argument("-p", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    scoring = commands.add_parser("score", help="average saved members and choose thresholds")
    scoring.add_argument("names", nargs="+")
    args = parser.parse_args()
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    if args.command == "train":
        train(args.name, args.member, args.overrides, data_dir)
    else:
        score(args.names, data_dir)


if __name__ == "__main__":
    main()
