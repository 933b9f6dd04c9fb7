"""Texts -> model inputs: `EmotionDataset`, per-batch padding and length-sorted batches."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ..core.splits import LABELS
from .word_tokenizer import WordTokenizer


class EmotionDataset(Dataset):
    """Texts tokenised once (after the given preprocessing), with float multi-hot targets; padding happens per batch."""

    def __init__(self, texts: Iterable[str], labels=None, tokenizer=None, max_len: int = 128,
                 preprocess: Callable[[str], str] | None = None):
        texts = [preprocess(t) for t in texts] if preprocess else list(texts)
        labels = np.zeros((len(texts), len(LABELS))) if labels is None else np.asarray(labels)
        if labels.shape != (len(texts), len(LABELS)):
            raise ValueError(f"labels: expected shape ({len(texts)}, {len(LABELS)}), got {labels.shape}")
        encoded = tokenizer(texts, truncation=True, max_length=max_len)
        features = [dict(zip(encoded.keys(), values)) for values in zip(*encoded.values())]
        self._hold(features, torch.as_tensor(labels, dtype=torch.float32), padder(tokenizer))

    def _hold(self, features: list[dict], labels: torch.Tensor, pad: Callable[[list[dict]], dict]) -> None:
        self.features, self.labels, self.pad = features, labels, pad
        self.lengths = np.array([len(f["input_ids"]) for f in features], dtype=np.int64)

    @classmethod
    def from_features(cls, features: list[dict], labels: torch.Tensor, pad: Callable[[list[dict]], dict]) -> EmotionDataset:
        """A dataset of already tokenised rows (no second tokenisation)."""
        dataset = cls.__new__(cls)
        dataset._hold(features, labels, pad)
        return dataset

    def rows(self, indices: Sequence[int]) -> EmotionDataset:
        """The rows at `indices`, in that order."""
        return EmotionDataset.from_features([self.features[i] for i in indices], self.labels[np.asarray(indices)], self.pad)

    def __add__(self, other: EmotionDataset) -> EmotionDataset:
        """This dataset's rows followed by `other`'s (same tokenizer)."""
        return EmotionDataset.from_features(self.features + other.features, torch.cat([self.labels, other.labels]), self.pad)

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> tuple[dict, torch.Tensor]:
        return self.features[index], self.labels[index]

    def collate(self, items: list[tuple[dict, torch.Tensor]]) -> dict[str, torch.Tensor]:
        """Pad a list of items into one batch: the tokenizer's tensors plus `labels`."""
        batch = dict(self.pad([features for features, _ in items]))
        batch["labels"] = torch.stack([labels for _, labels in items])
        return batch


def padder(tokenizer) -> Callable[[list[dict]], dict]:
    """Per-batch padding: the word tokenizer's own `pad`, or `DataCollatorWithPadding` for a Hugging Face tokenizer."""
    if isinstance(tokenizer, WordTokenizer):
        return tokenizer.pad
    from transformers import DataCollatorWithPadding

    return DataCollatorWithPadding(tokenizer, return_tensors="pt")


class LengthBatchSampler(Sampler[list[int]]):
    """Batches of similar lengths (little padding). Shuffled: random pools sorted by length, batches in random order.

    `short_last` puts the one short batch last, as accelerate's sharding of batches between processes expects.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, shuffle: bool, seed: int = 0, pool_batches: int = 50,
                 short_last: bool = False):
        self.lengths = np.asarray(lengths)
        self.batch_size, self.shuffle, self.seed, self.pool = batch_size, shuffle, seed, batch_size * pool_batches
        self.short_last, self.epoch = short_last, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        if not self.shuffle:
            order = np.argsort(-self.lengths, kind="stable")
            yield from (order[i:i + self.batch_size].tolist() for i in range(0, len(order), self.batch_size))
            return
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(self.lengths))
        pools = [order[i:i + self.pool] for i in range(0, len(order), self.pool)]
        batches = []
        for pool in pools:
            pool = pool[np.argsort(-self.lengths[pool], kind="stable")]
            batches += [pool[i:i + self.batch_size].tolist() for i in range(0, len(pool), self.batch_size)]
        order = rng.permutation(len(batches))
        if self.short_last:
            order = sorted(order, key=lambda i: len(batches[i]) < self.batch_size)  # stable: the full ones keep their order
        yield from (batches[i] for i in order)
