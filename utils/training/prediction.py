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
def predict_batches(model: nn.Module | Sequence[nn.Module], dataset: EmotionDataset, row_batches: list[list[int]],
                    loss_fn: nn.Module | None = None, desc: str | None = None) -> tuple[list[int], np.ndarray, float]:
    """The rows of `row_batches` (their indices in that order), their probabilities and their summed loss (0 without
    `loss_fn`), on the model's device. Several models (fold models): the mean of their probabilities, each batch padded
    once for all of them (`loss_fn` needs one model)."""
    models = [model] if isinstance(model, nn.Module) else list(model)
    for each in models:
        each.eval()
    device = next(models[0].parameters()).device
    rows, probs, total = [], [], 0.0
    for indices, batch in progress(batches(dataset, row_batches), len(row_batches), desc):
        batch = {key: value.to(device, non_blocking=True) for key, value in batch.items()}
        logits = [each(batch).float() for each in models]
        rows += indices
        batch_probs = [torch.sigmoid(each).cpu().numpy() for each in logits]
        probs.append(batch_probs[0] if len(models) == 1 else np.mean(batch_probs, axis=0))
        if loss_fn is not None:
            total += loss_fn(logits[0], batch["labels"]).item() * len(indices)
    return rows, np.concatenate(probs) if probs else np.zeros((0, len(LABELS)), dtype=np.float32), total


def length_sorted_batches(dataset: EmotionDataset, batch_size: int) -> list[list[int]]:
    """A dataset's rows in batches of similar lengths, longest first (for prediction)."""
    return list(LengthBatchSampler(dataset.lengths, batch_size, shuffle=False))


def predict_dataset(model: nn.Module | Sequence[nn.Module], dataset: EmotionDataset, batch_size: int = 256,
                    loss_fn: nn.Module | None = None, desc: str | None = "predict") -> tuple[np.ndarray, float | None]:
    """Probabilities (rows in the dataset's order, LABELS columns; several models: their mean) and the mean loss when
    `loss_fn` is given.

    `desc` names the progress bar; None shows none."""
    rows, probs, total = predict_batches(model, dataset, length_sorted_batches(dataset, batch_size), loss_fn, desc)
    ordered = np.zeros((len(dataset), len(LABELS)), dtype=np.float32)
    ordered[rows] = probs
    return ordered, (total / max(len(dataset), 1) if loss_fn is not None else None)


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
    group_means = [predict_dataset(group, group[0].dataset(texts), batch_size, desc="predict" if progress_bar else None)[0]
                   for group in groups.values()]
    if len(group_means) == 1:
        return group_means[0]
    return np.average(group_means, axis=0, weights=[len(group) for group in groups.values()]).astype(np.float32)
