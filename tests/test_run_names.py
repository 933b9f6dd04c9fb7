"""A run name is a name, never a path: every entry point that takes one refuses `..`, absolute paths, separators, empty and
hidden names (and NUL or newline) with one message, before anything is written or deleted; --force deletes only a run."""
import contextlib
import io
import json
import shutil

import pytest
from conftest import REPO_ROOT, SAMPLE_DIR

from utils.core.run_start import start_run
from utils.core.settings import RUN_NAME_RULE, ConfigError, RunConfig, check_run_name
from utils.core.settings_io import load_config
from utils.run.benchmark import main as benchmark_main
from utils.run.blend import main as blend_main
from utils.run.kaggle_kernel import main as kernel_main
from utils.run.kaggle_kernel import run_kernel
from utils.run.pipeline import main as pipeline_main
from utils.training.cli import main as train_main

PROBE = "kit-escape-probe"  # a name no one else uses, looked for beside the repository afterwards
BAD_NAMES = ["..", f"../{PROBE}", f"../../{PROBE}", f"a/{PROBE}", f"{PROBE}/", f"a\\{PROBE}", "", ".", f".{PROBE}", f"{PROBE}\x00",
             f"{PROBE}\nx", " ", f"-{PROBE}", "x" * 101]


def listing(*folders):
    """Every path under the folders with its size and modification time: what a command wrote or deleted shows up."""
    return {str(path): (path.stat().st_size, path.stat().st_mtime_ns) for folder in folders if folder.exists()
            for path in [folder, *folder.rglob("*")] if not path.is_symlink()}


def quiet(main, args):
    """(exit status, stderr) of an entry point's main(args), its output captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, err.getvalue()


@pytest.fixture
def tree(tmp_path):
    """A temporary world: a runs folder holding a finished-looking run, and a folder of someone's files beside it."""
    runs = tmp_path / "work" / "runs"
    (runs / "kept").mkdir(parents=True)
    (runs / "kept" / "manifest.json").write_text(json.dumps({"status": "finished", "data_dir": str(SAMPLE_DIR)}))
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "thesis.txt").write_text("years of work")
    (victim / "manifest.json").write_text("{}")  # even a folder that looks like a run is not a run name
    return runs, victim


def test_the_run_name_rule():
    for name in ("2026-11-28_1903", "default", "a", "my.run+2", "R_1-b", "x" * 100):
        assert check_run_name(name) == name and RunConfig(name=name).run_dir.name == name
    for name in [*BAD_NAMES, "/etc", "имя"]:
        with pytest.raises(ConfigError, match="a run name is 1 to 100 characters") as refused:
            check_run_name(name)
        assert str(refused.value) == f"run name {name!r} is not accepted: a run name is {RUN_NAME_RULE}"
        with pytest.raises(ConfigError, match="is not accepted: a run name is"):
            RunConfig(name=name)
        with pytest.raises(ConfigError, match="is not accepted: a run name is"):
            RunConfig().replace(name=name)


