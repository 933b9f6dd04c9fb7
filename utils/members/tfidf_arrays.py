"""The TF-IDF member as plain arrays (terms, idf, regression weights) and its transform in numpy, equal to scikit-learn's
`TfidfVectorizer` on the kit's two analyzers (word 1..n-grams, character n-grams inside words) with sublinear tf and l2 norm.

The features come out as scikit-learn's, bit for bit (its operations in its order); the probabilities agree within about
1e-6 (the regressions' sums run in another order)."""
from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from .text_pipeline import preprocessor, read_lines, text_settings, write_lines

SETTINGS, COEF, INTERCEPT, TERMS = "tfidf.json", "coef_by_feature.npy", "intercept.npy", "_terms.txt.gz"  # TERMS: after the analyzer's name
WORD_PATTERN = re.compile(r"(?u)\b\w+\b")
KIT_ANALYZERS = {"words": "word", "chars": "char_wb"}
WORD_CACHE = 200_000  # words whose character n-gram counts are remembered


def why_not_exportable(member) -> str | None:
    """Why a TfidfClassifier cannot be exported (None when it can): its analyzers must be the two the transform knows."""
    if set(member.vectorizers) != set(KIT_ANALYZERS):
        return f"its analyzers {sorted(member.vectorizers)} are not the words and characters the export knows (lemmas need pymorphy3)"
    for name, vectorizer in member.vectorizers.items():
        params = vectorizer.get_params()
        expected = {"analyzer": KIT_ANALYZERS[name], "lowercase": True, "sublinear_tf": True, "norm": "l2", "use_idf": True,
                    "strip_accents": None, "stop_words": None, "preprocessor": None, "tokenizer": None}
        if name == "words":
            expected["token_pattern"] = WORD_PATTERN.pattern
        if any(params[key] != value for key, value in expected.items()):
            return f"its {name} vectorizer has settings the export does not reproduce ({params})"
    return None


def export_tfidf(member, folder: Path, float16: bool = False) -> None:
    """Write each analyzer's terms (one a line, in column order) and idf, and the regressions as (features, sets, 7) weights,
    float16 ones when asked (the `tfidf` kind's export, read by TfidfArrays)."""
    folder.mkdir(parents=True, exist_ok=True)
    analyzers = []
    for name, vectorizer in member.vectorizers.items():
        write_lines(folder / f"{name}{TERMS}", sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get), f"{name} term")
        np.save(folder / f"{name}_idf.npy", np.asarray(vectorizer.idf_, dtype=np.float32))
        analyzers.append({"name": name, "kind": KIT_ANALYZERS[name], "ngram_range": list(vectorizer.ngram_range)})
    np.save(folder / COEF, np.ascontiguousarray(np.asarray(member.coef).transpose(2, 0, 1), dtype=np.float16 if float16 else np.float32))
    np.save(folder / INTERCEPT, np.asarray(member.intercept, dtype=np.float32))
    settings = {"analyzers": analyzers, "text": text_settings(member.text)}
    (folder / SETTINGS).write_text(json.dumps(settings, ensure_ascii=False, indent=2), encoding="utf-8")


def word_terms(text: str, low: int, high: int) -> list[str]:
    """scikit-learn's word analyzer: lower case, tokens of `(?u)\\b\\w+\\b`, then the n-grams low..high joined by a space."""
    tokens = WORD_PATTERN.findall(text.lower())
    terms = list(tokens) if low == 1 else []
    for n in range(max(low, 2), min(high, len(tokens)) + 1):
        terms += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return terms


def word_char_terms(word: str, low: int, high: int) -> list[str]:
    """scikit-learn's char_wb n-grams of one word: padded with a space on both sides, cut into n-grams low..high (a word
    shorter than n gives itself once)."""
    word, terms = f" {word} ", []
    for n in range(low, high + 1):
        terms += [word[i : i + n] for i in range(max(len(word) - n, 0) + 1)]
        if len(word) <= n:
            break
    return terms


