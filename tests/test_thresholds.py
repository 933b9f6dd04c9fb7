import json

import numpy as np
import pytest
from sklearn.metrics import f1_score

from utils.core.decisions import apply_thresholds, grid, search_global, weighted_f1_many
from utils.core.settings import ThresholdConfig
from utils.core.splits import LABELS
from utils.thresholds.curves import plot_threshold_curves
from utils.thresholds.search import (
    ThresholdChoice,
    choose_thresholds,
    cross_validated_f1,
    search_per_label,
)

RNG = np.random.default_rng(0)
TRUE_THRESHOLDS = np.array([0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])


def separable(n=700):
    """Probabilities that separate each label perfectly at its own threshold."""
    y = (RNG.random((n, 7)) < 0.3).astype(np.int64)
    y[np.arange(n), RNG.integers(0, 7, n)] = 1
    probs = np.where(y == 1, TRUE_THRESHOLDS + RNG.random((n, 7)) * (1 - TRUE_THRESHOLDS), TRUE_THRESHOLDS * RNG.random((n, 7)) * 0.95)
    return y, probs


def test_weighted_f1_many_equals_sklearn():
    y = (RNG.random((300, 7)) < 0.25).astype(int)
    predictions = (RNG.random((4, 300, 7)) < 0.3).astype(int)
    expected = [f1_score(y, p, average="weighted", zero_division=0) for p in predictions]
    assert np.allclose(weighted_f1_many(y, predictions), expected)


def test_per_label_search_finds_the_known_optimum():
    y, probs = separable()
    candidates = grid(ThresholdConfig())
    thresholds = search_per_label(y, probs, candidates, "none")
    assert weighted_f1_many(y, apply_thresholds(probs, thresholds, "none")) == pytest.approx(1.0)
    for label in range(7):
        assert probs[y[:, label] == 0, label].max() < thresholds[label] <= probs[y[:, label] == 1, label].min()
    best_global, _ = search_global(y, probs, candidates, "none")
    assert weighted_f1_many(y, apply_thresholds(probs, best_global, "none")) < 0.99


def test_no_label_rules():
    probs = np.array([[0.1, 0.05, 0.2, 0.3, 0.1, 0.1, 0.1], [0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]])
    assert apply_thresholds(probs, 0.5, "none")[0].sum() == 0
    assert apply_thresholds(probs, 0.5, "top")[0].tolist() == [0, 0, 0, 1, 0, 0, 0]
    assert apply_thresholds(probs, 0.5, "neutral")[0].tolist() == [0, 0, 0, 0, 0, 0, 1]
    assert apply_thresholds(probs, 0.5, "top")[1].tolist() == [1, 0, 0, 0, 0, 0, 0]
    with pytest.raises(ValueError, match=r"unknown empty_rule 'skip'; expected one of \('none', 'top', 'neutral'\)"):
        apply_thresholds(probs, 0.5, "skip")


def test_cross_validated_estimate_is_not_higher_than_in_sample_on_random_data():
    y = (RNG.random((600, 7)) < 0.3).astype(np.int64)
    probs = RNG.random((600, 7))
    config = ThresholdConfig()
    thresholds = search_per_label(y, probs, grid(config), "none")
    in_sample = weighted_f1_many(y, apply_thresholds(probs, thresholds, "none"))
    assert cross_validated_f1(y, probs, config, per_label=True, empty_rule="none") < in_sample


def test_choice_takes_a_richer_rule_only_when_it_gains_enough(tmp_path):
    y, probs = separable()
    choice = choose_thresholds(y, probs, ThresholdConfig(bootstrap=50))
    assert choice.mode == "per_label" and choice.recalibration is None and choice.cv_f1 > 0.97
    assert [(row["mode"], row["recalibrate"]) for row in choice.table[::3]] == [("global", False), ("per_label", False), ("global", True),
                                                                                 ("per_label", True)]
    assert [c["used"] for c in choice.comparisons] == [True, False, False]
    assert choice.comparisons[0]["gain"] > 2 * choice.comparisons[0]["se"] > 0
    assert list(choice.thresholds) == LABELS
    strict = choose_thresholds(y, probs, ThresholdConfig(min_gain_se=1e9, recalibrate=False, bootstrap=50))
    assert strict.mode == "global" and "per-label thresholds: " in strict.note and "-> not used" in strict.note
    assert len(set(strict.thresholds.values())) == 1 and len(strict.table) == 6
    figure = plot_threshold_curves(y, probs, choice, ThresholdConfig())
    assert figure.axes[0].get_title().startswith("F1 against threshold per label")
    assert len(figure.axes[0].lines) == 2 * 7 + 1


