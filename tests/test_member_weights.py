"""Learned member weights: the grid, the choice on held-out rows, its repetition inside each outer fold of the estimate, and
what a finished run records of them."""
import json

import numpy as np
import pytest

from utils.core.ensemble import Ensemble, weight_grid
from utils.core.settings import ThresholdConfig
from utils.thresholds.estimate import nested_estimates

FAST = ThresholdConfig(bootstrap=50, cv_folds=3)


def labels_and_members(rows: int = 600, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Labels, a member that knows them (with noise) and one that guesses."""
    rng = np.random.default_rng(seed)
    y = (rng.random((rows, 7)) < 0.25).astype(np.int64)
    knows = np.clip(0.6 * y + 0.4 * rng.random((rows, 7)), 0, 1)
    return y, {"knows": knows, "guesses": rng.random((rows, 7))}


def test_the_grid_holds_every_positive_split_of_one_in_tenths():
    grid = weight_grid(3)
    assert len(grid) == 36 and np.allclose(grid.sum(axis=1), 1) and grid.min() == pytest.approx(0.1)
    assert len(weight_grid(2)) == 9


def test_learned_weights_lean_on_the_member_that_knows_the_labels():
    y, members = labels_and_members()
    learned = Ensemble.learned(y, members)
    assert learned.weights == pytest.approx({"knows": 0.9, "guesses": 0.1})
    assert Ensemble.learned(y, {"alone": members["guesses"]}).weights == {"alone": 1.0}


def test_fixed_weights_estimate_equals_the_estimate_of_the_blended_array():
    y, members = labels_and_members()
    fixed = Ensemble({"knows": 0.5, "guesses": 0.5})
    by_members = nested_estimates(y, {"clean": members}, "clean", FAST, seed=3, ensemble=fixed)["clean"]
    blended = nested_estimates(y, {"clean": fixed.combine(members)}, "clean", FAST, seed=3)["clean"]
    assert by_members.weighted_f1 == blended.weighted_f1 and by_members.rules == blended.rules


def test_the_estimate_learns_the_weights_again_in_each_outer_fold():
    y, members = labels_and_members()
    noisy = {name: np.clip(probs + 0.05, 0, 1) for name, probs in members.items()}
    estimates = nested_estimates(y, {"clean": members, "asr_noise": noisy}, "clean", FAST, seed=3)
    rules = estimates["clean"].rules
    assert len(rules) == FAST.cv_folds and all(rule.startswith("weights knows 0.90, guesses 0.10,") for rule in rules)
    fixed_equal = nested_estimates(y, {"clean": members}, "clean", FAST, seed=3, ensemble=Ensemble({"knows": 0.5, "guesses": 0.5}))
    assert estimates["clean"].weighted_f1 > fixed_equal["clean"].weighted_f1  # the guesses weigh less
    assert set(estimates) == {"clean", "asr_noise"} and estimates["asr_noise"].rules == rules


@pytest.mark.e2e
def test_a_finished_run_blends_its_members_with_the_weights_it_learned_and_records_them(sample_run):
    from utils.core.paths import MEMBER_PROBS_DIR, VALID_PROBS
    from utils.core.probs_files import read_probs
    from utils.core.run_record import read_record

    run_dir = sample_run.run_dir
    recorded = read_record(run_dir)["steps"]["03_training"]["members"]
    weights = {name: member["weight"] for name, member in recorded.items()}
    assert set(weights) == {"neural", "tfidf"} and sum(weights.values()) == pytest.approx(1)
    assert all(round(weight * 10, 6) == round(weight * 10) for weight in weights.values())  # on the grid of tenths
    members = {name: read_probs(run_dir / MEMBER_PROBS_DIR / f"{name}.csv") for name in weights}
    assert np.allclose(read_probs(run_dir / VALID_PROBS), Ensemble(weights).combine(members), atol=1e-6)
    assert (run_dir / MEMBER_PROBS_DIR / "tfidf.asr_noise.csv").is_file()
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["member_weights"] == "learned" and {n: m["weight"] for n, m in summary["members"].items()} == weights
    estimate = json.loads((run_dir / "estimate.json").read_text(encoding="utf-8"))
    assert all(rule.startswith("weights neural ") for rule in estimate["clean"]["rules"])
    assert "weights learned on their held-out probabilities" in (run_dir / "report.html").read_text(encoding="utf-8")
