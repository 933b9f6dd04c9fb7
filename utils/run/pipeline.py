"""Run the numbered notebooks in order with papermill: one set of settings, one run folder, a summary at the end.

    python -m utils.pipeline [--config FILE] [-p key=value ...] [--data-dir DIR] [--run NAME]
                             [--from NN | --only NN] [--force] [--kernel NAME] [--notebooks DIR] [--quiet]
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import logging
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path

from ..core.data_dir import find_data_dir
from ..core.files import write_text
from ..core.paths import (
    EXPANDED_TRAIN,
    INFERENCE_RECORD,
    METRICS,
    MODEL_DIR,
    REPO_ROOT,
    TEST_PROBS,
    THRESHOLDS,
    VALID_PROBS,
)
from ..core.settings import ConfigError, RunConfig
from ..core.settings_io import load_config, parse_overrides
from .report import try_write_report

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
RECORD_FILE = "pipeline.json"  # runs/<name>/pipeline.json: status and time per notebook
PRODUCTS = {  # what each notebook leaves in runs/<name>/; --from and --only need those of the notebooks before
    "01": ("eda",),
    "02": (EXPANDED_TRAIN,),
    "03": (MODEL_DIR, VALID_PROBS, METRICS),
    "04": (THRESHOLDS,),
    "05": (TEST_PROBS,),
}


class PipelineError(RuntimeError):
    """A run that cannot start; the message says what to change."""


def list_notebooks(folder: str | Path) -> list[Path]:
    """The numbered notebooks (NN_name.ipynb) of a folder, in order."""
    notebooks = sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        raise PipelineError(f"no numbered notebooks (NN_name.ipynb) in {folder}")
    return notebooks


def select_notebooks(notebooks: list[Path], start: str | None = None, only: str | None = None) -> list[Path]:
    """All notebooks, those from `start` on, or just `only` (given as 3, 03 or 03_training)."""
    wanted = only or start
    if wanted is None:
        return notebooks
    numbers = [path.name[:2] for path in notebooks]
    number = str(wanted).split("_")[0].removesuffix(".ipynb").zfill(2)
    if number not in numbers:
        raise PipelineError(f"no notebook {wanted!r}; choose one of {[path.name for path in notebooks]}")
    first = numbers.index(number)
    return notebooks[first : first + 1] if only else notebooks[first:]


def check_kernel(name: str) -> None:
    """Refuse a Jupyter kernel name that is not installed, with the command that installs it."""
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    if name in specs:
        return
    fix = f"{sys.executable} -m ipykernel install --user --name {name}"
    if importlib.util.find_spec("ipykernel") is None:
        fix = f"{sys.executable} -m pip install ipykernel && {fix}"
    raise PipelineError(f"Jupyter kernel {name!r} not found (installed: {sorted(specs)}). Register this Python as that kernel:\n  {fix}")


def read_json(path: Path) -> dict:
    """A JSON object from a file; {} when the file is missing or unreadable."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def missing_products(run_dir: Path, notebooks: list[Path]) -> list[str]:
    """The products of `notebooks` that run_dir lacks, as 'notebook: product'."""
    return [
        f"{notebook.name}: {product}"
        for notebook in notebooks
        for product in PRODUCTS.get(notebook.name[:2], ())
        if not (run_dir / product).exists()
    ]


def check_new_run(run_dir: Path) -> None:
    """Refuse a run folder that holds a finished run or products made outside the pipeline."""
    if not run_dir.is_dir() or not any(run_dir.iterdir()):
        return
    status = read_json(run_dir / RECORD_FILE).get("status")
    if status in ("failed", "running"):
        return
    held = "a finished run" if status == "finished" else "products of an earlier run"
    raise PipelineError(
        f"{run_dir} already holds {held}: choose another --run name, continue it with --from NN, "
        f"or replace it with --force (deletes the folder first)"
    )


def new_run_name(runs_root: Path, now: datetime | None = None) -> str:
    """A name from the time, e.g. 2026-11-28_1903 (seconds are added if that run exists)."""
    now = now or datetime.now()
    name = now.strftime("%Y-%m-%d_%H%M")
    return name if not (runs_root / name).exists() else now.strftime("%Y-%m-%d_%H%M%S")


def existing_runs(runs_root: Path) -> list[str]:
    return sorted(path.name for path in runs_root.iterdir() if path.is_dir()) if runs_root.is_dir() else []


class _LiveOutput(logging.Handler):
    """Prints papermill's log (cell output, cell starts) to the current stdout, one line per message."""

    def emit(self, record: logging.LogRecord) -> None:
        print(record.getMessage().rstrip("\n"), flush=True)


def show_cell_output() -> None:
    """Let papermill's `log_output` reach the terminal (or the hosting notebook)."""
    logger = logging.getLogger("papermill")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if not any(isinstance(handler, _LiveOutput) for handler in logger.handlers):
        logger.addHandler(_LiveOutput())


