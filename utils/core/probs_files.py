"""Probability files (valid_probs_raw.csv, test_probs_raw.csv): `index` + one column per label, written and read back checked."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .files import write_csv
from .splits import LABELS

INDEX = "index"  # the row's position in the scored file (0-based, after dropped empty rows)


def probs_frame(probs: np.ndarray) -> pd.DataFrame:
    """`index` (row order of the scored file) + one probability column per label."""
    frame = pd.DataFrame(np.asarray(probs, dtype=float), columns=LABELS)
    frame.insert(0, INDEX, np.arange(len(frame)))
    return frame


def write_probs(probs: np.ndarray, path: str | Path) -> Path:
    """Write probabilities as CSV (`index` + LABELS), atomically."""
    return write_csv(probs_frame(probs), path)


def read_probs(path: str | Path, expected_rows: int | None = None) -> np.ndarray:
    """Read a probabilities CSV (the 7 label columns, values in [0, 1]); errors name file, row and column."""
    frame = pd.read_csv(path)
    missing = [label for label in LABELS if label not in frame.columns]
    if missing:
        raise ValueError(f"{path}, header row: missing probability column(s) {missing}")
    probs = frame[LABELS].to_numpy(dtype=float)
    bad = ~((probs >= 0) & (probs <= 1))
    if bad.any():
        row, column = map(int, np.argwhere(bad)[0])
        raise ValueError(f"{path}, row {row + 1}, column '{LABELS[column]}': expected a probability in [0, 1], got {probs[row, column]}")
    if expected_rows is not None and len(probs) != expected_rows:
        raise ValueError(f"{path}: {len(probs)} rows; expected {expected_rows} (one per valid row, in valid's order)")
    return probs
