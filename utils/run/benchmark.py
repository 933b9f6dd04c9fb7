"""Score and time named configurations: each runs the whole pipeline (01 -> 06), then the results table is written.

    python -m utils.benchmark [--data-dir DIR] [--variants FILE] [--only NAME ...] [--out benchmarks/results] [--quiet]

Each variant is a set of overrides from the variants file (benchmarks/variants.yaml). Its run goes to
runs/benchmark/<name>/ (replaced on every benchmark); results.json keeps earlier variants' entries, so variants
can be run one at a time, and results.md is rewritten from it.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..core.data_dir import find_data_dir
from ..core.errors import KitError
from ..core.files import UnreadableFileError, read_json, read_yaml, write_text
from ..core.paths import INFERENCE_RECORD, METRICS, REPO_ROOT, THRESHOLDS
from ..core.settings import ConfigError, check_run_name
from ..core.splits import LABELS, SPLIT_FILES, TEXT
from ..core.summary import run_summary

VARIANTS_FILE = REPO_ROOT / "benchmarks" / "variants.yaml"
RESULTS = REPO_ROOT / "benchmarks" / "results"  # results.json and results.md
RUNS_DIR = "runs/benchmark"
SHARED_DATA = REPO_ROOT.parent / "shared" / "data" / "cryptonite"


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


def inference_speed(run_dir: Path, data_dir: Path) -> dict:
    """Texts per second of the finished run's predictor over the whole test file: models loaded, warmed up on valid texts,
    then one pass (the preprocessing remembers texts it has seen, so a second pass over the same texts would flatter it)."""
    from ..core.splits import read_split
    from ..inference.predictor import Predictor

    texts = read_split(data_dir / SPLIT_FILES["test"], test=True)[TEXT].tolist()
    began = time.perf_counter()
    predictor = Predictor.from_run(run_dir)
    load_seconds = time.perf_counter() - began
    predictor.probs(read_split(data_dir / SPLIT_FILES["valid"])[TEXT].tolist()[:256])
    began = time.perf_counter()
    predictor.probs(texts)
    seconds = time.perf_counter() - began
    return {"texts": len(texts), "seconds": round(seconds, 2), "texts_per_second": round(len(texts) / seconds),
            "load_seconds": round(load_seconds, 2)}


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


def predict_latency(run_dir: Path, repeats: int = 2) -> float:
    """Seconds of `python -m utils.predict --model RUN --text ...` from a cold start (a new process), best of `repeats`."""
    command = [sys.executable, "-m", "utils.predict", "--model", str(run_dir), "--text", "ну ыетс вообще жесть я боюсь"]
    seconds = []
    for _ in range(repeats):
        began = time.perf_counter()
        subprocess.run(command, cwd=REPO_ROOT, capture_output=True, check=True)
        seconds.append(time.perf_counter() - began)
    return round(min(seconds), 2)


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


def run_variant(variant: Variant, data_dir: Path, runs_dir: str = RUNS_DIR, quiet: bool = False) -> dict:
    """The whole pipeline for one variant into <runs_dir>/<name>/ (replaced if there), measured."""
    from .pipeline import plan_run, run_pipeline

    overrides = {**variant.overrides, "runs_dir": runs_dir}
    plan = plan_run(None, overrides, data_dir, variant.name, force=True)
    print(f"=== benchmark variant '{variant.name}': {variant.description or 'the defaults'} ===", flush=True)
    with PeakMemory() as memory:
        began = time.perf_counter()
        record = run_pipeline(plan, "quiet" if quiet else "headlines")
        wall = time.perf_counter() - began
    result = {"name": variant.name, "description": variant.description, "overrides": variant.overrides,
              **collect(plan.config.run_dir, record), "wall_seconds": round(wall, 1), "peak_rss_mb": round(memory.peak / 2**20)}
    if record.get("status") == "finished":
        result.update(inference=inference_speed(plan.config.run_dir, data_dir), predict_seconds=predict_latency(plan.config.run_dir))
    return result


def machine() -> dict:
    """What the times were measured on."""
    import torch

    cpu = platform.processor()
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    return {"cpu": cpu or "unknown", "cores": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
            "system": platform.platform()}


def _cell(value, digits: int = 4) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def rule_name(entry: dict) -> str:
    """The chosen decision rule in a few words."""
    mode = "per-label thresholds" if entry.get("threshold_mode") == "per_label" else "one threshold"
    return f"{'recalibrated, ' if entry.get('recalibrated') else ''}{mode}, no-label rule '{entry.get('empty_rule')}'"


def estimate_cell(entry: dict, name: str | None = None) -> str:
    """An estimate with its 95% interval, e.g. 0.6353 (0.6256-0.6448)."""
    values = (entry.get("estimates") or {}).get(name or entry.get("estimate")) or {}
    if values.get("weighted_f1") is None:
        return "–"
    return f"{values['weighted_f1']:.4f} ({values['ci'][0]:.4f}-{values['ci'][1]:.4f})"


def results_markdown(results: dict) -> str:
    """results.md: the machine, then one table of scores and speed, then per-label F1 and time per notebook."""
    variants = results["variants"]
    default = next((v for v in variants if v["name"] == "default"), None)
    lines = [
        "# Benchmark results",
        "",
        f"Written by `python -m utils.benchmark` on {results['date']}; data: `{results['data_dir']}`.",
        f"Machine: {results['machine']['cpu']}, {results['machine']['cores']} cores; Python {results['machine']['python']}, "
        f"torch {results['machine']['torch']}. Absolute times vary between machines.",
        "",
        "Honest CV F1: the run's `cv_weighted_f1` (notebook 04's nested estimate: the whole choice of the decision rule repeated "
        "inside each outer fold of valid, on the held-out rows written with the kit's ASR noise), with its 95% bootstrap "
        "interval; Δ against `default`. Clean rows: the same estimate on the held-out rows as written. Chosen rule's CV: what "
        "notebook 04 reported before the estimate existed (the best of 12 cross-validated rules, scored on the rows it was "
        "chosen on: optimistic). Time: the whole pipeline (notebooks 01 -> 06 under papermill). Inference: the run's predictor "
        "over the test texts, models loaded. Predict: `python -m utils.predict --model RUN --text ...` from a cold start. "
        "Memory: peak resident memory of the pipeline with its kernels and workers (sampled every 0.2 s).",
        "",
        "| variant | what it tries | rows trained | honest CV F1 (95% interval) | Δ | clean rows | chosen rule's CV | decision rule "
        "| members (best single thr.) | time | infer texts/s | predict --text | peak memory |",
        "|---|---|---:|---|---:|---|---:|---|---|---:|---:|---:|---:|",
    ]
    for v in variants:
        delta = v["cv_weighted_f1"] - default["cv_weighted_f1"] if default and None not in (v.get("cv_weighted_f1"), default.get(
            "cv_weighted_f1")) else None
        members = ", ".join(f"{name} {_cell(score)}" for name, score in (v.get("members") or {}).items()) or "–"
        lines.append(
            f"| {v['name']} | {v['description']} | {_cell(v.get('rows_trained'))} | {estimate_cell(v)} "
            f"| {'' if delta is None or v is default else f'{delta:+.4f}'} | {estimate_cell(v, 'clean')} "
            f"| {_cell(v.get('chosen_rule_cv_f1'))} | {rule_name(v)} | {members} | {v.get('total_seconds', 0) / 60:.1f} min "
            f"| {_cell((v.get('inference') or {}).get('texts_per_second'))} | {_cell(v.get('predict_seconds'), 1)} s "
            f"| {v.get('peak_rss_mb')} MB |"
        )
    lines += ["", "## F1 per label", "", "The honest estimate's per-label F1 (held-out rows decided by rules chosen without them). "
              "Macro F1 is their mean.", "",
              "| variant | " + " | ".join(LABELS) + " | macro |", "|---|" + "---:|" * (len(LABELS) + 1)]
    for v in variants:
        scores = v.get("per_label_f1") or {}
        per_label = " | ".join(_cell(scores.get(label), 3) for label in LABELS)
        lines.append(f"| {v['name']} | {per_label} | {_cell(v.get('macro_f1'), 3)} |")
    steps = sorted({step for v in variants for step in (v.get("step_seconds") or {})})
    lines += ["", "## Seconds per notebook", "", "| variant | " + " | ".join(steps) + " | total |", "|---|" + "---:|" * (len(steps) + 1)]
    for v in variants:
        seconds = v.get("step_seconds") or {}
        lines.append(f"| {v['name']} | " + " | ".join(_cell(seconds.get(step), 1) for step in steps)
                     + f" | {_cell(v.get('total_seconds'), 1)} |")
    lines += ["", "## Overrides of each variant", ""]
    lines += [f"- `{v['name']}`: " + (", ".join(f"`{k}={json.dumps(val, ensure_ascii=False)}`" for k, val in v["overrides"].items())
                                      or "none")
              for v in variants]
    return "\n".join(lines) + "\n"


def merge(previous: dict, new: list[dict], variants: list[Variant]) -> list[dict]:
    """Earlier entries replaced by the new ones of the same name, in the variants file's order."""
    by_name = {entry["name"]: entry for entry in previous.get("variants", [])}
    by_name.update({entry["name"]: entry for entry in new})
    order = [variant.name for variant in variants]
    return sorted(by_name.values(), key=lambda entry: order.index(entry["name"]) if entry["name"] in order else len(order))


