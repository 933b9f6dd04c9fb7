"""Run the numbered notebooks in order with papermill: one set of settings, one run folder, its export for shipping
(utils.export, after notebook 05), a summary at the end.

    python -m utils.pipeline [--config FILE] [-p key=value ...] [--data-dir DIR] [--run NAME]
                             [--from NN | --only NN | --resume | --force] [--kernel NAME] [--notebooks DIR] [--verbose | --quiet]
                             [--no-export]
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import importlib.util
import logging
import re
import shlex
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from ..core.data_dir import find_data_dir, holds_competition_files, is_sample
from ..core.errors import KitError
from ..core.files import UnreadableFileError, read_json
from ..core.path_settings import check_path_settings
from ..core.paths import EXECUTED_NOTEBOOKS, INFERENCE_RECORD, REPO_ROOT, THRESHOLDS, repo_path
from ..core.progress import HEADLINE, NOTICES
from ..core.run_lock import LOCK_FILE, RunInUseError, RunLock, check_not_in_use
from ..core.run_record import (
    RECORD_FILE,
    input_problems,
    mark_step,
    read_record,
    stale_message,
    step_problems,
    timestamp,
    update_record,
)
from ..core.settings import ConfigError, RunConfig, check_run_name
from ..core.settings_io import load_config, parse_overrides
from ..core.splits import DataError, load_competition
from ..core.steps import STEPS
from ..core.summary import estimate_lines, run_summary, write_run_summary
from ..inference.contract import INFERENCE
from .kernels import LoggedKernelManager
from .report import try_write_report

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
SAMPLE_WARNING = "DATA: the kit's small authored sample (data/sample): its scores say nothing about the competition"
KERNEL_NAME = re.compile(r"[A-Za-z0-9._-]+")  # what Jupyter accepts as a kernel's name


class PipelineError(KitError, RuntimeError):
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
    if not KERNEL_NAME.fullmatch(name):
        raise PipelineError(f"--kernel {name!r} is not a Jupyter kernel name (ASCII letters, digits and - . _); "
                            f"installed kernels: {sorted(specs)}")
    python = shlex.quote(sys.executable)  # this Python (a virtual environment's own), which the kernel must run
    fix = f"{python} -m ipykernel install --user --name {name}"
    if importlib.util.find_spec("ipykernel") is None:
        fix = f"{python} -m pip install ipykernel && {fix}"
    raise PipelineError(f"Jupyter kernel {name!r} not found (installed: {sorted(specs)}). Register this Python as that kernel:\n  {fix}")


def check_new_run(run_dir: Path) -> None:
    """Refuse a run folder that already holds something, with the choices for what it holds."""
    if run_dir.exists() and not run_dir.is_dir():
        raise PipelineError(f"{run_dir} is a file, not a run folder: choose another --run name")
    if not run_dir.is_dir() or not [path for path in run_dir.iterdir() if path.name != LOCK_FILE]:
        return
    status = read_record(run_dir).get("status")
    if status == "finished":
        choices = "choose another --run name, re-run notebooks with --from NN or --only NN, or replace it with --force"
    elif status in ("failed", "interrupted", "running"):
        choices = "continue it with --resume (from its first unfinished notebook), or start over with --force"
    else:
        status, choices = "products made outside the pipeline", "choose another --run name, or replace it with --force"
    raise PipelineError(f"{run_dir} already holds a run ({status}): {choices}")


def check_replaceable(run_dir: Path) -> None:
    """Refuse --force on anything but a run of the kit: --force deletes only a folder (not a link) holding the run's record."""
    if run_dir.is_symlink() or (run_dir.exists() and not run_dir.is_dir()):
        raise PipelineError(f"{run_dir} is {'a link' if run_dir.is_symlink() else 'a file'}, not a run folder: --force deletes only a "
                            "run's own folder, so nothing was deleted; choose another --run name")
    if run_dir.is_dir() and any(path.name != LOCK_FILE for path in run_dir.iterdir()) and not (run_dir / RECORD_FILE).is_file():
        raise PipelineError(f"{run_dir} is not a run of the kit (it has no record, {RECORD_FILE}): --force deletes only a run, so "
                            "nothing was deleted; move what the folder holds elsewhere, or choose another --run name")


