"""The Kaggle GPU kernel: valid metadata, a self-contained notebook that runs in a fake /kaggle layout, the push."""
import base64
import io
import json
import shutil
import subprocess
import zipfile

import nbformat
import papermill
import pytest
import yaml
from conftest import REPO_ROOT, SAMPLE_DIR, SMALL_RUN_SETTINGS
from standin_notebooks import REAL_NOTEBOOKS as NOTEBOOKS
from standin_notebooks import write_standins

from utils.core.settings_io import load_config
from utils.inference.submission import check_submission
from utils.run import kaggle_kernel
from utils.run.kaggle_kernel import (
    build_kernel,
    main,
    metadata_problems,
    push_kernel,
    read_metadata,
    run_kernel,
)

GOOD = read_metadata(REPO_ROOT / "kernel-metadata.json")


@pytest.fixture(scope="module")
def standins(tmp_path_factory):
    return write_standins(tmp_path_factory.mktemp("standins"))


def packed_files(notebook) -> list[str]:
    """The file names inside the kernel notebook's embedded kit."""
    namespace = {}
    exec(notebook.cells[2].source, namespace)
    return zipfile.ZipFile(io.BytesIO(base64.b64decode(namespace["KIT"]))).namelist()


def kernel_settings(out) -> list[str]:
    """The overrides written into the built kernel notebook's parameters cell."""
    namespace = {}
    exec(nbformat.read(out / GOOD["code_file"], as_version=4).cells[1].source, namespace)
    return namespace["overrides"]


def run_in_fake_kaggle(tmp_path, notebooks_dir, monkeypatch, overrides=()):
    """Build the kernel from `notebooks_dir` and run it under papermill with /kaggle/{input,working} made in tmp_path."""
    monkeypatch.delenv("KIT_DATA_DIR", raising=False)
    kaggle_input, working = tmp_path / "kaggle" / "input", tmp_path / "kaggle" / "working"
    shutil.copytree(SAMPLE_DIR, kaggle_input / "cryptonite-hack-sf", ignore=shutil.ignore_patterns("*.md"))
    working.mkdir()
    build = build_kernel(tmp_path / "build", "someone", overrides=list(overrides), notebooks_dir=notebooks_dir)
    papermill.execute_notebook(
        str(build / GOOD["code_file"]), str(tmp_path / "executed.ipynb"), kernel_name="python3", progress_bar=False,
        parameters={"kaggle_input": str(kaggle_input), "working_dir": str(working)}, cwd=str(working),
    )
    return kaggle_input, working


def test_the_repositorys_kernel_metadata_is_valid():
    assert metadata_problems(GOOD) == []
    assert GOOD["id"] == "YOUR_KAGGLE_USERNAME/cryptonite-emotion-kit"
    assert (GOOD["kernel_type"], GOOD["language"], GOOD["is_private"], GOOD["enable_gpu"],
            GOOD["enable_internet"]) == ("notebook", "python", True, True, True)
    assert GOOD["competition_sources"] == ["cryptonite-hack-sf"]
    assert GOOD["machine_shape"] == "NvidiaTeslaT4"  # GPU T4 x2 (the kaggle CLI's --accelerator help)


@pytest.mark.parametrize("change, problem", [
    ({"id": "cryptonite-emotion-kit"}, "expected 'username/slug'"),
    ({"id": "me/Cryptonite Emotion Kit"}, "expected 'username/slug'"),
    ({"title": "Kit"}, "at least 5 characters"),
    ({"title": "Another kit"}, "becomes the slug 'another-kit', not the id's 'cryptonite-emotion-kit'"),
    ({"code_file": ""}, "code_file '': expected the kernel notebook's file name"),
    ({"enable_gpu": False}, "enable_gpu is False; expected True"),
    ({"kernel_type": "script"}, "kernel_type is 'script'; expected 'notebook'"),
    ({"competition_sources": []}, "competition_sources lacks 'cryptonite-hack-sf'"),
    ({"machine_shape": "NvidiaTeslaP100"}, "machine_shape 'NvidiaTeslaP100': expected 'NvidiaTeslaT4' (GPU T4 x2), 'NvidiaL4' (GPU L4) "
                                           "or none (Kaggle's default GPU)"),
    ({"machine_shape": "TpuV5E8"}, "machine_shape 'TpuV5E8': expected"),
])
def test_metadata_problems_are_named(change, problem):
    problems = metadata_problems({**GOOD, **change})
    assert len(problems) == 1 and problem in problems[0]


