"""The one formula that blends probabilities in the kit (the weighted mean of members' (n, 7) probabilities), and how its
weights are learned from held-out rows."""
from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np

WEIGHT_STEP = 0.1  # the learned weights' grid spacing: coarse, so that a few thousand rows choose among few candidates
SINGLE_THRESHOLDS = np.round(np.arange(0.05, 0.951, 0.01), 2)  # the one threshold a candidate blend is scored at (fixed: notebook
# 03 learns the weights, so they must not depend on notebook 04's settings)


def weight_grid(count: int, step: float = WEIGHT_STEP) -> np.ndarray:
    """Every weight vector of `count` members on a grid of `step` that sums to 1, each member weighing more than 0."""
    units = round(1 / step)
    return np.array([w for w in itertools.product(range(1, units + 1), repeat=count) if sum(w) == units], dtype=float) / units


class Ensemble:
    """Members' weights (name -> share, summing to 1) and their blend: notebook 03's members, a run's predictor, a blend's runs."""

    def __init__(self, weights: Mapping[str, float]):
        self.weights = dict(weights)

    @classmethod
    def normalised(cls, weights: Mapping[str, float]) -> Ensemble:
        """Relative weights (e.g. the members' settings) scaled to sum to 1."""
        total = sum(weights.values())
        return cls({name: weight / total for name, weight in weights.items()})

    @classmethod
    def learned(cls, y: np.ndarray, probs: Mapping[str, np.ndarray]) -> Ensemble:
        """The weights on the grid (weight_grid) whose blend of the members' held-out `probs` scores the best weighted F1 at its
        best single threshold (SINGLE_THRESHOLDS, no-label rule 'top'); the first of equals. One member: weight 1."""
        from .decisions import search_global  # (here: the export's runtime imports this module without the settings stack)

        names = list(probs)
        candidates = weight_grid(len(names)) if len(names) > 1 else np.ones((1, 1))
        scores = [search_global(y, cls(dict(zip(names, weights))).combine(probs), SINGLE_THRESHOLDS, "top")[1].max()
                  for weights in candidates]
        return cls(dict(zip(names, candidates[int(np.argmax(scores))].tolist())))

    def combine(self, probs: Mapping[str, object]):
        """The weighted mean of each member's probabilities (arrays of one shape), in the weights' order."""
        missing = sorted(set(self.weights) - set(probs))
        if missing:
            raise ValueError(f"no probabilities of member(s) {missing} to blend; members: {list(self.weights)}")
        return sum(weight * probs[name] for name, weight in self.weights.items())
