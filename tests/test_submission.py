import numpy as np
import pandas as pd
import pytest

from utils.core.files import OutputExistsError
from utils.core.splits import LABELS, read_split
from utils.inference.submission import (
    SubmissionError,
    check_submission,
    main,
    make_submission,
    submit,
    write_submission,
)


@pytest.fixture
def test_path(sample_dir):
    return sample_dir / "test_without_answers.csv"


@pytest.fixture
def good(test_path):
    test = read_split(test_path, test=True)
    decisions = np.zeros((len(test), 7), dtype=int)
    decisions[:, LABELS.index("neutral")] = 1
    decisions[::3, LABELS.index("joy")] = 1
    return make_submission(test, decisions)


def write(frame, tmp_path, name="sub.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_a_good_submission_passes_and_keeps_the_decisions(good, test_path, tmp_path):
    path = write_submission(good, tmp_path / "run.csv", test_path)
    checked = check_submission(path, test_path)
    assert list(checked.columns) == ["text", *LABELS]
    assert checked["joy"].astype(int).sum() == len(good[::3]) and checked["neutral"].astype(int).eq(1).all()


@pytest.mark.parametrize(
    "spoil, message",
    [
        (lambda f: f.iloc[:-1], r"rows; the test file .* has"),
        (lambda f: f.iloc[[1, 0, *range(2, len(f))]], r"row 1, column 'text': .* differs from the test file's"),
        (lambda f: f.drop(columns=["fear"]), r"header row: columns are .*; expected .* in this order"),
        (lambda f: f[["text", *reversed(LABELS)]], r"header row: columns are"),
        (lambda f: f.assign(anger=[2] + [0] * (len(f) - 1)), r"row 1, column 'anger': expected 0 or 1, got '2'"),
        (lambda f: f.assign(sadness=pd.array([0, 0, None] + [0] * (len(f) - 3), dtype="Int64")),
         r"row 3, column 'sadness': expected 0 or 1, got ''"),
    ],
    ids=["row-count", "reordered", "missing-column", "column-order", "value-2", "nan"],
)
def test_check_submission_names_each_defect(good, test_path, tmp_path, spoil, message):
    with pytest.raises(SubmissionError, match=message):
        check_submission(write(spoil(good.copy()), tmp_path), test_path)


def test_a_bad_submission_is_never_written(good, test_path, tmp_path):
    bad = good.copy()
    bad.loc[5, "joy"] = 2
    with pytest.raises(SubmissionError, match=r"row 6, column 'joy'"):
        write_submission(bad, tmp_path / "run.csv", test_path)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_submission_is_not_overwritten(good, test_path, tmp_path):
    path = write_submission(good, tmp_path / "run.csv", test_path)
    before = path.read_bytes()
    with pytest.raises(OutputExistsError, match=r"run\.csv already exists"):
        write_submission(make_submission(good, np.ones((len(good), 7))), path, test_path)
    assert path.read_bytes() == before


def test_submit_dry_run_prints_the_command(good, test_path, tmp_path, capsys):
    path = write(good, tmp_path)
    assert submit(path, "first try", test_path, dry_run=True) == 0
    printed = capsys.readouterr().out
    assert "competitions submit -c cryptonite-hack-sf -f" in printed and "-m 'first try'" in printed


def test_submit_without_credentials_explains_and_fails(good, test_path, tmp_path, monkeypatch, capsys):
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KAGGLE_KEY", "")
    assert main([str(write(good, tmp_path)), "-m", "x", "--test", str(test_path)]) == 2
    printed = capsys.readouterr().out
    assert "No Kaggle credentials found" in printed and "chmod 600 ~/.kaggle/kaggle.json" in printed
    assert "KAGGLE_USERNAME and KAGGLE_KEY" in printed and "KAGGLE_API_TOKEN" in printed


def test_cli_refuses_a_bad_file(good, test_path, tmp_path, capsys):
    assert main([str(write(good.iloc[:3], tmp_path)), "-m", "x", "--test", str(test_path), "--dry-run"]) == 1
    assert "Not submitted:" in capsys.readouterr().out