def test_every_entry_point_refuses_a_path_as_a_run_name_and_touches_nothing(tree, tmp_path, monkeypatch):
    runs, victim = tree
    monkeypatch.delenv("KIT_DATA_DIR", raising=False)
    repo_folders = [REPO_ROOT / "runs", REPO_ROOT / "submissions"]
    kaggle_input = tmp_path / "kaggle_input" / "cryptonite-hack-sf"
    shutil.copytree(SAMPLE_DIR, kaggle_input)
    (tmp_path / "inputs").mkdir()
    variants = tmp_path / "inputs" / "variants.yaml"  # rewritten below, so left out of the listing
    watched = [runs.parent, victim, kaggle_input, *repo_folders]
    before, beside_repo, in_repo = listing(*watched), set(REPO_ROOT.parent.iterdir()), set(REPO_ROOT.iterdir())
    at_top = set(tmp_path.iterdir())
    for name in [*BAD_NAMES, str(victim), str(victim) + "/", str(runs / "kept")]:
        common = ["--data-dir", str(SAMPLE_DIR), f"--run={name}"]
        for extra in ([], ["--force"], ["--resume"], ["--from", "03"], ["--only", "04"]):
            for where in ([f"runs_dir={runs}"], []):  # a runs folder given, and the repository's own runs/
                code, err = quiet(pipeline_main, [*common, *extra, *[part for item in where for part in ("-p", item)]])
                assert code == 2 and "is not accepted: a run name is" in err, (name, extra, err)
                assert "--force" not in err, "the refusal of a path suggests nothing that deletes"
        code, err = quiet(blend_main, [f"--run={name}", "kept", "kept", "--runs-dir", str(runs)])
        assert code == 2 and "is not accepted: a run name is" in err, (name, err)
        variants.write_text(json.dumps({name: {"description": "probe"}}))
        code, err = quiet(benchmark_main, ["--variants", str(variants), "--runs-dir", str(runs), "--data-dir", str(SAMPLE_DIR),
                                           "--out", str(tmp_path / "results")])
        assert code == 2 and "names its run folder: run name" in err, (name, err)
        code, err = quiet(kernel_main, ["--out", str(tmp_path / "kernel"), "-p", f"name={json.dumps(name)}"])
        assert code == 2 and "is not accepted: a run name is" in err, (name, err)
        with pytest.raises(ConfigError, match="is not accepted: a run name is"):
            run_kernel([f"runs_dir={runs}"], name, kaggle_input.parent, tmp_path / "working")
        with pytest.raises(ConfigError, match="is not accepted: a run name is"):
            start_run(overrides={"runs_dir": str(runs)}, data_dir=SAMPLE_DIR, run_name=name, notebook="01_eda")
        with pytest.raises(ConfigError, match="is not accepted: a run name is"):
            load_config(overrides={"name": name, "runs_dir": str(runs)})
        code, err = quiet(pipeline_main, ["--data-dir", str(SAMPLE_DIR), "-p", f"runs_dir={runs}", "-p", f"name={json.dumps(name)}"])
        assert code == 2 and "is not accepted: a run name is" in err, (name, err)
    assert listing(*watched) == before and set(tmp_path.iterdir()) == at_top, "nothing was written or deleted"
    assert (victim / "thesis.txt").read_text() == "years of work"
    assert set(REPO_ROOT.parent.iterdir()) - beside_repo == set() and set(REPO_ROOT.iterdir()) - in_repo == set()
    assert not any(PROBE in path.name for path in [*REPO_ROOT.parent.iterdir(), *REPO_ROOT.iterdir()])


def test_train_refuses_a_folder_whose_name_is_not_a_run_name(tmp_path):
    for folder in (tmp_path / "two words", tmp_path / ".hidden"):
        folder.mkdir()
        (folder / "params.yaml").write_text("seed: 1\n")
        before = listing(tmp_path)
        code, err = quiet(train_main, [str(folder)])
        assert code == 2 and f"run name {folder.name!r} is not accepted: a run name is" in err
        assert listing(tmp_path) == before


def test_force_deletes_only_a_run_of_the_kit(tree, tmp_path):
    runs, victim = tree
    (runs / "notes").mkdir()
    (runs / "notes" / "todo.txt").write_text("mine")
    (runs / "linked").symlink_to(victim, target_is_directory=True)
    (runs / "afile").write_text("not a folder")
    before = listing(tmp_path)
    for name, refusal in (("notes", "is not a run of the kit (it has no record, manifest.json): --force deletes only a run, so "
                                   "nothing was deleted"),
                          ("linked", "is a link, not a run folder: --force deletes only a run's own folder, so nothing was deleted"),
                          ("afile", "is a file, not a run folder")):
        code, err = quiet(pipeline_main, ["--data-dir", str(SAMPLE_DIR), "-p", f"runs_dir={runs}", "--run", name, "--force"])
        assert code == 2 and f"{runs / name} {refusal}" in err, err
    code, err = quiet(pipeline_main, ["--data-dir", str(SAMPLE_DIR), "-p", f"runs_dir={runs}", "--run", "afile"])
    assert code == 2 and f"{runs / 'afile'} is a file, not a run folder: choose another --run name" in err
    assert listing(tmp_path) == before