def describe_failure(notebook: Path, executed: Path, error: Exception) -> dict:
    """Which notebook and cell failed, with what exception, and its traceback."""
    from papermill.exceptions import PapermillExecutionError, strip_color

    if isinstance(error, PapermillExecutionError):
        cell = f"In [{error.exec_count}] (cell {error.cell_index + 1} of the executed notebook)"
        exception = f"{error.ename}: {error.evalue}"
        traceback = strip_color("\n".join(error.traceback))
    else:
        cell = "none (the kernel or papermill failed)"
        exception = f"{type(error).__name__}: {error}"
        traceback = ""
    return {"notebook": notebook.name, "cell": cell, "exception": exception, "traceback": traceback, "executed": str(executed)}


def failure_report(failure: dict) -> str:
    """What the terminal shows when a notebook fails."""
    lines = [f"FAILED: {failure['notebook']}, cell {failure['cell']}", failure["traceback"] or failure["exception"]]
    if Path(failure["executed"]).is_file():
        lines.append(f"The notebook with its outputs and the traceback: {failure['executed']}")
    return "\n".join(lines)


def summarize(run_dir: Path, record: dict) -> str:
    """The end-of-run report: time per notebook, valid weighted F1, thresholds, submission path."""
    steps = record.get("notebooks", {})
    total = sum(step.get("seconds", 0) for step in steps.values())
    lines = [f"Run '{record.get('run')}' {record.get('status')}: {total:.1f} s of notebooks, products in {run_dir}"]
    lines += [f"  {name:<28}{step.get('seconds', 0):8.1f} s  {step.get('status')}" for name, step in steps.items()]
    f1 = read_json(run_dir / METRICS).get("weighted_f1")
    lines.append(f"valid weighted F1: {f1:.4f}" if f1 is not None else "valid weighted F1: not available")
    chosen = read_json(run_dir / THRESHOLDS)
    thresholds = chosen.get("thresholds")
    if isinstance(thresholds, dict) and thresholds:
        how = ", ".join(f"{key} {chosen[key]}" for key in ("mode", "empty_rule") if key in chosen)
        values = ", ".join(f"{label} {value:.2f}" if isinstance(value, float) else f"{label} {value}"
                           for label, value in thresholds.items())
        lines.append(f"thresholds{f' ({how})' if how else ''}: {values}")
    else:
        lines.append("thresholds: not available")
    lines.append(f"submission: {record.get('submission') or 'not available'}")
    lines.append(f"report: {record.get('report') or 'not available'}")
    return "\n".join(lines)


def write_record(run_dir: Path, record: dict) -> None:
    write_text(run_dir / RECORD_FILE, json.dumps(record, indent=2, ensure_ascii=False))


@dataclasses.dataclass
class Plan:
    """A checked run: its settings, the notebooks to execute and the parameters every notebook gets."""

    config: RunConfig
    notebooks: list[Path]
    parameters: dict
    kernel: str  # the Jupyter kernel's name
    reuse: bool  # continuing an existing run (--from / --only)
    force: bool  # a full run that replaces the run folder


def plan_run(
    config_file: str | Path | None = None,
    overrides: dict | list[str] | None = None,
    data_dir: str | Path | None = None,
    run_name: str | None = None,
    start: str | None = None,
    only: str | None = None,
    force: bool = False,
    kernel: str = "python3",
    notebooks_dir: str | Path = NOTEBOOKS_DIR,
) -> Plan:
    """Check settings, run folder, data and kernel; raise ConfigError, FileNotFoundError or PipelineError, or return the plan."""
    reuse = bool(start or only)
    overrides = parse_overrides(overrides)
    config = load_config(config_file, overrides)
    runs_root = REPO_ROOT / config.runs_dir
    if reuse and not run_name:
        raise PipelineError(f"--from/--only continue an existing run: name it with --run NAME "
                            f"(runs in {runs_root}: {existing_runs(runs_root)})")
    config = config.replace(name=run_name or new_run_name(runs_root))
    notebooks = list_notebooks(notebooks_dir)
    selected = select_notebooks(notebooks, start, only)
    if reuse:
        if not config.run_dir.is_dir():
            raise PipelineError(f"no run '{config.name}' in {runs_root} to continue (runs there: {existing_runs(runs_root)})")
        if config_file is None and (config.run_dir / "params.yaml").is_file():
            config_file = config.run_dir / "params.yaml"  # continue with the run's own settings
            overrides = {**overrides, "runs_dir": config.runs_dir}  # where the run is now, even if it was moved
            config = load_config(config_file, overrides).replace(name=config.name)
        missing = missing_products(config.run_dir, notebooks[: notebooks.index(selected[0])])
        if missing:
            raise PipelineError(f"run '{config.name}' lacks the products of earlier notebooks {missing} in {config.run_dir}: "
                                "run those first")
    elif not force:
        check_new_run(config.run_dir)
    data_dir = find_data_dir(data_dir or config.data_dir).resolve()
    check_kernel(kernel)
    parameters = {
        "config_file": str(Path(config_file).resolve()) if config_file else None,
        "overrides": overrides,
        "data_dir": str(data_dir),
        "run_name": config.name,
    }
    return Plan(config, selected, parameters, kernel, reuse, force)


