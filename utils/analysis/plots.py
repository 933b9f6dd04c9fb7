"""Figures of notebook 06: each function takes a table from utils.analysis and returns a figure."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from ..core.figures import label_bars
from ..core.splits import LABELS


def plot_label_errors(per_label: pd.DataFrame):
    """Per label (from per_label_errors): true positives, false positives and false negatives; precision, recall and F1."""
    labels = per_label[per_label["label"].isin(LABELS)]
    weighted = per_label.set_index("label").loc["weighted"]
    figure, (counts, scores) = plt.subplots(1, 2, figsize=(15, 4.8))
    kinds = {"true_pos": "true positive", "false_pos": "false positive", "false_neg": "false negative"}
    long = labels.melt(id_vars="label", value_vars=list(kinds), var_name="kind", value_name="count").replace({"kind": kinds})
    sns.barplot(long, x="label", y="count", hue="kind", palette=["tab:green", "tab:red", "tab:orange"], ax=counts)
    for bars in counts.containers:
        counts.bar_label(bars, fontsize=8, padding=1)
    counts.set(title="Decisions per label on out-of-fold valid", xlabel="label", ylabel="rows")
    long = labels.melt(id_vars="label", value_vars=["precision", "recall", "f1"], var_name="score", value_name="value")
    sns.barplot(long, x="label", y="value", hue="score", palette=["tab:blue", "tab:purple", "black"], ax=scores)
    scores.axhline(weighted["f1"], color="black", linestyle="--", linewidth=1, label=f"weighted F1 {weighted['f1']:.3f}")
    scores.set(title="Precision, recall, F1 per label (rule tuned on these rows: optimistic)", xlabel="label", ylabel="score",
               ylim=(0, 1.2))
    scores.legend(fontsize=9, ncol=4, loc="upper center")
    figure.tight_layout()
    return figure


def plot_mistaken_for(table: pd.DataFrame):
    """Heatmap of mistaken_for: for each missed true label, the labels predicted there instead."""
    figure, axis = plt.subplots(figsize=(9, 5.5))
    sns.heatmap(table.set_index("missed"), annot=True, fmt="d", cmap="Reds", cbar=False, linewidths=0.5, ax=axis)
    axis.set(title="Missed labels and what was predicted instead\n(rows: the true label not predicted; (none): no wrong label)",
             xlabel="predicted instead (not a true label of the row)", ylabel="true label, missed")
    axis.tick_params(axis="x", rotation=30)
    return figure


def plot_f1_by_group(by_group: pd.DataFrame):
    """Weighted F1 per group of each grouping (from f1_by_group), rows per group on the bars, the F1 of all rows dashed."""
    overall_f1 = by_group.loc[by_group["grouping"] == "all", "weighted_f1"].item()
    groupings = [grouping for grouping in dict.fromkeys(by_group["grouping"]) if grouping != "all"]
    figure, axes = plt.subplots(1, len(groupings), figsize=(4.2 * len(groupings), 4.5), sharey=True, squeeze=False)
    for axis, grouping in zip(axes[0], groupings):
        rows = by_group[by_group["grouping"] == grouping]
        bars = axis.bar(rows["group"].astype(str), rows["weighted_f1"], color="tab:blue")
        axis.bar_label(bars, labels=[f"{f1:.3f}\n{n:,} rows" for f1, n in zip(rows["weighted_f1"], rows["rows"])], label_type="center",
                       color="white", fontsize=9)
        axis.axhline(overall_f1, color="black", linestyle="--", linewidth=1)
        axis.set(title=f"by {grouping}", xlabel="group of valid rows", ylim=(0, 1))
        axis.tick_params(axis="x", rotation=20, labelsize=9)
    axes[0][0].set_ylabel("weighted F1 on valid")
    figure.suptitle(f"Weighted F1 by kind of text (dashed: all valid rows, {overall_f1:.3f})", fontsize=13)
    figure.tight_layout()
    return figure


def plot_word_weights(weights: pd.DataFrame):
    """One horizontal bar chart per label of the terms with the largest TF-IDF coefficients (from word_weights)."""
    return label_bars(weights, "term", "weight", "coefficient (mean over the folds)", "Terms that push each label up in the TF-IDF member")
