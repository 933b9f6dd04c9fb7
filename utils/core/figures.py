"""Saving figures: PNG files with readable text and Cyrillic glyphs, shown inline in notebooks."""
from __future__ import annotations

from pathlib import Path

import matplotlib

from .files import atomic_path

matplotlib.rcParams.update({"font.family": "DejaVu Sans", "font.size": 11, "figure.dpi": 100, "savefig.bbox": "tight"})


def save_figure(figure, path: str | Path, dpi: int = 120) -> Path:
    """Write a matplotlib figure to `path` as PNG, atomically; return the path."""
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi)
    return Path(path)


def label_bars(table, term: str, value: str, xlabel: str, title: str):
    """One horizontal bar chart per label (2 x 4 panels) of a table's `term` column against its `value` column."""
    import matplotlib.pyplot as plt

    from .splits import LABELS

    figure, axes = plt.subplots(2, 4, figsize=(18, 9))
    for axis, label in zip(axes.flat, LABELS):
        rows = table[table["label"] == label]
        axis.barh(rows[term], rows[value], color="tab:blue")
        axis.invert_yaxis()
        axis.set(title=label, xlabel=xlabel)
    for axis in axes[:, 0]:
        axis.set_ylabel(term)
    axes.flat[-1].axis("off")
    figure.suptitle(title, fontsize=14)
    figure.tight_layout()
    return figure
