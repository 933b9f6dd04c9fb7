import numpy as np
import pandas as pd
import pytest
from conftest import HEADER

from utils.core.splits import (
    LABELS,
    MAX_TEXT_CHARS,
    DataError,
    label_matrix,
    lists_to_onehot,
    load_competition,
    onehot_to_lists,
    read_split,
    warn_absent_labels,
)

GOOD = HEADER + "\nПривет всем!,0,0,0,1,0,0,0\n\"Ну, это страшно\",0,0,1,0,1,0,0\n"


def test_reads_a_good_file(write_file):
    frame = read_split(write_file("train.csv", GOOD))
    assert list(frame.columns) == ["text", *LABELS]
    assert frame["text"].tolist() == ["Привет всем!", "Ну, это страшно"]
    assert label_matrix(frame).tolist() == [[0, 0, 0, 1, 0, 0, 0], [0, 0, 1, 0, 1, 0, 0]]


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv: file not found; expected a CSV with header text,anger"):
        read_split(tmp_path / "nope.csv")


def test_missing_label_column(write_file):
    path = write_file("train.csv", "text,anger,disgust,fear,joy,sadness,surprise\nа,0,0,0,0,0,0\n")
    with pytest.raises(DataError, match=r"train\.csv, header row: missing label column\(s\) \['neutral'\]"):
        read_split(path)


def test_extra_label_column(write_file):
    path = write_file("train.csv", HEADER + ",love\nа,0,0,0,0,0,0,1,1\n")
    with pytest.raises(DataError, match=r"train\.csv, header row: unexpected column\(s\) \['love'\]"):
        read_split(path)


def test_extra_columns_can_be_allowed(write_file):
    frame = read_split(write_file("x.csv", HEADER + ",source\nа,0,0,0,0,0,0,1,izard\n"), extra_columns=("source",))
    assert frame["source"].tolist() == ["izard"]


@pytest.mark.parametrize(
    "value, shown",
    [("2", "'2'"), ("", "an empty value"), ("yes", "'yes'"), ("0.5", "'0.5'"), ("NaN", "'NaN'")],
)
def test_bad_label_value_names_line_and_column(write_file, value, shown):
    path = write_file("valid.csv", GOOD + f"Третий,0,0,0,0,{value},0,0\n")
    with pytest.raises(DataError, match=rf"valid\.csv, line 4, column 'sadness': expected 0 or 1, got {shown}"):
        read_split(path)


def test_float_strings_that_parse_to_0_or_1_are_fine(write_file):
    frame = read_split(write_file("train.csv", HEADER + "\nа,1.0,0.0, 0 ,0,0,0,1\n"))
    assert label_matrix(frame).tolist() == [[1, 0, 0, 0, 0, 0, 1]]


def test_empty_text_is_dropped_from_labelled_files_with_a_count(write_file, capsys):
    frame = read_split(write_file("train.csv", GOOD + "\"   \",0,0,0,0,0,0,1\n,0,0,0,0,0,0,1\n"))
    assert len(frame) == 2
    assert "dropped 2 row(s) with empty text: lines 4, 5" in capsys.readouterr().out


def test_empty_text_is_kept_in_the_test_file(write_file, capsys):
    frame = read_split(write_file("test.csv", HEADER + "\nпривет,0,0,0,0,0,0,0\n,0,0,0,0,0,0,0\n"), test=True)
    assert len(frame) == 2
    assert "1 row(s) with empty text kept" in capsys.readouterr().out


def test_duplicate_header_column(write_file):
    path = write_file("train.csv", HEADER + ",joy\nа,0,0,0,1,0,0,0,1\n")
    with pytest.raises(DataError, match=r"train\.csv, header row: column 'joy' appears 2 times \(positions \[5, 9\]\)"):
        read_split(path)


def test_repeated_header_row(write_file):
    with pytest.raises(DataError, match=r"train\.csv, line 4: repeats the header row"):
        read_split(write_file("train.csv", GOOD + HEADER + "\n"))


@pytest.mark.parametrize("row, fields", [("коротко,0,1", 3), ("длинно,0,0,0,0,0,0,1,1,1", 10)])
def test_row_with_wrong_field_count(write_file, row, fields):
    with pytest.raises(DataError, match=rf"train\.csv, line 4: has {fields} fields, the header has 8"):
        read_split(write_file("train.csv", GOOD + row + "\n"))


def test_utf8_bom_is_read(write_file, capsys):
    frame = read_split(write_file("train.csv", GOOD, encoding="utf-8-sig"))
    assert frame["text"].iloc[0] == "Привет всем!"
    assert "byte-order mark" in capsys.readouterr().out


