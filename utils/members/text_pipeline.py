"""What exported members read, in numpy: a member's preprocessing, gzipped word lists, and the navec BiGRU's inputs as the
kit's tokenizer makes them (words, hashed character n-grams, every word's navec vector: any word navec knows)."""
from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..core.text import load_slips, preprocessor_of
from ..core.words import split_words, word_ngrams

NAVEC_WORDS, NAVEC_INDEXES, NAVEC_CODES = "navec_words.txt.gz", "navec_indexes.npy", "navec_codes.npy"
RUN_WORDS, RUN_WORD_IDS = "run_words.txt.gz", "run_word_ids.npy"  # the run's word list and the words' rows in navec: looked up first


def text_settings(text) -> dict | None:
    """A member's preprocessing (its TextConfig, or None for none) as plain values, with the slip dictionary it uses."""
    if text is None:
        return None
    slips = load_slips(text.slips_file) if text.fix_slips else None
    return {"demojize": text.demojize, "asr_style": text.asr_style, "yo_to_e": text.yo_to_e, "slips": slips}


@lru_cache(maxsize=8)
def _preprocessor(settings: str):
    values = json.loads(settings)
    return preprocessor_of(values["demojize"], values["slips"], values["asr_style"], values["yo_to_e"])


def preprocessor(settings: dict | None):
    """The function `text_settings` describes (members with the same settings share it, and its memory of recent texts)."""
    return _preprocessor(json.dumps(settings, sort_keys=True, ensure_ascii=False)) if settings else (lambda text: text)


def write_lines(path: Path, lines: list[str], what: str) -> None:
    """One entry a line, gzipped (word lists shrink about 5x; no time stamp, so the same lines give the same file)."""
    if any("\n" in line for line in lines):
        raise ValueError(f"{path.name}: a {what} holds a line break: it cannot be written one a line")
    path.write_bytes(gzip.compress("\n".join(lines).encode("utf-8"), mtime=0))


def read_lines(path: Path) -> list[str]:
    return gzip.decompress(path.read_bytes()).decode("utf-8").split("\n")


def write_navec(folder: Path, run_words: list[str]) -> None:
    """navec's words (one a line) and its product-quantised vectors (uint8 codes per word, float32 centroids) as .npy files;
    the run's words (all in navec) with their rows, a small table that saves reading navec's 250k words for most texts."""
    from ..core.navec import load_navec

    navec = load_navec()
    folder.mkdir(parents=True, exist_ok=True)
    write_lines(folder / NAVEC_WORDS, navec.vocab.words, "navec word")
    write_lines(folder / RUN_WORDS, run_words, "word")
    np.save(folder / RUN_WORD_IDS, np.array([navec.vocab.word_ids[word] for word in run_words], dtype=np.int32))
    np.save(folder / NAVEC_INDEXES, np.ascontiguousarray(navec.pq.indexes, dtype=np.uint8))
    np.save(folder / NAVEC_CODES, np.ascontiguousarray(navec.pq.codes, dtype=np.float32))


class NavecVectors:
    """navec's vectors, read from `write_navec`'s files (the codes memory-mapped): a word's 300 numbers, zeros for a word navec
    lacks (the kit's unknown word)."""

    def __init__(self, folder: Path):
        self.folder, self.everyword = folder, False
        self.ids = dict(zip(read_lines(folder / RUN_WORDS), np.load(folder / RUN_WORD_IDS).tolist()))
        self.indexes = np.load(folder / NAVEC_INDEXES, mmap_mode="r")
        self.codes = np.load(folder / NAVEC_CODES)
        self.dim = self.codes.shape[0] * self.codes.shape[2]

    def of(self, words: list[str]) -> np.ndarray:
        """(len(words), 300) float32."""
        if not self.everyword and any(word not in self.ids for word in words):  # a word outside the run's list: read all of navec's
            self.ids = {word: index for index, word in enumerate(read_lines(self.folder / NAVEC_WORDS))}
            self.everyword = True
        ids = np.array([self.ids.get(word, -1) for word in words], dtype=np.int64)
        vectors = np.zeros((len(words), self.dim), dtype=np.float32)
        known = np.flatnonzero(ids >= 0)
        parts = self.codes[np.arange(self.codes.shape[0]), np.asarray(self.indexes[ids[known]], dtype=np.int64)]
        vectors[known] = parts.reshape(len(known), self.dim)
        return vectors


@dataclass
class WordBatch:
    """A padded batch: word vectors (rows, width, 300), words per row, the character n-gram ids of its distinct words (a row
    each, padded with the id `ngram_buckets`) and the distinct word at each position (rows, width)."""

    vectors: np.ndarray
    lengths: np.ndarray
    ngram_ids: np.ndarray
    word_index: np.ndarray


@dataclass
class WordInputs:
    """The tokenizer's settings (utils.training.word_tokenizer) over navec's vectors."""

    navec: NavecVectors
    max_len: int
    ngram_min: int
    ngram_max: int
    ngram_buckets: int

    def words(self, text: str) -> list[str]:
        """A preprocessed text's words as the tokenizer keeps them: at most max_len; an empty text is one unknown word ("")."""
        return split_words(text)[: self.max_len] or [""]

    def batch(self, rows: list[list[str]]) -> WordBatch:
        """Rows of `words` -> a padded batch ("" has no n-grams, as in WordTokenizer.encode)."""
        lengths = np.array([len(words) for words in rows], dtype=np.int64)
        distinct = list(dict.fromkeys(word for words in rows for word in words))
        number = {word: k for k, word in enumerate(distinct)}
        word_index = np.zeros((len(rows), int(lengths.max())), dtype=np.int64)
        for row, words in enumerate(rows):
            word_index[row, : len(words)] = [number[word] for word in words]
        grams = [word_ngrams(word, self.ngram_min, self.ngram_max, self.ngram_buckets) if word else () for word in distinct]
        ngram_ids = np.full((len(distinct), max(map(len, grams), default=0) or 1), self.ngram_buckets, dtype=np.int64)
        for k, ids in enumerate(grams):
            ngram_ids[k, : len(ids)] = ids
        return WordBatch(self.navec.of(distinct)[word_index], lengths, ngram_ids, word_index)
