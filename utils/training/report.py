"""What training leaves to read: metrics.json and the training curves (loss and valid F1 per epoch)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..core.files import write_text


def write_metrics(metrics: dict, path: str | Path) -> Path:
    return write_text(path, json.dumps(metrics, indent=2, ensure_ascii=False))


def plot_history(history: pd.DataFrame, title: str = "Training"):
    """Loss (train, valid) and valid F1 (weighted, macro) per epoch, side by side (k-fold or seed-averaged logs: the mean)."""
    import matplotlib.pyplot as plt

    parts = [column for column in ("fold", "seed") if column in history]  # k-fold and seed-averaged logs: the parts' mean
    if parts:
        history = history.drop(columns=parts).groupby("epoch", as_index=False).mean()
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
