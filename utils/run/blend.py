"""`python -m utils.blend --run NAME RUN_A RUN_B [...]`: a weighted mean of finished runs' probabilities, its weights and
decision rule chosen on their out-of-fold valid probabilities and estimated honestly, as a run of its own.

The weights (a grid over the simplex: utils.core.ensemble.Ensemble.learned, as for a run's members) are chosen by the best
single threshold's weighted F1 of the blend, then notebook 04's whole choice of the rule runs on the blend; the honest estimate
repeats both inside each outer fold of valid.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.data_dir import is_sample
from ..core.ensemble import Ensemble
from ..core.errors import KitError
from ..core.files import write_text
from ..core.paths import ESTIMATE, REPO_ROOT, TEST_PROBS, THRESHOLDS, VALID_NOISY_PROBS, VALID_PROBS
from ..core.prediction_interval import count_test_rows
from ..core.probs_files import read_probs, write_probs
from ..core.run_record import RECORD_FILE, content_hash, read_record, step_problems, timestamp, update_record
from ..core.settings import RunConfig, ThresholdConfig, check_run_name
from ..core.splits import SPLIT_FILES, label_matrix, read_split
from ..core.summary import estimate_lines, write_run_summary
from ..inference.contract import INFERENCE
from ..inference.notebook import free_path, submission_path
from ..inference.submission import make_submission, write_submission
from ..thresholds.estimate import Estimate, nested_estimates, weights_text
from ..thresholds.search import choose_thresholds, rule_name
from ..training.contract import TRAINING


class BlendError(KitError, ValueError):
    """Runs that cannot be blended; the message names the run and the difference."""


@dataclass
class Member:
    """A finished run as a blend member: its held-out valid probabilities and its test probabilities (both raw)."""

    name: str
    run_dir: Path
    valid: np.ndarray
    test: np.ndarray
    noisy: np.ndarray | None  # the held-out rows written with ASR noise, when its notebook 03 scored them
    out_of_fold: bool  # False: one model selected on valid (train.folds 0), so its valid probabilities flatter it
    data: dict  # content hashes of the valid and test files it was made from


def load_member(run_dir: Path) -> Member:
    """A finished run's probabilities and what they were made from; refuses a run that does not exist, is not finished, or
    whose products (valid and test probabilities) are not all fresh by its record, as a notebook would."""
    if not run_dir.is_dir():
        runs = sorted(path.parent.name for path in run_dir.parent.glob(f"*/{RECORD_FILE}"))
        raise BlendError(f"{run_dir}: no such run (runs in {run_dir.parent}: {runs})")
    record = read_record(run_dir)
    steps = record.get("steps", {})
    missing = [name for name in (TRAINING, INFERENCE) if steps.get(name, {}).get("status") != "done"]
    if not record or missing:
        raise BlendError(f"{run_dir}: not a finished run (notebook(s) {missing or 'all'} not done according to its {RECORD_FILE})")
    config = RunConfig(name=run_dir.name, runs_dir=str(run_dir.resolve().parent), data_dir=record.get("data_dir"))
    problems = step_problems(config, INFERENCE, record, check_settings=False, check_data=False)  # 05 and everything upstream
    if problems:
        first = min(re.findall(r"\b(\d\d)_[a-z_]+", " ".join(problems)), default="01")
        raise BlendError(f"{run_dir}: its products do not belong together, so it is not blended: {'; '.join(problems)}. "
                         f"Re-run it from {first}: python -m utils.pipeline --run {run_dir.name} --from {first}")
    data = {"valid": steps[TRAINING]["inputs"].get(f"data/{SPLIT_FILES['valid']}"),
            "test": steps[INFERENCE]["inputs"].get(f"data/{SPLIT_FILES['test']}")}
    noisy = read_probs(run_dir / VALID_NOISY_PROBS) if (run_dir / VALID_NOISY_PROBS).is_file() else None
    return Member(run_dir.name, run_dir, read_probs(run_dir / VALID_PROBS), read_probs(run_dir / TEST_PROBS), noisy,
                  steps[TRAINING]["settings"]["train"]["folds"] > 0, data)


def check_same_data(members: list[Member]) -> None:
    """Refuse runs made from different valid or test files, naming the run and the file."""
    first = members[0]
    for member in members[1:]:
        for split in ("valid", "test"):
            if member.data[split] != first.data[split]:
                raise BlendError(f"run '{member.name}' was made from another {split} file than run '{first.name}' (content "
                                 f"hashes {member.data[split][:12]}... and {first.data[split][:12]}...): blend runs of the same data")


def nested_blend_estimates(y: np.ndarray, members: list[Member], config: ThresholdConfig, seed: int, test_rows: int | None = None
                           ) -> dict[str, Estimate]:
    """Weights and rule chosen on the other outer folds, each held-out fold decided by them (clean, and with ASR noise
    when every member scored such rows)."""
    versions = {"clean": {m.name: m.valid for m in members}}
    if all(m.noisy is not None for m in members):
        versions["asr_noise"] = {m.name: m.noisy for m in members}
    return nested_estimates(y, versions, "clean", config, seed, test_rows)


def blend_runs(name: str, run_dirs: list[Path], runs_dir: Path, config: ThresholdConfig | None = None, seed: int = 42) -> Path:
    """Blend finished runs into runs_dir/NAME (probabilities, thresholds.json, estimate.json, manifest.json, summary.json)
    and a checked submissions/NAME.csv; returns the submission's path."""
    config = config or ThresholdConfig()
    target = runs_dir / check_run_name(name)
    if target.exists():
        raise BlendError(f"{target} already exists: choose another --run name")
    members = [load_member(Path(run_dir)) for run_dir in run_dirs]
    if len({m.name for m in members}) < 2:
        raise BlendError("a blend needs at least two different runs")
    check_same_data(members)
    for member in members:
        if not member.out_of_fold:
            print(f"Caveat: run '{member.name}' trained one model and kept its best epoch on valid (train.folds 0): its valid "
                  "probabilities are not out-of-fold, so they flatter it, and the weights and the estimate lean its way.")
    data_dir = Path(read_record(members[0].run_dir)["data_dir"])
    for split in ("valid", "test"):
        if content_hash(data_dir / SPLIT_FILES[split]) != members[0].data[split]:
            raise BlendError(f"{data_dir / SPLIT_FILES[split]} changed (or is gone) since run '{members[0].name}' read it: the runs "
                             "cannot be scored against it; blend runs made from the data as it is now")
    y = label_matrix(read_split(data_dir / SPLIT_FILES["valid"]))
    ensemble = Ensemble.learned(y, {m.name: m.valid for m in members})
    valid, test = (ensemble.combine({m.name: getattr(m, split) for m in members}) for split in ("valid", "test"))
    choice = choose_thresholds(y, valid, config, seed)
    estimates = nested_blend_estimates(y, members, config, seed, count_test_rows(data_dir))
    write_probs(valid, target / VALID_PROBS)
    write_probs(test, target / TEST_PROBS)
    if "asr_noise" in estimates:
        write_probs(ensemble.combine({m.name: m.noisy for m in members}), target / VALID_NOISY_PROBS)
    write_text(target / THRESHOLDS, json.dumps(choice.as_dict(), indent=2, ensure_ascii=False))
    write_text(target / ESTIMATE, json.dumps({key: value.as_dict() for key, value in estimates.items()}, indent=2))
    test_path = data_dir / SPLIT_FILES["test"]
    test_frame = read_split(test_path, test=True)
    path = free_path(submission_path_for(name, runs_dir))
    write_submission(make_submission(test_frame, choice.apply(choice.recalibrated(test))), path, test_path, overwrite=False)
    parts = {m.name: {"weight": ensemble.weights[m.name], "path": str(m.run_dir.resolve()),
                      "valid_probs": content_hash(m.run_dir / VALID_PROBS),
                      "test_probs": content_hash(m.run_dir / TEST_PROBS), "out_of_fold": m.out_of_fold} for m in members}
    update_record(target, lambda record: record.update(
        run=name, kind="blend", status="finished", data_dir=str(data_dir), sample_data=is_sample(data_dir), blend=parts,
        pipeline={"started": timestamp()}, submission=str(path), submission_sha256=content_hash(path)))
    summary = write_run_summary(target)
    print(f"Blend '{name}': " + weights_text(ensemble))
    print(choice.note)
    print("\n".join(estimate_lines(summary)))
    print(f"rule: {rule_name(choice.mode, bool(choice.recalibration))}")
    print(f"Checked submission written to {path}")
    return path


def submission_path_for(name: str, runs_dir: Path) -> Path:
    """submissions/NAME.csv beside the runs folder, as for any run."""
    return submission_path(RunConfig(name=name, runs_dir=str(runs_dir)))


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0 the blend was written, 2 runs that cannot be blended or bad arguments."""
    parser = argparse.ArgumentParser(prog="python -m utils.blend", description="Blend finished runs made on the same data.")
    parser.add_argument("--run", required=True, help="the blend's name (a run name): runs/NAME/ and submissions/NAME.csv")
    parser.add_argument("runs", nargs="+", help="the runs to blend (names in --runs-dir, or folders)")
    parser.add_argument("--runs-dir", default=str(REPO_ROOT / "runs"), help="where the runs are and the blend goes (default runs/)")
    args = parser.parse_args(argv)
    runs_dir = Path(args.runs_dir)
    try:
        blend_runs(args.run, [Path(run) if Path(run).is_dir() else runs_dir / run for run in args.runs], runs_dir)
    except (BlendError, FileNotFoundError, ValueError) as error:
        print(f"Not blended: {error}", file=sys.stderr)
        return 2
    return 0
