"""Notebook 06: the run's decisions rebuilt from its products, the tables of its mistakes, the word weights, the notebook."""
import json

import matplotlib
import numpy as np
import pandas as pd
import pytest

from utils.analysis.mistakes import (
    NO_WRONG_LABEL,
    ValidDecisions,
    confident_mistakes,
    f1_by_group,
    load_valid_decisions,
    mistaken_for,
    per_label_errors,
    text_groups,
)
from utils.analysis.plots import plot_f1_by_group, plot_label_errors, plot_mistaken_for, plot_word_weights
from utils.analysis.words import load_linear_member, word_weights
from utils.core.probs_files import write_probs
from utils.core.run_record import update_record
from utils.core.settings import TextConfig
from utils.core.splits import LABELS, label_matrix, read_split
from utils.members.tfidf import TfidfClassifier, TfidfConfig
from utils.thresholds.recalibration import Recalibration
from utils.thresholds.search import ThresholdChoice

matplotlib.use("Agg")
ANGER, JOY, SADNESS, SURPRISE, NEUTRAL = (LABELS.index(name) for name in ("anger", "joy", "sadness", "surprise", "neutral"))


def choice(thresholds=0.5, empty_rule="none", recalibration=None) -> ThresholdChoice:
    values = dict(zip(LABELS, np.broadcast_to(thresholds, len(LABELS)).tolist()))
    return ThresholdChoice(mode="global", empty_rule=empty_rule, thresholds=values, in_sample_f1=0.0, cv_f1=0.61, table=[], note="",
                           recalibration=recalibration)


def rows(*labels) -> np.ndarray:
    """A (rows, 7) 0/1 matrix from one list of label indices per row."""
    matrix = np.zeros((len(labels), len(LABELS)), dtype=np.int64)
    for row, indices in enumerate(labels):
        matrix[row, list(indices)] = 1
    return matrix


@pytest.fixture
def four_rows() -> ValidDecisions:
    """Row 0 right (anger); row 1 joy right, surprise missed, neutral wrongly; row 2 neutral missed, joy wrongly; row 3 sadness missed."""
    y = rows([ANGER], [JOY, SURPRISE], [NEUTRAL], [SADNESS])
    probs = np.full(y.shape, 0.1)
    probs[0, ANGER], probs[1, JOY], probs[1, NEUTRAL], probs[1, SURPRISE] = 0.8, 0.6, 0.7, 0.4
    probs[2, JOY], probs[2, NEUTRAL], probs[3, SADNESS] = 0.9, 0.05, 0.2
    texts = ["Бесит 😡", "ура, вот это да", "обычный день сегодня был у нас", "[ИМЯ] ушёл навсегда"]
    return ValidDecisions(texts, y, probs, (probs >= 0.5).astype(np.int64), choice())


def test_errors_per_label_count_each_kind_of_decision(four_rows):
    table = per_label_errors(four_rows).set_index("label")
    assert table.loc["anger", ["rows", "predicted", "true_pos", "false_pos", "false_neg"]].tolist() == [1, 1, 1, 0, 0]
    assert table.loc["joy", ["rows", "predicted", "true_pos", "false_pos", "false_neg"]].tolist() == [1, 2, 1, 1, 0]
    assert table.loc["neutral", ["true_pos", "false_pos", "false_neg"]].tolist() == [0, 1, 1]
    assert table.loc["joy", ["precision", "recall", "f1"]].tolist() == pytest.approx([0.5, 1.0, 2 / 3])
    assert table.loc["weighted", ["rows", "predicted", "true_pos", "false_pos", "false_neg"]].tolist() == [5, 4, 2, 2, 3]
    assert table.loc["weighted", "f1"] == pytest.approx((1 + 2 / 3) / 5), "support-weighted over the 5 labels present"


def test_mistaken_for_pairs_each_missed_label_with_the_wrong_ones_of_its_row(four_rows):
    table = mistaken_for(four_rows).set_index("missed")
    assert list(table.columns) == [*LABELS, NO_WRONG_LABEL]
    expected = pd.DataFrame(0, index=LABELS, columns=[*LABELS, NO_WRONG_LABEL])
    expected.loc["surprise", "neutral"] = expected.loc["neutral", "joy"] = expected.loc["sadness", NO_WRONG_LABEL] = 1
    assert (table.to_numpy() == expected.to_numpy()).all()


