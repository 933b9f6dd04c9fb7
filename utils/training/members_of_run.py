"""The run's members as notebook 03 trains and records them: which, where each lives, their weights, what is left out."""
from __future__ import annotations

import contextlib
import io
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.ensemble import Ensemble
from ..core.member_kinds import MemberKind, kind_class, member_folder
from ..core.paths import MEMBERS_DIR, MODEL_DIR
from ..core.settings import MemberSettings, RunConfig

NEURAL_ONLY_PRODUCTS = ("training_log.csv", "training_curves.png")  # the network's log and curves: absent without one


@dataclass
class MemberRun:
    """What a member trains on: the settings, the data (utils.training.notebook.TrainingData), the held-out valid texts as
    scored (None: as written), the folds over valid (None: train only), its folder, and notebook 03's worker pool."""

    config: RunConfig
    data: object
    styled: list[str] | None
    folds: list[tuple[np.ndarray, np.ndarray]] | None
    folder: Path
    pool: ProcessPoolExecutor | None = None
    workers: int = 1  # fold workers of the pool the neural member may use


def active_members(config: RunConfig) -> dict[str, MemberSettings]:
    """The members the settings switch on (not null, weight above 0), in order."""
    return {name: settings for name, settings in config.members.items() if settings is not None and settings.weight > 0}


def run_members(config: RunConfig) -> dict[str, MemberKind]:
    """An untrained member of its kind for each member switched on."""
    return {name: kind_class(settings.kind)(name, settings) for name, settings in active_members(config).items()}


def run_ensemble(config: RunConfig) -> Ensemble:
    """The members' weights, scaled to sum to 1."""
    return Ensemble.normalised({name: settings.weight for name, settings in active_members(config).items()})


def blend_of(config: RunConfig, y: np.ndarray, probs: dict[str, np.ndarray]) -> Ensemble:
    """The members' blend: weights learned on their held-out `probs` (train.member_weights: learned), else the settings'."""
    return Ensemble.learned(y, probs) if config.train.member_weights == "learned" else run_ensemble(config)


def member_records(config: RunConfig, weights: dict[str, float] | None = None) -> dict:
    """What the run's record keeps of each member: kind, folder and weight (summing to 1; the settings' when not given)."""
    weights = weights or run_ensemble(config).weights
    return {name: {"kind": settings.kind, "path": member_folder(name, kind_class(settings.kind)), "weight": weights[name]}
            for name, settings in active_members(config).items()}


def switched_off_folders(config: RunConfig) -> list[str]:
    """What a member switched off would leave behind: model/ (and the network's log) without a neural member, members/<name>/
    of a member no longer in the run, members/ when no member lives there."""
    folders = {record["path"] for record in member_records(config).values()}
    left = [] if MODEL_DIR in folders else [MODEL_DIR, *NEURAL_ONLY_PRODUCTS]
    existing = sorted(path.relative_to(config.run_dir).as_posix() for path in (config.run_dir / MEMBERS_DIR).glob("*"))
    left += [folder for folder in existing if folder not in folders]
    return left + ([] if any(folder.startswith(f"{MEMBERS_DIR}/") for folder in folders) else [MEMBERS_DIR])


def train_in_worker(member: MemberKind, run: MemberRun) -> tuple[np.ndarray, str]:
    """(A worker process.) Train and save a member; its valid probabilities and what it printed (shown by notebook 03)."""
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        probs = member.train(run)
    return probs, log.getvalue()
