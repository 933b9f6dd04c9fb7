import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pandas as pd
import pytest
from conftest import HEADER

from utils.core.settings import RunConfig
from utils.core.splits import LABELS, TEXT, read_split
from utils.eda.plots import (
    plot_alphabet,
    plot_combined_emotions,
    plot_histogram,
    plot_lengths,
    plot_lengths_by_label,
    plot_top_words,
    save_and_show,
)
from utils.eda.statistics import (
    NORMALISED,
    alphabet_by_class,
    alphabet_differences,
    character_class,
    compare_alphabets,
    conditional_cooccurrence,
    cooccurrence,
    describe_summary,
    duplicates_between,
    get_alphabet,
    label_cardinality,
    label_counts,
    length_summary,
    lengths_by_label,
    load_eda_splits,
    oov_table,
    summarize,
    text_lengths,
    top_words,
    write_summary,
)


def make_frame(texts, labels=None, normalised=None):
    """A split as load_eda_splits returns it: text, the 7 labels (names per row), normalised text."""
    labels = labels or [[] for _ in texts]
    frame = pd.DataFrame({TEXT: texts, **{label: [int(label in row) for row in labels] for label in LABELS}})
    return frame.assign(**{NORMALISED: normalised or [" ".join(text.lower().split()) for text in texts]})


@pytest.fixture
def splits():
    train = make_frame(
        ["Привет, мир!", "Я рад 😀", "Страшно и грустно", "Привет, мир!"],
        [["joy", "neutral"], ["joy"], ["fear", "sadness", "anger", "joy"], ["neutral"]],
    )
    valid = make_frame(["Ёлка. Рад", "Мир"], [["joy", "surprise"], []])
    test = make_frame(["привет мир", "елка рад"])
    return {"train": train, "valid": valid, "test": test}


def test_get_alphabet_counts_every_character():
    assert get_alphabet(["аб", "ба!"]) == {"а": 2, "б": 2, "!": 1}
    assert get_alphabet([]) == {}


@pytest.mark.parametrize(
    "char, expected",
    [("Я", "Cyrillic capital"), ("ё", "Cyrillic small"), ("Q", "Latin"), ("7", "digit"), (" ", "space"),
     (",", "punctuation"), ("😀", "emoji"), ("+", "symbol"), ("\u200d", "other")],
)
def test_character_class(char, expected):
    assert character_class(char) == expected


def test_compare_alphabets_shows_what_one_split_lacks(splits):
    table = compare_alphabets(splits)
    assert table.loc["П", ["train", "valid", "test"]].tolist() == [2, 0, 0]
    assert table.loc["П", "missing_from"] == "valid, test"
    assert table.loc["Ё", "missing_from"] == "train, test"
    assert table.loc["😀", "class"] == "emoji" and table.loc["😀", "missing_from"] == "valid, test"
    assert table.loc["р", "missing_from"] == ""  # in привет (train, test) and рад (valid)
    differences = alphabet_differences(table)
    assert "р" not in differences.index and {"П", ",", "!", "😀", "Ё", "."} <= set(differences.index)
    assert (differences["missing_from"] != "").all()
    one_per_class = alphabet_differences(table, per_class=1)
    assert one_per_class["class"].is_unique and one_per_class.loc["П", "train"] == 2


def test_alphabet_by_class_counts_distinct_characters_and_shares(splits):
    by_class = alphabet_by_class(compare_alphabets(splits))
    assert by_class.loc["Cyrillic capital", ("distinct", "train")] == 3  # П, Я, С
    assert by_class.loc["Cyrillic capital", ("distinct", "test")] == 0
    assert by_class.loc["punctuation", ("share", "test")] == 0
    assert by_class.loc["punctuation", ("share", "valid")] == pytest.approx(1 / len("Ёлка. РадМир"))
    np.testing.assert_allclose(by_class["share"].sum().to_numpy(), 1.0)


def test_label_counts_per_labelled_split(splits):
    counts = label_counts(splits).set_index(["split", "label"])
    assert set(counts.index.get_level_values("split")) == {"train", "valid"}
    assert counts.loc[("train", "joy"), "count"] == 3 and counts.loc[("train", "joy"), "share"] == 0.75
    assert counts.loc[("valid", "surprise"), "count"] == 1 and counts.loc[("valid", "disgust"), "count"] == 0


