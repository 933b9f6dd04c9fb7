"""Score and time named configurations over seeds: each (variant, seed) runs the whole pipeline (01 -> 06), then the
results table is written.

    python -m utils.benchmark [--seeds N | --seeds S1 S2 ...] [--data-dir DIR] [--variants FILE] [--only NAME ...]
                              [--out benchmarks/results] [--runs-dir DIR] [--quiet] [--backends]

Each variant is a set of overrides from the variants file (benchmarks/variants.yaml); every variant runs with the same
seeds: `--seeds N` (default 3) takes the kit's default seed (42) and the next integers (42, 43, 44), `--seeds 42 7` names
them. The run of a variant and seed goes to runs/benchmark/<name>-s<seed>/ (replaced on every benchmark); results.json
keeps earlier runs of other (variant, seed) pairs on the same data, so a benchmark can be run piecewise, and results.md
is rewritten from it. Each finished run's two prediction backends are measured side by side (utils.run.backends);
`--backends` measures them again for the chosen runs without running anything.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..core.data_dir import find_data_dir
from ..core.errors import KitError
from ..core.files import UnreadableFileError, read_json, read_yaml, write_text
from ..core.paths import INFERENCE_RECORD, METRICS, REPO_ROOT, THRESHOLDS, repo_path
from ..core.settings import ConfigError, RunConfig, check_run_name
from ..core.summary import run_summary
from .backends import MeasurementError, compare_backends
from .benchmark_results import merge, results_markdown, summarise

VARIANTS_FILE = REPO_ROOT / "benchmarks" / "variants.yaml"
RESULTS = REPO_ROOT / "benchmarks" / "results"  # results.json and results.md
RUNS_DIR = "runs/benchmark"
SHARED_DATA = REPO_ROOT.parent / "shared" / "data" / "cryptonite"
DEFAULT_SEED = RunConfig.model_fields["seed"].default  # --seeds N: DEFAULT_SEED, DEFAULT_SEED + 1, ... (42, 43, 44 for N = 3)


@dataclass
class Variant:
    """A named configuration: what it tries and its overrides of the defaults."""

    name: str
    description: str = ""
    overrides: dict = field(default_factory=dict)


def read_variants(path: str | Path) -> list[Variant]:
    """The variants file: a mapping of name -> {description, overrides}."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such variants file")
    loaded = read_yaml(path) or {}
    if not isinstance(loaded, dict):
        raise UnreadableFileError(f"{path}: expected a mapping of variant name -> {{description, overrides}}")
    variants = []
    for name, spec in loaded.items():
        spec = spec or {}
        if not isinstance(spec, dict) or not isinstance(spec.get("overrides") or {}, dict):
            raise UnreadableFileError(f"{path}: variant {name!r}: expected a mapping {{description: text, overrides: {{key: value}}}}")
        unknown = set(spec) - {"description", "overrides"}
        if unknown:
            raise UnreadableFileError(f"{path}: variant {name!r} has unknown key(s) {sorted(unknown)}; expected description, overrides")
        try:
            check_run_name(str(name))
        except ConfigError as error:
            raise UnreadableFileError(f"{path}: variant {name!r} names its run folder: {error}") from None
        if "seed" in (spec.get("overrides") or {}):
            raise UnreadableFileError(f"{path}: variant {name!r} sets 'seed' in its overrides; the benchmark runs every variant "
                                      "with the seeds of --seeds: remove it")
        variants.append(Variant(str(name), spec.get("description", ""), dict(spec.get("overrides") or {})))
    return variants


class PeakMemory:
    """Samples the resident memory of this process and all its children (notebook kernels, workers) in a thread."""

    def __init__(self, interval: float = 0.2):
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _total(self) -> int:
        import psutil

        process = psutil.Process()
        total = 0
        for member in [process, *process.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):  # a child that ended between listing and reading
                total += member.memory_info().rss
        return total

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._total())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def training_speed(run_dir: Path) -> float | None:
    """Training rows per second of the neural model (all folds and epochs; the scoring passes left out)."""
    import pandas as pd

    log = run_dir / "training_log.csv"
    if not log.is_file():
        return None
    history = pd.read_csv(log)
    if not {"rows", "train_seconds"} <= set(history.columns):
        return None
    return round(float(history["rows"].sum() / history["train_seconds"].sum()))


