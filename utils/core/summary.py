"""runs/<name>/summary.json: the run in one file, read by people, the runs table and the pipeline's last lines."""
from __future__ import annotations

import json
from pathlib import Path

from .files import read_json, write_text
from .paths import ESTIMATE, METRICS, SUMMARY
from .prediction_interval import BENCHMARK_RESULTS, predicted_test_f1
from .run_record import read_record, rebuild_hint

DESCRIPTIONS = {  # what each estimate scores: the held-out valid rows as the model saw them, or written with ASR noise
    "clean": "nested cross-validation, held-out valid rows as written (then normalised like the test)",
    "asr_noise": "nested cross-validation, held-out valid rows written with speech-recognition noise (slips, merged words)",
}
HEADLINE = ("asr_noise", "clean")  # the run's number: the noisy held-out rows when scored (the lower, more cautious estimate)


def run_summary(run_dir: Path, benchmark_results: Path = BENCHMARK_RESULTS) -> dict:
    """The honest estimate (cv_weighted_f1, its interval over the valid rows, per-label F1), what it measures, the 95%
    prediction interval for the test score and its parts (the seed's spread from `benchmark_results` when it measured these
    settings), the other estimates, the data, rows trained, seconds per notebook and the run's status."""
    record, estimates = read_record(run_dir), read_json(Path(run_dir) / ESTIMATE, rebuild_hint(Path(run_dir) / ESTIMATE))
    headline = next((name for name in HEADLINE if name in estimates), None)
    chosen = estimates.get(headline, {})
    steps = record.get("steps", {})
    seconds = {name: step.get("seconds") for name, step in steps.items()}
    settings = {section: values for step in record.get("steps", {}).values() for section, values in step.get("settings", {}).items()}
    interval, parts = predicted_test_f1(chosen, record.get("data_dir"), settings, benchmark_results)
    return {
        "run": record.get("run", Path(run_dir).name),
        "status": record.get("status"),
        "cv_weighted_f1": chosen.get("weighted_f1"),
        "cv_weighted_f1_ci": chosen.get("ci"),
        "test_f1_interval": interval,
        "test_f1_interval_parts": parts,
        "per_label_f1": chosen.get("per_label_f1"),
        "estimate": headline,
        "estimates": {name: {key: value[key] for key in ("weighted_f1", "ci")} for name, value in estimates.items()},
        "data_dir": record.get("data_dir"),
        "sample_data": record.get("sample_data"),
        "members": next(({name: {key: member.get(key) for key in ("kind", "weight")} for name, member in step["members"].items()}
                         for step in steps.values() if "members" in step), None),
        "member_weights": settings.get("train", {}).get("member_weights"),
        "rows_trained": read_json(Path(run_dir) / METRICS, rebuild_hint(Path(run_dir) / METRICS)).get("train_rows"),
        "seconds_per_notebook": seconds,
        "seconds": round(sum(value or 0 for value in seconds.values()), 1),
        "submission": record.get("submission") or next((step["submission"] for step in steps.values() if "submission" in step), None),
    }


def write_run_summary(run_dir: str | Path, benchmark_results: Path = BENCHMARK_RESULTS) -> dict:
    """Write runs/<name>/summary.json from the run's record and estimate; returns it."""
    summary = run_summary(Path(run_dir), benchmark_results)
    write_text(Path(run_dir) / SUMMARY, json.dumps(summary, indent=2, ensure_ascii=False))
    return summary


def estimate_lines(summary: dict) -> list[str]:
    """The honest estimate in words: the run's number with its interval over the valid rows and what it measures, the
    prediction interval for the test score and what widens it, then the other estimates."""
    if summary.get("cv_weighted_f1") is None:
        return ["honest estimate of weighted F1: not available (notebook 04 writes it)"]
    low, high = summary["cv_weighted_f1_ci"]
    lines = [f"honest estimate of weighted F1: {summary['cv_weighted_f1']:.4f} (95% interval over valid rows {low:.4f}-{high:.4f}): "
             f"{DESCRIPTIONS[summary['estimate']]}"]
    if summary.get("test_f1_interval"):
        (low, high), parts = summary["test_f1_interval"], summary["test_f1_interval_parts"]
        rule_sd = parts.get("rule_choice_sd")  # None: an estimate.json written before it was measured, counted as 0
        rule_choice = "not measured (0)" if rule_sd is None else f"{rule_sd:.4f}"
        lines.append(f"  on a test of {parts['test_rows']:,} rows expect {low:.4f}-{high:.4f} (95% prediction interval; standard "
                     f"deviations: valid rows {parts['valid_rows_sd']:.4f}, the test's own sampling {parts['test_sampling_sd']:.4f}, "
                     f"the rule's choice {rule_choice}, seed {parts['seed_sd']:.4f} from {parts['seed_sd_from']})")
    lines += [f"  also: {values['weighted_f1']:.4f} ({values['ci'][0]:.4f}-{values['ci'][1]:.4f}), {DESCRIPTIONS[name]}"
              for name, values in summary["estimates"].items() if name != summary["estimate"]]
    return lines
