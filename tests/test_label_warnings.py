"""A label no training row carries: the warning says which files carry it and what the models see, not that no model can
learn it when the fold models train on valid rows that carry it."""
import pandas as pd

from utils.core.splits import LABELS, warn_absent_labels


def frame(rows):
    return pd.DataFrame([["текст", *row] for row in rows], columns=["text", *LABELS])


TRAIN = frame([[1, 0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0, 1]])  # no disgust, fear, sadness, surprise
VALID = frame([[0, 1, 0, 0, 0, 0, 0], [0, 1, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0]])  # disgust twice, fear once


def test_k_fold_models_learn_a_label_from_the_valid_rows_that_carry_it(capsys):
    assert warn_absent_labels(TRAIN, "train.csv", VALID, folds=5) == ["disgust", "fear", "sadness", "surprise"]
    printed = capsys.readouterr().out
    assert printed.startswith("Warning: train.csv has no row with the label(s) ['disgust', 'fear', 'sadness', 'surprise']; "
                              "valid.csv carries {'disgust': 2, 'fear': 1} (rows): with train.folds 5 each fold model trains on "
                              "the valid rows of its other 4 folds")
    assert "no row of train.csv or valid.csv carries ['sadness', 'surprise']: no model sees them, so none predicts them" in printed
    assert "cannot learn" not in printed and printed.count("\n") == 1


def test_a_model_trained_on_train_only_never_sees_it(capsys):
    warn_absent_labels(TRAIN, "train_expanded.csv", VALID, folds=0)
    printed = capsys.readouterr().out
    assert ("valid.csv carries {'disgust': 2, 'fear': 1} (rows), but with train.folds 0 the models train on train_expanded.csv "
            "only and never see them: expect an F1 near 0 for them") in printed


def test_nothing_is_said_when_train_carries_every_label(capsys):
    assert warn_absent_labels(frame([[1] * 7]), "train.csv", VALID, folds=5) == []
    assert capsys.readouterr().out == ""
