"""Speed and quality of the offline default (navec + BiGRU) on the competition data, next to TF-IDF + logistic regression.

    python benchmarks/train_offline.py                       # ../shared/data/cryptonite, train-only run + 5 folds over valid
    python benchmarks/train_offline.py --folds 0 --set train.epochs=4 --set model.navec.ngram_dim=0

Prints a markdown table (and writes it as JSON with --json). Numbers depend on the machine: its CPU is printed too.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from utils.config import REPO_ROOT, load_config  # noqa: E402
from utils.data import label_matrix, load_competition  # noqa: E402
from utils.evaluation import score_probs  # noqa: E402
from utils.folds import train_on_valid_folds, valid_folds  # noqa: E402
from utils.linear import train_linear_members  # noqa: E402
from utils.model import build_model  # noqa: E402
from utils.seed import seed_everything  # noqa: E402
from utils.training import fit, predict_probs  # noqa: E402

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "cryptonite"


def row(name: str, y, probs, seconds: float, rows_per_second: float | None = None, texts_per_second: float | None = None) -> dict:
    metrics = score_probs(y, probs)
    return {"setup": name, "f1_at_0.5": round(metrics["weighted_f1"], 4),
            "f1_best_single_threshold": round(metrics["weighted_f1_at_best_single_threshold"], 4),
            "threshold": metrics["best_single_threshold"], "macro_f1_at_0.5": round(metrics["macro_f1"], 4),
            "seconds": round(seconds, 1), "train_rows_per_s": rows_per_second and round(rows_per_second),
            "inference_texts_per_s": texts_per_second and round(texts_per_second)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA))
    parser.add_argument("--set", action="append", default=[], help="a setting override, e.g. train.epochs=4 (repeatable)")
    parser.add_argument("--folds", type=int, default=5, help="k for the k-fold-over-valid mode (0: skip it)")
    parser.add_argument("--no-tfidf", action="store_true", help="skip the TF-IDF + logistic regression baseline")
    parser.add_argument("--json", help="also write the rows as JSON to this file")
    args = parser.parse_args()

    config = load_config(overrides=args.set)
    competition = load_competition(args.data_dir)
    train, valid, test = competition.train, competition.valid, competition.test
    y_train, y_valid = label_matrix(train), label_matrix(valid)
    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; torch threads: {config.train.num_threads}")
    print(f"settings: model={config.model}\ntrain={config.train}")
    rows = []

    seed_everything(config.seed)
    started = time.perf_counter()
    model = build_model(config.model, [*train.text, *valid.text, *test.text], config.text)
    train_data, valid_data = model.dataset(train.text, y_train), model.dataset(valid.text, y_valid)
    prepared = time.perf_counter()
    result = fit(model, train_data, valid_data, config.train, config.seed)
    fitted = time.perf_counter()
    test_texts = test.text.tolist()
    predict_probs(model, test_texts[:500])  # warm-up
    inference_started = time.perf_counter()
    predict_probs(model, test_texts, config.train.eval_batch_size, config.train.num_threads)
    texts_per_second = len(test_texts) / (time.perf_counter() - inference_started)
    rows_per_second = len(train_data) * len(result.history) / result.history["seconds"].sum()
    print(f"train-only run: {fitted - started:.0f} s wall ({prepared - started:.0f} s vocabulary + tokenising, "
          f"{fitted - prepared:.0f} s fitting {len(result.history)} epoch(s), best epoch {result.best_epoch})")
    rows.append(row("navec BiGRU, trained on train", y_valid, result.valid_probs, fitted - started, rows_per_second, texts_per_second))

    def tfidf(folds):
        """The kit's TF-IDF member (utils.linear, settings tfidf.*), trained on train or on the folds."""
        return train_linear_members(config.tfidf, config.text, train.text.tolist(), y_train, valid.text.tolist(), y_valid,
                                    test_texts, folds)[1]

    if not args.no_tfidf:
        started = time.perf_counter()
        baseline = tfidf(None)
        rows.append(row("TF-IDF + LR, trained on train", y_valid, baseline, time.perf_counter() - started))

    if args.folds:
        seed_everything(config.seed)
        template = build_model(config.model, [*train.text, *valid.text, *test.text], config.text)
        train_data, valid_data = template.dataset(train.text, y_train), template.dataset(valid.text, y_valid)
        started = time.perf_counter()
        folds_config = dataclasses.replace(config.train, folds=args.folds)
        oof = train_on_valid_folds(template, train_data, valid_data, folds_config, config.seed).oof_probs
        rows.append(row(f"navec BiGRU, {args.folds} folds over valid (out-of-fold)", y_valid, oof, time.perf_counter() - started))
        if not args.no_tfidf:
            started = time.perf_counter()
            baseline_oof = tfidf(valid_folds(y_valid, args.folds, config.seed))
            rows.append(row(f"TF-IDF + LR, {args.folds} folds over valid (out-of-fold)", y_valid, baseline_oof, time.perf_counter() - started))
            rows.append(row("mean of the two, out-of-fold", y_valid, (oof + baseline_oof) / 2, 0.0))

    columns = list(rows[0])
    print("\n| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for item in rows:
        print("| " + " | ".join("" if item[c] is None else str(item[c]) for c in columns) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps({"settings": args.set, "rows": rows}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
