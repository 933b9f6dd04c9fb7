"""Training checkpoints under runs/<name>/model/checkpoints/, so that a killed training continues where it stopped.

    training.json                 what the checkpoints were made with: the training's settings and a digest of its data
    part_<k>/                     a finished fold (train mode: part_0, the one model): weights, held-out probabilities, log
    state_<k>-<epoch>-<batches>/  the part in progress, saved by `Accelerator.save_state` at the end of each epoch (and every
                                  train.checkpoint_steps steps): model, optimiser, schedule, every process's random state,
                                  and how far the training got (FitProgress, as JSON and safetensors)

Every folder is written under a temporary name and renamed when complete, so a kill never leaves half a checkpoint. Its
checksums.json, written last, holds the SHA-256 of each of its files; a folder whose files differ from it (changed, added,
missing) is refused before anything in it is loaded. Accelerate's optimiser, schedule and random states are torch pickles:
they are read with `weights_only=True` (tensors, numbers, numpy arrays; no code).
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from safetensors.numpy import load_file as load_arrays
from safetensors.numpy import save_file as save_arrays
from safetensors.torch import load_model as load_weights
from safetensors.torch import save_model as save_weights
from torch import nn

from ..core.errors import KitError
from ..core.files import read_json, write_text
from ..core.run_record import content_hash, flatten
from ..core.settings import RunConfig
from ..core.splits import TEXT, label_matrix
from .checkpoint import staged_folder

CHECKPOINTS_DIR = "checkpoints"  # inside runs/<name>/model/
FINGERPRINT_FILE = "training.json"
PART_PREFIX, STATE_PREFIX, STAGING_STATE = "part_", "state_", ".state-in-progress"
CHECKSUMS_FILE = "checksums.json"  # in each part_<k>/ and state_<k>-.../: the SHA-256 of its other files
# settings that change nothing trained (processes: counted below)
UNRELATED_SETTINGS = {"num_processes", "fold_workers", "checkpoint_steps", "keep_checkpoints"}


class CheckpointMismatch(KitError, ValueError):
    """Checkpoints made with other settings or data than the training asked for now."""


class CheckpointTampered(CheckpointMismatch):
    """A checkpoint folder whose files are not those its checksums.json recorded when it was saved; nothing in it is loaded."""


def write_checksums(folder: Path) -> None:
    """(Last, once every other file of the checkpoint folder is written.) Its files' SHA-256 in checksums.json."""
    sums = {path.relative_to(folder).as_posix(): content_hash(path) for path in sorted(folder.rglob("*"))
            if path.is_file() and path.name != CHECKSUMS_FILE}
    write_text(folder / CHECKSUMS_FILE, json.dumps(sums, indent=2))


def verify_checksums(folder: Path) -> None:
    """Refuse a checkpoint folder, before anything in it is loaded, whose files differ from its checksums.json: a file
    changed, added or missing (a pickle put there could run code when loaded)."""
    fix = (f"nothing in it was loaded. If you did not change it, someone or something did: delete {folder} and the "
           f"training does that part again")
    recorded = read_json(folder / CHECKSUMS_FILE, fix)
    if not recorded:
        raise CheckpointTampered(f"{folder} has no {CHECKSUMS_FILE} (the SHA-256 of its files, written when it was saved; an "
                                 f"older kit did not write it): {fix}")
    present = {path.relative_to(folder).as_posix(): content_hash(path) for path in folder.rglob("*")
               if path.is_file() and path.name != CHECKSUMS_FILE}
    differ = [f"{name} ({'added' if name not in recorded else 'missing' if name not in present else 'changed'})"
              for name in sorted(recorded.keys() | present.keys()) if recorded.get(name) != present.get(name)]
    if differ:
        raise CheckpointTampered(f"{folder}: {', '.join(differ)} since it was saved (its {CHECKSUMS_FILE} holds the SHA-256 of "
                                 f"each file): {fix}")


def data_digest(texts, labels: np.ndarray | None = None) -> str:
    """A SHA-256 of texts (and their labels)."""
    digest = hashlib.sha256("\n".join(texts).encode("utf-8"))
    if labels is not None:
        digest.update(np.ascontiguousarray(labels, dtype=np.int8).tobytes())
    return digest.hexdigest()


def training_fingerprint(config: RunConfig, train: pd.DataFrame, valid: pd.DataFrame, test_texts: list[str], processes: int) -> dict:
    """What decides the trained numbers: the seed, text, model and training settings, the process count and the data."""
    return {"seed": config.seed, "text": config.text.model_dump(), "model": config.model.model_dump(),
            "train": {**config.train.model_dump(exclude=UNRELATED_SETTINGS), "num_processes": processes},
            "data": {"train": data_digest(train[TEXT], label_matrix(train)), "valid": data_digest(valid[TEXT], label_matrix(valid)),
                     "test texts": data_digest(test_texts)}}


def differences(saved: dict, now: dict) -> list[str]:
    """The settings (dotted keys) whose values differ, as 'key: saved -> now'."""
    before, after = flatten(saved), flatten(now)
    return [f"{key}: {before.get(key)!r} -> {after.get(key)!r}" for key in sorted(before.keys() | after.keys())
            if before.get(key) != after.get(key)]


