"""Training: device and precision, loss, optimiser and schedule by name, `train` (one epoch), `validation`
(predictions for valid or test), `fit` (epochs, early stopping, best epoch kept) and `predict_probs` for raw texts."""
from __future__ import annotations

import dataclasses
import os
import sys
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from .backbones import NAVEC
from .config import ConfigError, TrainConfig
from .data import LABELS
from .dataset import EmotionDataset, LengthBatchSampler

BACKBONE_DEFAULTS = {NAVEC: {"lr": 3e-3, "batch_size": 128}, "huggingface": {"lr": 3e-5, "batch_size": 32}}
OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULERS = ("linear", "cosine", "constant")
LOSSES = ("bce", "focal")
PRECISIONS = ("fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda")
warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm.auto, imported by transformers; the kit's bars are plain text
PROGRESS_SECONDS = 5.0  # how often a progress bar redraws: readable in Jupyter, a terminal and papermill logs


def check_train_config(config: TrainConfig) -> None:
    """Refuse unknown names and values out of range, naming the setting and what is accepted."""
    for key, accepted in (("optimizer", OPTIMIZERS), ("scheduler", SCHEDULERS), ("loss", LOSSES),
                          ("precision", PRECISIONS), ("device", DEVICES)):
        if getattr(config, key) not in accepted:
            raise ConfigError(f"train.{key} {getattr(config, key)!r} is unknown; accepted: {list(accepted)}")
    for key, low in (("epochs", 1), ("batch_size", 1), ("eval_batch_size", 1), ("accumulation_steps", 1),
                     ("num_threads", 0), ("early_stopping", 0), ("folds", 0), ("valid_weight", 1)):
        if getattr(config, key) is not None and getattr(config, key) < low:
            raise ConfigError(f"train.{key} = {getattr(config, key)} is out of range; accepted: {low} or more")
    if config.folds == 1:
        raise ConfigError("train.folds = 1 is not a k-fold; accepted: 0 (off) or 2 and more")
    if not 0 <= config.warmup_ratio < 1:
        raise ConfigError(f"train.warmup_ratio = {config.warmup_ratio} is out of range; accepted: 0 <= ratio < 1")
    if config.lr is not None and config.lr <= 0:
        raise ConfigError(f"train.lr = {config.lr} is out of range; accepted: a positive number or null (the backbone's default)")


def resolve_runtime(config: TrainConfig) -> TrainConfig:
    """Settings with a concrete device and precision; CUDA-only choices on a CPU fall back to fp32 with a notice."""
    check_train_config(config)
    cuda = torch.cuda.is_available()
    device = "cuda" if config.device == "cuda" or (config.device == "auto" and cuda) else "cpu"
    if device == "cuda" and not cuda:
        print("Notice: train.device = 'cuda' but no CUDA device is available; training on the CPU.")
        device = "cpu"
    precision = config.precision
    if precision != "fp32" and device == "cpu":
        print(f"Notice: train.precision = {precision!r} needs CUDA; using fp32 on the CPU.")
        precision = "fp32"
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        print("Notice: this GPU has no bf16 support; using fp16 mixed precision instead.")
        precision = "fp16"
    torch.set_num_threads(config.num_threads or os.cpu_count() or 1)
    return dataclasses.replace(config, device=device, precision=precision)


def autocast(config: TrainConfig):
    """Mixed precision on CUDA (bf16/fp16); nothing on fp32."""
    if config.precision == "fp32":
        return nullcontext()
    return torch.autocast("cuda", dtype=torch.bfloat16 if config.precision == "bf16" else torch.float16)