def run_pipeline(plan: Plan, log_output: bool = True) -> dict:
    """Run a checked plan's notebooks into runs/<name>/ with papermill; return the run's record.

    The record (also runs/<name>/pipeline.json) has status 'finished' or 'failed', seconds per notebook,
    the submission path and, after a failure, which notebook and cell failed.
    """
    import papermill

    run_dir = plan.config.run_dir
    if plan.force and not plan.reuse and run_dir.exists():
        shutil.rmtree(run_dir)
    if log_output:
        show_cell_output()
    record = read_json(run_dir / RECORD_FILE) if plan.reuse else {}
    record.update(run=plan.config.name, status="running", started=datetime.now().isoformat(timespec="seconds"),
                  kernel=plan.kernel, parameters=plan.parameters)
    record.setdefault("notebooks", {})
    record.pop("failure", None)
    names = ", ".join(path.name for path in plan.notebooks)
    print(f"Run '{plan.config.name}' into {run_dir}: {names} (data from {plan.parameters['data_dir']})", flush=True)
    for k, notebook in enumerate(plan.notebooks, 1):
        executed = run_dir / "notebooks" / notebook.name
        executed.parent.mkdir(parents=True, exist_ok=True)
        write_record(run_dir, record)
        print(f"\n[{k}/{len(plan.notebooks)}] {notebook.name}", flush=True)
        began = time.perf_counter()
        try:
            papermill.execute_notebook(
                str(notebook), str(executed), parameters=plan.parameters, kernel_name=plan.kernel,
                cwd=str(NOTEBOOKS_DIR),  # the bootstrap cell finds utils/ from here, wherever the notebooks are
                log_output=log_output, progress_bar=not log_output and sys.stderr.isatty(),
            )
        except Exception as error:  # a failing cell (PapermillExecutionError) or a kernel that died or never started
            record["notebooks"][notebook.stem] = {"status": "failed", "seconds": round(time.perf_counter() - began, 1),
                                                  "executed": str(executed)}
            record.update(status="failed", ended=datetime.now().isoformat(timespec="seconds"),
                          failure=describe_failure(notebook, executed, error), report=try_write_report(run_dir))
            write_record(run_dir, record)
            print(f"\n{failure_report(record['failure'])}\nreport: {record['report'] or 'not available'}", file=sys.stderr, flush=True)
            return record
        seconds = round(time.perf_counter() - began, 1)
        record["notebooks"][notebook.stem] = {"status": "done", "seconds": seconds, "executed": str(executed)}
        print(f"[{k}/{len(plan.notebooks)}] {notebook.name} done in {seconds:.1f} s", flush=True)
    submission = read_json(run_dir / INFERENCE_RECORD).get("submission")
    record.update(status="finished", ended=datetime.now().isoformat(timespec="seconds"),
                  submission=submission if submission and Path(submission).is_file() else None, report=try_write_report(run_dir))
    write_record(run_dir, record)
    print("\n" + summarize(run_dir, record), flush=True)
    return record


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0 finished, 1 a notebook failed, 2 the run could not start."""
    parser = argparse.ArgumentParser(prog="python -m utils.pipeline",
                                     description="Run the notebooks 01 -> 05 with papermill into runs/<name>/.")
    parser.add_argument("--config", help="a YAML file of settings (see utils/config.py)")
    parser.add_argument("-p", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting, e.g. -p train.epochs=3 (value read as YAML; repeat for more)")
    parser.add_argument("--data-dir", help="the folder of the competition files (default: discovered, see README)")
    parser.add_argument("--run", help="the run's name (default: the time, e.g. 2026-11-28_1903)")
    step = parser.add_mutually_exclusive_group()
    step.add_argument("--from", dest="start", metavar="NN", help="continue run --run from notebook NN, reusing the earlier products")
    step.add_argument("--only", metavar="NN", help="re-run only notebook NN of run --run")
    parser.add_argument("--force", action="store_true", help="replace a run that already exists (its folder is deleted first)")
    parser.add_argument("--kernel", default="python3", help="the Jupyter kernel that runs the notebooks (default: python3)")
    parser.add_argument("--notebooks", default=str(NOTEBOOKS_DIR), help="the folder of the numbered notebooks")
    parser.add_argument("--quiet", action="store_true", help="hide the cells' output (a progress bar in a terminal instead)")
    args = parser.parse_args(argv)
    try:
        plan = plan_run(args.config, args.overrides, args.data_dir, args.run, args.start, args.only, args.force, args.kernel,
                        args.notebooks)
    except (PipelineError, ConfigError, FileNotFoundError) as error:
        print(f"Not started: {error}", file=sys.stderr)
        return 2
    return 0 if run_pipeline(plan, log_output=not args.quiet)["status"] == "finished" else 1


if __name__ == "__main__":
    sys.exit(main())
