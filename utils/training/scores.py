"""Scoring probabilities against labels: weighted and macro F1, per-label scores, the best single threshold."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, precision_recall_fscore_support

from ..core.decisions import grid, search_global
from ..core.settings import ThresholdConfig
from ..core.splits import LABELS


def weighted_and_macro_f1(y: np.ndarray, probs: np.ndarray, threshold: float = 0.5) -> tuple[float, float]:
    """Weighted and macro F1 of the decisions `probs >= threshold`."""
    decisions = (probs >= threshold).astype(int)
    return (float(f1_score(y, decisions, average="weighted", zero_division=0)),
            float(f1_score(y, decisions, average="macro", zero_division=0)))


def best_single_threshold(y: np.ndarray, probs: np.ndarray) -> tuple[float, float]:
    """The one threshold for all labels with the highest weighted F1 (in-sample), and that F1."""
    thresholds, scores = search_global(np.asarray(y), np.asarray(probs), grid(ThresholdConfig()), "none")
    return float(thresholds[0]), float(scores.max())


def score_probs(y: np.ndarray, probs: np.ndarray, threshold: float = 0.5) -> dict:
    """Weighted/macro F1 and per-label F1, precision, recall at `threshold`, plus the best single threshold's F1."""
    y = np.asarray(y)
    weighted, macro = weighted_and_macro_f1(y, probs, threshold)
    precision, recall, f1, support = precision_recall_fscore_support(y, (probs >= threshold).astype(int), zero_division=0)
    best_threshold, best_f1 = best_single_threshold(y, probs)
    return {
        "rows": len(y),
        "threshold": threshold,
        "weighted_f1": weighted,
        "macro_f1": macro,
        "best_single_threshold": best_threshold,
        "weighted_f1_at_best_single_threshold": best_f1,
        "per_label": {label: {"f1": float(f1[j]), "precision": float(precision[j]), "recall": float(recall[j]),
                              "support": int(support[j])} for j, label in enumerate(LABELS)},
    }


def per_label_table(metrics: dict) -> pd.DataFrame:
    """metrics.json's per-label scores as a table (labels as rows), with the weighted and macro rows added."""
    table = pd.DataFrame(metrics["per_label"]).T
    table.loc["weighted F1"] = [metrics["weighted_f1"], np.nan, np.nan, table["support"].sum()]
    table.loc["macro F1"] = [metrics["macro_f1"], np.nan, np.nan, table["support"].sum()]
    return table.astype({"support": int}).round(4)