def positive_weights(setting, labels: np.ndarray) -> torch.Tensor | None:
    """BCE `pos_weight`: None, "balanced" (negatives / positives per label, at most 30) or 7 given numbers."""
    if setting is None or setting == "none":
        return None
    if setting == "balanced":
        positives = labels.sum(axis=0)
        return torch.tensor(((len(labels) - positives) / positives.clip(min=1)).clip(1, 30), dtype=torch.float32)
    if isinstance(setting, (list, tuple)) and len(setting) == len(LABELS) and all(isinstance(v, (int, float)) and v > 0 for v in setting):
        return torch.tensor(setting, dtype=torch.float32)
    raise ConfigError(f"train.pos_weight {setting!r} is not accepted; accepted: null, 'balanced' or 7 positive numbers ({', '.join(LABELS)})")


class FocalLoss(nn.Module):
    """Binary focal loss on logits (Lin et al. 2017), with an optional per-label positive weight."""

    def __init__(self, gamma: float = 2.0, pos_weight: torch.Tensor | None = None):
        super().__init__()
        self.gamma = gamma
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        bce = nn.functional.binary_cross_entropy_with_logits(logits, targets, pos_weight=self.pos_weight, reduction="none")
        probs = torch.sigmoid(logits)
        p_true = probs * targets + (1 - probs) * (1 - targets)
        return ((1 - p_true) ** self.gamma * bce).mean()


def make_loss(config: TrainConfig, labels: np.ndarray) -> nn.Module:
    """BCE or focal loss, with `pos_weight` from the settings and the training labels."""
    pos_weight = positive_weights(config.pos_weight, np.asarray(labels))
    if config.loss == "focal":
        return FocalLoss(config.focal_gamma, pos_weight)
    return nn.BCEWithLogitsLoss(pos_weight=pos_weight)


def make_optimizer(model: nn.Module, config: TrainConfig, lr: float) -> torch.optim.Optimizer:
    """AdamW, Adam or SGD (momentum 0.9) over the trainable parameters; biases and norms get no weight decay."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in trainable if p.ndim > 1], "weight_decay": config.weight_decay},
              {"params": [p for p in trainable if p.ndim <= 1], "weight_decay": 0.0}]
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9)
    return (torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam)(groups, lr=lr)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, total_steps: int):
    """Warm-up for `warmup_ratio` of the steps, then linear decay, cosine decay or a constant rate."""
    from transformers import (get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup,
                              get_linear_schedule_with_warmup)

    warmup = int(config.warmup_ratio * total_steps)
    if config.scheduler == "constant":
        return get_constant_schedule_with_warmup(optimizer, warmup)
    make = get_linear_schedule_with_warmup if config.scheduler == "linear" else get_cosine_schedule_with_warmup
    return make(optimizer, warmup, total_steps)


def with_backbone_defaults(config: TrainConfig, model: nn.Module) -> TrainConfig:
    """Fill the settings left at None (lr, batch_size) with the defaults of the model's kind of backbone."""
    defaults = BACKBONE_DEFAULTS[NAVEC if model.backbone.name == NAVEC else "huggingface"]
    return dataclasses.replace(config, **{key: value for key, value in defaults.items() if getattr(config, key) is None})


def progress(iterable, total: int, desc: str | None):
    """A plain-text progress bar on stdout (none when `desc` is None): redraws in place in Jupyter and terminals,
    a few lines under papermill."""
    return tqdm(iterable, total=total, desc=desc, file=sys.stdout, mininterval=PROGRESS_SECONDS, ncols=100, leave=False,
                disable=desc is None)


def batches(dataset: EmotionDataset, sampler: LengthBatchSampler) -> Iterator[tuple[list[int], dict]]:
    """(row indices, padded batch) for each batch the sampler draws."""
    for indices in sampler:
        yield indices, dataset.collate([dataset[i] for i in indices])


def to_device(batch: dict, device: str) -> dict:
    return {key: value.to(device, non_blocking=True) for key, value in batch.items()}


