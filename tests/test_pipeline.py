"""`python -m utils.pipeline`: one command for the notebooks in order, reuse of a run, refusals before anything runs."""
import contextlib
import io
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime

import nbformat
import pytest
import yaml
from conftest import REPO_ROOT, SAMPLE_DIR, html_figures, notebook_figures
from standin_notebooks import REAL_NOTEBOOKS, write_standins

from utils.core.splits import LABELS
from utils.inference.submission import check_submission
from utils.run.pipeline import (
    PipelineError,
    check_new_run,
    main,
    new_run_name,
    select_notebooks,
    summarize,
)


def run_main(args):
    """main(args) with its stdout and stderr captured: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def standins(tmp_path_factory):
    return write_standins(tmp_path_factory.mktemp("standins"))


@pytest.fixture(scope="module")
def finished_run(standins, tmp_path_factory):
    """One full run of the five stand-ins with seed=7: (root, exit status, stdout)."""
    root = tmp_path_factory.mktemp("pipeline")
    code, out, _ = run_main(["--notebooks", str(standins), "-p", f"runs_dir={root / 'runs'}", "-p", "seed=7", "--run", "full"])
    return root, code, out


def copy_run(finished_run, tmp_path):
    """A copy of the finished run's runs folder (and submissions) to change freely."""
    root = finished_run[0]
    shutil.copytree(root / "runs", tmp_path / "runs")
    shutil.copytree(root / "submissions", tmp_path / "submissions")
    return tmp_path / "runs" / "full"


def read_json(path):
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.e2e
def test_a_run_executes_every_notebook_with_one_set_of_settings_and_reports(finished_run, standins, sample_dir):
    root, code, out = finished_run
    run_dir = root / "runs" / "full"
    assert code == 0
    assert sorted(p.name for p in (run_dir / "notebooks").glob("*.ipynb")) == sorted(p.name for p in standins.iterdir())
    assert "Kernel is running over TCP" in (run_dir / "notebooks" / "01_eda.log").read_text(), "kernel stderr goes to a log"
    record = read_json(run_dir / "manifest.json")
    assert record["status"] == "finished"
    assert list(record["pipeline"]["notebooks"]) == ["01_eda", "02_data_expansion", "03_training", "04_threshold_search", "05_inference"]
    assert all(step["status"] == "done" and step["seconds"] > 0 for step in record["pipeline"]["notebooks"].values())
    assert all(step["status"] == "done" and step["products"] for step in record["steps"].values())
    assert record["sample_data"] is True and "DATA: the kit's small authored sample" in out.split("Run 'full' finished")[-1]
    # the same settings reached every notebook
    assert read_json(run_dir / "eda" / "summary.json")["seed"] == 7
    assert read_json(run_dir / "thresholds.json")["seed"] == 7
    assert yaml.safe_load((run_dir / "params.yaml").read_text())["seed"] == 7
    check_submission(record["submission"], sample_dir / "test_without_answers.csv")
    # a line per notebook, of the cells only the lines that matter (the stand-ins print none), and the summary
    assert "[1/5] 01_eda.ipynb" in out and "[5/5] 05_inference.ipynb done in" in out
    assert "submission written to" not in out and "Executing Cell" not in out, "every line of every cell only with --verbose"
    assert "honest estimate of weighted F1: not available (notebook 04 writes it)" in out, "the stand-in 04 writes no estimate"
    seconds = read_json(run_dir / "summary.json")["seconds_per_notebook"]
    assert list(seconds) == [path.stem for path in sorted(standins.iterdir())] and all(value > 0 for value in seconds.values())
    assert "thresholds (mode per_label, empty_rule top): anger 0.30, disgust 0.35" in out
    assert f"submission: {root / 'submissions' / 'full.csv'}" in out
    assert f"report: {run_dir / 'report.html'}" in out and record["report"] == str(run_dir / "report.html")


@pytest.mark.e2e
def test_a_finished_run_is_not_overwritten(finished_run, standins):
    root = finished_run[0]
    before = (root / "runs" / "full" / "manifest.json").read_bytes()
    code, _, err = run_main(["--notebooks", str(standins), "-p", f"runs_dir={root / 'runs'}", "--run", "full"])
    assert code == 2
    assert "already holds a run (finished)" in err and "--force" in err and "--from NN" in err
    assert (root / "runs" / "full" / "manifest.json").read_bytes() == before


