"""Scoring probabilities against labels and writing notebook 03's products: valid_probs.csv, metrics.json, curves."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, precision_recall_fscore_support

from .config import ThresholdConfig
from .data import LABELS
from .files import write_csv, write_text
from .thresholds import grid, search_global

INDEX = "index"  # the valid row's position in valid.csv (0-based, after dropped empty rows)


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
        "rows": int(len(y)),
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


def probs_frame(probs: np.ndarray) -> pd.DataFrame:
    """`index` (row order of the scored file) + one probability column per label."""
    frame = pd.DataFrame(np.asarray(probs, dtype=float), columns=LABELS)
    frame.insert(0, INDEX, np.arange(len(frame)))
    return frame


def write_probs(probs: np.ndarray, path: str | Path) -> Path:
    """Write probabilities as CSV (`index` + LABELS), atomically."""
    return write_csv(probs_frame(probs), path)


def write_metrics(metrics: dict, path: str | Path) -> Path:
    return write_text(path, json.dumps(metrics, indent=2, ensure_ascii=False))


def plot_history(history: pd.DataFrame, title: str = "Training"):
    """Loss (train, valid) and valid F1 (weighted, macro) per epoch, side by side (k-fold logs: the folds' mean)."""
    import matplotlib.pyplot as plt

    if "fold" in history:
        history = history.drop(columns="fold").groupby("epoch", as_index=False).mean()
    figure, (losses, scores) = plt.subplots(1, 2, figsize=(11, 4))
    for column, name in (("train_loss", "train"), ("valid_loss", "valid")):
        losses.plot(history["epoch"], history[column], "o-", label=name)
    for column, name in (("valid_f1_weighted", "weighted F1"), ("valid_f1_macro", "macro F1")):
        scores.plot(history["epoch"], history[column], "o-", label=name)
    losses.set(xlabel="epoch", ylabel="loss (as trained: train.loss, train.pos_weight)", title=f"{title}: loss")
    scores.set(xlabel="epoch", ylabel="valid F1 at threshold 0.5", title=f"{title}: valid F1")
    for axis in (losses, scores):
        axis.legend()
        axis.grid(alpha=0.3)
        axis.xaxis.get_major_locator().set_params(integer=True)
    return figure
