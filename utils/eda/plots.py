"""Figures of the exploratory notebook: each function takes a table from utils.eda and returns a figure."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import PercentFormatter

from ..core.figures import label_bars, save_figure
from ..core.splits import LABELS
from .statistics import conditional_cooccurrence, cooccurrence, label_cardinality


def save_and_show(figure, path: str | Path) -> None:
    """Save the figure as PNG, show it inline (in a notebook), then close it."""
    save_figure(figure, path)
    plt.show()
    plt.close(figure)


def plot_alphabet(by_class: pd.DataFrame):
    """Share of all characters per character class and split (from alphabet_by_class), log scale."""
    figure, axis = plt.subplots(figsize=(12, 4.5))
    by_class["share"].plot.bar(ax=axis, logy=True, rot=30, width=0.8)
    axis.set(
        title="Characters by class per split (a missing bar: the class never occurs in that split)",
        xlabel="character class",
        ylabel="share of all characters (log)",
    )
    axis.legend(title="split")
    return figure


def plot_histogram(counts: pd.DataFrame):
    """Rows per label in each labelled split (from label_counts): counts on the left, shares on the right."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(16, 5))
    sns.barplot(counts, x="label", y="count", hue="split", order=LABELS, ax=left)
    for bars in left.containers:
        left.bar_label(bars, fontsize=7, rotation=90, padding=2)
    left.margins(y=0.15)
    left.set(title="Rows per label", xlabel="label", ylabel="rows")
    sns.barplot(counts, x="label", y="share", hue="split", order=LABELS, ax=right)
    right.yaxis.set_major_formatter(PercentFormatter(1))
    right.set(title="Share of the split's rows carrying the label", xlabel="label", ylabel="share of rows")
    return figure


def plot_combined_emotions(frame: pd.DataFrame, split: str):
    """Label co-occurrence of one split as heatmaps (counts, conditional shares) and the labels-per-row distribution."""
    counts = cooccurrence(frame)
    figure, (left, middle, right) = plt.subplots(1, 3, figsize=(20, 6), gridspec_kw={"width_ratios": [1, 1, 0.6]})
    off_diagonal = counts.to_numpy()[~np.eye(len(counts), dtype=bool)]
    sns.heatmap(counts, annot=True, fmt="d", cmap="Blues", cbar=False, vmax=max(off_diagonal.max(), 1), ax=left)
    left.set(title="Rows carrying both labels (diagonal: the label's rows)", xlabel="label", ylabel="label")
    sns.heatmap(conditional_cooccurrence(counts), annot=True, fmt=".0%", cmap="Oranges", cbar=False, ax=middle)
    middle.set(title="Share of the row label's rows that also carry the column label", xlabel="also carries", ylabel="label")
    cardinality = label_cardinality(frame)
    bars = right.bar(cardinality.index, cardinality.to_numpy(), color="tab:green")
    right.bar_label(bars, labels=[f"{n:,}\n{n / max(len(frame), 1):.1%}" for n in cardinality], fontsize=9)
    right.margins(y=0.2)
    right.set(title="Labels per row", xlabel="number of labels", ylabel="rows")
    figure.suptitle(f"Label co-occurrence in {split} ({len(frame):,} rows)", fontsize=14)
    return figure


def plot_lengths(lengths: pd.DataFrame, quantile: float):
    """Distributions of characters and words per text for each split (from text_lengths), up to a quantile."""
    figure, axes = plt.subplots(1, 2, figsize=(16, 4.5))
    for axis, column, unit in zip(axes, ["chars", "words"], ["characters of the raw text", "words after normalisation"]):
        limit = lengths[column].quantile(quantile)
        shown = lengths[lengths[column] <= limit]
        sns.histplot(shown, x=column, hue="split", stat="percent", common_norm=False, element="step", fill=False,
                     discrete=column == "words", bins=40, ax=axis)
        axis.set(title=f"Text length in {unit} (up to the {quantile:.0%} quantile, {limit:.0f})", xlabel=unit,
                 ylabel="% of the split's rows")
    return figure


def plot_lengths_by_label(by_label: pd.DataFrame):
    """Box plots of characters and words per label and labelled split (from lengths_by_label), outliers hidden."""
    figure, axes = plt.subplots(1, 2, figsize=(16, 4.5))
    for axis, column, unit in zip(axes, ["chars", "words"], ["characters", "words"]):
        sns.boxplot(by_label, x="label", y=column, hue="split", order=LABELS, showfliers=False, ax=axis)
        axis.set(title=f"Text length in {unit} per label (outliers hidden)", xlabel="label", ylabel=unit)
    axes[0].get_legend().remove()
    sns.move_legend(axes[1], "upper left", bbox_to_anchor=(1.01, 1), title="split")
    return figure


def plot_top_words(words: pd.DataFrame, split: str):
    """One horizontal bar chart of the most frequent words per label (from top_words)."""
    return label_bars(words, "word", "count", "occurrences",
                      f"Most frequent words per label in {split} (after normalisation, common words left out)")
