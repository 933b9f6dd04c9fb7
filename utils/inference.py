"""Predicting with a finished run: the saved model(s) and thresholds -> probabilities, decisions, a submission."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .checkpoint import load_models
from .config import INFERENCE_RECORD, LINEAR_DIR, MODEL_DIR, TEST_PROBS, THRESHOLDS, RunConfig
from .data import LABELS, SPLIT_FILES, TEXT, read_split
from .files import write_text
from .submission import make_submission, write_submission
from .thresholds import ThresholdChoice, load_thresholds

FALLBACK = ThresholdChoice(mode="global", empty_rule="top", thresholds=dict.fromkeys(LABELS, 0.5), in_sample_f1=float("nan"),
                           cv_f1=float("nan"), table=[], note="no thresholds.json: 0.5 for every label, the top label for rows with none")


@dataclass
class Predictor:
    """A run's model(s) (the mean of the fold models, if k-fold) and its decision rule."""

    models: list
    choice: ThresholdChoice
    linear: object = None  # the TF-IDF member (utils.linear.TfidfClassifier), blended in with its saved weight

    @classmethod
    def from_run(cls, run_dir: str | Path, device: str = "cpu") -> "Predictor":
        """Load runs/<name>/model/ and runs/<name>/thresholds.json (0.5 with a notice when it is missing)."""
        run_dir = Path(run_dir)
        thresholds = run_dir / THRESHOLDS
        if not thresholds.is_file():
            print(f"Notice: {thresholds} not found (notebook 04 not run): {FALLBACK.note}")
        linear = None
        if (run_dir / LINEAR_DIR).is_dir():
            from .linear import TfidfClassifier  # scikit-learn: imported only when the run has a TF-IDF member

            linear = TfidfClassifier.load(run_dir / LINEAR_DIR)
        choice = load_thresholds(thresholds) if thresholds.is_file() else FALLBACK
        return cls(load_models(run_dir / MODEL_DIR, device), choice, linear)

    def probs(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """(n, 7) probabilities in the input order: the models' mean, blended with the TF-IDF member if any, then
        recalibrated if the run's decision rule is."""
        from .training import predict_probs

        probs = predict_probs(self.models, list(texts), batch_size, num_threads=0)  # all cores
        if self.linear is not None:
            weight = self.linear.config.weight
            probs = (1 - weight) * probs + weight * self.linear.probs(texts)
        return self.choice.recalibrated(probs)

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """(n, 7) 0/1 decisions for `probs` from `self.probs` (already recalibrated) under the run's thresholds and no-label rule."""
        return self.choice.apply(probs)


def submission_path(config: RunConfig) -> Path:
    """Where a run's submission goes: submissions/<name>.csv beside the runs folder."""
    return config.run_dir.parent.parent / "submissions" / f"{config.name}.csv"


def free_path(path: Path) -> Path:
    """`path` if it does not exist, else the first free `<stem>-2`, `<stem>-3`, ... beside it."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate


def predict_test(config: RunConfig, batch_size: int = 256) -> Path:
    """Predict the test file, write runs/<name>/test_probs.csv and a checked submission; return its path."""
    from .evaluation import write_probs

    test_path = Path(config.data_dir) / SPLIT_FILES["test"]
    test = read_split(test_path, test=True)
    from .training import resolve_runtime

    predictor = Predictor.from_run(config.run_dir, resolve_runtime(config.train).device)  # the GPU when training had one
    probs = predictor.probs(test[TEXT], batch_size)
    write_probs(probs, config.run_dir / TEST_PROBS)
    decisions = predictor.decide(probs)
    target = submission_path(config)
    path = free_path(target)
    if path != target:
        print(f"Notice: {target} exists (an earlier submission is never overwritten): writing {path} instead")
    write_submission(make_submission(test, decisions), path, test_path, overwrite=False)
    counts = dict(zip(LABELS, map(int, decisions.sum(axis=0))))
    record = {"submission": str(path), "rows": len(test), "predicted_per_label": counts, "rule": predictor.choice.note}
    write_text(config.run_dir / INFERENCE_RECORD, json.dumps(record, indent=2, ensure_ascii=False))
    print(f"Checked submission of {len(test)} rows written to {path}")
    print("rows predicted per label:", counts)
    return path
