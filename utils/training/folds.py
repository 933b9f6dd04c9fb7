"""k-fold training over valid: each fold model learns from all of train plus k-1 folds of valid (whose label mix
matches the test's) and predicts the held-out fold, giving honest out-of-fold valid probabilities for thresholds."""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd
from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

from ..core.progress import headline
from ..core.seed import seed_everything
from ..core.settings import TrainConfig
from .dataset import EmotionDataset
from .loop import fit_part
from .model import Model


def valid_folds(labels: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Multi-label stratified (training rows, held-out rows) index pairs over valid."""
    splitter = MultilabelStratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(labels)), labels))


@dataclass
class FoldsResult:
    """The fold models, out-of-fold valid probabilities (every valid row predicted by the model that never saw it)."""

    models: list[Model]
    oof_probs: np.ndarray
    history: pd.DataFrame  # fit's per-epoch rows with a `fold` column


def train_fold(template: Model, train_data: EmotionDataset, valid_data: EmotionDataset, config: TrainConfig, k: int,
               fold: tuple[np.ndarray, np.ndarray], seed: int = 42, scored_data: EmotionDataset | None = None,
               checkpoints=None) -> tuple[Model, np.ndarray, pd.DataFrame]:
    """Fold k of `train_on_valid_folds` (`fold`: its valid rows for training and held out): a copy of `template` trained on
    train + those rows (seeded by fold, so it is the same model whichever process trains it); its held-out probabilities
    and per-epoch log."""
    fit_rows, held_out = fold
    part = checkpoints.part(k) if checkpoints is not None else None
    if part is None or not part.finished():  # a finished one is loaded (with a line saying so)
        print(f"--- fold {k + 1}/{config.folds}: {len(train_data)} train + {len(fit_rows)} valid rows, {len(held_out)} held out")
    seed_everything(seed + k)
    model = copy.deepcopy(template)
    fit_data = train_data + valid_data.rows(np.tile(fit_rows, config.valid_weight))
    scored = valid_data if scored_data is None else scored_data
    probs, history = fit_part(model, fit_data, scored.rows(held_out), config, seed + k, False, part)
    return model.cpu(), probs, history.assign(fold=k)


def train_on_valid_folds(template: Model, train_data: EmotionDataset, valid_data: EmotionDataset, config: TrainConfig,
                         seed: int = 42, scored_data: EmotionDataset | None = None, checkpoints=None) -> FoldsResult:
    """Train `config.folds` copies of the untrained `template`, fold k on train + valid minus fold k, and predict fold k
    (from `scored_data`, the same valid rows written otherwise, when given).

    Each fold trains for the full `config.epochs` and keeps its last epoch: the held-out fold never chooses anything,
    so the out-of-fold scores are honest. With `checkpoints` (a `resume.Checkpoints`) finished folds are loaded from them
    and the fold in progress continues from its last saved state.
    """
    oof = np.zeros((len(valid_data), valid_data.labels.shape[1]), dtype=np.float32)
    models, histories = [], []
    for k, fold in enumerate(valid_folds(valid_data.labels.numpy(), config.folds, seed)):
        model, oof[fold[1]], history = train_fold(template, train_data, valid_data, config, k, fold, seed, scored_data, checkpoints)
        models.append(model)
        histories.append(history)
        if len(history):
            headline(f"fold {k + 1}/{config.folds}: held-out weighted F1 {history['valid_f1_weighted'].iloc[-1]:.4f}")
    return FoldsResult(models, oof, pd.concat(histories, ignore_index=True))
