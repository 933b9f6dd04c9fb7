"""`python -m utils.runs`: one row per run in runs/, from the runs' records and summaries, to compare them.

    python -m utils.runs [--runs-dir runs] [--sort cv_f1|date|name|seconds] [--csv FILE]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from ..core.files import OutputExistsError, UnreadableFileError, atomic_path, read_yaml
from ..core.paths import REPO_ROOT
from ..core.run_lock import lock_holder
from ..core.run_record import RECORD_FILE, flatten, read_record
from ..core.settings import RunConfig
from ..core.splits import LABELS
from ..core.summary import run_summary

SORTS = {"cv_f1": ("cv_f1", False), "date": ("date", False), "name": ("run", True), "seconds": ("seconds", True)}
UNCOMPARED = ("name", "data_dir", "runs_dir")  # settings that differ between runs without being choices


def changed_settings(run_dir: Path) -> str:
    """The settings of a run that differ from the kit's defaults, as key=value."""
    if not (run_dir / "params.yaml").is_file():
        return "(no params.yaml)"
    try:
        params = read_yaml(run_dir / "params.yaml")
    except UnreadableFileError:
        params = None
    if not isinstance(params, dict):
        return "(params.yaml unreadable)"
    defaults, chosen = flatten(RunConfig().model_dump()), flatten(params)
    return ", ".join(f"{key}={value}" for key, value in chosen.items() if key not in UNCOMPARED and defaults.get(key) != value)


def run_status(run_dir: Path, record: dict) -> str:
    """finished, failed (notebook), interrupted (notebook), running, or a run whose process is gone."""
    status = record.get("status") or "no record"
    failure = record.get("failure") or {}
    if status == "running" and lock_holder(run_dir) is None:
        return "stopped (its process is gone)"
    return f"{status} ({failure['notebook']})" if status in ("failed", "interrupted") and failure.get("notebook") else status


def run_row(run_dir: Path) -> dict:
    """One run's line: name, date, status, data, rows trained, the honest estimate and interval, per-label F1, time, settings."""
    record, summary = read_record(run_dir), run_summary(run_dir)
    ci = summary.get("cv_weighted_f1_ci") or (None, None)
    per_label = summary.get("per_label_f1") or {}
    return {
        "run": run_dir.name,
        "date": (record.get("pipeline") or {}).get("started") or min((s.get("started", "") for s in record.get("steps", {}).values()),
                                                                     default=""),
        "status": run_status(run_dir, record),
        "data": "sample" if summary.get("sample_data") else ("real" if summary.get("data_dir") else "?"),
        "data_dir": summary.get("data_dir"),
        "rows_trained": summary.get("rows_trained"),
        "cv_f1": summary.get("cv_weighted_f1"),
        "ci_low": ci[0],
        "ci_high": ci[1],
        **{label: per_label.get(label) for label in LABELS},
        "seconds": summary.get("seconds"),
        "settings": changed_settings(run_dir),
    }


def unreadable_row(run_dir: Path, error: UnreadableFileError) -> dict:
    """The line of a run whose record or summary cannot be read: its name, and that it is unreadable (printed in full)."""
    print(f"Warning: {error}", file=sys.stderr)
    return {"run": run_dir.name, "date": None, "status": f"unreadable {error.path.name if error.path else 'file'}", "cv_f1": None,
            "seconds": None}


def runs_table(runs_dir: Path, sort: str = "cv_f1") -> pd.DataFrame:
    """Every run folder under `runs_dir` (one level, and benchmark-style groups one level down) as a table; a run whose
    files cannot be read is listed as unreadable (and the reason printed)."""
    folders = sorted({path.parent for path in Path(runs_dir).glob(f"*/{RECORD_FILE}")} |
                     {path.parent for path in Path(runs_dir).glob(f"*/*/{RECORD_FILE}")})
    rows = []
    for folder in folders:
        try:
            rows.append(run_row(folder))
        except UnreadableFileError as error:
            rows.append(unreadable_row(folder, error))
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    column, ascending = SORTS[sort]
    return table.sort_values(column, ascending=ascending, na_position="last", kind="stable").reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0 the table was shown (or written), 2 bad arguments."""
    parser = argparse.ArgumentParser(prog="python -m utils.runs", description="A table of the runs in runs/ from their records.")
    parser.add_argument("--runs-dir", default=str(REPO_ROOT / "runs"), help="the folder of the runs (default: runs/)")
    parser.add_argument("--sort", choices=sorted(SORTS), default="cv_f1", help="cv_f1 and date: highest first (default cv_f1)")
    parser.add_argument("--csv", help="write the table to this CSV file (never over an existing one unless --force)")
    parser.add_argument("--force", action="store_true", help="replace an existing --csv file")
    args = parser.parse_args(argv)
    if not Path(args.runs_dir).is_dir():
        print(f"Error: {args.runs_dir}: no such folder of runs", file=sys.stderr)
        return 2
    table = runs_table(Path(args.runs_dir), args.sort)
    if table.empty:
        print(f"No runs with a record ({RECORD_FILE}) in {args.runs_dir}")
        return 0
    if args.csv:
        try:
            with atomic_path(args.csv, overwrite=args.force) as tmp:
                table.to_csv(tmp, index=False)
        except OutputExistsError:
            print(f"Error: {args.csv} already exists: choose another --csv, or pass --force to replace it", file=sys.stderr)
            return 2
        print(f"{len(table)} run(s) written to {args.csv}")
        return 0
    with pd.option_context("display.max_columns", None, "display.width", 250, "display.max_colwidth", 60):
        print(table.drop(columns=["data_dir"], errors="ignore").to_string(index=False, float_format=lambda value: f"{value:.4f}"))
    return 0
