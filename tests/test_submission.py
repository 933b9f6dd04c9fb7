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
        (lambda f: f.iloc[[1, 0, *range(2, len(f))]], r"line 2, column 'text': .* differs from the test file's"),
        (lambda f: f.drop(columns=["fear"]), r"header row: columns are .*; expected .* in this order"),
        (lambda f: f[["text", *reversed(LABELS)]], r"header row: columns are"),
        (lambda f: f.assign(anger=[2] + [0] * (len(f) - 1)), r"line 2, column 'anger': expected 0 or 1, got '2'"),
        (lambda f: f.assign(sadness=pd.array([0, 0, None] + [0] * (len(f) - 3), dtype="Int64")),
         r"line 4, column 'sadness': expected 0 or 1, got ''"),
    ],
    ids=["row-count", "reordered", "missing-column", "column-order", "value-2", "nan"],
)
def test_check_submission_names_each_defect(good, test_path, tmp_path, spoil, message):
    with pytest.raises(SubmissionError, match=message):
        check_submission(write(spoil(good.copy()), tmp_path), test_path)


def test_a_bad_submission_is_never_written(good, test_path, tmp_path):
    bad = good.copy()
    bad.loc[5, "joy"] = 2
    with pytest.raises(SubmissionError, match=r"line 7, column 'joy'"):
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
    assert main([str(write(good, tmp_path)), "-m", "x", "--test", str(test_path), "--allow-sample"]) == 2
    printed = capsys.readouterr().out
    assert "No Kaggle credentials found" in printed and "chmod 600 ~/.kaggle/kaggle.json" in printed
    assert "KAGGLE_USERNAME and KAGGLE_KEY" in printed and "KAGGLE_API_TOKEN" in printed


def test_cli_refuses_a_bad_file(good, test_path, tmp_path, capsys):
    assert main([str(write(good.iloc[:3], tmp_path)), "-m", "x", "--test", str(test_path), "--dry-run"]) == 1
    assert "Not submitted:" in capsys.readouterr().err


def made_by_run(tmp_path, submission, data_dir, sample):
    """A runs/ folder beside submissions/ whose record says run 'r' wrote `submission` from `data_dir`."""
    from utils.core.run_record import content_hash, update_record

    run_dir = tmp_path / "runs" / "r"
    update_record(run_dir, lambda record: record.update(run="r", data_dir=str(data_dir), sample_data=sample, steps={
        "05_inference": {"status": "done", "submission": str(submission), "submission_sha256": content_hash(submission)}}))


def test_a_submission_is_checked_against_the_test_of_the_run_that_made_it(good, tmp_path, sample_dir, capsys, monkeypatch):
    other = tmp_path / "other_data"
    other.mkdir()
    for name in ("train.csv", "valid.csv", "test_without_answers.csv"):
        (other / name).write_bytes((sample_dir / name).read_bytes())
    monkeypatch.chdir(tmp_path)  # nothing to discover here: only the record can point to the right test file
    (tmp_path / "submissions").mkdir()
    path = write(good, tmp_path / "submissions", "r.csv")
    made_by_run(tmp_path, path, other, sample=False)
    assert main([str(path), "-m", "x", "--dry-run"]) == 1, "a copy of the sample's test is still the sample's test"
    assert "holds the sample's test texts" in capsys.readouterr().err
    assert main([str(path), "-m", "x", "--dry-run", "--allow-sample"]) == 0
    assert f"made by run 'r': checking it against that run's test file {other / 'test_without_answers.csv'}" in capsys.readouterr().out


def test_a_submission_made_from_the_sample_is_refused_unless_allowed(good, tmp_path, sample_dir, capsys):
    (tmp_path / "submissions").mkdir()
    path = write(good, tmp_path / "submissions", "r.csv")
    made_by_run(tmp_path, path, sample_dir, sample=True)
    assert main([str(path), "-m", "x", "--dry-run"]) == 1
    printed = capsys.readouterr().err
    assert "from the kit's authored sample" in printed and "pass --allow-sample to send it anyway" in printed
    assert main([str(path), "-m", "x", "--dry-run", "--allow-sample"]) == 0


def test_encodings_of_a_submission(good, test_path, tmp_path, capsys):
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + good.to_csv(index=False).encode("utf-8"))
    assert len(check_submission(bom, test_path)) == len(good) and "byte-order mark" in capsys.readouterr().out
    cp1251 = tmp_path / "cp1251.csv"
    cp1251.write_bytes(good.to_csv(index=False).encode("cp1251"))
    with pytest.raises(SubmissionError, match=r"cp1251\.csv: not UTF-8 \(byte 0x.. on line 2; Windows-1251\?\).*re-save it as UTF-8"):
        check_submission(cp1251, test_path)
    assert main([str(cp1251), "-m", "x", "--test", str(test_path), "--dry-run"]) == 1
    assert "Not submitted:" in capsys.readouterr().err


def test_a_defect_is_named_by_its_line_in_the_file_blank_lines_counted(good, test_path, tmp_path):
    lines = write(good, tmp_path).read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0] + ",7"  # line 4 of the file: neutral 7
    path = tmp_path / "spaced.csv"
    path.write_text("\n".join([lines[0], "", *lines[1:]]) + "\n", encoding="utf-8")  # a blank line 2: the bad row is line 5
    with pytest.raises(SubmissionError, match=r"spaced\.csv, line 5, column 'neutral': expected 0 or 1, got '7'"):
        check_submission(path, test_path)
    path.write_text("\n".join([*lines[:2], lines[2] + ",1", *lines[3:]]) + "\n", encoding="utf-8")
    with pytest.raises(SubmissionError, match=r"spaced\.csv, line 3: 9 fields; the header has 8"):
        check_submission(path, test_path)