def test_cp1251_is_read_not_mojibake(write_file, capsys):
    frame = read_split(write_file("train.csv", GOOD, encoding="cp1251"))
    assert frame["text"].tolist() == ["Привет всем!", "Ну, это страшно"]
    assert "read as Windows-1251" in capsys.readouterr().out


def test_undecodable_bytes_are_refused(write_file):
    latin1 = HEADER + "\nTrès bien,0,0,0,1,0,0,0\nUn café noir,0,0,0,0,0,0,1\n"
    with pytest.raises(DataError, match=r"train\.csv: it is not UTF-8 \(byte 0xe8 on line 2\), nor Windows-1251"):
        read_split(write_file("train.csv", latin1, encoding="latin-1"))


def test_test_file_with_other_column_order_is_reordered(write_file, capsys):
    shuffled = "neutral,joy,text,anger,disgust,fear,sadness,surprise\n1,0,привет,0,0,0,0,0\n0,1,ура,0,0,0,0,0\n"
    frame = read_split(write_file("test_without_answers.csv", shuffled), test=True)
    assert list(frame.columns) == ["text", *LABELS]
    assert frame.loc[0, "neutral"] == 1 and frame.loc[1, "joy"] == 1 and frame.loc[1, "neutral"] == 0
    assert "reordered by name" in capsys.readouterr().out


def test_test_file_may_hold_only_text(write_file):
    frame = read_split(write_file("test.csv", "text\nпривет\nпока\n"), test=True)
    assert label_matrix(frame).sum() == 0 and len(frame) == 2


def test_texts_like_na_stay_text(write_file):
    frame = read_split(write_file("train.csv", HEADER + "\nNA,0,0,0,0,0,0,1\nnull,0,0,0,0,0,0,1\n"))
    assert frame["text"].tolist() == ["NA", "null"]


def test_label_list_helpers_round_trip():
    lists = [["joy", "surprise"], [], ["neutral"]]
    onehot = lists_to_onehot(lists)
    assert onehot.tolist() == [[0, 0, 0, 1, 0, 1, 0], [0] * 7, [0, 0, 0, 0, 0, 0, 1]]
    assert onehot_to_lists(onehot) == lists
    with pytest.raises(ValueError, match=r"row 1: unknown label 'love'"):
        lists_to_onehot([["love"]])


def test_sample_data_is_valid(sample_dir):
    data = load_competition(sample_dir)
    assert len(data.train) >= 300 and len(data.valid) >= 100 and len(data.test) >= 100
    assert (label_matrix(data.train).sum(axis=0) > 0).all()
    assert (label_matrix(data.train).sum(axis=1) > 1).any()
    assert label_matrix(data.test).sum() == 0


def test_competition_files_read(competition_dir):
    data = load_competition(competition_dir)
    assert (len(data.train), len(data.valid), len(data.test)) == (26945, 5426, 8742)
    assert label_matrix(data.valid).sum(axis=0).tolist() == [717, 97, 105, 2219, 390, 624, 1766]
    assert np.all(label_matrix(data.test) == 0)


@pytest.mark.parametrize("name, test", [("train.csv", False), ("valid.csv", False), ("test_without_answers.csv", True)])
def test_a_header_without_rows_is_refused(write_file, name, test):
    with pytest.raises(DataError, match=rf"{name}: a header and no data rows; expected at least one row under text,anger"):
        read_split(write_file(name, HEADER + "\n"), test=test)


@pytest.mark.parametrize("length", [MAX_TEXT_CHARS + 1, 200_000])  # the second is over Python's csv field limit (131,072)
def test_a_text_longer_than_the_limit_names_file_line_and_column(write_file, length):
    content = HEADER + "\nкороткий,0,0,0,1,0,0,0\n" + "ж" * length + ",0,0,0,1,0,0,0\n"
    with pytest.raises(DataError, match=rf"train\.csv, line 3, column 'text': {length:,} characters; the kit reads texts of at most"):
        read_split(write_file("train.csv", content))
    assert len(read_split(write_file("ok.csv", HEADER + "\n" + "ж" * MAX_TEXT_CHARS + ",0,0,0,1,0,0,0\n"))) == 1


def test_a_test_file_with_only_text_says_nothing_about_column_order(write_file, capsys):
    read_split(write_file("test.csv", "text\nпривет\n"), test=True)
    assert "reordered" not in capsys.readouterr().out


def test_a_label_no_training_row_carries_is_named(capsys):
    rows = [[1, 0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0, 1]]
    frame = pd.DataFrame([["текст", *row] for row in rows], columns=["text", *LABELS])
    assert warn_absent_labels(frame, "train.csv", frame, 5) == ["disgust", "fear", "sadness", "surprise"]
    assert "Warning: train.csv has no row with the label(s) ['disgust', 'fear', 'sadness', 'surprise']" in capsys.readouterr().out

