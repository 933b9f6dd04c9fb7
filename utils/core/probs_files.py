"""Probability files (valid_probs_raw.csv, test_probs_raw.csv): `index` + one column per label, written and read back checked."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .files import UnreadableFileError, write_csv
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
    """Read a probabilities CSV (the 7 label columns, values in [0, 1]); errors name file, line and column."""
    try:
        frame = pd.read_csv(path, encoding="utf-8", skip_blank_lines=False)  # a blank line is a bad row: row k is line k + 2
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise UnreadableFileError(f"{path}: not a readable probabilities CSV ({str(error).strip()})") from None
    missing = [label for label in LABELS if label not in frame.columns]
    if missing:
        raise UnreadableFileError(f"{path}, header row: missing probability column(s) {missing}")
    probs = frame[LABELS].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    bad = ~((probs >= 0) & (probs <= 1))
    if bad.any():
        row, column = map(int, np.argwhere(bad)[0])
        raise UnreadableFileError(f"{path}, line {row + 2}, column '{LABELS[column]}': expected a probability in [0, 1], "
                                  f"got {frame[LABELS[column]].iloc[row]!r}")
    if expected_rows is not None and len(probs) != expected_rows:
        raise UnreadableFileError(f"{path}: {len(probs)} rows; expected {expected_rows} (one per valid row, in valid's order)")
    return probs
