"""Member kind `ngram_bag`: hashed word and character n-grams -> an embedding bag -> a hidden layer (fastText style), one
small network per fold, saved without pickle; it predicts and exports itself with numpy alone (ngram_bag_runtime)."""
from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator
from safetensors.numpy import load_file, save_file

from ..core.files import atomic_path, read_json, write_text
from ..core.member_kinds import MemberKind, register_kind
from ..core.run_record import rebuild_hint
from ..core.settings import Dropout, MemberSettings, Positive, PositiveInt, TextConfig
from ..core.splits import LABELS, TEXT, label_matrix
from ..core.text import make_preprocessor
from .ngram_bag_runtime import ARRAYS, EXPORT_SETTINGS, Hashing, bag_scale, bags, network_probs, ngram_ids, parts_probs
from .text_pipeline import text_settings

SETTINGS_FILE, ARRAYS_FILE = "ngram_bag.json", "ngram_bag.safetensors"
INIT_STD = 0.05  # the table's initial weights: small, so that what the n-grams learn soon outweighs them


class NgramBagConfig(MemberSettings):
    """The n-gram bag network: hashed word n-grams and character n-grams inside words -> pooled -> hidden layer -> 7 logits.
    The defaults gained most in a mean with the BiGRU and TF-IDF on the shared data (a mildly trained bag)."""

    kind: str = "ngram_bag"
    buckets: Annotated[int, Field(ge=1, le=1 << 22)] = 1 << 17  # rows of the hashed table, shared by every n-gram
    dims: PositiveInt = 16  # width of the table
    hidden: PositiveInt = 64  # width of the hidden layer (ReLU)
    word_ngram_max: Annotated[int, Field(ge=1, le=4)] = 2  # word n-grams 1..this
    char_ngram_min: PositiveInt = 2  # character n-grams of <word> (boundaries marked): char_ngram_min..char_ngram_max
    char_ngram_max: Annotated[int, Field(ge=1, le=8)] = 5
    pooling: Literal["mean", "sqrt"] = "mean"  # the bag's sum over its count, or over the count's square root
    dropout: Dropout = 0.0  # on the pooled vector, while training
    epochs: PositiveInt = 4
    lr: Positive = 2e-3  # AdamW's, decayed linearly to 0
    batch_size: PositiveInt = 128
    weight_decay: Annotated[float, Field(ge=0)] = 0.0
    pos_weight: Literal["balanced"] | None = "balanced"  # per-label positive weight of the BCE, as train.pos_weight
    valid_weight: Positive = 3.0  # k-fold mode: weight of the other folds' valid rows in the loss (train rows: 1)

    @model_validator(mode="after")
    def _char_range(self) -> NgramBagConfig:
        if self.char_ngram_max < self.char_ngram_min:
            raise ValueError(f"{self.section}.char_ngram_max = {self.char_ngram_max} is out of range; accepted: "
                             f"{self.char_ngram_min} ({self.section}.char_ngram_min) to 8")
        return self


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Torch on one CPU thread (the other core trains the network beside it; one thread is also deterministic), then as before."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_network(config: NgramBagConfig, rows: list[np.ndarray], labels: np.ndarray, weights: np.ndarray,
                  seed: int) -> dict[str, np.ndarray]:
    """One network fitted on bags `rows` (class-weighted BCE, each row weighted, AdamW, linear decay); its ARRAYS."""
    import torch

    from ..training.optimisation import positive_weights

    torch.manual_seed(seed)
    order_generator = torch.Generator().manual_seed(seed)
    bag = torch.nn.EmbeddingBag(config.buckets, config.dims, mode="sum")
    torch.nn.init.normal_(bag.weight, std=INIT_STD)
    hidden, out = torch.nn.Linear(config.dims, config.hidden), torch.nn.Linear(config.hidden, len(LABELS))
    head = torch.nn.Sequential(torch.nn.Dropout(config.dropout), hidden, torch.nn.ReLU(), out)
    loss = torch.nn.BCEWithLogitsLoss(pos_weight=positive_weights(config.pos_weight, labels), reduction="none")
    parameters = [*bag.parameters(), *head.parameters()]
    steps = config.epochs * -(-len(rows) // config.batch_size)
    optimizer = torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay, fused=True)  # fused: one pass
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / steps)
    targets, row_weights = torch.tensor(labels, dtype=torch.float32), torch.tensor(weights, dtype=torch.float32)
    head.train()
    for _ in range(config.epochs):
        for batch in torch.randperm(len(rows), generator=order_generator).split(config.batch_size):
            ids, offsets = bags([rows[i] for i in batch.tolist()])
            lengths = np.diff(np.append(offsets, len(ids)))
            scale = np.repeat(bag_scale(lengths, config.pooling), lengths)
            pooled = bag(torch.from_numpy(ids), torch.from_numpy(offsets), per_sample_weights=torch.from_numpy(scale))
            per_row = loss(head(pooled), targets[batch]).mean(dim=1) * row_weights[batch]
            optimizer.zero_grad()
            (per_row.sum() / row_weights[batch].sum()).backward()
            optimizer.step()
            schedule.step()
    trained = {"table": bag.weight, "hidden_weight": hidden.weight, "hidden_bias": hidden.bias, "out_weight": out.weight,
               "out_bias": out.bias}
    return {name: value.detach().numpy().copy() for name, value in trained.items()}