def own_data_dir(config: RunConfig) -> str | None:
    """The data folder a run was made from (its record), for --force without --data-dir; None for a run without one."""
    try:
        recorded = read_record(config.run_dir).get("data_dir")
    except UnreadableFileError as error:
        raise PipelineError(f"{error}\n(--force cannot read which data the run was made from: give --data-dir DIR; nothing was "
                            "deleted)") from None
    if recorded is None:
        return None
    if not holds_competition_files(Path(recorded)):
        raise PipelineError(f"run '{config.name}' was made from {recorded}, which no longer holds the competition files: give "
                            "--data-dir DIR to rebuild it from other data (nothing was deleted)")
    print(f"--force: run '{config.name}' is rebuilt from the data it was made from, {recorded} (--data-dir DIR uses other data)")
    return recorded


def new_run_name(runs_root: Path, now: datetime | None = None) -> str:
    """A name from the time, e.g. 2026-11-28_1903 (seconds are added if that run exists)."""
    now = now or datetime.now()
    name = now.strftime("%Y-%m-%d_%H%M")
    return name if not (runs_root / name).exists() else now.strftime("%Y-%m-%d_%H%M%S")


def existing_runs(runs_root: Path) -> list[str]:
    return sorted(path.name for path in runs_root.iterdir() if path.is_dir()) if runs_root.is_dir() else []


FIGURE_REPR = re.compile(r"<Figure size \d+x\d+ with \d+ Axes>\s*")  # a figure's text stand-in: the picture is in the notebook


class CellLog(logging.Handler):
    """Receives papermill's log: remembers the cell being executed and prints what `shown` asks for to the current stdout,
    through tqdm so that a notebook's progress bar stays below: every line (verbose), headlines and notices (headlines)."""

    STARTED = re.compile(r"Executing Cell (\d+)")

    def __init__(self, shown: str):
        super().__init__()
        self.shown, self.cell = shown, None

    def lines(self, message: str) -> list[str]:
        """The lines of one log message that the terminal shows."""
        if self.shown == "verbose":
            return [] if FIGURE_REPR.fullmatch(message) else [message.rstrip("\n")]
        if self.shown == "headlines":
            return [line for line in message.splitlines() if line.startswith((HEADLINE, *NOTICES))]
        return []

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        message = record.getMessage()
        started = self.STARTED.match(message)
        if started:
            self.cell = int(started.group(1))
        for line in self.lines(message):
            tqdm.write(line)


@contextlib.contextmanager
def cell_log(shown: str) -> Iterator[CellLog]:
    """Route papermill's log through a CellLog while the notebooks run."""
    logger = logging.getLogger("papermill")
    handler = CellLog(shown)
    saved = logger.level, logger.propagate, logger.handlers[:]
    logger.setLevel(logging.INFO)
    logger.propagate, logger.handlers = False, [handler]
    try:
        yield handler
    finally:
        logger.level, logger.propagate, logger.handlers = saved[0], saved[1], saved[2]