def test_confident_mistakes_come_farthest_from_the_threshold_first(four_rows):
    positives = confident_mistakes(four_rows, "false_positive")
    assert positives[["index", "label", "probability"]].values.tolist() == [[2, "joy", 0.9], [1, "neutral", 0.7]]
    assert positives.loc[0, "true labels"] == "neutral" and positives.loc[0, "predicted"] == "joy"
    assert positives.loc[0, "text"] == "обычный день сегодня был у нас"
    negatives = confident_mistakes(four_rows, "false_negative", n=2)
    assert negatives[["index", "label"]].values.tolist() == [[2, "neutral"], [3, "sadness"]]
    assert (negatives["threshold"] == 0.5).all()
    with pytest.raises(ValueError, match="direction 'both': expected one of"):
        confident_mistakes(four_rows, "both")


def test_texts_are_grouped_by_length_emoji_name_and_slip_words():
    texts = ["Ура 😀", "[ИМЯ] пришёл", "ну ыетс вообще жесть да", "Имя у него очень красивое"]
    groups = text_groups(texts, {"ыетс": "это"}, length_bins=2)
    assert groups["length"].astype(str).tolist() == ["1-3 words", "1-3 words", "4-5 words", "4-5 words"]
    assert groups["emoji"].tolist() == ["with emoji", "without emoji", "without emoji", "without emoji"]
    assert groups["name"].tolist() == ["without 'имя'", "with 'имя'", "without 'имя'", "with 'имя'"]
    assert groups["slip word"].tolist() == ["without a slip word", "without a slip word", "with a slip word", "without a slip word"]


def test_f1_by_group_scores_each_group_on_its_own_rows(four_rows):
    groups = text_groups(four_rows.texts, {}, length_bins=2)
    table = f1_by_group(four_rows, groups).set_index(["grouping", "group"])
    assert table.loc[("all", "all rows"), ["rows", "weighted_f1"]].tolist() == pytest.approx([4, (1 + 2 / 3) / 5])
    assert table.loc[("emoji", "with emoji"), ["rows", "share", "weighted_f1"]].tolist() == pytest.approx([1, 0.25, 1.0])
    assert table.loc[("emoji", "without emoji"), "weighted_f1"] == pytest.approx((2 / 3) / 4)
    assert table.loc[("name", "with 'имя'"), ["rows", "weighted_f1"]].tolist() == [1, 0.0]
    assert ("slip word", "with a slip word") not in table.index, "an empty group is left out"


def test_the_decisions_are_the_runs_rule_applied_to_its_raw_probabilities(tmp_path, sample_dir):
    valid = read_split(sample_dir / "valid.csv")
    y = label_matrix(valid)
    raw = np.clip(0.5 * y + 0.4 * np.random.default_rng(0).random(y.shape), 0, 1)
    write_probs(raw, tmp_path / "valid_probs_raw.csv")
    (tmp_path / "thresholds.json").write_text(json.dumps(choice(0.45, "top").as_dict()))
    data = load_valid_decisions(tmp_path, sample_dir)
    assert data.texts == valid["text"].tolist() and (data.y == y).all()
    above = raw >= 0.45
    top_of_empty_rows = (raw == raw.max(axis=1, keepdims=True)) & ~above.any(axis=1, keepdims=True)  # the 'top' no-label rule
    assert (data.decisions == (above | top_of_empty_rows)).all()
    recalibration = Recalibration.fit(y, raw).as_dict()
    (tmp_path / "thresholds.json").write_text(json.dumps(choice(0.45, "none", recalibration).as_dict()))
    data = load_valid_decisions(tmp_path, sample_dir)
    assert np.allclose(data.probs, Recalibration(**recalibration).apply(raw)) and not np.allclose(data.probs, raw)
    assert (data.decisions == (data.probs >= 0.45)).all()


def test_a_run_without_probabilities_or_thresholds_is_refused_by_name(tmp_path, sample_dir):
    (tmp_path / "thresholds.json").write_text(json.dumps(choice().as_dict()))
    with pytest.raises(FileNotFoundError, match=r"missing \['valid_probs_raw.csv'\]; notebook 03 writes valid_probs_raw.csv"):
        load_valid_decisions(tmp_path, sample_dir)


