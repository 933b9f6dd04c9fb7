"""The honest estimate: choosing among many rules on the same rows it is scored on must not flatter a model."""
import numpy as np
import pytest
from sklearn.metrics import f1_score

from utils.core.settings import ThresholdConfig
from utils.thresholds.estimate import nested_estimates
from utils.thresholds.search import choose_thresholds

SHARES = np.array([0.13, 0.02, 0.02, 0.41, 0.07, 0.12, 0.33])  # valid's label shares


def labels(rows, seed):
    return (np.random.default_rng(seed).random((rows, 7)) < SHARES).astype(np.int64)


def test_a_pure_noise_model_is_estimated_at_chance_after_choosing_among_every_rule():
    y = labels(900, 0)
    noise = np.random.default_rng(1).random(y.shape)  # probabilities that know nothing about the labels
    prevalence = y.mean(axis=0)
    chance = float((prevalence * 2 * prevalence / (1 + prevalence)).sum() / prevalence.sum())  # best label-blind rule: all on
    config = ThresholdConfig(bootstrap=100)
    estimate = nested_estimates(y, {"clean": noise}, "clean", config, seed=0)["clean"]
    assert estimate.weighted_f1 <= chance + 0.01 and estimate.weighted_f1 >= chance - 0.06
    assert estimate.ci[0] <= estimate.weighted_f1 <= estimate.ci[1] and estimate.ci[1] - estimate.ci[0] < 0.06
    assert len(estimate.rules) == config.cv_folds and estimate.rows == len(y)


def test_the_estimate_follows_the_signal_and_scores_every_version_of_the_held_out_rows():
    y = labels(700, 2)
    rng = np.random.default_rng(3)
    clean = np.clip(0.35 * y + 0.6 * rng.random(y.shape), 0, 1)
    noisy = np.clip(0.2 * y + 0.75 * rng.random(y.shape), 0, 1)  # the same rows, a weaker signal (as if written with slips)
    estimates = nested_estimates(y, {"clean": clean, "noisy": noisy}, "clean", ThresholdConfig(bootstrap=100), seed=0)
    assert estimates["clean"].weighted_f1 > estimates["noisy"].weighted_f1 + 0.05
    assert estimates["clean"].rules == estimates["noisy"].rules, "one choice per outer fold, applied to both versions"
    assert set(estimates["clean"].per_label_f1) == {"anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"}
    again = nested_estimates(y, {"clean": clean}, "clean", ThresholdConfig(bootstrap=100), seed=0)["clean"]
    assert again == estimates["clean"], "the same seed gives the same estimate"


@pytest.mark.parametrize("draws", [100])
def test_the_bootstrap_interval_covers_the_spread_of_new_samples(draws):
    """Over several samples from one source: each interval is about as wide as the spread of the weighted F1 that the rule
    chosen on it scores on `draws` new samples, and most intervals hold the mean of those new scores."""
    rng = np.random.default_rng(5)

    def sample(seed):
        y = labels(500, seed)
        return y, np.clip(0.4 * y + 0.55 * rng.random(y.shape), 0, 1)

    config, covered = ThresholdConfig(bootstrap=100), 0
    for seed in range(6, 11):
        y, probs = sample(seed)
        estimate = nested_estimates(y, {"clean": probs}, "clean", config, seed=1)["clean"]
        choice = choose_thresholds(y, probs, config, seed=1)
        new = [f1_score(y_new, choice.apply(choice.recalibrated(p_new)), average="weighted", zero_division=0)
               for y_new, p_new in (sample(100 + k) for k in range(draws))]
        low, high = np.percentile(new, [2.5, 97.5])
        assert 0.6 < (estimate.ci[1] - estimate.ci[0]) / (high - low) < 1.6, seed
        covered += estimate.ci[0] <= np.mean(new) <= estimate.ci[1]
    assert covered >= 4, f"{covered} of 5 intervals hold the mean score of new samples"
