"""The n-gram bag network in numpy alone: a text's hashed n-gram ids, the forward pass of its networks, and the exported
member (`NgramBagArrays`, the `ngram_bag` kind's export runtime: no torch, scikit-learn or pandas)."""
from __future__ import annotations

import json
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..core.labels import LABELS
from .text_pipeline import preprocessor

ARRAYS = ("table", "hidden_weight", "hidden_bias", "out_weight", "out_bias")  # one network's; saved stacked over the folds
EXPORT_SETTINGS = "ngram_bag.json"  # the export's settings, beside one ARRAYS entry a file (`<name>.npy`)
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Hashing:
    """What turns a text into table rows: NgramBagConfig's fields of the same names."""

    buckets: int
    word_ngram_max: int
    char_ngram_min: int
    char_ngram_max: int


def _bucket(gram: str, buckets: int) -> int:
    return zlib.crc32(gram.encode("utf-8")) % buckets


@lru_cache(maxsize=1 << 18)
def _word_ids(word: str, char_min: int, char_max: int, buckets: int) -> tuple[int, ...]:
    """A word's own bucket and those of its character n-grams (of <word>)."""
    marked = f"<{word}>"
    grams = [marked[i:i + n] for n in range(char_min, char_max + 1) for i in range(len(marked) - n + 1)]
    return (_bucket(word, buckets), *(_bucket(f"#{gram}", buckets) for gram in grams))


def ngram_ids(text: str, hashing: Hashing) -> np.ndarray:
    """The table rows of a (preprocessed) text's n-grams: each word with its character n-grams, then the word n-grams
    (`hashing`: a Hashing or anything with its fields, such as NgramBagConfig)."""
    words = WORD.findall(text)
    ids = [i for word in words for i in _word_ids(word, hashing.char_ngram_min, hashing.char_ngram_max, hashing.buckets)]
    for n in range(2, hashing.word_ngram_max + 1):
        ids += [_bucket(" ".join(words[i:i + n]), hashing.buckets) for i in range(len(words) - n + 1)]
    return np.asarray(ids, dtype=np.int64)


def bags(rows: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Texts' n-gram ids as one array and each text's start (EmbeddingBag's input and offsets)."""
    offsets = np.zeros(len(rows), dtype=np.int64)
    offsets[1:] = np.cumsum([len(row) for row in rows[:-1]])
    return (np.concatenate(rows) if len(rows) else np.zeros(0, dtype=np.int64)), offsets


def bag_scale(lengths: np.ndarray, pooling: str) -> np.ndarray:
    """Each n-gram's weight in its bag's sum: 1 / count (mean) or 1 / sqrt(count); an empty bag sums to zeros."""
    lengths = np.maximum(lengths, 1).astype(np.float32)
    return 1.0 / (lengths if pooling == "mean" else np.sqrt(lengths))


def forward(ids: np.ndarray, offsets: np.ndarray, arrays: dict[str, np.ndarray], pooling: str) -> np.ndarray:
    """(n, 7) probabilities of one network (ARRAYS; a float16 table is summed in float32) for bags of n-gram ids."""
    lengths = np.diff(np.append(offsets, len(ids)))
    pooled = np.zeros((len(offsets), arrays["table"].shape[1]), dtype=np.float32)
    full = lengths > 0
    if full.any():
        pooled[full] = np.add.reduceat(arrays["table"][ids].astype(np.float32, copy=False), offsets[full], axis=0)
    pooled *= bag_scale(lengths, pooling)[:, None]
    hidden = np.maximum(pooled @ arrays["hidden_weight"].T + arrays["hidden_bias"], 0)
    logits = (hidden @ arrays["out_weight"].T + arrays["out_bias"]).astype(np.float64)
    return 1.0 / (1.0 + np.exp(-logits))


def network_probs(rows: list[np.ndarray], arrays: dict[str, np.ndarray], pooling: str, batch_size: int = 256) -> np.ndarray:
    """(n, 7) probabilities of one network for the bags `rows`, `batch_size` texts at a time."""
    batches = [forward(*bags(rows[i:i + batch_size]), arrays, pooling) for i in range(0, len(rows), batch_size)]
    return np.concatenate(batches) if batches else np.zeros((0, len(LABELS)))


def parts_probs(rows: list[np.ndarray], parts: dict[str, np.ndarray], pooling: str, part: int | None = None,
                batch_size: int = 256) -> np.ndarray:
    """(n, 7) probabilities of the k-th network of `parts` (ARRAYS stacked over the folds), or the mean of them all."""
    chosen = range(len(parts["table"])) if part is None else [part]
    return np.mean([network_probs(rows, {name: stacked[k] for name, stacked in parts.items()}, pooling, batch_size) for k in chosen],
                   axis=0)


class NgramBagArrays:
    """The exported member: raw texts -> (n, 7) probabilities, the mean of its fold networks (the table memory-mapped)."""

    def __init__(self, folder: Path):
        folder = Path(folder)
        settings = json.loads((folder / EXPORT_SETTINGS).read_text(encoding="utf-8"))
        self.preprocess = preprocessor(settings["text"])
        self.hashing, self.pooling = Hashing(**settings["hashing"]), settings["pooling"]
        self.parts = {name: np.load(folder / f"{name}.npy", mmap_mode="r" if name == "table" else None) for name in ARRAYS}

    def probs(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """(n, 7) probabilities, `batch_size` texts at a time."""
        rows = [ngram_ids(self.preprocess(text), self.hashing) for text in texts]
        return parts_probs(rows, self.parts, self.pooling, batch_size=batch_size)