def collect(run_dir: Path, record: dict) -> dict:
    """A finished run's honest estimate, its other scores and its times, from its products."""
    metrics, chosen, summary = read_json(run_dir / METRICS), read_json(run_dir / THRESHOLDS), run_summary(run_dir)
    per_label = summary.get("per_label_f1") or {}
    steps = {name: step.get("seconds") for name, step in (record.get("pipeline") or {}).get("notebooks", {}).items()}
    return {
        "status": record.get("status"),
        "rows_trained": metrics.get("train_rows"),
        "mode": metrics.get("mode"),
        "models": metrics.get("models"),
        "cv_weighted_f1": summary.get("cv_weighted_f1"),
        "cv_weighted_f1_ci": summary.get("cv_weighted_f1_ci"),
        "estimate": summary.get("estimate"),
        "estimates": summary.get("estimates"),
        "chosen_rule_cv_f1": chosen.get("cv_f1"),
        "threshold_mode": chosen.get("mode"),
        "recalibrated": bool(chosen.get("recalibration")),
        "empty_rule": chosen.get("empty_rule"),
        "per_label_f1": per_label,
        "macro_f1": round(sum(per_label.values()) / len(per_label), 4) if per_label else None,
        "members": {name: scores.get("weighted_f1_at_best_single_threshold") for name, scores in metrics.get("members", {}).items()},
        "step_seconds": steps,
        "total_seconds": round(sum(value or 0 for value in steps.values()), 1),
        "train_rows_per_second": training_speed(run_dir),
        "submission_rows_per_label": read_json(run_dir / INFERENCE_RECORD).get("predicted_per_label"),
    }


def seed_list(values: list[int]) -> list[int]:
    """The seeds of --seeds: one number N gives the first N of DEFAULT_SEED, DEFAULT_SEED + 1, ...; several are the seeds."""
    if len(values) == 1:
        if values[0] < 1:
            raise ValueError(f"--seeds {values[0]}: one number is how many seeds (1 or more); name two or more to choose them")
        return [DEFAULT_SEED + offset for offset in range(values[0])]
    if min(values) < 0 or len(set(values)) < len(values):
        raise ValueError(f"--seeds {' '.join(map(str, values))}: expected different seeds, each 0 or more")
    return values


def run_name(variant: Variant, seed: int) -> str:
    """The run folder of a variant and seed, e.g. default-s42."""
    return check_run_name(f"{variant.name}-s{seed}")


def run_variant(variant: Variant, seed: int, data_dir: Path, runs_dir: str = RUNS_DIR, quiet: bool = False) -> dict:
    """The whole pipeline for one variant and seed into <runs_dir>/<name>-s<seed>/ (replaced if there), measured."""
    from .pipeline import plan_run, run_pipeline

    overrides = {**variant.overrides, "seed": seed, "runs_dir": runs_dir}
    plan = plan_run(None, overrides, data_dir, run_name(variant, seed), force=True)
    print(f"=== benchmark variant '{variant.name}', seed {seed}: {variant.description or 'the defaults'} ===", flush=True)
    with PeakMemory() as memory:
        began = time.perf_counter()
        record = run_pipeline(plan, "quiet" if quiet else "headlines")
        wall = time.perf_counter() - began
    result = {"name": variant.name, "seed": seed, "run": plan.config.name, "description": variant.description,
              "overrides": variant.overrides,
              **collect(plan.config.run_dir, record), "wall_seconds": round(wall, 1), "peak_rss_mb": round(memory.peak / 2**20)}
    if record.get("status") == "finished":
        try:
            backends = compare_backends(plan.config.run_dir, data_dir)
        except MeasurementError as error:  # the run's own results are kept
            print(f"Notice: prediction not measured: {error}", file=sys.stderr, flush=True)
            return result
        torch = dict(backends["torch"])  # the training stack's numbers are the run's own columns too
        result.update(predict_seconds=torch.pop("predict_seconds"), inference=torch, backends=backends)
    return result


def machine() -> dict:
    """What the times were measured on."""
    import onnxruntime
    import torch

    cpu = platform.processor()
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    return {"cpu": cpu or "unknown", "cores": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__, "system": platform.platform()}


def write_results(out: Path, data_dir: Path, runs: list[dict]) -> None:
    """results.json and results.md of these runs (each written to a temporary name, then renamed), announced."""
    results = {"date": datetime.now().isoformat(timespec="minutes"), "data_dir": shown_path(data_dir), "machine": machine(),
               "runs": runs, "variants": summarise(runs)}
    print(f"written {write_text(out.with_suffix('.json'), json.dumps(results, indent=2, ensure_ascii=False))}")
    print(f"written {write_text(out.with_suffix('.md'), results_markdown(results))}")


