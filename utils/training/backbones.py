"""The two backbones behind `Model`, each turning a padded batch into one feature vector per text.

- `NavecBackbone` (offline): navec word vectors (frozen or fine-tuned) + learned hashed character n-grams for every
  word (the only signal for words navec lacks) -> bidirectional GRU -> pooling.
- `HuggingFaceBackbone`: any `AutoModel` encoder by name or local path -> pooling.
"""
from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..core.settings import NAVEC, ConfigError, NavecConfig, check_pooling
from .word_tokenizer import WordTokenizer

NAVEC_DIM = 300  # size of the navec vectors


def pool(hidden: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """(batch, tokens, size) -> (batch, size) or (batch, 2 * size) for max_mean; padded positions are ignored."""
    if pooling == "cls":
        return hidden[:, 0]
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
    if pooling == "mean":
        return mean
    largest = hidden.masked_fill(mask == 0, torch.finfo(hidden.dtype).min).amax(1)
    return largest if pooling == "max" else torch.cat([largest, mean], dim=-1)


def pooled_size(size: int, pooling: str) -> int:
    return 2 * size if pooling == "max_mean" else size


def navec_vectors(words: Iterable[str]) -> np.ndarray:
    """The navec vectors of `words` (all must be in navec), unpacked from the quantised store; rows 0-1 (pad, unknown) are 0."""
    from ..core.navec import load_navec

    navec = load_navec()
    ids = [navec.vocab.word_ids[word] for word in words]
    vectors = np.zeros((len(ids) + 2, navec.pq.dim), dtype=np.float32)
    if ids:
        vectors[2:] = navec.pq.sampled(ids).unpack()
    return vectors


@lru_cache(maxsize=2)
def frozen_vectors(words: tuple[str, ...]) -> np.ndarray:
    """navec_vectors of a saved word list, made once for the fold models that share it (frozen vectors: never trained)."""
    return navec_vectors(words)


def navec_tokenizer(texts: Iterable[str], settings: NavecConfig) -> WordTokenizer:
    """A word list of the navec words that occur in `texts` (preprocessed), with the n-gram settings."""
    from ..core.navec import load_navec

    word_ids = load_navec().vocab.word_ids
    return WordTokenizer.build(texts, lambda word: word in word_ids, settings)


class NavecBackbone(nn.Module):
    """navec vectors + hashed character n-gram embeddings -> BiGRU -> pooled features."""

    name = NAVEC

    def __init__(self, tokenizer: WordTokenizer, vectors: np.ndarray, settings: NavecConfig, pooling: str = "max_mean", max_len: int = 128):
        super().__init__()
        check_pooling(pooling, NAVEC)
        if vectors.shape[0] != len(tokenizer):
            raise ValueError(f"{vectors.shape[0]} word vectors for a vocabulary of {len(tokenizer)} (with padding and unknown)")
        self.tokenizer, self.settings, self.pooling, self.max_len = tokenizer, settings, pooling, max_len
        vectors = torch.from_numpy(vectors)
        if settings.fine_tune:
            self.word_vectors = nn.Parameter(vectors)
        else:
            self.register_buffer("word_vectors", vectors, persistent=False)  # rebuilt from navec on load, never saved
        self.ngrams = nn.EmbeddingBag(settings.ngram_buckets, settings.ngram_dim, mode="mean") if settings.ngram_dim else None
        if self.ngrams is not None:
            nn.init.normal_(self.ngrams.weight, std=0.05)
        self.dropout = nn.Dropout1d(settings.dropout)
        self.rnn = nn.GRU(vectors.shape[1] + settings.ngram_dim, settings.hidden_size, num_layers=settings.layers,
                          batch_first=True, bidirectional=True, dropout=settings.dropout if settings.layers > 1 else 0.0)
        self.output_size = pooled_size(2 * settings.hidden_size, pooling)

    @classmethod
    def build(cls, texts: Iterable[str], settings: NavecConfig, pooling: str = "max_mean", max_len: int = 128) -> NavecBackbone:
        """Vocabulary from `texts` (preprocessed), vectors unpacked from navec."""
        tokenizer = navec_tokenizer(texts, settings)
        return cls(tokenizer, navec_vectors(tokenizer.words), settings, pooling, max_len)

    @classmethod
    def from_folder(cls, folder: Path, settings: NavecConfig, pooling: str, max_len: int) -> NavecBackbone:
        """Rebuild from saved tokenizer files; fine-tuned vectors come with the weights, frozen ones from navec."""
        tokenizer = WordTokenizer.from_pretrained(folder)
        vectors = np.zeros((len(tokenizer), NAVEC_DIM), dtype=np.float32) if settings.fine_tune else frozen_vectors(tuple(tokenizer.words))
        return cls(tokenizer, vectors, settings, pooling, max_len)

    def save_files(self, folder: Path) -> None:
        self.tokenizer.save_pretrained(folder)

    def follow_vocabulary(self) -> None:
        """Give words added to the (possibly shared) word list since the vectors were made their navec vectors
        (prediction only: they are never saved)."""
        missing = len(self.tokenizer) - self.word_vectors.shape[0]
        if missing <= 0:
            return
        added = torch.from_numpy(navec_vectors(self.tokenizer.words[-missing:])[2:]).to(self.word_vectors)
        grown = torch.cat([self.word_vectors.detach(), added])
        if isinstance(self.word_vectors, nn.Parameter):
            self.word_vectors = nn.Parameter(grown, requires_grad=False)
        else:
            self.register_buffer("word_vectors", grown, persistent=False)

    def forward(self, input_ids, lengths, ngram_ids, ngram_offsets) -> torch.Tensor:
        self.follow_vocabulary()
        words = nn.functional.embedding(input_ids, self.word_vectors)
        if self.ngrams is not None:
            grams = self.ngrams(ngram_ids, ngram_offsets).view(*input_ids.shape, -1)
            words = torch.cat([words, grams], dim=-1)
        words = self.dropout(words.transpose(1, 2)).transpose(1, 2)
        packed = pack_padded_sequence(words, lengths.cpu(), batch_first=True, enforce_sorted=False)
        hidden, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=input_ids.shape[1])
        mask = torch.arange(input_ids.shape[1], device=input_ids.device)[None] < lengths[:, None]
        return pool(hidden, mask, self.pooling)


