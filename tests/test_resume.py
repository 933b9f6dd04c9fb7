"""Training checkpoints: a training killed during notebook 03's code resumes to the same bytes, changed settings are refused,
no half-written checkpoint is ever used."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import REPO_ROOT, SAMPLE_DIR

from utils.core.paths import VALID_PROBS
from utils.core.run_start import start_run
from utils.training.resume import (
    STAGING_STATE,
    CheckpointMismatch,
    Checkpoints,
    PartCheckpoints,
)

SMALL = {"model.navec.hidden_size": 16, "model.navec.ngram_buckets": 2048, "train.folds": 2, "train.early_stopping": 0,
         "tfidf.weight": 0.0, "train.num_threads": 1}


def new_run(tmp_path, name, **settings):
    """A run folder holding params.yaml, as notebook 03 finds it; returns its path."""
    return start_run(overrides={"runs_dir": str(tmp_path), **SMALL, **settings}, data_dir=SAMPLE_DIR, run_name=name).run_dir


def train(run_dir, *options) -> subprocess.CompletedProcess:
    """Notebook 03's code on the run folder in a new Python (python -m utils.train)."""
    return subprocess.run([sys.executable, "-m", "utils.train", str(run_dir), *options], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=600)


def train_and_kill(run_dir, saved: str) -> list[str]:
    """Start the training, SIGKILL it as soon as a checkpoint named `saved` (a glob) exists; what the checkpoints held then.
    The processes it started (training processes, the TF-IDF worker) must die with it."""
    import psutil

    checkpoints = run_dir / "model" / "checkpoints"
    process = subprocess.Popen([sys.executable, "-m", "utils.train", str(run_dir)], cwd=REPO_ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while process.poll() is None and not list(checkpoints.glob(saved)):
        time.sleep(0.01)
    children = psutil.Process(process.pid).children(recursive=True)
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the training finished before it could be killed"
    _, alive = psutil.wait_procs(children, timeout=5)
    assert alive == [], f"processes outlived the killed training: {[child.cmdline() for child in alive]}"
    return sorted(path.name for path in checkpoints.iterdir() if not path.name.startswith("."))  # not a state half-written


def products(run_dir) -> dict[str, bytes]:
    """valid_probs_raw.csv and every model weight file, by name."""
    files = [run_dir / VALID_PROBS, *sorted((run_dir / "model").rglob("model.safetensors"))]
    return {str(path.relative_to(run_dir)): path.read_bytes() for path in files}


@pytest.mark.e2e
def test_a_killed_training_resumes_to_the_same_bytes_as_an_uninterrupted_one(tmp_path):
    settings = {"train.epochs": 5, "tfidf.weight": 0.5, "tfidf.min_df": 1}  # the TF-IDF worker dies too and trains again
    whole, killed = new_run(tmp_path, "whole", **settings), new_run(tmp_path, "killed", **settings)
    assert train(whole).returncode == 0
    held = train_and_kill(killed, "state_1-*")  # fold 1 finished, fold 2 inside its epochs
    assert "part_0" in held and any(name.startswith("state_1-") for name in held) and "training.json" in held
    resumed = train(killed)
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming the training saved in" in resumed.stdout and "fold 1 finished; fold 2 after" in resumed.stdout
    assert "Continuing from state_1-" in resumed.stdout and "Trained already: loaded from" in resumed.stdout
    assert products(killed) == products(whole) and len(products(whole)) == 3
    tfidf = "members/tfidf/tfidf.safetensors"
    assert (killed / tfidf).read_bytes() == (whole / tfidf).read_bytes()
    assert not (killed / "model" / "checkpoints").exists(), "checkpoints are removed once the training has finished"


@pytest.mark.e2e
def test_folds_trained_side_by_side_are_the_models_of_one_process_and_resume_after_a_kill(tmp_path):
    settings = {"train.epochs": 3, "train.folds": 3}
    one = new_run(tmp_path, "one", **settings, **{"train.fold_workers": 1})
    side_by_side = new_run(tmp_path, "side_by_side", **settings, **{"train.fold_workers": 2})
    assert train(one).returncode == 0
    held = train_and_kill(side_by_side, "part_*")  # the workers die with it: a fold finished, another one in progress
    assert 1 <= sum(name.startswith("part_") for name in held) < 3
    resumed = train(side_by_side)
    assert resumed.returncode == 0, resumed.stderr
    assert "side by side in 2 worker processes" in resumed.stdout and "Trained the network in 2 fold workers" in resumed.stdout
    assert products(side_by_side) == products(one) and len(products(one)) == 4


@pytest.mark.e2e
def test_two_processes_killed_inside_an_epoch_resume_to_the_same_bytes(tmp_path):
    settings = {"train.epochs": 3, "train.num_processes": 2, "train.checkpoint_steps": 1, "train.batch_size": 64}
    whole, killed = new_run(tmp_path, "whole", **settings), new_run(tmp_path, "killed", **settings)
    assert train(whole).returncode == 0
    held = train_and_kill(killed, "state_0-1-2")  # fold 1, epoch 2, 2 batches in (its processes may save more before dying)
    assert len(held) == 2 and held[0].startswith("state_0-") and held[1] == "training.json"
    epochs, batches = held[0].removeprefix("state_0-").split("-")
    resumed = train(killed)
    assert resumed.returncode == 0, resumed.stderr
    assert f"fold 1 after {epochs} epoch(s) and {batches} batches" in resumed.stdout and f"Continuing from {held[0]}" in resumed.stdout
    assert products(killed) == products(whole)


def test_resume_refuses_other_settings_naming_them_and_trains_nothing(tmp_path, capsys):
    from utils.training.cli import main

    run_dir = new_run(tmp_path, "kept", **{"train.epochs": 2, "train.keep_checkpoints": True})
    assert main([str(run_dir)]) == 0  # in this process: the same code as python -m utils.train
    assert sorted(p.name for p in (run_dir / "model" / "checkpoints").iterdir()) == ["part_0", "part_1", "training.json"]
    weights = products(run_dir)
    capsys.readouterr()
    assert main([str(run_dir)]) == 0  # the same settings: every fold is loaded, nothing trains
    again = capsys.readouterr().out
    assert "fold 1 finished; fold 2 finished" in again and "epoch 1/2" not in again
    assert products(run_dir) == weights
    assert main([str(run_dir), "-p", "train.epochs=3", "-p", "model.navec.hidden_size=8"]) == 2
    refused = capsys.readouterr().err
    assert "holds a training made with other settings or data (model.navec.hidden_size: 16 -> 8; train.epochs: 2 -> 3)" in refused
    assert f"delete {run_dir / 'model' / 'checkpoints'} to start this training over" in refused
    assert products(run_dir) == weights


def fingerprint(**changes):
    return {"seed": 42, "train": {"epochs": 2, "folds": 2, "num_processes": 1, **changes}, "data": {"train": "abc"}}


def test_the_refusal_names_changed_data_and_process_counts(tmp_path):
    folder = tmp_path / "checkpoints"
    Checkpoints(folder, fingerprint()).open()
    (folder / "part_0").mkdir()
    with pytest.raises(CheckpointMismatch, match=r"\(train\.num_processes: 1 -> 2\)"):
        Checkpoints(folder, fingerprint(num_processes=2)).open()
    changed_data = {**fingerprint(), "data": {"train": "def"}}
    with pytest.raises(CheckpointMismatch, match=r"\(data\.train: 'abc' -> 'def'\)"):
        Checkpoints(folder, changed_data).open()
    (folder / "training.json").unlink()
    with pytest.raises(CheckpointMismatch, match=r"holds checkpoints without training\.json"):
        Checkpoints(folder, fingerprint()).open()


def test_settings_are_replaced_while_nothing_was_saved(tmp_path, capsys):
    folder = tmp_path / "checkpoints"
    Checkpoints(folder, fingerprint()).open()
    Checkpoints(folder, fingerprint(epochs=3)).open()  # killed before its first checkpoint: nothing to resume, nothing refused
    assert json.loads((folder / "training.json").read_text())["train"]["epochs"] == 3
    assert "Resuming" not in capsys.readouterr().out


def test_only_complete_states_are_resumed_the_newest_first(tmp_path):
    part = PartCheckpoints(tmp_path, 1)
    for name in ("state_1-9-0", "state_1-10-0", "state_1-2-40", "state_0-12-0", "state_1-x-0", STAGING_STATE):
        (tmp_path / name).mkdir()
    assert [path.name for path in part.states()] == ["state_1-2-40", "state_1-9-0", "state_1-10-0"]
    assert part.latest_state().name == "state_1-10-0" and not part.finished()
    assert PartCheckpoints(tmp_path, 2).latest_state() is None


def test_a_finished_part_round_trips_and_removes_its_states(tmp_path):
    import pandas as pd
    import torch

    model = torch.nn.Linear(3, 7)
    part = PartCheckpoints(tmp_path, 0)
    (tmp_path / "state_0-1-0").mkdir()
    probs = np.random.default_rng(0).random((5, 7)).astype(np.float32)
    history = pd.DataFrame([{"epoch": 1, "train_loss": 0.123456789012345, "rows": 10}])
    part.save_finished(model, probs, history)
    assert part.finished() and part.states() == [] and sorted(p.name for p in tmp_path.iterdir()) == ["part_0"]
    other = torch.nn.Linear(3, 7)
    loaded_probs, loaded_history = part.load_finished(other)
    assert torch.equal(other.weight, model.weight) and np.array_equal(loaded_probs, probs)
    assert loaded_history.equals(history)
