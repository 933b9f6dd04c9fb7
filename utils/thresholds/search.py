"""Choosing the decision rule: global or per-label thresholds, with or without recalibration, by nested cross-validation."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..core.decisions import (
    apply_thresholds,
    grid,
    resampled_weighted_f1,
    row_resamples,
    search_global,
    weighted_f1_many,
)
from ..core.files import UnreadableFileError, read_json
from ..core.run_record import rebuild_hint
from ..core.settings import ThresholdConfig
from ..core.splits import LABELS
from .recalibration import Recalibration


def one_label_scores(y: np.ndarray, probs: np.ndarray, thresholds: np.ndarray, label: int, candidates: np.ndarray,
                     empty_rule: str) -> np.ndarray:
    """Weighted F1 of every candidate threshold of one label, the others fixed: equal to scoring each full decision
    matrix (fill_empty_rows, weighted_f1_many), counted with matrix products over the rows that can change only."""
    y = y.astype(np.float64)  # counts as floats: the products below then run in BLAS (exact for any realistic row count)
    others = probs >= thresholds
    others[:, label] = False
    fill = np.zeros(probs.shape)  # the label a row gets when it ends up with none (rows of `open_rows` only)
    if empty_rule == "top":
        fill[np.arange(len(probs)), probs.argmax(axis=1)] = 1
    elif empty_rule == "neutral":
        fill[:, LABELS.index("neutral")] = 1
    on = (probs[:, label][None] >= candidates[:, None]).astype(np.float64)  # (candidates, rows)
    support = y.sum(axis=0)
    true_positive = np.tile((others * y).sum(axis=0), (len(candidates), 1))
    predicted = np.tile(others.sum(axis=0).astype(np.float64), (len(candidates), 1))
    if empty_rule != "none":
        open_rows = np.flatnonzero(~others.any(axis=1))  # rows no other label takes: the no-label rule fills them when `label` is off
        filled = 1 - on[:, open_rows]
        true_positive += filled @ (fill[open_rows] * y[open_rows])
        predicted += filled @ fill[open_rows]
    true_positive[:, label] += on @ y[:, label]
    predicted[:, label] += on.sum(axis=1)
    denominator = predicted + support
    f1 = np.divide(2 * true_positive, denominator, out=np.zeros(true_positive.shape), where=denominator > 0)
    return (f1 * support).sum(axis=1) / max(support.sum(), 1)


def search_per_label(y: np.ndarray, probs: np.ndarray, candidates: np.ndarray, empty_rule: str, rounds: int = 2) -> np.ndarray:
    """One threshold per label by coordinate search from the best global one, every candidate of a label scored at once."""
    thresholds, _ = search_global(y, probs, candidates, empty_rule)
    for _ in range(rounds):
        for label in range(len(LABELS)):
            scores = one_label_scores(y, probs, thresholds, label, candidates, empty_rule)
            thresholds = thresholds.copy()
            thresholds[label] = candidates[scores.argmax()]
    return thresholds


KINDS = (("global", False), ("per_label", False), ("global", True), ("per_label", True))  # (mode, recalibrate), fewest parameters first


def tune(y: np.ndarray, probs: np.ndarray, config: ThresholdConfig, mode: str, empty_rule: str,
         recalibration: Recalibration | None = None) -> np.ndarray:
    """Thresholds tuned on these rows (for the probabilities after `recalibration`, if given)."""
    tuned = recalibration.apply(probs) if recalibration else probs
    if mode == "per_label":
        return search_per_label(y, tuned, grid(config), empty_rule, config.rounds)
    return search_global(y, tuned, grid(config), empty_rule)[0]


def decide(probs: np.ndarray, thresholds, empty_rule: str, recalibration: Recalibration | None) -> np.ndarray:
    """0/1 decisions: recalibrate (if given), then threshold."""
    return apply_thresholds(recalibration.apply(probs) if recalibration else probs, thresholds, empty_rule)


@dataclass
class Parts:
    """The cross-validation parts of the rows and, when rules recalibrate, the recalibration fitted on each part's tuning
    rows (fitted once: every rule with recalibration shares it)."""

    folds: list[tuple[np.ndarray, np.ndarray]]
    recalibrations: list[Recalibration] | None


def cv_parts(y: np.ndarray, probs: np.ndarray, config: ThresholdConfig, seed: int, recalibrate: bool) -> Parts:
    from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

    folds = list(MultilabelStratifiedKFold(n_splits=config.cv_folds, shuffle=True, random_state=seed).split(probs, y))
    fits = [Recalibration.fit(y[rows], probs[rows], config.recalibration_C) for rows, _ in folds] if recalibrate else None
    return Parts(folds, fits)


def out_of_fold_decisions(y, probs, config: ThresholdConfig, mode: str, empty_rule: str, recalibrate: bool = False,
                          seed: int = 0, parts: Parts | None = None) -> np.ndarray:
    """Tune (recalibration and thresholds) on k-1 parts and decide the held-out part, for every part."""
    parts = parts or cv_parts(y, probs, config, seed, recalibrate)
    decisions = np.zeros_like(y)
    for k, (fit_rows, held_out) in enumerate(parts.folds):
        recalibration = parts.recalibrations[k] if recalibrate else None
        thresholds = tune(y[fit_rows], probs[fit_rows], config, mode, empty_rule, recalibration)
        decisions[held_out] = decide(probs[held_out], thresholds, empty_rule, recalibration)
    return decisions


def cross_validated_f1(y, probs, config: ThresholdConfig, per_label: bool, empty_rule: str, seed: int = 0,
                       recalibrate: bool = False) -> float:
    """Weighted F1 of all out-of-fold decisions together."""
    mode = "per_label" if per_label else "global"
    return float(weighted_f1_many(y, out_of_fold_decisions(y, probs, config, mode, empty_rule, recalibrate, seed)))


def bootstrap_se(y: np.ndarray, first: np.ndarray, second: np.ndarray, draws: int, seed: int = 0) -> float:
    """Standard error of weighted F1(first) - F1(second), both decisions of the same rows, over row resamples."""
    counts = row_resamples(len(y), draws, seed)
    return float(np.std(resampled_weighted_f1(y, first, counts) - resampled_weighted_f1(y, second, counts)))


@dataclass
class ThresholdChoice:
    """The chosen decision rule and the evidence for it."""

    mode: str  # "global" or "per_label"
    empty_rule: str
    thresholds: dict[str, float]
    in_sample_f1: float
    cv_f1: float
    table: list[dict]  # every (mode, recalibrate, empty_rule) tried, with in-sample and cross-validated F1
    note: str
    recalibration: dict | None = None  # Recalibration.as_dict() when the probabilities are recalibrated first
    comparisons: list[dict] = field(default_factory=list)  # each richer rule against the one chosen before it

    def as_dict(self) -> dict:
        return asdict(self)

    def recalibrated(self, probs: np.ndarray) -> np.ndarray:
        """The probabilities the thresholds apply to."""
        return Recalibration(**self.recalibration).apply(probs) if self.recalibration else probs

    def apply(self, recalibrated: np.ndarray) -> np.ndarray:
        """(n, 7) 0/1 decisions for probabilities already passed through `recalibrated`."""
        return apply_thresholds(recalibrated, [self.thresholds[label] for label in LABELS], self.empty_rule)


def rule_name(mode: str, recalibrate: bool) -> str:
    """A decision rule in words, e.g. 'recalibrated + per-label thresholds'."""
    return ("recalibrated + " if recalibrate else "") + ("per-label thresholds" if mode == "per_label" else "one global threshold")


def choose_thresholds(y: np.ndarray, probs: np.ndarray, config: ThresholdConfig, seed: int = 0) -> ThresholdChoice:
    """Try each rule (global or per-label thresholds, with or without recalibration, each no-label rule); start from
    the simplest and take a richer rule only when its cross-validated gain is at least `min_gain_se` bootstrap
    standard errors."""
    y, probs = np.asarray(y, dtype=np.int64), np.asarray(probs, dtype=float)
    kinds = [kind for kind in KINDS if config.recalibrate or not kind[1]]
    parts = cv_parts(y, probs, config, seed, config.recalibrate)
    full = Recalibration.fit(y, probs, config.recalibration_C) if config.recalibrate else None
    tried = []
    for mode, recalibrate in kinds:
        for empty_rule in config.empty_rules:
            decisions = out_of_fold_decisions(y, probs, config, mode, empty_rule, recalibrate, seed, parts)
            recalibration = full if recalibrate else None
            thresholds = tune(y, probs, config, mode, empty_rule, recalibration)
            tried.append({"mode": mode, "recalibrate": recalibrate, "empty_rule": empty_rule,
                          "in_sample_f1": float(weighted_f1_many(y, decide(probs, thresholds, empty_rule, recalibration))),
                          "cv_f1": float(weighted_f1_many(y, decisions)), "decisions": decisions, "thresholds": thresholds,
                          "recalibration": recalibration})
    best = [max((row for row in tried if (row["mode"], row["recalibrate"]) == kind), key=lambda row: row["cv_f1"]) for kind in kinds]
    chosen, comparisons = best[0], []
    for candidate in best[1:]:
        gain = candidate["cv_f1"] - chosen["cv_f1"]
        se = bootstrap_se(y, candidate["decisions"], chosen["decisions"], config.bootstrap, seed)
        used = gain > 0 and gain >= config.min_gain_se * se
        comparisons.append({"rule": rule_name(candidate["mode"], candidate["recalibrate"]),
                            "against": rule_name(chosen["mode"], chosen["recalibrate"]),
                            "gain": round(gain, 4), "se": round(se, 4), "used": used})
        chosen = candidate if used else chosen
    lines = [f"{c['rule']}: {c['gain']:+.4f} ± {c['se']:.4f} over {c['against']} -> {'used' if c['used'] else 'not used'}"
             for c in comparisons]
    note = (f"Chosen: {rule_name(chosen['mode'], chosen['recalibrate'])}, no-label rule '{chosen['empty_rule']}', cross-validated "
            f"weighted F1 {chosen['cv_f1']:.4f}. A richer rule is used only if its cross-validated gain is at least "
            f"{config.min_gain_se:g} bootstrap standard errors:\n  " + "\n  ".join(lines))
    return ThresholdChoice(
        mode=chosen["mode"],
        empty_rule=chosen["empty_rule"],
        thresholds=dict(zip(LABELS, map(float, chosen["thresholds"]))),
        in_sample_f1=chosen["in_sample_f1"],
        cv_f1=chosen["cv_f1"],
        table=[{key: row[key] for key in ("mode", "recalibrate", "empty_rule", "in_sample_f1", "cv_f1")} for row in tried],
        note=note,
        recalibration=chosen["recalibration"].as_dict() if chosen["recalibration"] else None,
        comparisons=comparisons,
    )


def load_thresholds(path: str | Path) -> ThresholdChoice:
    """Read thresholds.json back; a file that is not one (unreadable, or another shape) is refused naming it."""
    path = Path(path)
    fix = rebuild_hint(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found: {fix}")
    values = read_json(path, fix)
    try:
        return ThresholdChoice(**values)
    except TypeError as error:
        raise UnreadableFileError(f"{path}: not a thresholds file of the kit ({error}): {fix}") from None