def test_the_code_file_must_be_in_the_pushed_folder(tmp_path):
    assert metadata_problems(GOOD, tmp_path) == [f"code_file 'cryptonite-emotion-kit.ipynb' is not in {tmp_path}"]


def test_the_built_kernel_holds_the_kit_its_settings_and_valid_metadata(tmp_path, standins):
    out = build_kernel(tmp_path / "a", "someone", notebooks_dir=standins)
    metadata = read_metadata(out / "kernel-metadata.json")
    assert metadata["id"] == "someone/cryptonite-emotion-kit" and metadata_problems(metadata, out) == []
    notebook = nbformat.read(out / metadata["code_file"], as_version=4)
    assert notebook.cells[1].metadata["tags"] == ["parameters"]
    files = packed_files(notebook)
    expected = {"utils/__init__.py", "utils/pipeline.py", "utils/core/settings.py", "utils/core/resources/asr_slips.csv",
                "requirements.txt", "data/synthetic/rare_labels.csv", *(f"notebooks/{path.name}" for path in standins.iterdir())}
    assert expected <= set(files)
    assert not any("__pycache__" in name or name.startswith("tests/") for name in files)
    again = build_kernel(tmp_path / "b", "someone", notebooks_dir=standins)
    assert (again / metadata["code_file"]).read_bytes() == (out / metadata["code_file"]).read_bytes(), "the same kit builds the same kernel"


def test_the_t4x2_accelerator_asks_for_both_gpus_and_trains_on_them(tmp_path, standins):
    def built(accelerator):
        out = build_kernel(tmp_path / accelerator, "someone", notebooks_dir=standins, accelerator=accelerator)
        return read_metadata(out / "kernel-metadata.json"), kernel_settings(out)

    metadata, overrides = built("t4x2")
    assert metadata["machine_shape"] == "NvidiaTeslaT4" and metadata_problems(metadata) == []
    assert {"train.num_processes=auto", "train.accumulation_steps=1", "train.batch_size=16", "train.precision=fp16"} <= set(overrides)
    metadata, overrides = built("default")
    assert "machine_shape" not in metadata and metadata_problems(metadata) == []
    assert {"train.num_processes=auto", "train.accumulation_steps=2"} <= set(overrides)


def test_the_default_kernel_trains_an_encoder_member_beside_the_tfidf_member(tmp_path, standins):
    overrides = kernel_settings(build_kernel(tmp_path, "someone", notebooks_dir=standins))
    assert overrides[:2] == ["members.encoder.kind=encoder", "members.encoder.backbone=ai-forever/ruRoberta-large"]
    assert not any(item.startswith(("model.backbone", "tfidf.")) for item in overrides), "only the members' spelling"
    config = load_config(None, overrides)
    assert {name: member and member.kind for name, member in config.members.items()} == {
        "neural": None, "tfidf": "tfidf", "encoder": "encoder"}, "the encoder replaces the CPU default's BiGRU; TF-IDF stays"
    assert config.model.backbone == "ai-forever/ruRoberta-large" and config.train.folds == 0


@pytest.mark.parametrize(("arguments", "expected", "members"), [
    (["--backbone", "ai-forever/ruBert-base"], ["members.encoder.kind=encoder", "members.encoder.backbone=ai-forever/ruBert-base"],
     {"neural": None, "tfidf": "tfidf", "encoder": "encoder"}),
    (["--backbone", "a/b", "-p", "members.encoder.backbone=c/d"], ["members.encoder.kind=encoder", "members.encoder.backbone=c/d"],
     {"neural": None, "tfidf": "tfidf", "encoder": "encoder"}),
    (["-p", "members.tfidf=null"], ["members.encoder.kind=encoder", "members.encoder.backbone=ai-forever/ruRoberta-large",
                                    "members.tfidf=null"], {"neural": None, "tfidf": None, "encoder": "encoder"}),
    (["-p", "members.encoder=null"], ["members.encoder=null"], {"neural": "bigru", "tfidf": "tfidf", "encoder": None}),
])
def test_the_kernels_members_are_given_as_a_runs(tmp_path, standins, arguments, expected, members):
    assert main(["--out", str(tmp_path), "--notebooks", str(standins), *arguments]) == 0
    overrides = kernel_settings(tmp_path)
    assert [item for item in overrides if item.startswith("members.")] == expected, "each key once, the user's last"
    config = load_config(None, overrides)
    assert {name: member and member.kind for name, member in config.members.items()} == members


