"""The 95% prediction interval for the weighted F1 a run will score on its test file: the honest estimate widened by the
spread of the valid rows, of the test's own sampling, of the rule's choice and of the model's seed."""
from __future__ import annotations

import json
import math
from pathlib import Path

from .files import read_json
from .paths import REPO_ROOT
from .settings import ConfigError
from .settings_io import load_config
from .splits import SPLIT_FILES, read_split

Z = 1.96  # two-sided 95% of a normal
# The seed spread when no benchmark of the run's settings measured one: the standard deviation (n - 1) of the held-out test
# weighted F1 of the default run with seeds 42, 1 and 2 on the competition data (0.6378, 0.6299, 0.6311; issue 22).
SEED_SD = 0.0043
DEFAULT_SEED_SOURCE = "default: the default run's test F1 over seeds 42, 1, 2"
BENCHMARK_RESULTS = REPO_ROOT / "benchmarks" / "results.json"  # written by python -m utils.benchmark


def count_test_rows(data_dir: str | Path | None) -> int | None:
    """Rows of the data folder's test file; None when the folder or the file is not there."""
    path = Path(data_dir) / SPLIT_FILES["test"] if data_dir else None
    return len(read_split(path, test=True)) if path and path.is_file() else None


def seed_spread(settings: dict, results_path: Path = BENCHMARK_RESULTS) -> tuple[float, str]:
    """The seed spread of a run with these recorded settings ({section: values}; the seed left out): the `seed_sd` of the
    benchmark variant whose overrides give the same settings, at least SEED_SD (an sd over 3 seeds is rough: the true one
    may be twice it), else SEED_SD; and where the number comes from."""
    compared = {section: values for section, values in settings.items() if section != "seed"}
    for variant in read_json(results_path).get("variants", []) if compared else []:
        if variant.get("seed_sd") is None:
            continue
        try:
            made = json.loads(json.dumps(load_config(None, variant.get("overrides") or {}).model_dump()))
        except ConfigError:  # a variant of settings this version of the kit does not know
            continue
        if all(made.get(section) == values for section, values in compared.items()):
            measured, source = float(variant["seed_sd"]), f"benchmark variant '{variant.get('name')}' in {Path(results_path).name}"
            if measured < SEED_SD:
                return SEED_SD, f"{DEFAULT_SEED_SOURCE}, more than the {measured:.4f} over the seeds of {source}"
            return measured, source
    return SEED_SD, DEFAULT_SEED_SOURCE


def prediction_interval(estimate: float, sds: list[float]) -> list[float]:
    """estimate ± 1.96·sqrt(sum of the variances), clipped to [0, 1] and rounded to 4 digits.

    The sources of spread (the valid rows, the test's own sampling, the rule's choice, the seed) are taken as independent:
    their variances add."""
    half = Z * math.sqrt(sum(sd**2 for sd in sds))
    return [round(max(estimate - half, 0.0), 4), round(min(estimate + half, 1.0), 4)]


def predicted_test_f1(estimate: dict, data_dir: str | Path | None, settings: dict, results_path: Path = BENCHMARK_RESULTS
                     ) -> tuple[list[float] | None, dict | None]:
    """The prediction interval for one entry of estimate.json and its parts (each source's sd, the test's rows, where the
    seed sd comes from); (None, None) when the estimate, its spread or the test's size is unknown. An estimate.json written
    before the rule's choice was measured counts it as 0 (rule_choice_sd null)."""
    rows = estimate.get("test_rows") or count_test_rows(data_dir)
    valid_sd, test_sd = estimate.get("sd"), estimate.get("test_sd")
    if valid_sd is None and estimate.get("ci"):  # estimate.json written before the sd was kept: from its 95% interval's width
        valid_sd = (estimate["ci"][1] - estimate["ci"][0]) / (2 * Z)
    if test_sd is None and valid_sd is not None and rows and estimate.get("rows"):  # not resampled at the test's size:
        test_sd = valid_sd * math.sqrt(estimate["rows"] / rows)  # the row bootstrap's spread scaled to it (sd ~ 1/sqrt(rows))
    if estimate.get("weighted_f1") is None or test_sd is None or not rows:
        return None, None
    seed_sd, seed_from = seed_spread(settings, results_path)
    rule_sd = estimate.get("rule_sd")
    parts = {"valid_rows_sd": round(valid_sd, 5), "test_sampling_sd": round(test_sd, 5), "rule_choice_sd": rule_sd,
             "seed_sd": seed_sd, "seed_sd_from": seed_from, "test_rows": rows}
    return prediction_interval(estimate["weighted_f1"], [valid_sd, test_sd, rule_sd or 0.0, seed_sd]), parts
