"""Resuming never runs a pickle it finds: every checkpoint file is checked against the SHA-256 recorded when it was saved
before anything is loaded, the training's own progress is JSON and safetensors, and torch's states load with weights_only."""
import json
import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from utils.core.settings import TrainConfig
from utils.training.loop import FitProgress
from utils.training.resume import CHECKSUMS_FILE, CheckpointTampered, PartCheckpoints, write_checksums
from utils.training.runtime import make_accelerator


class Crafted:
    """A pickle that writes a marker file when it is unpickled (what a hostile checkpoint would do instead)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('ran')",)


def prepared(seed: int):
    """A model, optimiser and schedule prepared by the Accelerator the training uses (CPU), one step taken."""
    torch.manual_seed(seed)
    accelerator = make_accelerator(TrainConfig(device="cpu"))
    model = torch.nn.Linear(3, 7)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 ** step)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    model(torch.ones(2, 3)).sum().backward()
    optimizer.step()
    scheduler.step()
    return accelerator, model, optimizer, scheduler


@pytest.fixture
def saved(tmp_path):
    """A state saved as the training saves one after an epoch; returns its folder, the model and the progress saved."""
    accelerator, model, optimizer, _ = prepared(seed=0)
    progress = FitProgress(epochs_done=1, steps=3, loss_sums=[(1.25, 10)], seconds=2.5,
                           history=[{"epoch": 1, "train_loss": 0.1 + 0.2, "valid_f1_weighted": 1 / 3, "rows": 10}], best_f1=1 / 3,
                           waited=0, best_probs=np.random.default_rng(0).random((4, 7)).astype(np.float32),
                           best_state={key: value.clone() for key, value in model.state_dict().items()})
    PartCheckpoints(tmp_path, 0).save_state(accelerator, progress)
    folder = PartCheckpoints(tmp_path, 0).latest_state()
    return folder, model, optimizer, progress


def test_a_saved_state_holds_no_custom_pickle_and_resumes_exactly(saved):
    folder, model, optimizer, progress = saved
    names = sorted(path.name for path in folder.iterdir())
    assert folder.name == "state_0-1-0" and CHECKSUMS_FILE in names and "progress.json" in names
    assert not [name for name in names if name.startswith("custom_checkpoint")], "the training's progress is not pickled"
    recorded = json.loads((folder / CHECKSUMS_FILE).read_text())
    assert sorted(recorded) == sorted(name for name in names if name != CHECKSUMS_FILE)
    accelerator, other, other_optimizer, _ = prepared(seed=1)
    loaded = FitProgress()
    PartCheckpoints(folder.parent, 0).load_state(accelerator, folder, loaded)
    assert torch.equal(other.weight, model.weight) and torch.equal(other.bias, model.bias)
    assert torch.equal(other_optimizer.state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])
    assert (loaded.epochs_done, loaded.steps, loaded.seconds, loaded.best_f1) == (1, 3, 2.5, 1 / 3)
    assert loaded.history == progress.history and [tuple(pair) for pair in loaded.loss_sums] == [(1.25, 10)]
    assert loaded.best_probs.dtype == np.float32 and np.array_equal(loaded.best_probs, progress.best_probs)
    assert loaded.best_state.keys() == progress.best_state.keys()
    assert all(torch.equal(loaded.best_state[key], value) for key, value in progress.best_state.items())


@pytest.mark.parametrize("name, how", [("custom_checkpoint_0.pkl", "added"), ("random_states_0.pkl", "changed"),
                                       ("optimizer.bin", "changed")])
def test_a_crafted_pickle_in_a_checkpoint_is_refused_before_anything_is_loaded(saved, tmp_path, name, how):
    folder = saved[0]
    marker = tmp_path / "marker"
    torch.save(Crafted(marker), folder / name)
    accelerator, model, _, _ = prepared(seed=1)
    before = model.weight.detach().clone()
    with pytest.raises(CheckpointTampered, match=rf"state_0-1-0: {name} \({how}\) since it was saved .*nothing in it was loaded"):
        PartCheckpoints(folder.parent, 0).load_state(accelerator, folder, FitProgress())
    assert not marker.exists(), "the crafted pickle ran"
    assert torch.equal(model.weight, before), "no weight was loaded from the refused checkpoint"


def test_a_pickle_with_matching_checksums_still_cannot_run_code(saved, tmp_path):
    folder = saved[0]
    marker = tmp_path / "marker"
    torch.save(Crafted(marker), folder / "optimizer.bin")
    write_checksums(folder)  # someone who rewrites the checksums too: torch's states are read with weights_only=True
    accelerator = prepared(seed=1)[0]
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        PartCheckpoints(folder.parent, 0).load_state(accelerator, folder, FitProgress())
    assert not marker.exists()


def test_missing_or_absent_checksums_are_refused(saved):
    folder = saved[0]
    (folder / "progress.json").unlink()
    with pytest.raises(CheckpointTampered, match=r"progress\.json \(missing\)"):
        PartCheckpoints(folder.parent, 0).load_state(prepared(seed=1)[0], folder, FitProgress())
    (folder / CHECKSUMS_FILE).unlink()
    with pytest.raises(CheckpointTampered, match=rf"has no {CHECKSUMS_FILE} .*delete .*state_0-1-0 and the training does that part again"):
        PartCheckpoints(folder.parent, 0).load_state(prepared(seed=1)[0], folder, FitProgress())


def test_a_finished_part_is_checked_before_it_is_loaded(tmp_path):
    model = torch.nn.Linear(3, 7)
    part = PartCheckpoints(tmp_path, 0)
    part.save_finished(model, np.zeros((2, 7), dtype=np.float32), pd.DataFrame([{"epoch": 1}]))
    assert (tmp_path / "part_0" / CHECKSUMS_FILE).is_file()
    (tmp_path / "part_0" / "history.json").write_text("[]")
    with pytest.raises(CheckpointTampered, match=r"part_0: history\.json \(changed\)"):
        part.load_finished(torch.nn.Linear(3, 7))
