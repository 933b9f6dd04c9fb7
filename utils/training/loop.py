"""The training loop: `train_epoch` (one pass with accumulation, clipping, mixed precision) and `fit` (epochs, early
stopping, the best epoch kept)."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..core.progress import progress
from ..core.settings import TrainConfig
from .dataset import EmotionDataset, LengthBatchSampler
from .optimisation import (
    make_loss,
    make_optimizer,
    make_scheduler,
    with_backbone_defaults,
)
from .prediction import batches, predict_dataset
from .runtime import autocast, resolve_runtime, to_device


def train_epoch(model: nn.Module, dataset: EmotionDataset, sampler: LengthBatchSampler, optimizer, scheduler,
          loss_fn: nn.Module, config: TrainConfig, desc: str = "train") -> float:
    """One epoch over the sampler's batches with accumulation, clipping and mixed precision; returns the mean loss."""
    model.train()
    scaler = torch.amp.GradScaler("cuda", enabled=config.precision == "fp16")
    total, rows = 0.0, 0
    bar = progress(batches(dataset, sampler), len(sampler), desc)
    optimizer.zero_grad(set_to_none=True)
    for step, (_, batch) in enumerate(bar, start=1):
        batch = to_device(batch, config.device)
        with autocast(config):
            logits = model(batch)
        loss = loss_fn(logits.float(), batch["labels"])
        scaler.scale(loss / config.accumulation_steps).backward()
        if step % config.accumulation_steps == 0 or step == len(sampler):
            if config.grad_clip:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
        total += loss.item() * len(batch["labels"])
        rows += len(batch["labels"])
        if step % 20 == 0:
            bar.set_postfix(loss=f"{total / rows:.4f}", refresh=False)
    return total / max(rows, 1)


@dataclass
class FitResult:
    """What `fit` returns: one row per epoch, the epoch kept, and its valid probabilities."""

    history: pd.DataFrame  # epoch, train_loss, valid_loss, valid_f1_weighted, valid_f1_macro, lr, rows, train_seconds, seconds
    best_epoch: int
    valid_probs: np.ndarray


def fit(model: nn.Module, train_data: EmotionDataset, valid_data: EmotionDataset, config: TrainConfig,
        seed: int = 42, keep_best: bool = True) -> FitResult:
    """Train for `config.epochs`, score valid after each epoch, stop early on weighted F1, keep the best epoch.

    keep_best=False keeps the last epoch and never stops early (for honest out-of-fold scores).
    """
    from .scores import (
        weighted_and_macro_f1,  # scikit-learn: not needed to predict, so imported here
    )

    config = with_backbone_defaults(resolve_runtime(config), model)
    torch.manual_seed(seed)
    model.to(config.device)
    sampler = LengthBatchSampler(train_data.lengths, config.batch_size, shuffle=True, seed=seed)
    total_steps = -(-len(sampler) // config.accumulation_steps) * config.epochs
    optimizer = make_optimizer(model, config, config.lr)
    scheduler = make_scheduler(optimizer, config, total_steps)
    loss_fn = make_loss(config, train_data.labels.numpy()).to(config.device)
    print(f"Training on {len(train_data)} rows, scoring {len(valid_data)} valid rows: {config.epochs} epoch(s) of "
          f"{len(sampler)} batches of {config.batch_size}, lr {config.lr:g}, {config.optimizer}, {config.scheduler} schedule, "
          f"{config.loss} loss, {config.device} {config.precision}, {torch.get_num_threads()} thread(s)")
    history, best_state, best_probs, best_f1, waited = [], None, None, -1.0, 0
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        sampler.set_epoch(epoch)
        train_loss = train_epoch(model, train_data, sampler, optimizer, scheduler, loss_fn, config, f"epoch {epoch}/{config.epochs}")
        train_seconds = time.perf_counter() - started
        probs, valid_loss = predict_dataset(model, valid_data, config.eval_batch_size, loss_fn, config, "valid")
        weighted, macro = weighted_and_macro_f1(valid_data.labels.numpy(), probs)
        history.append({"epoch": epoch, "train_loss": train_loss, "valid_loss": valid_loss, "valid_f1_weighted": weighted,
                        "valid_f1_macro": macro, "lr": optimizer.param_groups[0]["lr"], "rows": len(train_data),
                        "train_seconds": train_seconds, "seconds": time.perf_counter() - started})
        improved = weighted > best_f1 or not keep_best
        print(f"epoch {epoch}/{config.epochs}: train loss {train_loss:.4f}, valid loss {valid_loss:.4f}, valid F1 weighted "
              f"{weighted:.4f}, macro {macro:.4f} ({history[-1]['seconds']:.0f} s){' *' if improved and keep_best else ''}")
        if improved:
            best_f1, best_probs, waited = weighted, probs, 0
            best_state = {key: value.detach().clone() for key, value in model.state_dict().items()} if keep_best else None
        else:
            waited += 1
            if config.early_stopping and waited >= config.early_stopping:
                print(f"Early stop: no better valid weighted F1 for {waited} epoch(s).")
                break
    best_epoch = int(max(history, key=lambda row: row["valid_f1_weighted"])["epoch"]) if keep_best else len(history)
    if best_state is not None:
        model.load_state_dict(best_state)
        print(f"Kept epoch {best_epoch} (valid weighted F1 {best_f1:.4f} at threshold 0.5).")
    return FitResult(pd.DataFrame(history), best_epoch, best_probs)