class HuggingFaceBackbone(nn.Module):
    """A Hugging Face encoder (`AutoModel`) and its tokenizer -> pooled features."""

    def __init__(self, encoder: nn.Module, tokenizer, name: str, pooling: str = "cls", max_len: int = 128):
        super().__init__()
        check_pooling(pooling, name)
        self.encoder, self.tokenizer, self.name, self.pooling, self.max_len = encoder, tokenizer, name, pooling, max_len
        self.output_size = pooled_size(encoder.config.hidden_size, pooling)
        if getattr(encoder, "pooler", None) is not None:  # unused (pooling happens here): data parallel training wants every
            encoder.pooler.requires_grad_(False)  # trainable parameter to get a gradient

    def use_gradient_checkpointing(self) -> None:
        """Recompute each encoder layer's activations in the backward pass instead of keeping them (less GPU memory)."""
        if not getattr(self.encoder, "supports_gradient_checkpointing", False):
            raise ConfigError(f"model.gradient_checkpointing: the encoder {self.name!r} does not support it (accepted: false)")
        settings = {"use_reentrant": False}  # the variant that works with data parallel training
        if hasattr(self.encoder, "activation_checkpointing_enable"):  # its new name; a hosted notebook may have an older transformers
            self.encoder.activation_checkpointing_enable(activation_checkpointing_kwargs=settings)
        else:
            self.encoder.gradient_checkpointing_enable(gradient_checkpointing_kwargs=settings)

    @classmethod
    def from_pretrained(cls, name: str, pooling: str = "cls", max_len: int = 128) -> HuggingFaceBackbone:
        """Load the encoder and tokenizer by Hub name or local folder; a clear error when neither works."""
        from transformers import AutoModel, AutoTokenizer

        looks_local = name.startswith((".", "/", "~")) or Path(name).expanduser().exists()
        if looks_local and not (Path(name).expanduser() / "config.json").is_file():
            raise ConfigError(f"model.backbone {name!r}: no Hugging Face model there (a folder with config.json and tokenizer "
                              f"files); accepted: {NAVEC!r}, a Hugging Face model name, or such a folder")
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(Path(name).expanduser()) if looks_local else name)
            encoder = AutoModel.from_pretrained(str(Path(name).expanduser()) if looks_local else name)
        except OSError as error:
            raise ConfigError(f"model.backbone {name!r} could not be loaded ({error}); accepted: {NAVEC!r} (offline), "
                              "a Hugging Face model name (needs internet or the local cache) or a local model folder") from None
        return cls(encoder, tokenizer, name, pooling, max_len)

    @classmethod
    def from_folder(cls, folder: Path, name: str, pooling: str, max_len: int) -> HuggingFaceBackbone:
        """Rebuild the architecture from the saved config and tokenizer (the weights are loaded by the caller)."""
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        encoder = AutoModel.from_config(AutoConfig.from_pretrained(folder))
        return cls(encoder, AutoTokenizer.from_pretrained(folder), name, pooling, max_len)

    def save_files(self, folder: Path) -> None:
        self.encoder.config.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)

    def forward(self, input_ids, attention_mask, token_type_ids=None) -> torch.Tensor:
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
        return pool(hidden, attention_mask.bool(), self.pooling)
