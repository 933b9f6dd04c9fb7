"""The offline backbone's tokeniser: words -> ids in a word list, plus hashed character n-grams of every word."""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import torch

from ..core.files import read_json, read_utf8, write_text
from ..core.run_record import rebuild_hint
from ..core.settings import NavecConfig
from ..core.words import split_words, word_ngrams

WORDS_FILE, TOKENIZER_FILE = "words.txt", "tokenizer.json"


class WordTokenizer:
    """Lower-cased words -> ids in a word list (0 padding, 1 unknown) plus hashed character n-gram ids per word.

    Speaks the two calls of a Hugging Face tokenizer that the kit uses: `tokenizer(texts, truncation, max_length)`
    and `tokenizer.pad(features, return_tensors="pt")`, so `EmotionDataset` treats both backbones alike.
    """

    PAD, UNK = 0, 1

    def __init__(self, words: Sequence[str], ngram_min: int = 3, ngram_max: int = 5, ngram_buckets: int = 65536):
        self.words = list(words)
        self.word_ids = {word: index for index, word in enumerate(self.words, start=2)}
        self.ngram_min, self.ngram_max, self.ngram_buckets = ngram_min, ngram_max, ngram_buckets

    @classmethod
    def build(cls, texts: Iterable[str], known: Callable[[str], bool], config: NavecConfig) -> WordTokenizer:
        """Keep the words of `texts` that `known` accepts (those with a pretrained vector), most frequent first."""
        counts = Counter(word for text in texts for word in split_words(text))
        words = sorted((w for w in counts if known(w)), key=lambda w: (-counts[w], w))
        return cls(words, config.ngram_min, config.ngram_max, config.ngram_buckets)

    def add_words(self, words: Sequence[str]) -> None:
        """Append words (not yet in the list) with the next ids."""
        for word in words:
            self.word_ids[word] = len(self.words) + 2
            self.words.append(word)

    def __len__(self) -> int:
        return len(self.words) + 2

    def encode(self, text: str, max_length: int) -> dict:
        """Word ids and the flat n-gram ids with their count per word; an empty text becomes one unknown word."""
        words = split_words(text)[:max_length] or [""]
        ngrams = [word_ngrams(w, self.ngram_min, self.ngram_max, self.ngram_buckets) if w else () for w in words]
        return {
            "input_ids": [self.word_ids.get(w, self.UNK) for w in words],
            "ngram_ids": [i for grams in ngrams for i in grams],
            "ngram_counts": [len(grams) for grams in ngrams],
        }

    def __call__(self, texts: Sequence[str], truncation: bool = True, max_length: int = 128) -> dict[str, list]:
        encoded = [self.encode(text, max_length if truncation else 10**9) for text in texts]
        return {key: [item[key] for item in encoded] for key in ("input_ids", "ngram_ids", "ngram_counts")}

    def pad(self, features: list[dict], return_tensors: str = "pt") -> dict[str, torch.Tensor]:
        """Pad word ids to the batch's longest text; n-gram ids stay flat with one bag offset per (row, position)."""
        lengths = [len(f["input_ids"]) for f in features]
        width = max(lengths)
        input_ids = np.zeros((len(features), width), dtype=np.int64)
        counts = np.zeros((len(features), width), dtype=np.int64)
        for row, feature in enumerate(features):
            input_ids[row, : lengths[row]] = feature["input_ids"]
            counts[row, : lengths[row]] = feature["ngram_counts"]
        offsets = np.concatenate([[0], np.cumsum(counts.ravel())[:-1]])
        ngram_ids = np.fromiter((i for f in features for i in f["ngram_ids"]), dtype=np.int64, count=int(counts.sum()))
        return {
            "input_ids": torch.from_numpy(input_ids),
            "lengths": torch.tensor(lengths, dtype=torch.int64),
            "ngram_ids": torch.from_numpy(ngram_ids),
            "ngram_offsets": torch.from_numpy(offsets),
        }

    def save_pretrained(self, folder: str | Path) -> None:
        """Write the word list and the n-gram settings."""
        folder = Path(folder)
        write_text(folder / WORDS_FILE, "\n".join(self.words) + "\n")
        settings = {"ngram_min": self.ngram_min, "ngram_max": self.ngram_max, "ngram_buckets": self.ngram_buckets}
        write_text(folder / TOKENIZER_FILE, json.dumps(settings, indent=2))

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> WordTokenizer:
        folder = Path(folder)
        words = read_utf8(folder / WORDS_FILE, rebuild_hint(folder)).split("\n")[:-1]
        return cls(words, **read_json(folder / TOKENIZER_FILE, rebuild_hint(folder)))

