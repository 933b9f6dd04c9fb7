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