class PartCheckpoints:
    """The checkpoints of one part (fold k, or the one model of train mode)."""

    def __init__(self, folder: Path, part: int):
        self.folder, self.part = folder, part

    @property
    def finished_folder(self) -> Path:
        return self.folder / f"{PART_PREFIX}{self.part}"

    def finished(self) -> bool:
        return self.finished_folder.is_dir()

    def load_finished(self, model: nn.Module) -> tuple[np.ndarray, pd.DataFrame]:
        """Put the finished part's weights into `model` (its files checked first); its held-out probabilities and per-epoch log."""
        verify_checksums(self.finished_folder)
        load_weights(model, str(self.finished_folder / "model.safetensors"))
        probs = load_arrays(str(self.finished_folder / "probs.safetensors"))["probs"]
        history = pd.DataFrame(json.loads((self.finished_folder / "history.json").read_text(encoding="utf-8")))
        return probs, history

    def save_finished(self, model: nn.Module, probs: np.ndarray, history: pd.DataFrame) -> None:
        """(Main process.) The part's final weights, probabilities and log as part_<k>/; its states are then removed."""
        with staged_folder(self.finished_folder, announce=False) as staging:
            save_weights(model, str(staging / "model.safetensors"))
            save_arrays({"probs": np.ascontiguousarray(probs)}, str(staging / "probs.safetensors"))
            write_text(staging / "history.json", json.dumps(history.to_dict("records")))
            write_checksums(staging)
        for state in self.states():
            shutil.rmtree(state, ignore_errors=True)

    def states(self) -> list[Path]:
        """This part's complete saved states, oldest first."""
        pattern = re.compile(rf"{STATE_PREFIX}{self.part}-(\d+)-(\d+)")
        found = [(tuple(map(int, match.groups())), path) for path in self.folder.glob(f"{STATE_PREFIX}{self.part}-*")
                 if (match := pattern.fullmatch(path.name))]
        return [path for _, path in sorted(found)]

    def latest_state(self) -> Path | None:
        states = self.states()
        return states[-1] if states else None

    def save_state(self, accelerator, progress) -> None:
        """Every process: `accelerator.save_state` into a staging folder; the main process adds `progress` (a FitProgress)
        and, last, the checksums, and renames it when all are done; the part's older states are then removed."""
        staging = self.folder / f"{STAGING_STATE}-{self.part}"  # one per part: fold workers save side by side
        if accelerator.is_main_process:
            shutil.rmtree(staging, ignore_errors=True)
        accelerator.wait_for_everyone()
        accelerator.save_state(str(staging), safe_serialization=True)
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            progress.save(staging)
            write_checksums(staging)
            older = self.states()
            staging.rename(self.folder / f"{STATE_PREFIX}{self.part}-{progress.epochs_done}-{progress.batches_done}")
            for path in older:
                shutil.rmtree(path, ignore_errors=True)

    def load_state(self, accelerator, folder: Path, progress) -> None:
        """Every process: check the saved state's files against its checksums, then load it (torch's pickles with
        weights_only=True) and `progress` (a FitProgress) from it."""
        verify_checksums(folder)
        accelerator.load_state(str(folder), load_kwargs={"weights_only": True})
        progress.load(folder)


class Checkpoints:
    """runs/<name>/model/checkpoints/ of one training: refused when made with other settings, otherwise resumed."""

    def __init__(self, folder: Path, fingerprint: dict):
        self.folder, self.fingerprint = Path(folder), fingerprint

    def part(self, k: int) -> PartCheckpoints:
        return PartCheckpoints(self.folder, k)

    def all_finished(self, parts: int) -> bool:
        return all(self.part(k).finished() for k in range(parts))

    def saved(self) -> list[Path]:
        """The finished parts and complete states in the folder."""
        return sorted(path for path in self.folder.glob("*") if path.is_dir() and path.name.startswith((PART_PREFIX, STATE_PREFIX)))

    def open(self) -> None:
        """(Main process, before training.) Refuse checkpoints of other settings or data, naming what differs; announce a
        resume; record this training's fingerprint."""
        saved = self.saved()
        fingerprint_file = self.folder / FINGERPRINT_FILE
        if saved and fingerprint_file.is_file():
            changed = differences(read_json(fingerprint_file, f"delete {self.folder} to start this training over"), self.fingerprint)
            if changed:
                raise CheckpointMismatch(
                    f"{self.folder} holds a training made with other settings or data ({'; '.join(changed)}), so it cannot be "
                    f"resumed with these. Run with the settings it was made with to continue it, or delete {self.folder} "
                    f"to start this training over.")
            print(f"Resuming the training saved in {self.folder}: {describe(saved, self.fingerprint['train']['folds'])}")
        elif saved:
            raise CheckpointMismatch(f"{self.folder} holds checkpoints without {FINGERPRINT_FILE} (what they were made with): "
                                     f"delete {self.folder} to start this training over.")
        self.folder.mkdir(parents=True, exist_ok=True)
        write_text(fingerprint_file, json.dumps(self.fingerprint, indent=2, ensure_ascii=False))

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def describe(saved: list[Path], folds: int) -> str:
    """'folds 1, 2 finished; fold 3 after 2 epoch(s)' (train mode: 'the model ...') from the saved folders."""
    def name(part: str) -> str:
        return f"fold {int(part) + 1}" if folds else "the model"

    words = [f"{name(path.name.removeprefix(PART_PREFIX))} finished" for path in saved if path.name.startswith(PART_PREFIX)]
    for path in saved:
        if path.name.startswith(STATE_PREFIX):
            part, epochs, batches = path.name.removeprefix(STATE_PREFIX).split("-")
            words.append(f"{name(part)} after {epochs} epoch(s)" + (f" and {batches} batches" if int(batches) else ""))
    return "; ".join(words)
