"""Shared fixtures: the sample data folder, the shared competition data (skipped when absent), CSV writers; the guard that
keeps the fast tier fast (a test not marked e2e that starts a notebook, a pipeline or a training process fails)."""
from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
SAMPLE_DIR = REPO_ROOT / "data" / "sample"
SHARED_DATA = Path(os.environ.get("KIT_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
HEADER = "text,anger,disgust,fear,joy,sadness,surprise,neutral"


E2E_COMMAND = re.compile(r"utils\.(pipeline|train|benchmark|kaggle_kernel)\b(?!\.)|torchrun|accelerate|papermill|jupyter")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items):
    """Under pytest-xdist (--dist loadgroup), the tests sharing a session- or module-scoped fixture (the shared sample run, a
    module's finished run) go to one worker, which makes the fixture once."""
    for item in items:
        shared = [(name, defs[-1]) for name, defs in item._fixtureinfo.name2fixturedefs.items()  # the kit's fixtures, not pytest's
                  if defs and defs[-1].baseid and defs[-1].scope in ("session", "module")]
        if shared:
            name, fixture = shared[0]
            item.add_marker(pytest.mark.xdist_group(name if fixture.scope == "session" else f"{item.module.__name__}.{name}"))


@pytest.fixture(autouse=True)
def fast_tier_guard(request, monkeypatch):
    """In the fast tier, starting a notebook kernel, a kit command in a subprocess or a worker process is an error that
    names the e2e marker (the end-to-end tier's tests carry it)."""
    if request.node.get_closest_marker("e2e"):
        return
    import multiprocessing.process
    import subprocess

    import papermill

    def refuse(what):
        raise AssertionError(f"{request.node.nodeid} {what}: mark it @pytest.mark.e2e (the end-to-end tier) or test the code in-process")

    popen = subprocess.Popen

    def guarded_popen(args, *rest, **options):
        command = " ".join(map(str, args)) if isinstance(args, list | tuple) else str(args)
        if E2E_COMMAND.search(command):
            refuse(f"starts `{command[:80]}`")
        return popen(args, *rest, **options)

    monkeypatch.setattr(subprocess, "Popen", guarded_popen)
    monkeypatch.setattr(papermill, "execute_notebook", lambda *args, **kwargs: refuse("runs a notebook under papermill"))
    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", lambda self: refuse("starts a worker process"))


SMALL_RUN = {"train.folds": 2, "train.epochs": 1, "model.navec.hidden_size": 16, "model.head.hidden_size": 16, "tfidf.max_iter": 50,
             "expansion.enabled": True}  # the shared sample run's settings: every notebook and member, in about a minute
SAMPLE_RUN_NAME = "sample-s42"  # the benchmark's run of variant 'sample' with the kit's default seed
SMALL_RUN_SETTINGS = [f"{key}={str(value).lower() if isinstance(value, bool) else value}" for key, value in SMALL_RUN.items()]


@dataclass
class SampleRun:
    """The shared run: `root` holds runs/sample-s42/, submissions/sample-s42.csv and the benchmark's results.json/.md; what was
    printed."""

    root: Path
    out: str
    err: str

    @property
    def run_dir(self) -> Path:
        return self.root / "runs" / SAMPLE_RUN_NAME

    def copy(self, tmp_path: Path) -> Path:
        """A copy of the root (runs/ and submissions/) to change freely; returns the copied run folder."""
        shutil.copytree(self.root, tmp_path, dirs_exist_ok=True)
        return tmp_path / "runs" / SAMPLE_RUN_NAME


def small_run_args(runs_dir: Path) -> list[str]:
    """`-p` arguments for a run with the shared run's settings into `runs_dir`."""
    return [item for setting in [f"runs_dir={runs_dir}", *SMALL_RUN_SETTINGS] for item in ("-p", setting)]


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory) -> SampleRun:
    """ONE run of the kit's real notebooks 01-06 on the sample (SMALL_RUN settings), made and measured by `python -m
    utils.benchmark` (one variant, 'sample', with one seed, the default 42: runs/sample-s42), shared by the end-to-end tests
    that only read a finished run's products; a test that changes it works on `sample_run.copy(tmp_path)`."""
    import yaml

    from utils.run.benchmark import main

    root = tmp_path_factory.mktemp("sample_run")
    variants = root / "variants.yaml"
    variants.write_text(yaml.safe_dump({"sample": {"description": "the tests' small run", "overrides": SMALL_RUN}}), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--data-dir", str(SAMPLE_DIR), "--variants", str(variants), "--out", str(root / "results"),
                     "--runs-dir", str(root / "runs"), "--seeds", "1"])
    assert code == 0, err.getvalue()[-5000:]
    return SampleRun(root, out.getvalue(), err.getvalue())


@pytest.fixture
def sample_dir() -> Path:
    return SAMPLE_DIR


@pytest.fixture
def competition_dir() -> Path:
    folder = SHARED_DATA / "cryptonite"
    if not (folder / "valid.csv").is_file():
        pytest.skip(f"competition data not found at {folder}")
    return folder


@pytest.fixture
def write_file(tmp_path):
    """Write text (UTF-8 unless an encoding is given) or bytes to a file in a temporary folder."""

    def write(name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
        return path

    return write


def record_step(config, notebook: str, write, **facts):
    """Make a notebook's products as the notebook does: begin its record, `write()` the products, finish the record."""
    from utils.core.run_record import begin_step, finish_step

    begin_step(config, notebook)
    write()
    finish_step(config, notebook, **facts)


def notebook_figures(folder: Path) -> list[bytes]:
    """The PNG outputs of every notebook in a folder, decoded."""
    import base64

    import nbformat

    outputs = [output for path in sorted(folder.glob("*.ipynb")) for cell in nbformat.read(path, as_version=4).cells
               for output in cell.get("outputs", [])]
    return [base64.b64decode(output["data"]["image/png"]) for output in outputs if "image/png" in output.get("data", {})]


def html_figures(html: str) -> set[bytes]:
    """The PNGs embedded in an HTML page as data URIs, decoded."""
    import base64
    import re

    return {base64.b64decode(payload) for payload in re.findall(r'src="data:image/png;base64,([^"]+)"', html)}
