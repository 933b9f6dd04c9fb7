"""Notebook 04 as one call: choose the rule on valid_probs_raw.csv, write thresholds.json and thresholds.png."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.figures import save_figure
from ..core.files import write_text
from ..core.paths import THRESHOLDS, VALID_PROBS
from ..core.probs_files import read_probs
from ..core.settings import ThresholdConfig
from .curves import plot_threshold_curves
from .search import ThresholdChoice, choose_thresholds


def tune_thresholds(run_dir: str | Path, y: np.ndarray, config: ThresholdConfig, seed: int = 0) -> ThresholdChoice:
    """Choose thresholds on run_dir/valid_probs_raw.csv; write thresholds.json and thresholds.png; print the table."""
    run_dir = Path(run_dir)
    probs = read_probs(run_dir / VALID_PROBS, expected_rows=len(y))
    choice = choose_thresholds(y, probs, config, seed)
    write_text(run_dir / THRESHOLDS, json.dumps(choice.as_dict(), indent=2, ensure_ascii=False))
    save_figure(plot_threshold_curves(y, choice.recalibrated(probs), choice, config), run_dir / "thresholds.png")
    print(pd.DataFrame(choice.table).round(4).to_string(index=False))
    print(choice.note)
    return choice
