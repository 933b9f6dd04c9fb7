"""The one formula that blends probabilities in the kit: the weighted mean of members' (n, 7) probabilities."""
from __future__ import annotations

from collections.abc import Mapping


class Ensemble:
    """Members' weights (name -> share, summing to 1) and their blend: notebook 03's members, a run's predictor, a blend's runs."""

    def __init__(self, weights: Mapping[str, float]):
        self.weights = dict(weights)

    @classmethod
    def normalised(cls, weights: Mapping[str, float]) -> Ensemble:
        """Relative weights (e.g. the members' settings) scaled to sum to 1."""
        total = sum(weights.values())
        return cls({name: weight / total for name, weight in weights.items()})

    def combine(self, probs: Mapping[str, object]):
        """The weighted mean of each member's probabilities (arrays of one shape), in the weights' order."""
        missing = sorted(set(self.weights) - set(probs))
        if missing:
            raise ValueError(f"no probabilities of member(s) {missing} to blend; members: {list(self.weights)}")
        return sum(weight * probs[name] for name, weight in self.weights.items())