@pytest.mark.e2e
def test_from_reuses_the_earlier_products_and_the_runs_own_settings(finished_run, standins, tmp_path):
    run_dir = copy_run(finished_run, tmp_path)
    earlier = {name: (run_dir / "notebooks" / f"{name}.ipynb").read_bytes() for name in ("01_eda", "02_data_expansion", "03_training")}
    (run_dir / "thresholds.json").unlink()
    code, out, _ = run_main(["--notebooks", str(standins), "-p", f"runs_dir={tmp_path / 'runs'}", "--run", "full", "--from", "04"])
    assert code == 0
    assert f"Run 'full' into {run_dir}: 04_threshold_search.ipynb, 05_inference.ipynb (" in out
    assert all((run_dir / "notebooks" / f"{name}.ipynb").read_bytes() == data for name, data in earlier.items())
    assert read_json(run_dir / "thresholds.json")["seed"] == 7, "the run's params.yaml (seed=7) is reused without -p"
    record = read_json(run_dir / "manifest.json")
    assert record["status"] == "finished" and len(record["pipeline"]["notebooks"]) == 5


@pytest.mark.e2e
def test_from_refuses_a_run_that_lacks_earlier_products(finished_run, standins, tmp_path):
    run_dir = copy_run(finished_run, tmp_path)
    (run_dir / "train_expanded.csv").unlink()
    executed = (run_dir / "notebooks" / "03_training.ipynb").read_bytes()
    code, _, err = run_main(["--notebooks", str(standins), "-p", f"runs_dir={tmp_path / 'runs'}", "--run", "full", "--from", "03"])
    assert code == 2
    assert "train_expanded.csv: train_expanded.csv is missing (02_data_expansion wrote it)" in err and "--from 02" in err
    assert (run_dir / "notebooks" / "03_training.ipynb").read_bytes() == executed


def test_from_and_only_need_an_existing_run(standins, tmp_path):
    args = ["--notebooks", str(standins), "-p", f"runs_dir={tmp_path}"]
    code, _, err = run_main([*args, "--from", "03"])
    assert code == 2 and "--run NAME" in err
    code, _, err = run_main([*args, "--only", "04", "--run", "nope"])
    assert code == 2 and "no run 'nope'" in err


@pytest.mark.e2e
def test_a_failing_cell_stops_the_run_and_is_reported(finished_run, standins, tmp_path):
    run_dir = copy_run(finished_run, tmp_path)
    later = (run_dir / "notebooks" / "04_threshold_search.ipynb").read_bytes()
    args = ["--notebooks", str(standins), "-p", f"runs_dir={tmp_path / 'runs'}", "--run", "full", "--from", "03", "-p", "train.epochs=99"]
    code, _, err = run_main(args)
    assert code == 1
    executed = run_dir / "notebooks" / "03_training.ipynb"
    assert "FAILED: 03_training.ipynb, cell In [5] (cell 6 of the executed notebook)" in err
    assert "ValueError: the stand-in trains at most 50 epochs, got 99" in err
    assert f"traceback: {executed}" in err and "ValueError" in executed.read_text()
    assert (run_dir / "notebooks" / "04_threshold_search.ipynb").read_bytes() == later, "the run stops at the failure"
    record = read_json(run_dir / "manifest.json")
    assert record["status"] == "failed" and record["failure"]["notebook"] == "03_training.ipynb"
    assert f"report: {run_dir / 'report.html'}" in err
    shown = re.sub("<[^>]+>", "", (run_dir / "report.html").read_text(encoding="utf-8"))  # the text, without the colours' tags
    assert "ValueError: the stand-in trains at most 50 epochs, got 99" in shown, "the report shows the failure"


def test_an_unknown_setting_is_refused_before_any_notebook_runs(standins, tmp_path):
    code, _, err = run_main(["--notebooks", str(standins), "-p", f"runs_dir={tmp_path / 'runs'}", "-p", "train.epoch=3"])
    assert code == 2
    assert "unknown setting(s) ['train.epoch']" in err and "'train.epochs'" in err
    assert not (tmp_path / "runs").exists()