def _drop_unretrieved(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """The event loop's exception handler after Ctrl-C: the stopped notebook's tasks end with exceptions that nobody awaits
    any more, and asyncio would print each one's traceback when it is collected; anything else is reported as usual."""
    if not context.get("message", "").endswith("exception was never retrieved"):
        loop.default_exception_handler(context)


@contextlib.contextmanager
def quiet_after_ctrl_c() -> Iterator[None]:
    """On Ctrl-C, silence the libraries' own reports of the kernel they stop, then interrupt as usual."""
    def interrupt(signum, frame):
        for name in ("papermill", "asyncio", "traitlets"):
            logging.getLogger(name).disabled = True
        with contextlib.suppress(RuntimeError):  # papermill's loop, running now: its tasks are reported when collected, later
            asyncio.get_running_loop().set_exception_handler(_drop_unretrieved)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        for name in ("papermill", "asyncio", "traitlets"):
            logging.getLogger(name).disabled = False


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
    """The end-of-run report: data, time per notebook, the cross-validated F1, thresholds, submission path."""
    pipeline = record.get("pipeline", {})
    notebooks = pipeline.get("notebooks", {})
    total = sum(step.get("seconds", 0) for step in notebooks.values())
    lines = [f"Run '{record.get('run')}' {record.get('status')}: {total:.1f} s of notebooks, products in {run_dir}"]
    if record.get("sample_data"):
        lines.append(SAMPLE_WARNING)
    lines += [f"  {name:<28}{step.get('seconds', 0):8.1f} s  {step.get('status')}" for name, step in notebooks.items()]
    lines += estimate_lines(run_summary(run_dir))
    try:
        chosen, unreadable = read_json(run_dir / THRESHOLDS), ""
    except UnreadableFileError as error:  # the end of a run reports what it can
        chosen, unreadable = {}, f" ({error})"
    thresholds = chosen.get("thresholds")
    if isinstance(thresholds, dict) and thresholds:
        how = ", ".join(f"{key} {chosen[key]}" for key in ("mode", "empty_rule") if key in chosen)
        values = ", ".join(f"{label} {value:.2f}" if isinstance(value, float) else f"{label} {value}"
                           for label, value in thresholds.items())
        lines.append(f"thresholds{f' ({how})' if how else ''}: {values}")
    else:
        lines.append(f"thresholds: not available{unreadable}")
    lines.append(f"submission: {record.get('submission') or 'not available'}")
    lines.append(f"report: {record.get('report') or 'not available'}")
    lines.append(f"export: {export_line(run_dir)}")
    return "\n".join(lines)


def export_line(run_dir: Path) -> str:
    """The run's export for utils.predict when it is fresh, with its size; else how to make one."""
    from ..export.manifest import EXPORT_DIR, export_size, stale_reasons

    export = run_dir / EXPORT_DIR
    try:
        stale = stale_reasons(run_dir, export)
    except ValueError as error:  # an unreadable record or manifest: the end of a run reports what it can
        return f"not available ({error})"
    return f"none up to date (python -m utils.export {run_dir})" if stale else f"{export} ({export_size(export) / 1e6:.1f} MB)"


def export_finished_run(run_dir: Path) -> None:
    """Export the run (utils.export) unless its export is up to date; a failure is one notice: the run stays finished and
    utils.predict uses the training stack."""
    from ..export.manifest import EXPORT_DIR, stale_reasons
    from ..export.writer import export_run

    try:
        if stale_reasons(run_dir, run_dir / EXPORT_DIR):
            export_run(run_dir)
    except Exception as error:  # whatever stops the export, the run's own products are done
        reason = (str(error).splitlines() or [""])[0]
        print(f"Notice: run not exported ({type(error).__name__}: {reason}); utils.predict uses the training stack. Export it "
              f"with: python -m utils.export {run_dir}", file=sys.stderr, flush=True)


@dataclasses.dataclass
class Plan:
    """A checked run: its settings, the notebooks to execute and the parameters every notebook gets."""

    config: RunConfig
    notebooks: list[Path]
    parameters: dict
    kernel: str  # the Jupyter kernel's name
    reuse: bool  # continuing an existing run (--from / --only / --resume)
    force: bool  # a full run that replaces the run folder
    only: bool = False  # --only: the later notebooks' products become stale
    export: bool = True  # export the run (utils.export) when it finishes after notebook 05


def check_backbone(name: str) -> None:
    """Refuse, before anything runs, a backbone that cannot load: a local folder without config.json, a malformed Hub name,
    or (offline) a Hub model that is not in the local cache."""
    import os

    from ..core.settings import NAVEC

    if name == NAVEC:
        return
    folder = Path(name).expanduser()
    if name.startswith((".", "/", "~")) or folder.exists():
        if not (folder / "config.json").is_file():
            raise ConfigError(f"model.backbone {name!r}: no Hugging Face model there (a folder with config.json and tokenizer files)")
        return
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(name)
    except HFValidationError as error:
        raise ConfigError(f"model.backbone {name!r} is not a Hugging Face model name ({error}); accepted: 'navec', "
                          "a name such as cointegrated/rubert-tiny2, or a local model folder") from None
    if os.environ.get("HF_HUB_OFFLINE") == "1" and not isinstance(try_to_load_from_cache(name, "config.json"), str):
        raise ConfigError(f"model.backbone {name!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE=1: "
                          "download it first or give a local folder")


def check_data(data_dir: Path, force: bool) -> None:
    """Read and check the three competition files before a new run makes its folder (or --force deletes anything)."""
    try:
        load_competition(data_dir)
    except DataError as error:
        raise PipelineError(f"the data would fail notebook 01, so nothing was started{' or deleted' if force else ''}: {error}") from None


def first_unfinished(config: RunConfig, notebooks: list[Path]) -> list[Path]:
    """The notebooks from the first one whose products are not done and fresh (for --resume)."""
    record = read_record(config.run_dir)
    for k, notebook in enumerate(notebooks):
        if notebook.stem not in STEPS or step_problems(config, notebook.stem, record):
            return notebooks[k:]
    return []


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
    resume: bool = False,
    export: bool = True,
) -> Plan:
    """Check settings, run folder, data and kernel; raise ConfigError, FileNotFoundError or PipelineError, or return the plan."""
    reuse = bool(start or only or resume)
    if run_name is not None:
        check_run_name(run_name)
    if force and reuse:
        raise PipelineError("--force replaces a whole run; it cannot be combined with --from, --only or --resume: drop one")
    overrides = parse_overrides(overrides)
    config = load_config(config_file, overrides)
    runs_root = repo_path(config.runs_dir)
    if reuse and not run_name:
        raise PipelineError(f"--from/--only/--resume continue an existing run: name it with --run NAME "
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
            own = load_config(config_file, {"runs_dir": config.runs_dir}).replace(name=config.name)
            config = load_config(config_file, overrides).replace(name=config.name)
            if resume and config != own:
                raise PipelineError("--resume continues with the run's own settings (its params.yaml); to change settings, re-run "
                                    "notebooks with --from NN -p ..., or start a new run")
    check_backbone(config.model.backbone)
    check_path_settings(config)
    if force and not (data_dir or config.data_dir):
        data_dir = own_data_dir(config)
    data_dir = find_data_dir(data_dir or config.data_dir).resolve()
    config = config.replace(data_dir=str(data_dir))
    check_not_in_use(config.run_dir)
    if resume:
        status = read_record(config.run_dir).get("status")
        selected = first_unfinished(config, notebooks)
        if not selected:
            raise PipelineError(f"run '{config.name}' has {status or 'no record'} and every notebook's products are done and "
                                "fresh: nothing to resume")
    if reuse and selected and selected[0].stem in STEPS:
        problems = input_problems(config, selected[0].stem, read_record(config.run_dir))
        if problems:
            raise PipelineError(stale_message(config.run_dir, selected[0].stem, problems))
    elif not reuse:
        if force:
            check_replaceable(config.run_dir)
        else:
            check_new_run(config.run_dir)
        check_data(data_dir, force)
    check_kernel(kernel)
    parameters = {
        "config_file": str(Path(config_file).resolve()) if config_file else None,
        "overrides": overrides,
        "data_dir": str(data_dir),
        "run_name": config.name,
    }
    return Plan(config, selected, parameters, kernel, reuse, force, bool(only), export)


def clear_run_folder(run_dir: Path) -> None:
    """Delete a run's products (--force), keeping the lock this process holds."""
    for path in run_dir.iterdir():
        if path.name != LOCK_FILE:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


def stale_after(config: RunConfig, notebooks: list[Path]) -> list[str]:
    """The later notebooks whose recorded products no longer fit (after --only)."""
    record = read_record(config.run_dir)
    return [path.stem for path in notebooks if path.stem in record.get("steps", {}) and step_problems(config, path.stem, record)]


def run_pipeline(plan: Plan, shown: str = "headlines") -> dict:
    """Run a checked plan's notebooks into runs/<name>/ with papermill, showing of their cells' output every line
    ("verbose"), the lines that matter ("headlines": see utils.core.progress.headline) or nothing ("quiet"); return the
    run's record.

    The record (runs/<name>/manifest.json) gets status 'finished', 'failed' or 'interrupted', seconds per notebook,
    the submission path and, after a failure, which notebook and cell failed."""
    run_dir = plan.config.run_dir
    try:
        with RunLock(run_dir):
            if plan.force:
                clear_run_folder(run_dir)
            return _run_locked(plan, shown)
    except RunInUseError as error:
        print(f"Not started: {error}", file=sys.stderr)
        return {"status": "refused", "error": str(error)}


def _set_run(run_dir: Path, **values) -> dict:
    return update_record(run_dir, lambda record: record.update(values))


def _set_notebook(run_dir: Path, stem: str, **values) -> dict:
    return update_record(run_dir, lambda record: record.setdefault("pipeline", {}).setdefault("notebooks", {}).setdefault(stem, {})
                         .update(values))


def _run_locked(plan: Plan, shown: str) -> dict:
    run_dir = plan.config.run_dir
    pipeline = {"started": timestamp(), "kernel": plan.kernel, "parameters": plan.parameters,
                "notebooks": read_record(run_dir).get("pipeline", {}).get("notebooks", {}) if plan.reuse else {}}
    _set_run(run_dir, run=plan.config.name, status="running", data_dir=plan.parameters["data_dir"],
             sample_data=is_sample(plan.parameters["data_dir"]), pipeline=pipeline, failure=None, submission=None)
    names = ", ".join(path.name for path in plan.notebooks)
    print(f"Run '{plan.config.name}' into {run_dir}: {names} (data from {plan.parameters['data_dir']})", flush=True)
    if is_sample(plan.parameters["data_dir"]):
        print(SAMPLE_WARNING, flush=True)
    bar = shown != "verbose" and sys.stderr.isatty()  # in a terminal: a bar per notebook, replaced by its line when done
    for k, notebook in enumerate(plan.notebooks, 1):
        step = f"[{k}/{len(plan.notebooks)}] {notebook.name}"
        if not bar:
            print(f"\n{step}" if shown == "verbose" else step, flush=True)
        stopped = _execute(plan, notebook, shown, step if bar else None)
        if stopped:
            return stopped
        seconds = read_record(run_dir)["pipeline"]["notebooks"][notebook.stem]["seconds"]
        print(f"{step} done in {seconds:.1f} s", flush=True)
    submission = read_json(run_dir / INFERENCE_RECORD).get("submission")
    every = list_notebooks(plan.notebooks[0].parent)
    later = stale_after(plan.config, every[every.index(plan.notebooks[-1]) + 1:]) if plan.only else []
    submission = submission if submission and Path(submission).is_file() else None
    _set_run(run_dir, status="finished", ended=timestamp(), submission=submission)
    if plan.export and INFERENCE in [path.stem for path in plan.notebooks]:
        export_finished_run(run_dir)
    write_run_summary(run_dir)
    record = _set_run(run_dir, report=try_write_report(run_dir))
    print("\n" + summarize(run_dir, record), flush=True)
    if later:
        print(f"Now stale (made from the products this run replaced): {', '.join(later)}; "
              f"rebuild them with --run {plan.config.name} --from {later[0][:2]}", flush=True)
    return record


KERNEL_STARTS = 3  # tries to start a notebook's kernel: one can lose its ports to another kernel starting at the same moment


def _execute(plan: Plan, notebook: Path, shown: str, bar: str | None) -> dict | None:
    """One notebook with papermill into runs/<name>/notebooks/ (its kernel's stderr beside it, in a .log), with a progress
    bar over its cells named `bar` (None: no bar); the run's record after a failure or Ctrl-C, None when it finished."""
    import papermill

    executed = plan.config.run_dir / EXECUTED_NOTEBOOKS / notebook.name
    executed.parent.mkdir(parents=True, exist_ok=True)
    LoggedKernelManager.log_file = executed.with_suffix(".log")
    began = time.perf_counter()
    for attempt in range(1, KERNEL_STARTS + 1):
        with cell_log(shown) as cells:
            try:
                with quiet_after_ctrl_c():
                    papermill.execute_notebook(
                        str(notebook), str(executed), parameters=plan.parameters, kernel_name=plan.kernel,
                        cwd=str(NOTEBOOKS_DIR),  # the bootstrap cell finds utils/ from here, wherever the notebooks are
                        log_output=True, progress_bar={"desc": bar, "leave": False} if bar else False,
                        kernel_manager_class=LoggedKernelManager,
                    )
                break
            except KeyboardInterrupt:
                where = f"cell {cells.cell} of the executed notebook" if cells.cell else "while its kernel started"
                return _stop(plan, notebook, executed, began, "interrupted", {"notebook": notebook.name, "cell": where,
                             "exception": "KeyboardInterrupt", "traceback": "", "executed": str(executed)})
            except Exception as error:  # a failing cell (PapermillExecutionError) or a kernel that died or never started
                if cells.cell is None and isinstance(error, RuntimeError) and attempt < KERNEL_STARTS:
                    print(f"Notice: the kernel of {notebook.name} ended before it ran a cell ({error}; its log: "
                          f"{LoggedKernelManager.log_file}): starting it again", flush=True)
                    continue
                return _stop(plan, notebook, executed, began, "failed", describe_failure(notebook, executed, error))
    _set_notebook(plan.config.run_dir, notebook.stem, status="done", seconds=round(time.perf_counter() - began, 1), executed=str(executed))
    return None


def _stop(plan: Plan, notebook: Path, executed: Path, began: float, status: str, failure: dict) -> dict:
    """Record a failed or interrupted notebook and say, in a few lines, where it stopped and how to go on."""
    run_dir = plan.config.run_dir
    if notebook.stem in STEPS:
        mark_step(run_dir, notebook.stem, status)
    _set_notebook(run_dir, notebook.stem, status=status, seconds=round(time.perf_counter() - began, 1), executed=str(executed))
    if status == "failed":
        report = failure_report(failure)
        failure_page = try_write_report(run_dir)
        report += f"\nreport: {failure_page or 'not available'}"
    else:
        failure_page = None
        report = (f"Interrupted: {notebook.name}, {failure['cell']}. Run '{plan.config.name}' is marked interrupted; the products "
                  f"of its finished notebooks are kept.\nContinue: python -m utils.pipeline --run {plan.config.name} --resume"
                  f"\nStart over: python -m utils.pipeline --run {plan.config.name} --force")
    record = _set_run(run_dir, status=status, ended=timestamp(), failure=failure, report=failure_page)
    print(f"\n{report}", file=sys.stderr, flush=True)
    return record


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0 finished, 1 a notebook failed, 2 the run could not start, 130 interrupted (Ctrl-C)."""
    parser = argparse.ArgumentParser(prog="python -m utils.pipeline",
                                     description="Run the numbered notebooks with papermill into runs/<name>/.")
    parser.add_argument("--config", help="a YAML file of settings (see utils/core/settings.py)")
    parser.add_argument("-p", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting, e.g. -p train.epochs=3 (value read as YAML; repeat for more)")
    parser.add_argument("--data-dir", help="the folder of the competition files (default: discovered, see docs/data.md)")
    parser.add_argument("--run", help="the run's name: its folder in the runs folder, 1 to 100 of A-Z a-z 0-9 . _ + - starting with "
                        "a letter or digit (default: the time, e.g. 2026-11-28_1903)")
    step = parser.add_mutually_exclusive_group()
    step.add_argument("--from", dest="start", metavar="NN", help="continue run --run from notebook NN, reusing the earlier products")
    step.add_argument("--only", metavar="NN", help="re-run only notebook NN of run --run (the later notebooks' products become stale)")
    step.add_argument("--resume", action="store_true", help="continue an interrupted or failed run from its first unfinished notebook")
    parser.add_argument("--force", action="store_true", help="replace a run of the kit that already exists (checked first, then "
                        "deleted), from the data it was made from unless --data-dir is given")
    parser.add_argument("--kernel", default="python3", help="the Jupyter kernel that runs the notebooks (default: python3)")
    parser.add_argument("--notebooks", default=str(NOTEBOOKS_DIR), help="the folder of the numbered notebooks")
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--verbose", action="store_true", help="show every line of every cell (default: the lines that matter: "
                       "fold scores, the estimate, where products are written, warnings)")
    shown.add_argument("--quiet", action="store_true", help="show nothing of the cells: a line per notebook and the summary")
    parser.add_argument("--no-export", dest="export", action="store_false",
                        help="do not export the run when it finishes after notebook 05 (by default runs/<name>/export/ is written "
                             "for utils.predict and shipping: python -m utils.export, docs/export.md)")
    args = parser.parse_args(argv)
    try:
        plan = plan_run(args.config, args.overrides, args.data_dir, args.run, args.start, args.only, args.force, args.kernel,
                        args.notebooks, args.resume, args.export)
    except (KitError, FileNotFoundError) as error:
        print(f"Not started: {error}", file=sys.stderr)
        return 2
    status = run_pipeline(plan, "verbose" if args.verbose else "quiet" if args.quiet else "headlines")["status"]
    return {"finished": 0, "failed": 1, "interrupted": 130}.get(status, 2)


if __name__ == "__main__":
    sys.exit(main())