def measure_backends(chosen: list[tuple[Variant, int]], previous: dict, runs_dir: Path, data_dir: Path, out: Path) -> int:
    """--backends: both prediction backends of the chosen finished runs, measured again and kept with their results."""
    runs = previous.get("runs", [])
    entries = {(run["name"], run["seed"]): run for run in runs}
    for variant, seed in chosen:
        entry, run_dir = entries.get((variant.name, seed)), runs_dir / run_name(variant, seed)
        if not entry or entry.get("status") != "finished" or not run_dir.is_dir():
            print(f"Not measured: variant '{variant.name}', seed {seed}: {out.with_suffix('.json')} lists no finished run of it in "
                  f"{run_dir} (run the benchmark first)", file=sys.stderr)
            return 2
    for variant, seed in chosen:
        print(f"=== both backends of {runs_dir / run_name(variant, seed)} ===", flush=True)
        try:
            entries[(variant.name, seed)]["backends"] = compare_backends(runs_dir / run_name(variant, seed), data_dir)
        except (KitError, OSError) as error:
            print(f"Not measured: variant '{variant.name}', seed {seed}: {error}", file=sys.stderr)
            return 2
        write_results(out, data_dir, runs)
    return 0


def shown_path(path: Path) -> str:
    """The data folder as results.json/md record it: relative to the repository (no machine's absolute path), else its name."""
    try:
        return Path(os.path.relpath(path.resolve(), REPO_ROOT)).as_posix()
    except ValueError:  # another drive (Windows): no relative path exists
        return path.resolve().name


def default_data_dir() -> Path:
    """../shared/data/cryptonite when present, else the usual discovery (see find_data_dir)."""
    from ..core.data_dir import holds_competition_files

    return SHARED_DATA if holds_competition_files(SHARED_DATA) else find_data_dir()


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0 every run finished, 1 one failed, 2 bad arguments."""
    parser = argparse.ArgumentParser(prog="python -m utils.benchmark",
                                     description="Run named configurations through the pipeline; write results.md/json.")
    parser.add_argument("--data-dir", help="the competition files (default: ../shared/data/cryptonite when present)")
    parser.add_argument("--variants", default=str(VARIANTS_FILE), help="YAML of name -> {description, overrides}")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these variants (the others' results are kept)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[3], metavar="SEED",
                        help=f"one number N: the first N of the seeds {DEFAULT_SEED}, {DEFAULT_SEED + 1}, ... (default 3); "
                             "two or more: these seeds. The same seeds for every variant")
    parser.add_argument("--out", default=str(RESULTS), help="results path without suffix (.json and .md are written)")
    parser.add_argument("--runs-dir", default=RUNS_DIR,
                        help=f"where the runs go, as <variant>-s<seed> (default {RUNS_DIR}; each is replaced)")
    parser.add_argument("--quiet", action="store_true", help="hide the notebooks' cell output")
    parser.add_argument("--backends", action="store_true",
                        help="run nothing: measure both prediction backends (the export and the training stack) of the chosen "
                             "variants' finished runs in --runs-dir again (exporting a run whose export is not up to date); "
                             "every run of the benchmark measures them anyway")
    args = parser.parse_args(argv)
    out = Path(args.out)
    try:
        seeds = seed_list(args.seeds)
        variants, previous = read_variants(args.variants), read_json(out.with_suffix(".json"), "move it away to start new results")
        for variant in variants:
            for seed in seeds:
                run_name(variant, seed)
    except (ValueError, FileNotFoundError) as error:  # the seeds, the variants file, a run name, results.json
        print(f"Not started: {error}", file=sys.stderr)
        return 2
    names = [variant.name for variant in variants]
    unknown = sorted(set(args.only or []) - set(names))
    if unknown:
        print(f"Not started: unknown variant(s) {unknown}; {args.variants} defines {names}", file=sys.stderr)
        return 2
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    if previous and previous.get("data_dir") != shown_path(data_dir):
        previous = {}  # results of other data are not mixed in
    elif previous and "runs" not in previous:
        print(f"{out.with_suffix('.json')} holds results of the single-seed format (no per-seed runs): they are replaced")
    chosen = [(variant, seed) for variant in variants if not args.only or variant.name in args.only for seed in seeds]
    if args.backends:
        return measure_backends(chosen, previous or {}, repo_path(args.runs_dir), data_dir, out)
    new = []
    for variant, seed in chosen:
        try:
            new.append(run_variant(variant, seed, data_dir, args.runs_dir, args.quiet))
        except (KitError, OSError) as error:  # refused before it started: settings, run folder, data
            print(f"Not started: variant '{variant.name}', seed {seed}: {error}", file=sys.stderr)
            return 2
        write_results(out, data_dir, merge(previous, new, {variant.name: variant.overrides for variant in variants}))  # after every run
    return 0 if all(entry["status"] == "finished" for entry in new) else 1


if __name__ == "__main__":
    sys.exit(main())
