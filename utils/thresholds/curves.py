"""The figure of notebook 04: each label's F1 against its threshold, the chosen thresholds marked."""
from __future__ import annotations

import numpy as np

from ..core.decisions import grid, search_global
from ..core.settings import ThresholdConfig
from ..core.splits import LABELS
from .search import ThresholdChoice, rule_name


def plot_threshold_curves(y: np.ndarray, probs: np.ndarray, choice: ThresholdChoice, config: ThresholdConfig):
    """F1 of each label against its threshold on `probs` (recalibrated if the choice is), chosen thresholds marked."""
    import matplotlib.pyplot as plt

    candidates = grid(config)
    y = np.asarray(y, dtype=bool)
    figure, axis = plt.subplots(figsize=(9, 5.5))
    for label, name in enumerate(LABELS):
        decisions = probs[None, :, label] >= candidates[:, None]
        true_positive = (decisions & y[:, label]).sum(axis=1)
        f1 = 2 * true_positive / np.maximum(decisions.sum(axis=1) + y[:, label].sum(), 1)
        line, = axis.plot(candidates, f1, label=name)
        chosen = choice.thresholds[name]
        axis.plot([chosen], [f1[np.abs(candidates - chosen).argmin()]], "o", color=line.get_color(), markersize=8)
    _, global_scores = search_global(y.astype(np.int64), probs, candidates, "none")
    axis.plot(candidates, global_scores, "k--", linewidth=2, label="weighted F1 (one threshold for all)")
    axis.set(xlabel="threshold", ylabel="F1 on held-out rows", ylim=(0, 1),
             title=f"F1 against threshold per label ({rule_name(choice.mode, bool(choice.recalibration))}, chosen points marked)")
    axis.legend(loc="lower left", fontsize=9, ncol=2)
    axis.grid(alpha=0.3)
    return figure