def neutral_by_exclusion(n=1500):
    """Six labels with informative probabilities; neutral is on exactly when no other label is, its own probability is noise."""
    y = np.zeros((n, 7), dtype=np.int64)
    emotional = RNG.random(n) < 0.6
    y[np.flatnonzero(emotional), RNG.integers(0, 6, emotional.sum())] = 1
    y[~emotional, 6] = 1
    probs = np.clip(0.55 * y + 0.45 * RNG.random((n, 7)), 0, 1)
    probs[:, 6] = RNG.random(n)
    return y, probs


def test_recalibration_learns_label_exclusion_and_round_trips_through_json():
    from utils.thresholds.recalibration import Recalibration

    y, probs = neutral_by_exclusion()
    recalibration = Recalibration.fit(y, probs)
    recalibrated = recalibration.apply(probs)
    neutral = LABELS.index("neutral")
    assert np.corrcoef(recalibrated[:, neutral], y[:, neutral])[0, 1] > 0.4 > 0.1 > abs(np.corrcoef(probs[:, neutral], y[:, neutral])[0, 1])
    assert np.allclose(Recalibration(**json.loads(json.dumps(recalibration.as_dict()))).apply(probs), recalibrated)
    choice = choose_thresholds(y, probs, ThresholdConfig(bootstrap=50, empty_rules=["none"]))  # no neutral fallback to lean on
    assert choice.recalibration is not None and "recalibrated + " in choice.note.splitlines()[0]
    assert choice.cv_f1 > max(row["cv_f1"] for row in choice.table if not row["recalibrate"]) + 0.03


@pytest.mark.e2e
def test_notebook_04_writes_thresholds_from_valid_probs(sample_run, sample_dir):
    import json

    from utils.core.paths import VALID_PROBS
    from utils.core.probs_files import read_probs
    from utils.core.splits import label_matrix, load_competition

    y = label_matrix(load_competition(sample_dir).valid)
    run_dir = sample_run.run_dir
    probs = read_probs(run_dir / VALID_PROBS)
    saved = json.loads((run_dir / "thresholds.json").read_text(encoding="utf-8"))
    assert saved["mode"] in ("global", "per_label") and list(saved["thresholds"]) == LABELS
    assert len(saved["table"]) == 12 and len(saved["comparisons"]) == 3
    shown = ThresholdChoice(**saved).recalibrated(probs)
    decisions = apply_thresholds(shown, [saved["thresholds"][label] for label in LABELS], saved["empty_rule"])
    assert f1_score(y, decisions, average="weighted", zero_division=0) == pytest.approx(saved["in_sample_f1"])
    assert (run_dir / "thresholds.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("empty_rule", ["none", "top", "neutral"])
def test_one_labels_candidates_are_scored_as_the_whole_decision_matrix_would_be(empty_rule):
    from utils.core.decisions import fill_empty_rows, grid, weighted_f1_many
    from utils.thresholds.search import one_label_scores

    rng = np.random.default_rng(7)
    candidates = grid(ThresholdConfig())
    for _ in range(10):
        y = (rng.random((300, 7)) < rng.random(7) * 0.5).astype(int)
        probs, thresholds, label = rng.random((300, 7)), rng.random(7) * 0.8 + 0.1, int(rng.integers(7))
        trial = np.broadcast_to(thresholds, (len(candidates), 7)).copy()
        trial[:, label] = candidates
        whole = weighted_f1_many(y, fill_empty_rows(probs[None] >= trial[:, None, :], probs, empty_rule))
        assert np.allclose(one_label_scores(y, probs, thresholds, label, candidates, empty_rule), whole)
