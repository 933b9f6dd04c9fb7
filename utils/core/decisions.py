"""From probabilities to 0/1 decisions and their weighted F1: thresholds, the no-label rule, many candidates at once."""
from __future__ import annotations

import numpy as np

from .settings import EMPTY_RULES, ThresholdConfig
from .splits import LABELS


def weighted_f1_many(y: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Weighted F1 of many prediction matrices at once: `predictions` is (..., rows, 7); equals sklearn's.

    sklearn's `f1_score(average="weighted", zero_division=0)` scores one matrix; the search scores thousands.
    """
    y = y.astype(bool)
    predictions = predictions.astype(bool)
    true_positive = (predictions & y).sum(axis=-2)
    predicted = predictions.sum(axis=-2)
    support = y.sum(axis=0)
    denominator = predicted + support
    f1 = np.divide(2 * true_positive, denominator, out=np.zeros(true_positive.shape), where=denominator > 0)
    return (f1 * support).sum(axis=-1) / max(support.sum(), 1)


def row_resamples(rows: int, draws: int, seed: int, size: int | None = None) -> np.ndarray:
    """(draws, rows) counts: how often each row is drawn in each bootstrap resample of `size` rows (default: `rows`)."""
    rng = np.random.default_rng(seed)
    return np.stack([np.bincount(rng.integers(0, rows, size or rows), minlength=rows) for _ in range(draws)])


def resampled_weighted_f1(y: np.ndarray, decisions: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Weighted F1 of the same decisions in each resample given by `counts` (see row_resamples), all at once."""
    y, decisions = y.astype(np.int64), decisions.astype(np.int64)
    true_positive, predicted, support = counts @ (y & decisions), counts @ decisions, counts @ y
    denominator = predicted + support
    f1 = np.divide(2 * true_positive, denominator, out=np.zeros(true_positive.shape), where=denominator > 0)
    return (f1 * support).sum(axis=1) / np.maximum(support.sum(axis=1), 1)


def fill_empty_rows(decisions: np.ndarray, probs: np.ndarray, empty_rule: str) -> np.ndarray:
    """Apply the no-label rule to rows (of a (..., rows, 7) array) where no label passed."""
    if empty_rule not in EMPTY_RULES:
        raise ValueError(f"unknown empty_rule {empty_rule!r}; expected one of {EMPTY_RULES}")
    if empty_rule == "none":
        return decisions
    fallback = np.zeros(probs.shape, dtype=bool)
    if empty_rule == "top":
        fallback[np.arange(len(probs)), probs.argmax(axis=1)] = True
    else:
        fallback[:, LABELS.index("neutral")] = True
    empty = ~decisions.any(axis=-1, keepdims=True)
    return decisions | (empty & fallback)


def apply_thresholds(probs: np.ndarray, thresholds, empty_rule: str = "top") -> np.ndarray:
    """0/1 decisions: a label is on when its probability reaches its threshold (one number or one per label)."""
    thresholds = np.broadcast_to(np.asarray(thresholds, dtype=float), (len(LABELS),))
    return fill_empty_rows(probs >= thresholds, probs, empty_rule).astype(np.int64)


def grid(config: ThresholdConfig) -> np.ndarray:
    """The candidate thresholds."""
    return np.round(np.arange(config.grid_start, config.grid_stop + 1e-9, config.grid_step), 6)


def search_global(y: np.ndarray, probs: np.ndarray, candidates: np.ndarray, empty_rule: str) -> tuple[np.ndarray, np.ndarray]:
    """The best single threshold for all labels, and the weighted F1 of every candidate."""
    decisions = fill_empty_rows(probs[None] >= candidates[:, None, None], probs, empty_rule)
    scores = weighted_f1_many(y, decisions)
    return np.full(len(LABELS), candidates[scores.argmax()]), scores
