"""train.seeds: the neural member trained once per seed, its folds and initial weights from that seed, probabilities averaged."""
import numpy as np
import pandas as pd
import pytest
from test_training import run_training_products

from utils.core.probs_files import read_probs
from utils.core.settings import ConfigError, RunConfig
from utils.training.checkpoint import load_models

SMALL = {"model.navec.hidden_size": 16, "model.navec.ngram_buckets": 2048, "train.epochs": 1, "train.folds": 2, "tfidf.weight": 0.0}


def test_seeds_average_the_runs_of_each_seed_and_keep_every_model(tmp_path):
    single = {seed: run_training_products(tmp_path, f"s{seed}", {**SMALL, "seed": seed})[0] for seed in (3, 4)}
    averaged, metrics = run_training_products(tmp_path, "seeds", {**SMALL, "seed": 3, "train.seeds": [3, 4]})
    counted, _ = run_training_products(tmp_path, "two", {**SMALL, "seed": 4, "train.seeds": 2})  # seeds 4 and 1004
    assert pd.read_csv(counted / "training_log.csv")["seed"].tolist() == [4, 4, 1004, 1004]
    assert not np.allclose(read_probs(counted / "valid_probs_raw.csv"), read_probs(single[4] / "valid_probs_raw.csv"), atol=1e-3)
    expected = (read_probs(single[3] / "valid_probs_raw.csv") + read_probs(single[4] / "valid_probs_raw.csv")) / 2
    assert np.allclose(read_probs(averaged / "valid_probs_raw.csv"), expected, atol=1e-6)
    assert metrics["models"] == 4 and len(load_models(averaged / "model")) == 4
    log = pd.read_csv(averaged / "training_log.csv")
    assert log["seed"].tolist() == [3, 3, 4, 4] and log["fold"].tolist() == [0, 1, 0, 1]
    assert not (averaged / "model" / "checkpoints").exists()


def test_each_seeds_held_out_rows_are_scored_by_the_model_that_did_not_train_on_them(tmp_path):
    # without noise the "noisy" held-out rows are the scored rows themselves: equal only when every seed's fold k scores
    # the rows fold k held out
    run_dir, _ = run_training_products(tmp_path, "seeds", {**SMALL, "train.seeds": [5, 6], "train.score_as_test": True,
                                                           "expansion.augment.asr_slip_rate": 0.0})
    assert np.allclose(read_probs(run_dir / "valid_probs_asr_noise_raw.csv"), read_probs(run_dir / "valid_probs_raw.csv"), atol=1e-6)


def test_a_repeated_seed_is_refused():
    with pytest.raises(ConfigError, match=r"train.seeds \[1, 1\] repeats a seed"):
        RunConfig.from_mapping({"train": {"seeds": [1, 1]}})
