"""The training loop through `accelerate.Accelerator` (device, mixed precision, accumulation, clipping, data parallel):
`train_epoch`, `fit` (epochs, early stopping, the best epoch kept, checkpoints and resume) and `fit_part`."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import DataLoader

from ..core.files import read_json, write_text
from ..core.progress import progress
from ..core.settings import TrainConfig
from ..core.splits import LABELS
from .dataset import EmotionDataset, LengthBatchSampler
from .optimisation import (
    make_loss,
    make_optimizer,
    make_scheduler,
    with_backbone_defaults,
)
from .prediction import length_sorted_batches, predict_batches
from .runtime import make_accelerator, resolve_runtime, set_threads

PROGRESS_FILE, PROGRESS_TENSORS = "progress.json", "progress.safetensors"  # FitProgress inside each saved state
BEST_STATE, BEST_PROBS = "best_state.", "best_probs"  # names in progress.safetensors


@dataclass
class FitProgress:
    """How far `fit` has got, saved with every checkpoint as JSON and safetensors (`save`, `load`): nothing pickled."""

    epochs_done: int = 0
    batches_done: int = 0  # batches of the epoch in progress (a checkpoint inside an epoch)
    steps: int = 0  # optimiser steps so far
    loss_sums: list = field(default_factory=list)  # per process: (summed loss, rows) of the epoch in progress
    seconds: float = 0.0  # training seconds of the epoch in progress before the checkpoint
    history: list = field(default_factory=list)
    best_f1: float = -1.0
    waited: int = 0  # epochs without a better valid F1
    best_probs: np.ndarray | None = None
    best_state: dict | None = None  # the best epoch's weights (keep_best)

    def save(self, folder: Path) -> None:
        """progress.json (counts, loss sums, the log) and progress.safetensors (the best epoch's probabilities and weights)."""
        tensors = {BEST_STATE + key: value.detach().cpu().contiguous() for key, value in (self.best_state or {}).items()}
        if self.best_probs is not None:
            tensors[BEST_PROBS] = torch.from_numpy(np.ascontiguousarray(self.best_probs))
        save_file(tensors, str(folder / PROGRESS_TENSORS))
        numbers = {key: value for key, value in vars(self).items() if key not in ("best_state", "best_probs")}
        write_text(folder / PROGRESS_FILE, json.dumps({**numbers, "has_best_state": self.best_state is not None}))

    def load(self, folder: Path) -> None:
        """Back from what `save` wrote."""
        numbers, tensors = read_json(folder / PROGRESS_FILE), load_file(str(folder / PROGRESS_TENSORS))
        has_best_state = numbers.pop("has_best_state")
        vars(self).update(numbers)
        self.best_probs = tensors[BEST_PROBS].numpy() if BEST_PROBS in tensors else None
        self.best_state = {key.removeprefix(BEST_STATE): value for key, value in tensors.items() if key.startswith(BEST_STATE)} \
            if has_best_state else None


def train_epoch(accelerator, model: nn.Module, loader, optimizer, scheduler, loss_fn: nn.Module, config: TrainConfig,
                fit_progress: FitProgress, save_state=None, desc: str = "train") -> float:
    """One epoch (what is left of it after a resume) over this process's batches; every `train.checkpoint_steps` optimiser
    steps `save_state()` is called. Returns the mean loss over every process's rows."""
    from accelerate.utils import gather_object

    model.train()
    loss_sum, rows = fit_progress.loss_sums[accelerator.process_index] if fit_progress.loss_sums else (0.0, 0)
    bar = progress(loader, len(loader), desc)
    for batch in bar:
        with accelerator.accumulate(model):
            loss = loss_fn(model(batch).float(), batch["labels"])
            accelerator.backward(loss)
            if accelerator.sync_gradients and config.grad_clip:
                accelerator.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
        loss_sum += loss.item() * len(batch["labels"])
        rows += len(batch["labels"])
        fit_progress.batches_done += 1
        if fit_progress.batches_done % 20 == 0:
            bar.set_postfix(loss=f"{loss_sum / rows:.4f}", refresh=False)
        if accelerator.sync_gradients:
            fit_progress.steps += 1
            if save_state and config.checkpoint_steps and fit_progress.steps % config.checkpoint_steps == 0 and \
                    not accelerator.gradient_state.end_of_dataloader:
                fit_progress.loss_sums = gather_object([(loss_sum, rows)])
                save_state()
    totals = gather_object([(loss_sum, rows)])
    return sum(total for total, _ in totals) / max(sum(count for _, count in totals), 1)


@torch.no_grad()
def predict_shared(accelerator, model: nn.Module, dataset: EmotionDataset, batch_size: int, loss_fn: nn.Module,
                   desc: str) -> tuple[np.ndarray, float]:
    """Every row's probabilities and the mean loss; the length-sorted batches are split between the processes and the
    results gathered, so each row is predicted exactly once (no padding rows)."""
    from accelerate.utils import gather_object

    with accelerator.split_between_processes(length_sorted_batches(dataset, batch_size)) as mine:
        part = predict_batches(accelerator.unwrap_model(model), dataset, mine, loss_fn, desc)
    probs, total = np.zeros((len(dataset), len(LABELS)), dtype=np.float32), 0.0
    for rows, values, loss_sum in gather_object([part]):
        probs[rows] = values
        total += loss_sum
    return probs, total / max(len(dataset), 1)


@dataclass
class FitResult:
    """What `fit` returns: one row per epoch, the epoch kept, and its valid probabilities."""

    history: pd.DataFrame  # epoch, train_loss, valid_loss, valid_f1_weighted, valid_f1_macro, lr, rows, train_seconds, seconds
    best_epoch: int
    valid_probs: np.ndarray


def fit(model: nn.Module, train_data: EmotionDataset, valid_data: EmotionDataset, config: TrainConfig,
        seed: int = 42, keep_best: bool = True, checkpoints=None) -> FitResult:
    """Train for `config.epochs`, score valid after each epoch, stop early on weighted F1, keep the best epoch.

    keep_best=False keeps the last epoch and never stops early (for honest out-of-fold scores). With `checkpoints` (a
    `resume.PartCheckpoints`) the state is saved at the end of each epoch (and every `train.checkpoint_steps` steps), and
    a saved state is continued from.
    """
    from .scores import (
        weighted_and_macro_f1,  # scikit-learn: not needed to predict, so imported here
    )

    config = with_backbone_defaults(resolve_runtime(config), model)
    accelerator = make_accelerator(config)
    set_threads(config)
    torch.manual_seed(seed)
    model.to(accelerator.device)
    sampler = LengthBatchSampler(train_data.lengths, config.batch_size, shuffle=True, seed=seed,
                                 short_last=accelerator.num_processes > 1)
    loader = DataLoader(train_data, batch_sampler=sampler, collate_fn=train_data.collate, generator=torch.Generator())
    optimizer = make_optimizer(model, config, config.lr)
    scheduler = make_scheduler(optimizer, config, -(-len(sampler) // config.accumulation_steps) * config.epochs)
    loss_fn = make_loss(config, train_data.labels.numpy()).to(accelerator.device)
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    state = FitProgress()
    saved = checkpoints.latest_state() if checkpoints is not None else None
    if saved is not None:
        checkpoints.load_state(accelerator, saved, state)
        print(f"Continuing from {saved.name}: {state.epochs_done} epoch(s) and {state.batches_done} batch(es) done")

    def save_state() -> None:
        state.seconds = time.perf_counter() - started if state.batches_done else 0.0
        checkpoints.save_state(accelerator, state)

    print(f"Training on {len(train_data)} rows, scoring {len(valid_data)} valid rows: {config.epochs} epoch(s) of "
          f"{len(sampler)} batches of {config.batch_size}, lr {config.lr:g}, {config.optimizer}, {config.scheduler} schedule, "
          f"{config.loss} loss, {config.device} {config.precision}, {accelerator.num_processes} process(es) of "
          f"{torch.get_num_threads()} thread(s)")
    for epoch in range(state.epochs_done + 1, config.epochs + 1):
        started = time.perf_counter() - state.seconds
        sampler.set_epoch(epoch)
        loader.set_epoch(epoch)
        batches = accelerator.skip_first_batches(loader, state.batches_done) if state.batches_done else loader
        train_loss = train_epoch(accelerator, model, batches, optimizer, scheduler, loss_fn, config, state,
                                 save_state if checkpoints is not None else None, f"epoch {epoch}/{config.epochs}")
        train_seconds = time.perf_counter() - started
        probs, valid_loss = predict_shared(accelerator, model, valid_data, config.eval_batch_size, loss_fn, "valid")
        weighted, macro = weighted_and_macro_f1(valid_data.labels.numpy(), probs)
        state.history.append({"epoch": epoch, "train_loss": train_loss, "valid_loss": valid_loss, "valid_f1_weighted": weighted,
                              "valid_f1_macro": macro, "lr": optimizer.param_groups[0]["lr"], "rows": len(train_data),
                              "train_seconds": train_seconds, "seconds": time.perf_counter() - started})
        improved = weighted > state.best_f1 or not keep_best
        print(f"epoch {epoch}/{config.epochs}: train loss {train_loss:.4f}, valid loss {valid_loss:.4f}, valid F1 weighted "
              f"{weighted:.4f}, macro {macro:.4f} ({state.history[-1]['seconds']:.0f} s){' *' if improved and keep_best else ''}")
        if improved:
            state.best_f1, state.best_probs, state.waited = weighted, probs, 0
            if keep_best:
                state.best_state = {key: value.detach().clone() for key, value in accelerator.unwrap_model(model).state_dict().items()}
        else:
            state.waited += 1
        state.epochs_done, state.batches_done, state.loss_sums, state.seconds = epoch, 0, [], 0.0
        stop = bool(config.early_stopping and state.waited >= config.early_stopping)
        if stop:
            print(f"Early stop: no better valid weighted F1 for {state.waited} epoch(s).")
            break
        if checkpoints is not None and epoch < config.epochs:
            save_state()
    history = pd.DataFrame(state.history)
    best_epoch = int(history.loc[history["valid_f1_weighted"].idxmax(), "epoch"]) if keep_best else len(history)
    model = accelerator.unwrap_model(model, keep_fp32_wrapper=False)
    if state.best_state is not None:
        model.load_state_dict(state.best_state)
        print(f"Kept epoch {best_epoch} (valid weighted F1 {state.best_f1:.4f} at threshold 0.5).")
    accelerator.free_memory()
    return FitResult(history, best_epoch, state.best_probs)


def fit_part(model: nn.Module, train_data: EmotionDataset, valid_data: EmotionDataset, config: TrainConfig, seed: int,
             keep_best: bool, part=None) -> tuple[np.ndarray, pd.DataFrame]:
    """`fit` one part of a training (a fold, or the one model) and record it as finished in its checkpoints (`part`, a
    `resume.PartCheckpoints`); a part already finished there is loaded instead. Returns valid probabilities and the log."""
    from accelerate import PartialState

    if part is not None and part.finished():
        print(f"Trained already: loaded from {part.finished_folder}")
        return part.load_finished(model)
    result = fit(model, train_data, valid_data, config, seed, keep_best, part)
    if part is not None:
        if PartialState().is_main_process:
            part.save_finished(model, result.valid_probs, result.history)
        PartialState().wait_for_everyone()
    return result.valid_probs, result.history