@pytest.fixture
def member() -> TfidfClassifier:
    """A TF-IDF member of two regression sets with chosen coefficients: anger leans on 'злой' (mean 1.0), then 'ужас' (0.5)."""
    texts = ["злой злой день", "ужас какой злой", "хороший день", "ужас хороший"]
    model = TfidfClassifier(TfidfConfig(min_df=1), TextConfig()).fit_vocabulary(texts)
    words = list(model.vectorizers["words"].get_feature_names_out())
    chars = list(model.vectorizers["chars"].get_feature_names_out())
    coef = np.zeros((2, len(LABELS), len(words) + len(chars)), dtype=np.float32)
    coef[0, ANGER, words.index("злой")] = 2.0
    coef[:, ANGER, words.index("ужас")] = 0.5
    coef[:, ANGER, len(words) + chars.index("зло")] = 5.0  # a character n-gram: not a word
    model.coef, model.intercept = coef, np.zeros((2, len(LABELS)), dtype=np.float32)
    return model


def test_word_weights_rank_the_mean_coefficients_of_one_kind_of_feature(member, tmp_path, capsys):
    weights = word_weights(member, n=2)
    assert weights[weights["label"] == "anger"][["term", "weight"]].values.tolist() == [["злой", 1.0], ["ужас", 0.5]]
    assert len(weights) == 2 * len(LABELS)
    assert word_weights(member, n=1, kind="chars").loc[0, ["term", "weight"]].tolist() == ["зло", 5.0]
    with pytest.raises(ValueError, match="no 'lemmas' features in this TF-IDF member; it has \\['words', 'chars'\\]"):
        word_weights(member, kind="lemmas")
    member.save(tmp_path / "members" / "words")  # a member of kind tfidf named "words", as notebook 03 records it
    update_record(tmp_path, lambda record: record["steps"].update({"03_training": {"members": {
        "net": {"kind": "bigru", "path": "model", "weight": 0.5}, "words": {"kind": "tfidf", "path": "members/words", "weight": 0.5}}}}))
    assert word_weights(load_linear_member(tmp_path), n=2).equals(weights), "the saved member gives the same weights"
    assert load_linear_member(tmp_path / "elsewhere") is None
    assert "No TF-IDF member in" in capsys.readouterr().out


def test_every_figure_has_titles_and_labelled_axes(four_rows, member):
    import matplotlib.pyplot as plt

    groups = text_groups(four_rows.texts, {}, length_bins=2)
    figures = [plot_label_errors(per_label_errors(four_rows)), plot_mistaken_for(mistaken_for(four_rows)),
               plot_f1_by_group(f1_by_group(four_rows, groups)), plot_word_weights(word_weights(member, n=3))]
    for figure in figures:
        shown = [axis for axis in figure.axes if axis.axison]
        assert shown and all(axis.get_title() for axis in shown)
        assert any(axis.get_xlabel() for axis in shown) and any(axis.get_ylabel() for axis in shown)
        plt.close(figure)


@pytest.mark.e2e
def test_notebook_06_runs_on_the_sample_and_writes_its_tables_and_figures(sample_run):
    import nbformat

    errors = sample_run.run_dir / "errors"
    pngs = sorted(path.name for path in errors.glob("*.png"))
    assert pngs == ["f1_by_group.png", "mistaken_for.png", "per_label.png", "word_weights.png"]
    assert sorted(path.name for path in errors.glob("*.csv")) == [
        "f1_by_group.csv", "false_negatives.csv", "false_positives.csv", "mistaken_for.csv", "per_label.csv", "word_weights.csv"]
    assert len(pd.read_csv(errors / "false_positives.csv")) == 15
    assert pd.read_csv(errors / "per_label.csv")["label"].tolist() == [*LABELS, "weighted"]
    executed = sample_run.run_dir / "notebooks" / "06_error_analysis.ipynb"
    outputs = [out for cell in nbformat.read(executed, as_version=4).cells for out in cell.get("outputs", [])]
    shown = [out for out in outputs if "image/png" in out.get("data", {})]
    assert len(shown) == len(pngs)
