"""The prediction interval for the test score: it covers the score of a test drawn like valid, and summary.json shows it
with the spread of each source (the valid rows, the test's own sampling, the rule's choice, the seed: a benchmark's when it
measured the run)."""
import json
import math

import numpy as np
from conftest import SAMPLE_DIR
from sklearn.metrics import f1_score

from utils.core.decisions import row_resamples
from utils.core.prediction_interval import SEED_SD, prediction_interval
from utils.core.run_record import step_settings
from utils.core.settings import ThresholdConfig
from utils.core.settings_io import load_config
from utils.core.summary import estimate_lines, run_summary
from utils.thresholds.estimate import nested_decisions, nested_estimates, rule_spread, score
from utils.thresholds.search import choose_thresholds

SHARES = np.array([0.13, 0.02, 0.02, 0.41, 0.07, 0.12, 0.33])  # valid's label shares
FAST = ThresholdConfig(bootstrap=50, grid_step=0.05, recalibrate=False, empty_rules=["top"], rounds=1)  # the procedure, cheaper


def draw(rows, rng):
    y = (rng.random((rows, 7)) < SHARES).astype(np.int64)
    return y, np.clip(0.4 * y + 0.55 * rng.random(y.shape), 0, 1)


def test_resamples_can_draw_another_number_of_rows_than_the_source_has():
    counts = row_resamples(600, 20, seed=0, size=2000)
    assert counts.shape == (20, 600) and set(counts.sum(axis=1)) == {2000}
    assert set(row_resamples(600, 5, seed=0).sum(axis=1)) == {600}


def test_the_prediction_interval_covers_the_score_of_a_test_drawn_like_valid():
    """Valid (600 rows) and a test drawn from one source, the seed's spread 0: the interval (estimate on valid, rule chosen
    on all of valid) holds the rule's test score in at least 90% of draws (0.95 over 200 draws at both test sizes); without
    the rule's choice it holds it less often (0.81 and 0.90 there); the interval over valid rows alone misses a small test."""
    sizes, draws = (2000, 150), 30
    covered, without_rule, row_interval_covers = (dict.fromkeys(sizes, 0) for _ in range(3))
    for k in range(draws):
        rng = np.random.default_rng(k)
        (y, probs), (y_test, probs_test) = draw(600, rng), draw(2000, rng)
        decisions, rules, rule_sd = nested_decisions(y, {"clean": probs}, "clean", FAST, seed=k)
        choice = choose_thresholds(y, probs, FAST, seed=k)
        decided_test = choice.apply(choice.recalibrated(probs_test))
        for rows in sizes:
            estimate = score(y, decisions["clean"], rules, seed=k, test_rows=rows, rule_sd=rule_sd)
            low, high = prediction_interval(estimate.weighted_f1, [estimate.sd, estimate.test_sd, estimate.rule_sd, 0.0])
            narrower = prediction_interval(estimate.weighted_f1, [estimate.sd, estimate.test_sd, 0.0])
            test_f1 = f1_score(y_test[:rows], decided_test[:rows], average="weighted", zero_division=0)
            covered[rows] += low <= test_f1 <= high
            without_rule[rows] += narrower[0] <= test_f1 <= narrower[1]
            row_interval_covers[rows] += estimate.ci[0] <= test_f1 <= estimate.ci[1]
            assert high - low > estimate.ci[1] - estimate.ci[0], "the test's sampling widens the interval over valid rows"
    assert covered[2000] >= 0.9 * draws and covered[150] >= 0.9 * draws, covered
    assert without_rule[2000] < covered[2000], (without_rule, covered)
    assert row_interval_covers[150] <= covered[150] - 0.25 * draws, (row_interval_covers, covered)


def test_the_rule_choice_is_the_spread_of_the_folds_rules_on_the_same_rows():
    assert rule_spread([0.60, 0.62, 0.64]) == 0.02 and rule_spread([0.6] * 5) == 0.0
    rng = np.random.default_rng(3)
    y, probs = draw(400, rng)
    noisy = np.clip(probs + 0.1 * rng.standard_normal(probs.shape), 0, 1)
    estimates = nested_estimates(y, {"clean": probs, "noisy": noisy}, "clean", FAST, seed=0)
    assert 0 < estimates["clean"].rule_sd == estimates["noisy"].rule_sd < 0.05, "the rules are scored on the tuned-on rows"
    assert estimates["clean"].as_dict()["rule_sd"] == estimates["clean"].rule_sd


def test_the_spread_on_a_test_sized_sample_shrinks_with_its_rows():
    rng = np.random.default_rng(0)
    y, probs = draw(800, rng)
    decisions = (probs >= 0.5).astype(np.int64)
    small, large = (score(y, decisions, [], seed=0, test_rows=rows) for rows in (200, 3200))
    assert small.sd == large.sd and small.test_rows == 200 and large.test_rows == 3200
    assert 0.8 < small.test_sd / (small.sd * 2) < 1.25 and 0.8 < large.test_sd / (large.sd / 2) < 1.25, "sd ~ 1/sqrt(rows)"
    assert score(y, decisions, [], seed=0).test_sd is None