def test_cooccurrence_and_cardinality(splits):
    counts = cooccurrence(splits["train"])
    assert counts.loc["joy", "joy"] == 3 and counts.loc["neutral", "neutral"] == 2
    assert counts.loc["joy", "neutral"] == counts.loc["neutral", "joy"] == 1
    assert counts.loc["fear", "sadness"] == 1 and counts.loc["disgust"].sum() == 0
    shares = conditional_cooccurrence(counts)
    assert shares.loc["joy", "neutral"] == pytest.approx(1 / 3) and shares.loc["neutral", "joy"] == 0.5
    assert np.isnan(np.diag(shares.to_numpy())).all() and (shares.loc["disgust"].fillna(0) == 0).all()
    assert label_cardinality(splits["train"]).to_dict() == {"0": 0, "1": 2, "2": 1, "3+": 1}
    assert label_cardinality(splits["valid"]).to_dict() == {"0": 1, "1": 0, "2": 1, "3+": 0}


def test_text_lengths_per_split_and_label(splits):
    lengths = text_lengths(splits)
    assert lengths[lengths["split"] == "test"][["chars", "words"]].to_numpy().tolist() == [[10, 2], [8, 2]]
    assert lengths["chars"].iloc[0] == len("Привет, мир!")
    by_label = lengths_by_label(lengths)
    assert len(by_label) == 8 + 2  # label occurrences in train and valid; test carries none
    assert sorted(by_label.loc[(by_label["split"] == "train") & (by_label["label"] == "joy"), "words"]) == [2, 3, 3]
    summary = length_summary(lengths)
    assert summary.loc["test", ("chars", "max")] == 10 and summary.loc["train", ("words", "50%")] == 2.5


def test_top_words_skip_the_most_common_words():
    frame = make_frame(
        ["x", "x", "x", "x"], [["joy"], ["joy"], ["anger"], ["anger"]],
        normalised=["и рад рад", "и рад ура", "и злой", "и злой ура"],
    )
    words = top_words(frame, n=1, skip_common=1)
    assert words[words["label"] == "joy"][["word", "count"]].values.tolist() == [["рад", 3]]
    assert words[words["label"] == "anger"][["word", "count"]].values.tolist() == [["злой", 2]]
    assert set(words["label"]) == {"joy", "anger"}
    assert top_words(frame, n=5, skip_common=0).query("label == 'joy'")["word"].tolist() == ["рад", "и", "ура"]


def test_oov_table_measures_unknown_tokens():
    splits = {"test": make_frame(["a"], normalised=["мама ыетс ыетс раму"])}
    row = oov_table(splits, {"мама", "раму"}, examples=3).iloc[0]
    assert (row["tokens"], row["oov_rate"], row["distinct_words"]) == (4, 0.5, 3)
    assert row["distinct_oov_rate"] == pytest.approx(1 / 3) and row["frequent_oov"] == "ыетс (2)"


def test_duplicates_between_splits_exact_and_after_asr_normalisation(splits):
    pairs = duplicates_between(splits).set_index(["first", "second"])
    assert pairs.loc[("train", "valid")].tolist() == [0, 0]
    assert pairs.loc[("train", "test")].tolist() == [0, 1]  # "Привет, мир!" ~ "привет мир"
    assert pairs.loc[("valid", "test")].tolist() == [0, 1]  # "Ёлка. Рад" ~ "елка рад"
    splits["test"] = make_frame(["Мир", "елка рад"])
    pairs = duplicates_between(splits).set_index(["first", "second"])
    assert pairs.loc[("valid", "test")].tolist() == [1, 2]


def test_summary_facts_and_json(splits, tmp_path):
    summary = summarize(splits, oov_table(splits, {"мир"}, examples=2))
    train, test = summary["splits"]["train"], summary["splits"]["test"]
    assert (train["rows"], train["repeated_texts"], train["conflicting_labels"]) == (4, 1, 1)
    assert train["multi_label_share"] == 0.5 and summary["splits"]["valid"]["no_label_share"] == 0.5
    assert train["label_share"]["joy"] == 0.75 and "label_share" not in test
    assert summary["navec_oov_rate"]["test"] == 0.75
    text = describe_summary(summary)
    assert "train: 4 rows" in text and "1 repeated texts (1 with conflicting labels)" in text
    assert "train -> test: 0 / 1" in text and "test 75.0%" in text
    path = tmp_path / "eda" / "summary.json"
    write_summary(summary, path)
    assert json.loads(path.read_text(encoding="utf-8")) == summary


