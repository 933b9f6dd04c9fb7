"""k folds over valid: every fold trains on rows it never scores, and every out-of-fold row comes from the model that did not
see it."""
import numpy as np
from tiny_models import tiny_navec_config

from utils.core.settings import TextConfig, TrainConfig
from utils.core.splits import label_matrix, load_competition
from utils.training.folds import train_on_valid_folds, valid_folds
from utils.training.model import build_model
from utils.training.prediction import predict_dataset


def test_each_fold_holds_out_rows_it_never_trains_on_and_every_row_once(sample_dir):
    labels = label_matrix(load_competition(sample_dir).valid)
    folds = valid_folds(labels, 5, seed=3)
    held = np.concatenate([held_out for _, held_out in folds])
    assert sorted(held.tolist()) == list(range(len(labels))), "every valid row is held out exactly once"
    for fit_rows, held_out in folds:
        assert not set(fit_rows) & set(held_out) and len(fit_rows) + len(held_out) == len(labels)


def test_every_out_of_fold_row_is_predicted_by_the_model_that_did_not_see_it(sample_dir):
    data = load_competition(sample_dir)
    model = build_model(tiny_navec_config(), [*data.train.text, *data.valid.text], TextConfig())
    train, valid = model.dataset(data.train.text, label_matrix(data.train)), model.dataset(data.valid.text, label_matrix(data.valid))
    config = TrainConfig(epochs=1, folds=3, batch_size=64, num_threads=1)
    result = train_on_valid_folds(model, train, valid, config, seed=5)
    for k, (_, held_out) in enumerate(valid_folds(label_matrix(data.valid), 3, seed=5)):
        own, _ = predict_dataset(result.models[k], valid.rows(held_out), desc=None)
        assert np.allclose(own, result.oof_probs[held_out], atol=1e-6), f"fold {k}'s held-out rows come from fold {k}'s model"
        others = [predict_dataset(m, valid.rows(held_out), desc=None)[0] for j, m in enumerate(result.models) if j != k]
        assert all(not np.allclose(other, result.oof_probs[held_out], atol=1e-6) for other in others)