def recorded_run(path, estimate, overrides=None, data_dir=None):
    """A run folder with a record (the settings of notebooks 03 and 04) and estimate.json."""
    config = load_config(None, overrides or {})
    path.mkdir()
    steps = {name: {"status": "done", "settings": step_settings(config, name)} for name in ("03_training", "04_threshold_search")}
    (path / "manifest.json").write_text(json.dumps({"run": path.name, "status": "finished", "data_dir": data_dir, "steps": steps}))
    (path / "estimate.json").write_text(json.dumps({"asr_noise": estimate}))
    return path


ESTIMATE = {"weighted_f1": 0.64, "ci": [0.63, 0.65], "per_label_f1": {}, "rows": 600, "rules": [], "sd": 0.005, "test_rows": 2000,
            "test_sd": 0.003, "rule_sd": 0.004}


def test_summary_holds_the_prediction_interval_with_its_parts_and_the_default_seed_spread(tmp_path):
    summary = run_summary(recorded_run(tmp_path / "run", ESTIMATE), tmp_path / "no-results.json")
    half = 1.96 * math.sqrt(0.005**2 + 0.003**2 + 0.004**2 + SEED_SD**2)
    assert summary["test_f1_interval"] == [round(0.64 - half, 4), round(0.64 + half, 4)] == [0.6238, 0.6562]
    assert summary["cv_weighted_f1_ci"] == [0.63, 0.65], "the interval over valid rows keeps its name"
    parts = summary["test_f1_interval_parts"]
    assert parts["valid_rows_sd"] == 0.005 and parts["test_sampling_sd"] == 0.003 and parts["test_rows"] == 2000
    assert parts["rule_choice_sd"] == 0.004
    assert parts["seed_sd"] == SEED_SD == 0.0043 and parts["seed_sd_from"].startswith("default")
    lines = estimate_lines(summary)
    assert lines[0].startswith("honest estimate of weighted F1: 0.6400 (95% interval over valid rows 0.6300-0.6500): ")
    assert lines[1] == ("  on a test of 2,000 rows expect 0.6238-0.6562 (95% prediction interval; standard deviations: valid rows "
                        "0.0050, the test's own sampling 0.0030, the rule's choice 0.0040, seed 0.0043 from default: the default "
                        "run's test F1 over seeds 42, 1, 2)")


def test_a_benchmark_of_the_same_settings_gives_the_seed_spread(tmp_path):
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"variants": [{"name": "default", "overrides": {}, "seed_sd": 0.006},
                                                {"name": "tfidf-off", "overrides": {"tfidf.weight": 0.0}, "seed_sd": 0.009},
                                                {"name": "epochs-5", "overrides": {"train.epochs": 5}},
                                                {"name": "epochs-3", "overrides": {"train.epochs": 3}, "seed_sd": 0.002}]}))
    default = "default: the default run's test F1 over seeds 42, 1, 2"
    for name, overrides, seed_sd, source in (("seed-1", {"seed": 1}, 0.006, "benchmark variant 'default' in results.json"),
                                             ("off", {"tfidf.weight": 0}, 0.009, "benchmark variant 'tfidf-off' in results.json"),
                                             ("five", {"train.epochs": 5}, SEED_SD, default),
                                             ("three", {"train.epochs": 3}, SEED_SD,
                                              f"{default}, more than the 0.0020 over the seeds of benchmark variant 'epochs-3' "
                                              "in results.json")):
        parts = run_summary(recorded_run(tmp_path / name, ESTIMATE, overrides), results)["test_f1_interval_parts"]
        assert parts["seed_sd"] == seed_sd and parts["seed_sd_from"] == source, name


def test_an_older_estimate_gets_its_spreads_from_its_interval_and_the_test_file(tmp_path):
    older = {key: ESTIMATE[key] for key in ("weighted_f1", "ci", "per_label_f1", "rows", "rules")}
    summary = run_summary(recorded_run(tmp_path / "run", older, data_dir=str(SAMPLE_DIR)), tmp_path / "none.json")
    parts, valid_sd = summary["test_f1_interval_parts"], 0.02 / (2 * 1.96)
    assert parts["test_rows"] == 150 and parts["valid_rows_sd"] == round(valid_sd, 5)
    assert parts["test_sampling_sd"] == round(valid_sd * math.sqrt(600 / 150), 5)
    assert parts["rule_choice_sd"] is None and "the rule's choice not measured (0), seed" in estimate_lines(summary)[1]
    assert summary["test_f1_interval"] == prediction_interval(0.64, [valid_sd, valid_sd * math.sqrt(600 / 150), SEED_SD])
    summary = run_summary(recorded_run(tmp_path / "nowhere", older), tmp_path / "none.json")
    assert summary["test_f1_interval"] is None and len(estimate_lines(summary)) == 1, "no test file, no size: no prediction"
