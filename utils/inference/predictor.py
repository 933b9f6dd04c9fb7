"""Predicting with a finished run: the saved model(s) and thresholds -> probabilities, decisions, a submission."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.paths import LINEAR_DIR, MODEL_DIR, THRESHOLDS
from ..core.splits import LABELS
from ..thresholds.search import ThresholdChoice, load_thresholds
from ..training.checkpoint import load_models

FALLBACK = ThresholdChoice(mode="global", empty_rule="top", thresholds=dict.fromkeys(LABELS, 0.5), in_sample_f1=float("nan"),
                           cv_f1=float("nan"), table=[], note="no thresholds.json: 0.5 for every label, the top label for rows with none")


@dataclass
class Predictor:
    """A run's model(s) (the mean of the fold models, if k-fold) and its decision rule."""

    models: list
    choice: ThresholdChoice
    linear: object = None  # the TF-IDF member (utils.linear.TfidfClassifier), blended in with its saved weight

    @classmethod
    def from_run(cls, run_dir: str | Path, device: str = "cpu") -> Predictor:
        """Load runs/<name>/model/ and runs/<name>/thresholds.json (0.5 with a notice when it is missing)."""
        run_dir = Path(run_dir)
        thresholds = run_dir / THRESHOLDS
        if not thresholds.is_file():
            print(f"Notice: {thresholds} not found (notebook 04 not run): {FALLBACK.note}")
        linear = None
        if (run_dir / LINEAR_DIR).is_dir():
            from ..training.tfidf import (
                TfidfClassifier,  # scikit-learn: imported only when the run has a TF-IDF member
            )

            linear = TfidfClassifier.load(run_dir / LINEAR_DIR)
        choice = load_thresholds(thresholds) if thresholds.is_file() else FALLBACK
        return cls(load_models(run_dir / MODEL_DIR, device), choice, linear)

    def probs(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """(n, 7) probabilities in the input order: the models' mean, blended with the TF-IDF member if any, then
        recalibrated if the run's decision rule is."""
        from ..training.prediction import predict_probs

        probs = predict_probs(self.models, list(texts), batch_size, num_threads=0)  # all cores
        if self.linear is not None:
            weight = self.linear.config.weight
            probs = (1 - weight) * probs + weight * self.linear.probs(texts)
        return self.choice.recalibrated(probs)

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """(n, 7) 0/1 decisions for `probs` from `self.probs` (already recalibrated) under the run's thresholds and no-label rule."""
        return self.choice.apply(probs)