def write_results(out: Path, results: dict) -> tuple[Path, Path]:
    """results.json and results.md (each written to a temporary name, then renamed)."""
    json_path = write_text(out.with_suffix(".json"), json.dumps(results, indent=2, ensure_ascii=False))
    return json_path, write_text(out.with_suffix(".md"), results_markdown(results))


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
    """Exit status: 0 every variant finished, 1 one failed, 2 bad arguments."""
    parser = argparse.ArgumentParser(prog="python -m utils.benchmark",
                                     description="Run named configurations through the pipeline; write results.md/json.")
    parser.add_argument("--data-dir", help="the competition files (default: ../shared/data/cryptonite when present)")
    parser.add_argument("--variants", default=str(VARIANTS_FILE), help="YAML of name -> {description, overrides}")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these variants (the others' results are kept)")
    parser.add_argument("--out", default=str(RESULTS), help="results path without suffix (.json and .md are written)")
    parser.add_argument("--runs-dir", default=RUNS_DIR, help=f"where the variants' runs go (default {RUNS_DIR}; each is replaced)")
    parser.add_argument("--quiet", action="store_true", help="hide the notebooks' cell output")
    args = parser.parse_args(argv)
    out = Path(args.out)
    try:
        variants, previous = read_variants(args.variants), read_json(out.with_suffix(".json"), "move it away to start new results")
    except (UnreadableFileError, FileNotFoundError) as error:
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
    new = []
    for variant in variants:
        if args.only and variant.name not in args.only:
            continue
        try:
            new.append(run_variant(variant, data_dir, args.runs_dir, args.quiet))
        except (KitError, OSError) as error:  # refused before it started: settings, run folder, data
            print(f"Not started: variant '{variant.name}': {error}", file=sys.stderr)
            return 2
        results = {"date": datetime.now().isoformat(timespec="minutes"), "data_dir": shown_path(data_dir), "machine": machine(),
                   "variants": merge(previous, new, variants)}
        for path in write_results(out, results):  # after every variant: a later failure loses nothing
            print(f"written {path}")
    return 0 if all(entry["status"] == "finished" for entry in new) else 1


if __name__ == "__main__":
    sys.exit(main())
