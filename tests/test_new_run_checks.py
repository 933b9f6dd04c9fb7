"""Before a run starts: its data and every path setting are checked (one message, nothing left behind), --force rebuilds
from the run's own data, a missing kernel is refused with the command that registers it; data messages name the line of
the file; in a notebook the kit's errors show as their one message."""
import contextlib
import io
import json
import re
import shlex
import shutil
import subprocess
import sys

import pytest
from conftest import HEADER, REPO_ROOT, SAMPLE_DIR

from utils.core.data_dir import find_data_dir
from utils.core.path_settings import check_path_settings
from utils.core.run_start import start_run
from utils.core.settings import ConfigError, RunConfig
from utils.core.splits import SPLIT_FILES, DataError, read_split
from utils.inference.cli import read_texts
from utils.run.pipeline import PipelineError, check_kernel, main, plan_run


def run_main(args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def data_folder(folder, train=None):
    """A copy of the sample data, its train.csv replaced by `train` when given."""
    shutil.copytree(SAMPLE_DIR, folder)
    if train is not None:
        (folder / SPLIT_FILES["train"]).write_text(train, encoding="utf-8")
    return folder


def test_bad_data_stops_a_new_run_before_anything_is_made(tmp_path):
    bad = data_folder(tmp_path / "bad", HEADER + "\nпервый,0,0,0,1,0,0,0\n\n\"две\nстроки\",0,0,0,1,0,0,0\nтретий,0,2,0,0,0,0,0\n")
    code, _, err = run_main(["-p", f"runs_dir={tmp_path / 'runs'}", "--data-dir", str(bad), "--run", "new"])
    assert code == 2
    assert err == (f"Not started: the data would fail notebook 01, so nothing was started: {bad / 'train.csv'}, line 6, column "
                   "'disgust': expected 0 or 1, got '2' (1 bad value(s) in this column)\n")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("overrides, message", [
    (["text.slips_file=/nonexistent/slips.csv"], "text.slips_file: /nonexistent/slips.csv is not a file; expected a CSV with the "
                                                 "header slip,fix"),
    (["text.slips_file={slips}"], "text.slips_file: {slips}, line 4: expected a one-word slip and a non-empty fix"),
    (["expansion.enabled=true", "expansion.external_dir=/nonexistent"], "expansion.external_dir: /nonexistent is not a folder"),
    (["expansion.enabled=true", "expansion.synthetic_dir=no/such/folder"],
     f"expansion.synthetic_dir: {REPO_ROOT / 'no/such/folder'} is not a folder"),
    (["runs_dir={slips}"], "runs_dir: {slips} is a file; expected a folder for the runs"),
])
def test_a_path_setting_that_names_nothing_usable_is_refused_before_a_run(tmp_path, overrides, message):
    slips = tmp_path / "slips.csv"
    slips.write_text("slip,fix\nкороч,короче\n\nдва слова,x\n", encoding="utf-8")
    settings = [item.format(slips=slips) for item in overrides]
    if not any(item.startswith("runs_dir=") for item in settings):
        settings.append(f"runs_dir={tmp_path / 'runs'}")
    code, _, err = run_main([*[part for item in settings for part in ("-p", item)], "--data-dir", str(SAMPLE_DIR)])
    assert code == 2 and message.format(slips=slips) in err, err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["slips.csv"], "no run folder is left behind"
    with pytest.raises(ConfigError, match=re.escape(message.format(slips=slips))):  # a notebook alone refuses it before writing
        start_run(overrides=settings, data_dir=SAMPLE_DIR, run_name="alone")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["slips.csv"]


def test_unused_expansion_folders_are_not_checked():
    check_path_settings(RunConfig(expansion={"enabled": False, "external_dir": "/nonexistent", "synthetic_dir": "/nonexistent"}))


def force_plan(tmp_path, capsys, *args, **kwargs):
    plan = plan_run(overrides={"runs_dir": str(tmp_path / "runs"), **kwargs.pop("overrides", {})}, run_name="old", force=True,
                    **kwargs)
    return plan, capsys.readouterr().out


def test_force_rebuilds_a_run_from_the_data_it_was_made_from(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("KIT_DATA_DIR", raising=False)
    own = data_folder(tmp_path / "own")
    run_dir = tmp_path / "runs" / "old"
    run_dir.mkdir(parents=True)
    (run_dir / "manifest.json").write_text(json.dumps({"status": "finished", "data_dir": str(own)}))
    plan, out = force_plan(tmp_path, capsys)
    assert plan.parameters["data_dir"] == str(own) and plan.config.data_dir == str(own)
    assert f"--force: run 'old' is rebuilt from the data it was made from, {own} (--data-dir DIR uses other data)" in out
    other = data_folder(tmp_path / "other")
    plan, out = force_plan(tmp_path, capsys, data_dir=other)
    assert plan.parameters["data_dir"] == str(other) and "rebuilt from the data it was made from" not in out
    plan, _ = force_plan(tmp_path, capsys, overrides={"data_dir": str(other)})
    assert plan.parameters["data_dir"] == str(other)
    shutil.rmtree(own)
    with pytest.raises(PipelineError, match=f"run 'old' was made from {own}, which no longer holds the competition files: give "
                                            r"--data-dir DIR to rebuild it from other data \(nothing was deleted\)"):
        force_plan(tmp_path, capsys)
    assert sorted(path.name for path in run_dir.iterdir()) == ["manifest.json"]


def test_a_missing_kernel_is_refused_with_the_command_that_registers_it(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter"))  # where `--user` registers kernels
    with pytest.raises(PipelineError) as refused:
        check_kernel("kit-test-kernel")
    command = f"{sys.executable} -m ipykernel install --user --name kit-test-kernel"
    assert str(refused.value).endswith(f"Register this Python as that kernel:\n  {command}")
    subprocess.run(shlex.split(command), check=True, capture_output=True)
    check_kernel("kit-test-kernel")  # the command did register it
    spec = json.loads((tmp_path / "jupyter" / "kernels" / "kit-test-kernel" / "kernel.json").read_text())
    assert spec["argv"][0] == sys.executable
    with pytest.raises(PipelineError, match=r"--kernel 'my kernel' is not a Jupyter kernel name \(ASCII letters, digits and - \. _\)"):
        check_kernel("my kernel")


def test_a_data_dir_that_does_not_exist_is_said_so(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"{tmp_path / 'nope'} \\(the given data_dir\\) does not exist; expected a folder"):
        find_data_dir(tmp_path / "nope")
    (tmp_path / "file").write_text("")
    with pytest.raises(FileNotFoundError, match=r"\(the given data_dir\) is a file; expected a folder holding the competition files"):
        find_data_dir(tmp_path / "file")


def test_data_messages_and_predict_count_the_lines_of_the_file_alike(write_file, capsys):
    lines = [HEADER, "первый,0,0,0,1,0,0,0", "", '"две\nстроки",0,0,0,1,0,0,0', ",0,0,0,0,0,0,1", "", "пятый,0,0,0,1,0,0,0"]
    path = write_file("train.csv", "\n".join(lines) + "\n")
    assert len(read_split(path)) == 3
    assert "dropped 1 row(s) with empty text: lines 6" in capsys.readouterr().out
    texts, numbers = read_texts(path)
    assert numbers == [2, 3, 4, 6, 7, 8] and texts[numbers.index(6)] == ""
    bad = write_file("valid.csv", "\n".join([*lines[:6], "пятый,0,0,0,1,0,0,x"]) + "\n")
    with pytest.raises(DataError, match=r"valid\.csv, line 8, column 'neutral': expected 0 or 1, got 'x'"):
        read_split(bad)
    short = write_file("test.csv", "\n".join([*lines[:6], "пятый,0,0"]) + "\n")
    with pytest.raises(DataError, match=r"test\.csv, line 8: has 3 fields, the header has 8"):
        read_split(short)


ONE_LINE = """
import json, io, contextlib, sys
sys.path.insert(0, sys.argv[1])
from IPython.core.interactiveshell import InteractiveShell
shell, shown = InteractiveShell.instance(), []
for cell in sys.argv[2:]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        result = shell.run_cell(cell)
    shown.append([out.getvalue(), result.success])
print(json.dumps(shown))
"""


def test_in_a_notebook_the_kits_errors_show_as_their_one_message(tmp_path):
    bad = tmp_path / "train.csv"
    bad.write_text(HEADER + "\nа,0,0,0,0,0,0,7\n", encoding="utf-8")
    cells = [f"from utils import read_split\nread_split({str(bad)!r})",
             "from utils import start_run\nstart_run(overrides={'train.epochs': 0})",
             "from utils.core.run_lock import RunInUseError\nraise RunInUseError('runs/x is in use')",
             "raise ValueError('an ordinary error')"]
    shown = json.loads(subprocess.run([sys.executable, "-c", ONE_LINE, str(REPO_ROOT), *cells], capture_output=True, text=True,
                                      check=True).stdout)
    assert shown[0] == [f"DataError: {bad}, line 2, column 'neutral': expected 0 or 1, got '7' (1 bad value(s) in this column)\n", False]
    assert shown[1] == ["ConfigError: settings: train.epochs = 0 is out of range; accepted: 1 or more\n", False]
    assert shown[2] == ["RunInUseError: runs/x is in use\n", False]
    assert shown[3][1] is False and "Traceback" in shown[3][0], "other errors keep their traceback"


@pytest.mark.e2e
def test_a_notebook_failing_on_a_kit_error_is_reported_in_one_line(tmp_path):
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from utils.run.pipeline import describe_failure, failure_report

    bad = tmp_path / "train.csv"
    bad.write_text(HEADER + "\nа,0,0,0,0,0,0,7\n", encoding="utf-8")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"import sys\nsys.path.insert(0, {str(REPO_ROOT)!r})"),
                                               nbformat.v4.new_code_cell(f"from utils import read_split\nread_split({str(bad)!r})")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source, executed = tmp_path / "01_x.ipynb", tmp_path / "executed.ipynb"
    nbformat.write(notebook, source)
    with pytest.raises(PapermillExecutionError) as failed:
        papermill.execute_notebook(str(source), str(executed), kernel_name="python3", progress_bar=False)
    message = f"DataError: {bad}, line 2, column 'neutral': expected 0 or 1, got '7' (1 bad value(s) in this column)"
    assert failure_report(describe_failure(source, executed, failed.value)).splitlines() == [
        "FAILED: 01_x.ipynb, cell In [2] (cell 2 of the executed notebook)", message,
        f"The notebook with its outputs and the traceback: {executed}"]