def train(model: nn.Module, dataset: EmotionDataset, sampler: LengthBatchSampler, optimizer, scheduler,
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


@torch.no_grad()
def validation(model: nn.Module, dataset: EmotionDataset, batch_size: int = 256, loss_fn: nn.Module | None = None,
               config: TrainConfig | None = None, desc: str | None = "predict") -> tuple[np.ndarray, float | None]:
    """Probabilities (rows in the dataset's order, LABELS columns) and the mean loss when `loss_fn` is given.

    `desc` names the progress bar; None shows none."""
    config = config or TrainConfig(device=next(model.parameters()).device.type)
    model.eval()
    probs = np.zeros((len(dataset), len(LABELS)), dtype=np.float32)
    total = 0.0
    sampler = LengthBatchSampler(dataset.lengths, batch_size, shuffle=False)
    for indices, batch in progress(batches(dataset, sampler), len(sampler), desc):
        batch = to_device(batch, config.device)
        with autocast(config):
            logits = model(batch).float()
        probs[indices] = torch.sigmoid(logits).cpu().numpy()
        if loss_fn is not None:
            total += loss_fn(logits, batch["labels"]).item() * len(indices)
    return probs, (total / max(len(dataset), 1) if loss_fn is not None else None)


def predict_probs(model: nn.Module | Sequence[nn.Module], texts: Sequence[str], batch_size: int = 256,
                  num_threads: int = 1, progress_bar: bool = False) -> np.ndarray:
    """Raw texts -> (n, 7) probabilities in input order (preprocessed as the model was trained); several models: their mean.

    Batches are sorted by length; `num_threads` CPU threads (0: all cores); stdout stays clean unless `progress_bar`.
    """
    models = [model] if isinstance(model, nn.Module) else list(model)
    texts = list(texts)
    torch.set_num_threads(num_threads or os.cpu_count() or 1)
    desc = "predict" if progress_bar else None
    datasets, probs = {}, []  # models sharing a tokenizer, preprocessing and length limit (fold models) share one dataset
    for m in models:
        key = (id(m.backbone.tokenizer), repr(m.text), m.backbone.max_len)
        if key not in datasets:
            datasets[key] = m.dataset(texts)
        probs.append(validation(m, datasets[key], batch_size, desc=desc)[0])
    return np.mean(probs, axis=0)


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
    from .evaluation import weighted_and_macro_f1  # scikit-learn: not needed to predict, so imported here

    config = with_backbone_defaults(resolve_runtime(config), model)
    torch.manual_seed(seed)
    model.to(config.device)
    sampler = LengthBatchSampler(train_data.lengths, config.batch_size, shuffle=True, seed=seed)
    total_steps = -(-len(sampler) // config.accumulation_steps) * config.epochs
    optimizer = make_optimizer(model, config, config.lr)
    scheduler = make_scheduler(optimizer, config, total_steps)
    loss_fn = make_loss(config, train_data.labels.numpy()).to(config.device)
    print(f"Training on {len(train_data)} rows, scoring {len(valid_data)} valid rows: {config.epochs} epoch(s) of "
          f"{len(sampler)} batches of {config.batch_size}, lr {config.lr:g}, {config.optimizer}, {config.scheduler} schedule, {config.loss} loss, "
          f"{config.device} {config.precision}, {torch.get_num_threads()} thread(s)")
    history, best_state, best_probs, best_f1, waited = [], None, None, -1.0, 0
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        sampler.set_epoch(epoch)
        train_loss = train(model, train_data, sampler, optimizer, scheduler, loss_fn, config, f"epoch {epoch}/{config.epochs}")
        train_seconds = time.perf_counter() - started
        probs, valid_loss = validation(model, valid_data, config.eval_batch_size, loss_fn, config, "valid")
        weighted, macro = weighted_and_macro_f1(valid_data.labels.numpy(), probs)
        history.append({"epoch": epoch, "train_loss": train_loss, "valid_loss": valid_loss, "valid_f1_weighted": weighted,
                        "valid_f1_macro": macro, "lr": optimizer.param_groups[0]["lr"], "rows": len(train_data), "train_seconds": train_seconds,
                        "seconds": time.perf_counter() - started})
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
