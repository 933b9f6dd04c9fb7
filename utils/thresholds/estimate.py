"""The run's honest estimate: the whole choice of the members' weights and the decision rule (every rule tried, a richer one
kept only on a significant gain) repeated inside each outer fold of valid, each held-out fold decided by what its other folds
chose."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from iterstrat.ml_stratifiers import MultilabelStratifiedKFold
from sklearn.metrics import f1_score

from ..core.decisions import resampled_weighted_f1, row_resamples, weighted_f1_many
from ..core.ensemble import Ensemble
from ..core.settings import ThresholdConfig
from ..core.splits import LABELS
from .search import choose_thresholds, rule_name

CONFIDENCE = 0.95
BOOTSTRAP_DRAWS = 1000


@dataclass
class Estimate:
    """Weighted F1 of the selection procedure on rows it never saw, with a bootstrap interval over the rows, the spread
    of the same decisions' F1 on a test-sized sample and the spread of the chosen rules' quality."""

    weighted_f1: float
    ci: tuple[float, float]  # 95% percentile interval of the row bootstrap
    per_label_f1: dict[str, float]
    rows: int
    rules: list[str]  # the rule each outer fold chose
    sd: float | None = None  # standard deviation of the row bootstrap's weighted F1
    test_rows: int | None = None  # rows of the run's test file
    test_sd: float | None = None  # standard deviation of the weighted F1 over resamples of test_rows rows drawn from these
    rule_sd: float | None = None  # standard deviation (n - 1) of the outer folds' rules' weighted F1 on all the tuned-on rows

    def as_dict(self) -> dict:
        return asdict(self)


def rule_spread(rule_scores: list[float]) -> float:
    """The standard deviation (n - 1) of the weighted F1 the outer folds' rules score on the same rows: how much the
    quality of a chosen rule varies from one choice to another (the rows' own noise cancels, as they are the same)."""
    return round(float(np.std(rule_scores, ddof=1)), 5)


def score(y: np.ndarray, decisions: np.ndarray, rules: list[str], seed: int, test_rows: int | None = None,
          rule_sd: float | None = None) -> Estimate:
    """Weighted F1, its bootstrap interval and spread and the per-label F1 of held-out decisions; with `test_rows`, also
    the spread of their weighted F1 on samples of that many rows (the test's own sampling); `rule_sd` is kept as given."""
    resampled = resampled_weighted_f1(y, decisions, row_resamples(len(y), BOOTSTRAP_DRAWS, seed))
    tail = (1 - CONFIDENCE) / 2 * 100
    per_label = f1_score(y, decisions, average=None, zero_division=0)
    test_sd = None
    if test_rows:
        test_sized = row_resamples(len(y), BOOTSTRAP_DRAWS, seed + 1, size=test_rows)
        test_sd = round(float(np.std(resampled_weighted_f1(y, decisions, test_sized))), 5)
    return Estimate(weighted_f1=float(weighted_f1_many(y, decisions)),
                    ci=(round(float(np.percentile(resampled, tail)), 4), round(float(np.percentile(resampled, 100 - tail)), 4)),
                    per_label_f1=dict(zip(LABELS, np.round(per_label, 4).tolist())), rows=len(y), rules=rules,
                    sd=round(float(np.std(resampled)), 5), test_rows=test_rows, test_sd=test_sd, rule_sd=rule_sd)


Versions = dict[str, "np.ndarray | dict[str, np.ndarray]"]  # version -> its probabilities, or each member's (blended per fold)


def _members(version) -> dict[str, np.ndarray]:
    """A version's probabilities as members: the member -> probabilities mapping given, or the one blended array as a member."""
    return {name: np.asarray(probs, dtype=float) for name, probs in version.items()} if isinstance(version, dict) else {
        "": np.asarray(version, dtype=float)}


def nested_decisions(y: np.ndarray, probs: Versions, tuned_on: str, config: ThresholdConfig, seed: int,
                     ensemble: Ensemble | None = None) -> tuple[dict[str, np.ndarray], list[str], float]:
    """For each outer fold: on the other folds' `probs[tuned_on]`, learn the members' weights (unless `ensemble` fixes them; a
    plain array is one member) and choose the rule on their blend (the whole procedure of notebooks 03-04), then decide the
    fold's rows of every version of the probabilities (e.g. the same rows written with ASR noise); with the spread of the
    folds' choices' weighted F1 on all rows of `probs[tuned_on]` (rule_spread)."""
    versions = {name: _members(version) for name, version in probs.items()}
    tuned = versions[tuned_on]
    folds = MultilabelStratifiedKFold(n_splits=config.cv_folds, shuffle=True, random_state=seed)
    decisions = {name: np.zeros_like(y) for name in versions}
    rules, rule_scores = [], []
    for fit_rows, held_out in folds.split(next(iter(tuned.values())), y):
        fit = {name: member[fit_rows] for name, member in tuned.items()}
        weights = ensemble or Ensemble.learned(y[fit_rows], fit)
        choice = choose_thresholds(y[fit_rows], weights.combine(fit), config, seed + 1)
        rule = f"{rule_name(choice.mode, bool(choice.recalibration))}, no-label rule '{choice.empty_rule}'"
        rules.append(rule if ensemble or len(tuned) == 1 else f"weights {weights_text(weights)}, {rule}")
        rule_scores.append(float(weighted_f1_many(y, choice.apply(choice.recalibrated(weights.combine(tuned))))))
        for name, version in versions.items():
            decisions[name][held_out] = choice.apply(choice.recalibrated(weights.combine({m: p[held_out] for m, p in version.items()})))
    return decisions, rules, rule_spread(rule_scores)


def weights_text(ensemble: Ensemble) -> str:
    """The weights in a few characters, e.g. "neural 0.6, tfidf 0.4"."""
    return ", ".join(f"{name} {weight:.2f}".lstrip() for name, weight in ensemble.weights.items())


def nested_estimates(y: np.ndarray, probs: Versions, tuned_on: str, config: ThresholdConfig, seed: int = 0,
                     test_rows: int | None = None, ensemble: Ensemble | None = None) -> dict[str, Estimate]:
    """The honest estimate for each version of the held-out probabilities (arrays, or each member's to blend with weights
    learned in each outer fold unless `ensemble` fixes them), the choice always made on `tuned_on` (with the spread on a
    test of `test_rows` rows when given)."""
    y = np.asarray(y, dtype=np.int64)
    decisions, rules, rule_sd = nested_decisions(y, probs, tuned_on, config, seed, ensemble)
    return {name: score(y, decided, rules, seed, test_rows, rule_sd) for name, decided in decisions.items()}