@register_kind
class NgramBagMember(MemberKind):
    """The kind: one n-gram bag network per fold of the run (train rows always in), their mean for new texts."""

    kind = "ngram_bag"
    description = "hashed word + character n-grams -> embedding bag -> hidden layer, fastText style (one network per fold)"
    settings = NgramBagConfig
    export_runtime = "utils.members.ngram_bag_runtime:NgramBagArrays"  # its tables as .npy and the forward pass in numpy

    def __init__(self, name: str, settings: NgramBagConfig, text: TextConfig | None = None):
        super().__init__(name, settings)
        self.text = text or TextConfig()
        self.parts: dict[str, np.ndarray] = {}  # ARRAYS stacked over the parts (folds)

    def rows(self, texts: Sequence[str]) -> list[np.ndarray]:
        preprocess = make_preprocessor(self.text)
        return [ngram_ids(preprocess(text), self.settings) for text in texts]

    def train(self, run) -> np.ndarray:
        data, config = run.data, self.settings
        self.text = run.config.text
        train_rows, valid_rows = self.rows(data.train[TEXT].tolist()), self.rows(data.valid[TEXT].tolist())
        scored_rows = valid_rows if run.styled is None else self.rows(run.styled)
        train_y, valid_y = label_matrix(data.train), label_matrix(data.valid)
        splits = run.folds or [(np.arange(0), np.arange(len(valid_rows)))]
        probs, networks = np.zeros(valid_y.shape), []
        with one_thread():
            for k, (fit, held_out) in enumerate(splits):
                print(f"--- n-gram bag network {k + 1}/{len(splits)}: {len(train_rows)} train + {len(fit)} valid rows", flush=True)
                weights = np.concatenate([np.ones(len(train_rows)), np.full(len(fit), config.valid_weight)])
                seed = int(np.random.SeedSequence([run.config.seed, k]).generate_state(1)[0])
                network = train_network(config, [*train_rows, *(valid_rows[i] for i in fit)], np.vstack([train_y, valid_y[fit]]),
                                        weights, seed)
                networks.append(network)
                probs[held_out] = network_probs([scored_rows[i] for i in held_out], network, config.pooling)
        self.parts = {name: np.stack([network[name] for network in networks]) for name in ARRAYS}
        self.save(run.folder)
        return probs

    def save(self, folder: Path) -> Path:
        """Settings as JSON, the networks' arrays as safetensors (nothing pickled)."""
        folder = Path(folder)
        settings = {"labels": LABELS, "ngram_bag": self.settings.model_dump(exclude={"weight"}), "text": self.text.model_dump()}
        write_text(folder / SETTINGS_FILE, json.dumps(settings, indent=2, ensure_ascii=False))
        with atomic_path(folder / ARRAYS_FILE) as tmp:
            save_file(self.parts, str(tmp))
        return folder

    @classmethod
    def load(cls, name: str, folder: Path, device: str = "cpu") -> NgramBagMember:
        folder = Path(folder)
        missing = [file for file in (SETTINGS_FILE, ARRAYS_FILE) if not (folder / file).is_file()]
        if missing:
            raise FileNotFoundError(f"{folder}: missing {missing}; a saved n-gram bag member holds {SETTINGS_FILE} and {ARRAYS_FILE}")
        settings = read_json(folder / SETTINGS_FILE, rebuild_hint(folder))
        member = cls(name, NgramBagConfig(**settings["ngram_bag"]), TextConfig(**settings["text"]))
        member.parts = load_file(str(folder / ARRAYS_FILE))
        return member

    def predict(self, texts: Sequence[str], part: int | None = None, batch_size: int = 256) -> np.ndarray:
        return parts_probs(self.rows(texts), self.parts, self.settings.pooling, part, batch_size)

    def export(self, folder: Path, float16: bool = False) -> None:
        """The text settings, hashing and pooling as JSON and each of ARRAYS (stacked over the folds) as .npy, the table in
        float16 when asked (read by NgramBagArrays)."""
        folder.mkdir(parents=True, exist_ok=True)
        for name, stacked in self.parts.items():
            np.save(folder / f"{name}.npy", np.ascontiguousarray(stacked, dtype=np.float16 if float16 and name == "table" else np.float32))
        settings = {"hashing": {field.name: getattr(self.settings, field.name) for field in fields(Hashing)},
                    "pooling": self.settings.pooling, "text": text_settings(self.text)}
        (folder / EXPORT_SETTINGS).write_text(json.dumps(settings, ensure_ascii=False, indent=2), encoding="utf-8")