def test_a_missing_kernel_is_refused_with_the_fix(standins, tmp_path):
    code, _, err = run_main(["--notebooks", str(standins), "-p", f"runs_dir={tmp_path / 'runs'}", "--kernel", "no-such-kernel"])
    assert code == 2
    assert "Jupyter kernel 'no-such-kernel' not found" in err and "-m ipykernel install --user --name no-such-kernel" in err
    assert not (tmp_path / "runs").exists()


def test_a_data_dir_without_the_competition_files_is_refused(standins, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("text\n")
    code, _, err = run_main(["--notebooks", str(standins), "-p", f"runs_dir={tmp_path / 'runs'}", "--data-dir", str(tmp_path / "data")])
    assert code == 2
    assert "valid.csv" in err and "test_without_answers.csv" in err and "'train.csv'" not in err
    assert not (tmp_path / "runs").exists()


@pytest.mark.e2e
def test_force_replaces_a_finished_run(standins, tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    shutil.copy(standins / "01_eda.ipynb", notebooks)
    run_dir = tmp_path / "runs" / "again"
    run_dir.mkdir(parents=True)
    (run_dir / "manifest.json").write_text(json.dumps({"status": "finished"}))
    (run_dir / "stale.csv").write_text("old")
    code, _, _ = run_main(["--notebooks", str(notebooks), "-p", f"runs_dir={tmp_path / 'runs'}", "--run", "again", "--force", "--quiet"])
    assert code == 0
    assert not (run_dir / "stale.csv").exists() and (run_dir / "eda" / "summary.json").is_file()


def test_products_made_outside_the_pipeline_are_not_overwritten(tmp_path):
    (tmp_path / "metrics.json").write_text("{}")
    with pytest.raises(PipelineError, match="holds a run \\(products made outside the pipeline\\)"):
        check_new_run(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"status": "failed"}))
    with pytest.raises(PipelineError, match=r"\(failed\): continue it with --resume .*or start over with --force"):
        check_new_run(tmp_path)


def test_notebooks_are_chosen_by_number(tmp_path):
    notebooks = [tmp_path / name for name in ("01_eda.ipynb", "02_data_expansion.ipynb", "03_training.ipynb")]
    assert select_notebooks(notebooks) == notebooks
    assert select_notebooks(notebooks, start="2") == notebooks[1:]
    assert select_notebooks(notebooks, start="02_data_expansion") == notebooks[1:]
    assert select_notebooks(notebooks, only="03") == notebooks[2:]
    with pytest.raises(PipelineError, match=r"no notebook '07'; choose one of \['01_eda.ipynb'"):
        select_notebooks(notebooks, only="07")


def test_the_summary_reads_the_products_defensively(tmp_path):
    record = {"run": "r", "status": "finished", "submission": None,
              "pipeline": {"notebooks": {"01_eda": {"status": "done", "seconds": 2.5}}}}
    text = summarize(tmp_path, record)
    assert "honest estimate of weighted F1: not available" in text and "thresholds: not available" in text
    assert "submission: not available" in text and "01_eda" in text and "2.5 s" in text
    estimate = {"weighted_f1": 0.61234, "ci": [0.6, 0.625], "per_label_f1": {}, "rows": 10, "rules": []}
    (tmp_path / "estimate.json").write_text(json.dumps({"clean": estimate, "asr_noise": {**estimate, "weighted_f1": 0.6001}}))
    (tmp_path / "thresholds.json").write_text("{not json")
    text = summarize(tmp_path, record)
    assert "honest estimate of weighted F1: 0.6001 (95% interval over valid rows 0.6000-0.6250): nested cross-validation, " \
           "held-out valid rows written with speech-recognition noise" in text
    assert "also: 0.6123 (0.6000-0.6250), nested cross-validation, held-out valid rows as written" in text
    assert "thresholds: not available" in text


def test_a_new_run_is_named_after_the_time(tmp_path):
    now = datetime(2026, 11, 28, 19, 3, 41)
    assert new_run_name(tmp_path, now) == "2026-11-28_1903"
    (tmp_path / "2026-11-28_1903").mkdir()
    assert new_run_name(tmp_path, now) == "2026-11-28_190341"


