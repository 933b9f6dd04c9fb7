"""Turning probabilities into 0/1 decisions: a global or per-label threshold, a rule for rows with no label."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .config import THRESHOLDS, VALID_PROBS, ThresholdConfig
from .data import LABELS
from .files import write_text
from .recalibration import Recalibration

EMPTY_RULES = ("none", "top", "neutral")  # a row where no label passes: leave empty, take its top label, or say neutral


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


def search_per_label(y: np.ndarray, probs: np.ndarray, candidates: np.ndarray, empty_rule: str, rounds: int = 2) -> np.ndarray:
    """One threshold per label by coordinate search from the best global one, all candidates scored at once."""
    thresholds, _ = search_global(y, probs, candidates, empty_rule)
    for _ in range(rounds):
        for label in range(len(LABELS)):
            trial = np.broadcast_to(thresholds, (len(candidates), len(LABELS))).copy()
            trial[:, label] = candidates
            scores = weighted_f1_many(y, fill_empty_rows(probs[None] >= trial[:, None, :], probs, empty_rule))
            thresholds = trial[scores.argmax()]
    return thresholds


KINDS = (("global", False), ("per_label", False), ("global", True), ("per_label", True))  # (mode, recalibrate), fewest parameters first


def tune(y: np.ndarray, probs: np.ndarray, config: ThresholdConfig, mode: str, recalibrate: bool,
         empty_rule: str) -> tuple[np.ndarray, Recalibration | None]:
    """Thresholds (and the recalibration they apply to, if any) tuned on these rows."""
    recalibration = Recalibration.fit(y, probs, config.recalibration_C) if recalibrate else None
    tuned = recalibration.apply(probs) if recalibration else probs
    if mode == "per_label":
        return search_per_label(y, tuned, grid(config), empty_rule, config.rounds), recalibration
    return search_global(y, tuned, grid(config), empty_rule)[0], recalibration


def decide(probs: np.ndarray, thresholds, empty_rule: str, recalibration: Recalibration | None) -> np.ndarray:
    """0/1 decisions: recalibrate (if given), then threshold."""
    return apply_thresholds(recalibration.apply(probs) if recalibration else probs, thresholds, empty_rule)


def out_of_fold_decisions(y, probs, config: ThresholdConfig, mode: str, empty_rule: str, recalibrate: bool = False,
                          seed: int = 0) -> np.ndarray:
    """Tune (recalibration and thresholds) on k-1 parts and decide the held-out part, for every part."""
    from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

    decisions = np.zeros_like(y)
    folds = MultilabelStratifiedKFold(n_splits=config.cv_folds, shuffle=True, random_state=seed)
    for fit_rows, held_out in folds.split(probs, y):
        thresholds, recalibration = tune(y[fit_rows], probs[fit_rows], config, mode, recalibrate, empty_rule)
        decisions[held_out] = decide(probs[held_out], thresholds, empty_rule, recalibration)
    return decisions


def cross_validated_f1(y, probs, config: ThresholdConfig, per_label: bool, empty_rule: str, seed: int = 0,
                       recalibrate: bool = False) -> float:
    """Weighted F1 of all out-of-fold decisions together."""
    mode = "per_label" if per_label else "global"
    return float(weighted_f1_many(y, out_of_fold_decisions(y, probs, config, mode, empty_rule, recalibrate, seed)))


def bootstrap_se(y: np.ndarray, first: np.ndarray, second: np.ndarray, draws: int, seed: int = 0) -> float:
    """Standard error of weighted F1(first) - F1(second), both decisions of the same rows, over row resamples."""
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(draws):
        rows = rng.integers(0, len(y), len(y))
        differences.append(weighted_f1_many(y[rows], first[rows]) - weighted_f1_many(y[rows], second[rows]))
    return float(np.std(differences))


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


def describe(mode: str, recalibrate: bool) -> str:
    return ("recalibrated + " if recalibrate else "") + ("per-label thresholds" if mode == "per_label" else "one global threshold")


def choose_thresholds(y: np.ndarray, probs: np.ndarray, config: ThresholdConfig, seed: int = 0) -> ThresholdChoice:
    """Try each rule (global or per-label thresholds, with or without recalibration, each no-label rule); start from
    the simplest and take a richer rule only when its cross-validated gain is at least `min_gain_se` bootstrap
    standard errors."""
    y, probs = np.asarray(y, dtype=np.int64), np.asarray(probs, dtype=float)
    kinds = [kind for kind in KINDS if config.recalibrate or not kind[1]]
    tried = []
    for mode, recalibrate in kinds:
        for empty_rule in config.empty_rules:
            decisions = out_of_fold_decisions(y, probs, config, mode, empty_rule, recalibrate, seed)
            thresholds, recalibration = tune(y, probs, config, mode, recalibrate, empty_rule)
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
        comparisons.append({"rule": describe(candidate["mode"], candidate["recalibrate"]), "against": describe(chosen["mode"], chosen["recalibrate"]),
                            "gain": round(gain, 4), "se": round(se, 4), "used": used})
        chosen = candidate if used else chosen
    lines = [f"{c['rule']}: {c['gain']:+.4f} ± {c['se']:.4f} over {c['against']} -> {'used' if c['used'] else 'not used'}" for c in comparisons]
    note = (f"Chosen: {describe(chosen['mode'], chosen['recalibrate'])}, no-label rule '{chosen['empty_rule']}', cross-validated "
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


def plot_threshold_curves(y: np.ndarray, probs: np.ndarray, choice: ThresholdChoice, config: ThresholdConfig):
    """F1 of each label against its threshold on `probs` (recalibrated if the choice is), chosen thresholds marked."""
    import matplotlib.pyplot as plt

    candidates = grid(config)
    y = np.asarray(y, dtype=bool)
    figure, axis = plt.subplots(figsize=(9, 5.5))
    for label, name in enumerate(LABELS):
        decisions = probs[None, :, label] >= candidates[:, None]
        true_positive = (decisions & y[:, label]).sum(axis=1)
        f1 = 2 * true_positive / np.maximum(decisions.sum(axis=1) + y[:, label].sum(), 1)
        line, = axis.plot(candidates, f1, label=name)
        chosen = choice.thresholds[name]
        axis.plot([chosen], [f1[np.abs(candidates - chosen).argmin()]], "o", color=line.get_color(), markersize=8)
    _, global_scores = search_global(y.astype(np.int64), probs, candidates, "none")
    axis.plot(candidates, global_scores, "k--", linewidth=2, label="weighted F1 (one threshold for all)")
    axis.set(xlabel="threshold", ylabel="F1 on held-out rows", ylim=(0, 1),
             title=f"F1 against threshold per label ({describe(choice.mode, bool(choice.recalibration))}, chosen points marked)")
    axis.legend(loc="lower left", fontsize=9, ncol=2)
    axis.grid(alpha=0.3)
    return figure


def read_probs(path: str | Path, expected_rows: int | None = None) -> np.ndarray:
    """Read a probabilities CSV (the 7 label columns, values in [0, 1]); errors name file, row and column."""
    frame = pd.read_csv(path)
    missing = [label for label in LABELS if label not in frame.columns]
    if missing:
        raise ValueError(f"{path}, header row: missing probability column(s) {missing}")
    probs = frame[LABELS].to_numpy(dtype=float)
    bad = ~((probs >= 0) & (probs <= 1))
    if bad.any():
        row, column = map(int, np.argwhere(bad)[0])
        raise ValueError(f"{path}, row {row + 1}, column '{LABELS[column]}': expected a probability in [0, 1], got {probs[row, column]}")
    if expected_rows is not None and len(probs) != expected_rows:
        raise ValueError(f"{path}: {len(probs)} rows; expected {expected_rows} (one per valid row, in valid's order)")
    return probs


def tune_thresholds(run_dir: str | Path, y: np.ndarray, config: ThresholdConfig, seed: int = 0) -> ThresholdChoice:
    """Choose thresholds on run_dir/valid_probs.csv; write thresholds.json and thresholds.png; print the table."""
    from .plots import save_figure

    run_dir = Path(run_dir)
    probs = read_probs(run_dir / VALID_PROBS, expected_rows=len(y))
    choice = choose_thresholds(y, probs, config, seed)
    write_text(run_dir / THRESHOLDS, json.dumps(choice.as_dict(), indent=2, ensure_ascii=False))
    save_figure(plot_threshold_curves(y, choice.recalibrated(probs), choice, config), run_dir / "thresholds.png")
    print(pd.DataFrame(choice.table).round(4).to_string(index=False))
    print(choice.note)
    return choice


def load_thresholds(path: str | Path) -> ThresholdChoice:
    """Read thresholds.json back."""
    values = json.loads(Path(path).read_text(encoding="utf-8"))
    return ThresholdChoice(**values)
