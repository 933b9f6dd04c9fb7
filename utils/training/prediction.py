"""Probabilities from a model: a dataset's rows in batches sorted by length, or raw texts through one or several models."""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from ..core.progress import progress
from ..core.splits import LABELS
from .dataset import EmotionDataset, LengthBatchSampler
from .vocabulary import open_vocabularies


def batches(dataset: EmotionDataset, sampler: Iterable[list[int]]) -> Iterator[tuple[list[int], dict]]:
    """(row indices, padded batch) for each batch of row indices."""
    for indices in sampler:
        yield indices, dataset.collate([dataset[i] for i in indices])


@torch.no_grad()
def predict_batches(model: nn.Module, dataset: EmotionDataset, row_batches: list[list[int]], loss_fn: nn.Module | None = None,
                    desc: str | None = None) -> tuple[list[int], np.ndarray, float]:
    """The rows of `row_batches` (their indices in that order), their probabilities and their summed loss (0 without
    `loss_fn`), on the model's device."""
    model.eval()
    device = next(model.parameters()).device
    rows, probs, total = [], [], 0.0
    for indices, batch in progress(batches(dataset, row_batches), len(row_batches), desc):
        batch = {key: value.to(device, non_blocking=True) for key, value in batch.items()}
        logits = model(batch).float()
        rows += indices
        probs.append(torch.sigmoid(logits).cpu().numpy())
        if loss_fn is not None:
            total += loss_fn(logits, batch["labels"]).item() * len(indices)
    return rows, np.concatenate(probs) if probs else np.zeros((0, len(LABELS)), dtype=np.float32), total


def length_sorted_batches(dataset: EmotionDataset, batch_size: int) -> list[list[int]]:
    """A dataset's rows in batches of similar lengths, longest first (for prediction)."""
    return list(LengthBatchSampler(dataset.lengths, batch_size, shuffle=False))


def predict_dataset(model: nn.Module, dataset: EmotionDataset, batch_size: int = 256, loss_fn: nn.Module | None = None,
                    desc: str | None = "predict") -> tuple[np.ndarray, float | None]:
    """Probabilities (rows in the dataset's order, LABELS columns) and the mean loss when `loss_fn` is given.

    `desc` names the progress bar; None shows none."""
    rows, probs, total = predict_batches(model, dataset, length_sorted_batches(dataset, batch_size), loss_fn, desc)
    ordered = np.zeros((len(dataset), len(LABELS)), dtype=np.float32)
    ordered[rows] = probs
    return ordered, (total / max(len(dataset), 1) if loss_fn is not None else None)


@torch.no_grad()
def mean_probs(models: Sequence[nn.Module], dataset: EmotionDataset, batch_size: int, desc: str | None) -> np.ndarray:
    """The mean probabilities of models that read the same dataset (fold models), rows in its order: each batch is padded
    once for all of them."""
    for model in models:
        model.eval()
    device = next(models[0].parameters()).device
    ordered = np.zeros((len(dataset), len(LABELS)), dtype=np.float32)
    row_batches = length_sorted_batches(dataset, batch_size)
    for indices, batch in progress(batches(dataset, row_batches), len(row_batches), desc):
        batch = {key: value.to(device, non_blocking=True) for key, value in batch.items()}
        ordered[indices] = np.mean([torch.sigmoid(model(batch).float()).cpu().numpy() for model in models], axis=0)
    return ordered


def predict_probs(model: nn.Module | Sequence[nn.Module], texts: Sequence[str], batch_size: int = 256,
                  num_threads: int = 1, progress_bar: bool = False) -> np.ndarray:
    """Raw texts -> (n, 7) probabilities in input order (preprocessed as the model was trained); several models: their mean.

    Batches are sorted by length; `num_threads` CPU threads (0: all cores); stdout stays clean unless `progress_bar`.
    """
    models = [model] if isinstance(model, nn.Module) else list(model)
    texts = list(texts)
    torch.set_num_threads(num_threads or os.cpu_count() or 1)
    open_vocabularies(models, texts)
    groups: dict[tuple, list[nn.Module]] = {}  # models sharing a tokenizer, preprocessing and length limit share one dataset
    for m in models:
        groups.setdefault((id(m.backbone.tokenizer), repr(m.text), m.backbone.max_len), []).append(m)
    group_means = [mean_probs(group, group[0].dataset(texts), batch_size, "predict" if progress_bar else None)
                   for group in groups.values()]
    if len(group_means) == 1:
        return group_means[0]
    return np.average(group_means, axis=0, weights=[len(group) for group in groups.values()]).astype(np.float32)