@pytest.mark.e2e
def test_the_real_notebooks_run_end_to_end_on_the_sample(sample_run):
    out, run_dir = sample_run.out, sample_run.run_dir
    record = read_json(run_dir / "manifest.json")
    assert list(record["pipeline"]["notebooks"]) == [path.stem for path in REAL_NOTEBOOKS]
    check_submission(record["submission"], SAMPLE_DIR / "test_without_answers.csv")
    assert "honest estimate of weighted F1: not available" not in out and "thresholds: not available" not in out
    summary = read_json(run_dir / "summary.json")
    assert 0 < summary["cv_weighted_f1"] < 1 and summary["sample_data"] is True and summary["data_dir"] == str(SAMPLE_DIR)
    assert summary["cv_weighted_f1_ci"][0] <= summary["cv_weighted_f1"] <= summary["cv_weighted_f1_ci"][1]
    assert f"honest estimate of weighted F1: {summary['cv_weighted_f1']:.4f}" in out
    # by default the terminal shows a line per notebook and the lines that matter, not every line of every cell
    assert "» fold 1/2: held-out weighted F1 " in out and "» fold 2/2: held-out weighted F1 " in out
    assert "» Checked submission of 150 rows written to" in out and "» nested cross-validation, held-out valid rows" in out
    assert "Executing Cell" not in out and "PosixPath(" not in out and "<Figure size" not in out
    assert set(summary["per_label_f1"]) == set(LABELS) and len(summary["seconds_per_notebook"]) == 6
    assert {path.name for path in (run_dir / "errors").glob("*.png")} == {"per_label.png", "mistaken_for.png", "f1_by_group.png",
                                                                          "word_weights.png"}
    for path in sorted((run_dir / "notebooks").glob("*.ipynb")):  # no cell ends with a bare repr (a path, a number, a dict)
        outputs = [output for cell in nbformat.read(path, as_version=4).cells for output in cell.get("outputs", [])]
        assert not [output for output in outputs if output.get("output_type") in ("execute_result", "display_data")
                    and set(output.get("data", {})) == {"text/plain"}], path.name
    figures = notebook_figures(run_dir / "notebooks")
    assert len(figures) >= 13 and set(figures) == html_figures((run_dir / "report.html").read_text(encoding="utf-8")), "all in the report"


def start_pipeline(args, log):
    """`python -m utils.pipeline ARGS` in its own session (as a terminal runs it), output to `log`."""
    return subprocess.Popen([sys.executable, "-m", "utils.pipeline", *args], cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_for(condition, seconds=120):
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.2)


def held_in_03(log):
    """True once the stand-in notebook 03 executes cell 6, which waits while its hold file exists."""
    return "Executing Cell 6" in log.read_text().partition("[3/5] 03_training.ipynb")[2]