@pytest.mark.parametrize(("arguments", "message"), [
    (["-p", "train.epoch=1"], "unknown setting(s) ['train.epoch']"),
    (["-p", "members.x.kind=nope"], "Not built: settings: members.x.kind: member kind 'nope' is unknown; accepted: "
                                    "['bigru', 'encoder', 'ngram_bag', 'tfidf'] or 'module:Class' (python -m utils.members)\n"),
    (["--backbone", "navec"], "Not built: --backbone navec: the kernel's members.encoder trains a Hugging Face encoder; "
                              "for the BiGRU (kind bigru) switch it off instead: -p members.encoder=null\n"),
    (["-p", "model.backbone=c/d"], "Not built: settings: members.encoder.backbone = 'ai-forever/ruRoberta-large' and "
                                   "model.backbone = 'c/d' disagree (a run has one model.backbone): give it once, as "
                                   "members.encoder.backbone\n"),
])
def test_the_build_refuses_a_bad_setting_in_one_line(tmp_path, standins, capsys, arguments, message):
    assert main(["--out", str(tmp_path), "--notebooks", str(standins), *arguments]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())


def test_the_kernel_stops_without_the_competition_input(tmp_path, monkeypatch):
    monkeypatch.delenv("KIT_DATA_DIR", raising=False)
    (tmp_path / "input" / "some-dataset").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="add the competition 'cryptonite-hack-sf' as an input"):
        run_kernel([], kaggle_input=tmp_path / "input", working_dir=tmp_path)


def test_push_refuses_the_placeholder_username(tmp_path, standins, capsys):
    out = build_kernel(tmp_path, notebooks_dir=standins)
    assert "give your Kaggle username" in capsys.readouterr().out
    assert push_kernel(out) == 2
    assert "still holds the placeholder: rebuild with --username NAME" in capsys.readouterr().out


def test_push_without_credentials_explains_how_to_get_them(tmp_path, standins, monkeypatch, capsys):
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    out = build_kernel(tmp_path / "out", "someone", notebooks_dir=standins)
    assert push_kernel(out) == 2
    assert "No Kaggle credentials found" in capsys.readouterr().out


def test_push_runs_kaggle_kernels_push_on_the_built_folder(tmp_path, standins, monkeypatch, capsys):
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "not-a-real-key")
    calls = []
    monkeypatch.setattr(kaggle_kernel.subprocess, "run", lambda command: calls.append(command) or subprocess.CompletedProcess(command, 0))
    assert main(["--out", str(tmp_path), "--notebooks", str(standins), "--push"]) == 0
    assert calls and calls[0][-4:] == ["kernels", "push", "-p", str(tmp_path)]
    assert "kaggle kernels output someone/cryptonite-emotion-kit" in capsys.readouterr().out


@pytest.mark.e2e
def test_the_kernel_built_from_the_real_notebooks_runs_in_a_fake_kaggle_layout(tmp_path, monkeypatch):
    overrides = ["members.encoder=null", *SMALL_RUN_SETTINGS]  # the CPU default's BiGRU in place of the encoder: no GPU here
    kaggle_input, working = run_in_fake_kaggle(tmp_path, REPO_ROOT / "notebooks", monkeypatch, overrides)
    check_submission(working / "submission.csv", kaggle_input / "cryptonite-hack-sf" / "test_without_answers.csv")
    run_dir = working / "runs" / "kaggle"
    record = json.loads((run_dir / "manifest.json").read_text())
    assert record["status"] == "finished" and len(record["pipeline"]["notebooks"]) == 6
    assert sorted(p.name for p in (run_dir / "notebooks").glob("*.ipynb")) == sorted(p.name for p in NOTEBOOKS)
    params = yaml.safe_load((run_dir / "params.yaml").read_text())
    assert params["model"]["backbone"] == "navec" and params["train"]["precision"] == "fp16" and params["train"]["folds"] == 2
    assert params["members"]["encoder"] is None and params["members"]["neural"]["kind"] == "bigru", "members.encoder=null: the BiGRU"
    assert params["data_dir"] == str(kaggle_input / "cryptonite-hack-sf")
    assert (working / "utils" / "pipeline.py").is_file(), "the kernel wrote the kit into the working folder"
    assert (working / "report.html").read_bytes() == (run_dir / "report.html").read_bytes(), "the report lies beside submission.csv"
