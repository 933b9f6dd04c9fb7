"""Notebook 04 as two calls: choose the rule on valid_probs_raw.csv (thresholds.json, thresholds.png), then estimate
honestly what the whole choice scores on rows it never saw (estimate.json)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.ensemble import Ensemble
from ..core.figures import save_figure
from ..core.files import write_text
from ..core.paths import ESTIMATE, MEMBER_PROBS_DIR, NOISY, THRESHOLDS, VALID_NOISY_PROBS, VALID_PROBS
from ..core.prediction_interval import count_test_rows
from ..core.probs_files import read_probs
from ..core.progress import headline
from ..core.run_record import read_record
from ..core.settings import ThresholdConfig
from ..core.summary import DESCRIPTIONS
from ..training.contract import TRAINING
from .curves import plot_threshold_curves
from .estimate import CONFIDENCE, Estimate, nested_estimates
from .search import ThresholdChoice, choose_thresholds, rule_name


def tune_thresholds(run_dir: str | Path, y: np.ndarray, config: ThresholdConfig, seed: int = 0) -> ThresholdChoice:
    """Choose the rule on run_dir/valid_probs_raw.csv; write thresholds.json and thresholds.png; print the table."""
    run_dir = Path(run_dir)
    probs = read_probs(run_dir / VALID_PROBS, expected_rows=len(y))
    choice = choose_thresholds(y, probs, config, seed)
    write_text(run_dir / THRESHOLDS, json.dumps(choice.as_dict(), indent=2, ensure_ascii=False))
    save_figure(plot_threshold_curves(y, choice.recalibrated(probs), choice, config), run_dir / "thresholds.png")
    print(pd.DataFrame(choice.table).round(4).to_string(index=False))
    headline(f"Chosen: {rule_name(choice.mode, choice.recalibration is not None)}, no-label rule '{choice.empty_rule}', "
             f"cross-validated weighted F1 {choice.cv_f1:.4f}")
    print(choice.note)
    return choice


def held_out_versions(run_dir: Path, rows: int) -> tuple[dict, Ensemble | None]:
    """The held-out probabilities the estimate decides (clean, and with ASR noise when notebook 03 scored such rows): each
    member's when notebook 03 wrote them, with the weights it blended them with (None: train.member_weights learned, so
    learned again in each outer fold); else the blended files."""
    training = read_record(run_dir).get("steps", {}).get(TRAINING, {})
    members, folder = training.get("members", {}), run_dir / MEMBER_PROBS_DIR
    if members and all((folder / f"{name}.csv").is_file() for name in members):
        versions = {"clean": {name: read_probs(folder / f"{name}.csv", expected_rows=rows) for name in members}}
        if all((folder / f"{name}.{NOISY}.csv").is_file() for name in members):
            versions["asr_noise"] = {name: read_probs(folder / f"{name}.{NOISY}.csv", expected_rows=rows) for name in members}
        learned = training.get("settings", {}).get("train", {}).get("member_weights") == "learned"
        return versions, None if learned else Ensemble({name: member["weight"] for name, member in members.items()})
    versions = {"clean": read_probs(run_dir / VALID_PROBS, expected_rows=rows)}
    if (run_dir / VALID_NOISY_PROBS).is_file():
        versions["asr_noise"] = read_probs(run_dir / VALID_NOISY_PROBS, expected_rows=rows)
    return versions, None


def estimate_run(run_dir: str | Path, y: np.ndarray, config: ThresholdConfig, seed: int = 0) -> dict[str, Estimate]:
    """The honest estimate of the run's F1 on held-out rows (clean, and with ASR noise when notebook 03 scored such rows),
    the members' weights and the rule chosen again inside each outer fold, with its spread on a test the size of the run's
    test file; written to estimate.json and printed."""
    run_dir = Path(run_dir)
    versions, fixed = held_out_versions(run_dir, len(y))
    estimates = nested_estimates(y, versions, "clean", config, seed, count_test_rows(read_record(run_dir).get("data_dir")), fixed)
    write_text(run_dir / ESTIMATE, json.dumps({name: estimate.as_dict() for name, estimate in estimates.items()}, indent=2))
    for name, estimate in estimates.items():
        headline(f"{DESCRIPTIONS[name]}: weighted F1 {estimate.weighted_f1:.4f} "
              f"({CONFIDENCE:.0%} interval {estimate.ci[0]:.4f}-{estimate.ci[1]:.4f}, {estimate.rows} rows)")
    print("Chosen in the outer folds:", "; ".join(dict.fromkeys(next(iter(estimates.values())).rules)))
    return estimates
