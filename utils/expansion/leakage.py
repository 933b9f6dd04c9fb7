"""The leakage guard: find rows that are exact or near duplicates (character 3-gram Jaccard) of reference texts."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer

from ..core.settings import TextConfig
from ..core.text import preprocess_texts

MATCHING_TEXT = TextConfig(demojize=False, asr_style=True, yo_to_e=True, fix_slips=True)  # emoji are dropped, not named
_NGRAMS = HashingVectorizer(
    analyzer="char", ngram_range=(3, 3), n_features=2**22, alternate_sign=False, norm=None, binary=True, lowercase=False, dtype=np.float32
)
KEPT = ""


def matching_form(texts: Sequence[str]) -> list[str]:
    """The form texts are compared in: the kit's ASR normalisation (lower case, no punctuation, slips fixed, ё -> е)."""
    return preprocess_texts(texts, MATCHING_TEXT)


def ngram_sets(texts: Sequence[str]) -> sp.csr_matrix:
    """Each text's set of character 3-grams as a binary sparse row (hashed into 2**22 columns)."""
    texts = list(texts)
    if not texts:
        return sp.csr_matrix((0, _NGRAMS.n_features), dtype=np.float32)
    matrix = _NGRAMS.transform(texts).tocsr()
    matrix.sort_indices()
    return matrix


def _best_in_chunk(chunk: sp.csr_matrix, window: sp.csr_matrix, sizes_a: np.ndarray, sizes_b: np.ndarray, threshold: float):
    """Best Jaccard (and its column) per row of `chunk` against the rows of `window`, for rows reaching `threshold`."""
    shared = (chunk @ window.T).tocsr()
    counts = np.diff(shared.indptr)
    rows = np.repeat(np.arange(chunk.shape[0]), counts)
    union = sizes_a[rows] + sizes_b[shared.indices] - shared.data
    jaccard = shared.data / np.maximum(union, 1)
    best, where = np.zeros(chunk.shape[0], np.float32), np.full(chunk.shape[0], -1)
    hits = np.flatnonzero(jaccard >= threshold - 1e-6)
    if hits.size:
        order = hits[np.lexsort((-jaccard[hits], rows[hits]))]
        first = order[np.r_[True, rows[order][1:] != rows[order][:-1]]]
        best[rows[first]], where[rows[first]] = jaccard[first], shared.indices[first]
    return best, where


def nearest_matches(candidates: sp.csr_matrix, references: sp.csr_matrix, threshold: float, chunk_size: int = 1024):
    """For each candidate row, the highest Jaccard similarity to any reference row and that row's index.

    Exact for every candidate whose best similarity reaches `threshold`; others get 0 and -1. Candidates and
    references are sorted by size so each chunk only meets references of a size that could reach the threshold.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold: expected a Jaccard similarity in (0, 1], got {threshold}")
    sizes_a = np.diff(candidates.indptr).astype(np.float32)
    sizes_b = np.diff(references.indptr).astype(np.float32)
    order_a, order_b = np.argsort(sizes_a, kind="stable"), np.argsort(sizes_b, kind="stable")
    sorted_a, sorted_b, sorted_sizes_b = candidates[order_a], references[order_b], sizes_b[order_b]
    best, where = np.zeros(len(sizes_a), np.float32), np.full(len(sizes_a), -1)
    for start in range(0, len(sizes_a), chunk_size):
        rows = order_a[start : start + chunk_size]
        low = np.searchsorted(sorted_sizes_b, threshold * sizes_a[rows].min() - 1e-6, side="left")
        high = np.searchsorted(sorted_sizes_b, sizes_a[rows].max() / threshold + 1e-6, side="right")
        if high <= low:
            continue
        score, column = _best_in_chunk(sorted_a[start : start + chunk_size], sorted_b[low:high], sizes_a[rows], sorted_sizes_b[low:high],
                                       threshold)
        found = column >= 0
        best[rows[found]], where[rows[found]] = score[found], order_b[low + column[found]]
    return best, where


@dataclass
class ReferenceSet:
    """Texts that added rows must not copy, and the Jaccard similarity from which a row counts as a near copy."""

    name: str
    texts: Sequence[str]
    threshold: float


def find_leaks(candidates: Sequence[str], references: Sequence[ReferenceSet]) -> pd.DataFrame:
    """Check candidate texts against each reference set in turn (exact copies, then near copies), then for repeats
    among the candidates. One row per candidate: `rule` ("" = kept), `score` (Jaccard) and the matching `match` text."""
    forms = matching_form(candidates)
    grams = ngram_sets(forms)
    rule = np.full(len(forms), KEPT, dtype=object)
    score = np.zeros(len(forms), np.float32)
    match = np.full(len(forms), "", dtype=object)
    for reference in references:
        texts = list(reference.texts)
        reference_forms = matching_form(texts)
        position = {form: i for i, form in enumerate(reference_forms) if form}
        exact = np.array([form in position for form in forms], dtype=bool) & (rule == KEPT)
        rule[exact], score[exact] = f"exact copy of {reference.name}", 1.0
        match[exact] = [texts[position[forms[i]]] for i in np.flatnonzero(exact)]
        best, where = nearest_matches(grams, ngram_sets(reference_forms), reference.threshold)
        near = (where >= 0) & (rule == KEPT)
        rule[near], score[near] = f"near copy of {reference.name} (Jaccard >= {reference.threshold:g})", best[near]
        match[near] = [texts[j] for j in where[near]]
    repeated = pd.Series(forms).duplicated().to_numpy() & (rule == KEPT)
    rule[repeated], score[repeated] = "repeats an earlier added row", 1.0
    return pd.DataFrame({"rule": rule, "score": score, "match": match})