def test_load_eda_splits_adds_normalised_text_and_the_expanded_train(sample_dir, tmp_path, capsys):
    config = RunConfig(data_dir=str(sample_dir), runs_dir=str(tmp_path), name="eda")
    splits = load_eda_splits(config)
    assert list(splits) == ["train", "valid", "test"] and "No expanded train" in capsys.readouterr().out
    train = read_split(sample_dir / "train.csv")
    assert len(splits["train"]) == len(train)
    assert splits["train"][NORMALISED].str.fullmatch(r"[\w ]*").all()  # lower case, no punctuation
    config.run_dir.mkdir(parents=True)
    (config.run_dir / "train_expanded.csv").write_text(
        f"{HEADER},source\nМне страшно!,0,0,1,0,0,0,0,external\nУра,0,0,0,1,0,0,0,synthetic\n", encoding="utf-8"
    )
    splits = load_eda_splits(config)
    assert splits["train_expanded"]["source"].tolist() == ["external", "synthetic"]
    assert splits["train_expanded"][NORMALISED].tolist() == ["мне страшно", "ура"]
    assert "train_expanded" in set(label_counts(splits)["split"])


def test_figures_show_the_numbers_and_save_as_png(splits, tmp_path):
    histogram = plot_histogram(label_counts(splits))
    counts_axis = histogram.axes[0]
    assert sorted(bar.get_height() for bar in counts_axis.patches if bar.get_height() > 0) == [1, 1, 1, 1, 1, 2, 3]
    assert counts_axis.get_title() == "Rows per label" and counts_axis.get_ylabel() == "rows"

    combined = plot_combined_emotions(splits["train"], "train")
    annotated = [int(text.get_text()) for text in combined.axes[0].texts]
    assert annotated == cooccurrence(splits["train"]).to_numpy().ravel().tolist()
    assert "train (4 rows)" in combined.get_suptitle()

    top = pd.DataFrame({"label": ["joy", "joy", "fear"], "rank": [1, 2, 1], "word": ["рад", "ура", "страх"], "count": [3, 1, 2]})
    words = plot_top_words(top, "train")
    assert [tick.get_text() for tick in words.axes[LABELS.index("joy")].get_yticklabels()] == ["рад", "ура"]
    assert [bar.get_width() for bar in words.axes[LABELS.index("fear")].patches] == [2]

    lengths = text_lengths(splits)
    figures = {
        "alphabet": plot_alphabet(alphabet_by_class(compare_alphabets(splits))),
        "histogram": histogram,
        "combined": combined,
        "lengths": plot_lengths(lengths, quantile=0.99),
        "by_label": plot_lengths_by_label(lengths_by_label(lengths)),
        "words": words,
    }
    for name, figure in figures.items():
        assert all(axis.get_title() for axis in figure.axes if axis.axison), name
        path = tmp_path / "eda" / f"{name}.png"
        save_and_show(figure, path)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert not plt.fignum_exists(figure.number)


@pytest.mark.e2e
def test_notebook_runs_on_the_sample_and_writes_figures_and_summary(sample_run, sample_dir):
    eda_dir = sample_run.run_dir / "eda"
    pngs = sorted(path.name for path in eda_dir.glob("*.png"))
    assert pngs == sorted(["alphabet.png", "label_histogram.png", "cooccurrence_train.png", "cooccurrence_valid.png",
                           "text_lengths.png", "lengths_by_label.png", "top_words.png"])
    summary = json.loads((eda_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["splits"]["valid"]["rows"] == len(read_split(sample_dir / "valid.csv"))
    executed = sample_run.run_dir / "notebooks" / "01_eda.ipynb"
    shown = [out for cell in nbformat.read(executed, as_version=4).cells for out in cell.get("outputs", [])
             if "image/png" in out.get("data", {})]
    assert len(shown) == len(pngs)


def test_the_real_test_split_lacks_capitals_and_punctuation(competition_dir):
    from utils.core.splits import load_competition

    competition = load_competition(competition_dir)
    splits = {"train": competition.train, "valid": competition.valid, "test": competition.test}
    by_class = alphabet_by_class(compare_alphabets(splits))
    assert by_class.loc["Cyrillic capital", ("distinct", "test")] == 0 < by_class.loc["Cyrillic capital", ("distinct", "train")]
    assert by_class.loc["punctuation", ("share", "test")] == 0 < by_class.loc["punctuation", ("share", "valid")]