class Analyzer:
    """One vectorizer's counting, as scikit-learn's: the columns of a text's terms with their counts. The char_wb analyzer
    cuts each whitespace-separated word of the lower-cased text on its own, so a word's counts are remembered."""

    def __init__(self, kind: str, low: int, high: int, columns: dict[str, int]):
        self.kind, self.low, self.high, self.columns = kind, low, high, columns
        self.word_counts = lru_cache(maxsize=WORD_CACHE)(lambda word: self.counted(word_char_terms(word, low, high)))

    def counted(self, terms: list[str]) -> dict[int, int]:
        counts: dict[int, int] = {}
        for term in terms:  # scikit-learn's counting loop (the fastest found in plain Python)
            column = self.columns.get(term)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        return counts

    def counts(self, text: str) -> dict[int, int]:
        if self.kind == "word":
            return self.counted(word_terms(text, self.low, self.high))
        counts: dict[int, int] = {}
        for word in text.lower().split():
            for column, count in self.word_counts(word).items():
                counts[column] = counts.get(column, 0) + count
        return counts


def sequential_row_sums(values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Each row's sum of `values` (rows given by `indptr`, a CSR row pointer), added one after another in row order as
    scikit-learn's and scipy's loops do: `np.add.reduceat` along a first axis that is not the last one adds sequentially
    (numpy's sums along the last axis are pairwise), so 1-d values get a trailing axis of one."""
    stacked = values.reshape(len(values), -1)
    sums = np.add.reduceat(np.concatenate([stacked, np.zeros((1, stacked.shape[1]), stacked.dtype)]), indptr[:-1], axis=0)
    sums[np.diff(indptr) == 0] = 0  # reduceat gives an empty row the value at its start
    return sums.reshape(len(indptr) - 1, *values.shape[1:])


class TfidfArrays:
    """The exported member: raw texts -> (n, 7) probabilities (the mean over its regression sets)."""

    def __init__(self, folder: Path):
        settings = json.loads((folder / SETTINGS).read_text(encoding="utf-8"))
        self.preprocess = preprocessor(settings["text"])
        self.analyzers, offset = [], 0
        for analyzer in settings["analyzers"]:
            terms = read_lines(folder / f"{analyzer['name']}{TERMS}")
            idf = np.load(folder / f"{analyzer['name']}_idf.npy")
            columns = dict(zip(terms, range(offset, offset + len(terms))))
            self.analyzers.append(Analyzer(analyzer["kind"], *analyzer["ngram_range"], columns))
            self.idf = idf if offset == 0 else np.concatenate([self.idf, idf])
            offset += len(terms)
        self.coef = np.load(folder / COEF, mmap_mode="r")  # (features, sets, 7)
        self.intercept = np.load(folder / INTERCEPT)

    def features(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Preprocessed texts -> TF-IDF rows as CSR arrays (indptr, column indices, float32 values): each analyzer's block
        normalised on its own, the blocks side by side (scikit-learn's hstack), columns sorted."""
        parts, indices, counts = [0], [], []  # a part = one row's block of one analyzer
        for text in texts:
            for analyzer in self.analyzers:
                block = analyzer.counts(text)
                indices += block
                counts += block.values()
                parts.append(len(indices))
        parts = np.asarray(parts, dtype=np.int64)
        order = np.lexsort((indices, np.repeat(np.arange(len(parts) - 1), np.diff(parts))))  # columns sorted within each part
        indices = np.asarray(indices, dtype=np.int64)[order]
        counts = np.asarray(counts, dtype=np.float32)[order]
        values = np.log(counts)
        values += np.float32(1.0)
        values *= self.idf[indices]
        norms = np.sqrt(sequential_row_sums((values * values).astype(np.float64), parts))
        scale = np.where(norms == 0, 1.0, norms)[np.repeat(np.arange(len(parts) - 1), np.diff(parts))]
        return parts[:: len(self.analyzers)], indices, (values / scale).astype(np.float32)

    def probs(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """(n, 7) probabilities, `batch_size` texts at a time."""
        texts = list(texts)
        return np.concatenate([self.batch_probs(texts[start : start + batch_size]) for start in range(0, len(texts), batch_size)]
                              or [np.zeros((0, self.intercept.shape[1]))])

    def batch_probs(self, texts: Sequence[str]) -> np.ndarray:
        indptr, indices, values = self.features([self.preprocess(text) for text in texts])
        weighted = values[:, None, None] * self.coef[indices]  # (nonzeros, sets, 7), float32 as scipy's product
        logits = sequential_row_sums(weighted, indptr) + self.intercept
        return np.mean(1.0 / (1.0 + np.exp(-logits.astype(np.float64))), axis=1)
