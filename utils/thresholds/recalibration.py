"""Recalibration before thresholds: each label's probability re-estimated from the logits of all 7 labels.

One logistic regression per label on held-out probabilities learns how labels co-occur and exclude each other
(joy against neutral, anger with disgust) and corrects train's label shift; saved as plain numbers in JSON.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..core.splits import LABELS

EPSILON = 1e-6


def logits(probs: np.ndarray) -> np.ndarray:
    probs = np.clip(np.asarray(probs, dtype=float), EPSILON, 1 - EPSILON)
    return np.log(probs / (1 - probs))


@dataclass
class Recalibration:
    """probs -> sigmoid(logits(probs) @ coef.T + intercept), one row of `coef` per output label."""

    coef: list[list[float]]  # 7 outputs x 7 input logits
    intercept: list[float]

    @classmethod
    def fit(cls, y: np.ndarray, probs: np.ndarray, C: float = 1.0) -> Recalibration:
        """Fit the 7 regressions (L2 strength 1/C) on labels `y` and held-out probabilities `probs`."""
        from sklearn.linear_model import LogisticRegression

        features = logits(probs)
        coef, intercept = [], []
        for label in range(len(LABELS)):
            regression = LogisticRegression(C=C, max_iter=1000).fit(features, y[:, label])
            coef.append(regression.coef_[0].tolist())
            intercept.append(float(regression.intercept_[0]))
        return cls(coef, intercept)

    def apply(self, probs: np.ndarray) -> np.ndarray:
        """The recalibrated (n, 7) probabilities."""
        return 1.0 / (1.0 + np.exp(-(logits(probs) @ np.asarray(self.coef).T + np.asarray(self.intercept))))

    def as_dict(self) -> dict:
        return asdict(self)