@pytest.mark.e2e
def test_ctrl_c_ends_with_one_message_a_second_pipeline_is_refused_and_resume_continues(standins, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    hold = runs / "r.hold"
    hold.touch()
    args = ["--notebooks", str(standins), "-p", f"runs_dir={runs}", "--run", "r"]
    with open(tmp_path / "first.log", "w") as log:
        first = start_pipeline([*args, "--verbose"], log)  # every cell's start and output: the test waits for cell 6
        wait_for(lambda: held_in_03(tmp_path / "first.log"))
        code, _, err = run_main([*args, "--resume"])
        assert code == 2 and f"{runs / 'r'} is in use by process {first.pid}" in err, "a second pipeline on the same run is refused"
        os.killpg(first.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
        assert first.wait(60) == 130
    printed = (tmp_path / "first.log").read_text()
    stop = printed[printed.index("Interrupted"):]
    assert stop.startswith("Interrupted: 03_training.ipynb, cell 6 of the executed notebook. Run 'r' is marked interrupted")
    assert "--run r --resume" in stop and "--run r --force" in stop and len(stop.splitlines()) == 3
    assert "Traceback" not in printed and "\x1b[" not in printed and "Task exception" not in printed
    record = read_json(runs / "r" / "manifest.json")
    assert record["status"] == "interrupted" and record["steps"]["03_training"]["status"] == "interrupted"
    assert not (runs / "r" / ".lock").exists()
    code, _, err = run_main(args)
    assert code == 2 and "already holds a run (interrupted): continue it with --resume" in err
    hold.unlink()
    eda = (runs / "r" / "notebooks" / "01_eda.ipynb").read_bytes()
    code, out, _ = run_main([*args, "--resume"])
    assert code == 0 and "03_training.ipynb, 04_threshold_search.ipynb, 05_inference.ipynb (" in out
    assert (runs / "r" / "notebooks" / "01_eda.ipynb").read_bytes() == eda, "finished notebooks are not run again"
    assert read_json(runs / "r" / "manifest.json")["status"] == "finished"
    code, _, err = run_main([*args, "--resume"])
    assert code == 2 and "nothing to resume" in err
    code, _, err = run_main([*args, "--resume", "-p", "seed=3"])
    assert code == 2 and "--resume continues with the run's own settings" in err


def test_a_lock_left_by_a_dead_process_is_detected(tmp_path, capsys):
    from utils.core.run_lock import LOCK_FILE, check_not_in_use

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    (tmp_path / LOCK_FILE).write_text(json.dumps({"pid": int(dead), "host": socket.gethostname(), "started": "then", "token": "x"}))
    check_not_in_use(tmp_path)
    assert f"removed the stale lock {tmp_path / LOCK_FILE}: process {dead} is no longer running" in capsys.readouterr().out
    assert not (tmp_path / LOCK_FILE).exists()


@pytest.mark.e2e
def test_force_checks_the_data_before_deleting_anything(finished_run, standins, tmp_path):
    run_dir = copy_run(finished_run, tmp_path)
    before = sorted(path.name for path in run_dir.iterdir())
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("train.csv", "valid.csv", "test_without_answers.csv"):
        (bad / name).write_text("text,anger,disgust,fear,joy,sadness,surprise,neutral\nа,2,0,0,0,0,0,0\n", encoding="utf-8")
    args = ["--notebooks", str(standins), "-p", f"runs_dir={tmp_path / 'runs'}", "--run", "full"]
    code, _, err = run_main([*args, "--force", "--data-dir", str(bad)])
    assert code == 2 and "nothing was started or deleted" in err and "train.csv, line 2, column 'anger': expected 0 or 1" in err
    code, _, err = run_main([*args, "--force", "-p", "train.epochs=0"])
    assert code == 2 and "train.epochs = 0 is out of range" in err
    code, _, err = run_main([*args, "--force", "--from", "03"])
    assert code == 2 and "--force replaces a whole run; it cannot be combined with --from" in err
    assert sorted(path.name for path in run_dir.iterdir()) == before


def test_a_data_folder_with_some_of_the_files_stops_the_run(standins, tmp_path, monkeypatch):
    monkeypatch.delenv("KIT_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    for name in ("train.csv", "test_without_answers.csv"):
        (tmp_path / "data" / name).write_text("text\nа\n", encoding="utf-8")
    code, _, err = run_main(["--notebooks", str(standins), "-p", f"runs_dir={tmp_path / 'runs'}"])
    assert code == 2 and "holds some of the competition files but lacks ['valid.csv']" in err
    assert not (tmp_path / "runs").exists()


def test_a_kernel_that_dies_before_its_first_cell_is_started_again_a_failing_cell_is_not(standins, tmp_path, monkeypatch, capsys):
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from utils.run import pipeline

    plan = pipeline.plan_run(overrides={"runs_dir": str(tmp_path / "runs")}, data_dir=SAMPLE_DIR, run_name="r", notebooks_dir=standins)
    notebook = plan.notebooks[0]
    calls = []

    def port_taken_once(*args, **kwargs):  # as when another kernel starting at the same moment took its port
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("Kernel died before replying to kernel_info")

    monkeypatch.setattr(papermill, "execute_notebook", port_taken_once)
    assert pipeline._execute(plan, notebook, "quiet", None) is None and len(calls) == 2
    assert f"Notice: the kernel of {notebook.name} ended before it ran a cell (Kernel died before replying" in capsys.readouterr().out
    assert read_json(plan.config.run_dir / "manifest.json")["pipeline"]["notebooks"][notebook.stem]["status"] == "done"

    def cell_fails(*args, **kwargs):
        calls.append(args)
        logging.getLogger("papermill").info("Executing Cell 5---")
        raise PapermillExecutionError(4, 5, "ValueError", "bad", ["ValueError: bad"])

    calls.clear()
    monkeypatch.setattr(papermill, "execute_notebook", cell_fails)
    assert pipeline._execute(plan, notebook, "quiet", None)["status"] == "failed" and len(calls) == 1, "a failing cell is not retried"
