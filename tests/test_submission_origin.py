"""Which run made a submission: a file made from the sample is recognised by its texts however it was saved again, and
identical submissions of several runs are said to be so, the run that wrote the file first."""
import codecs

import numpy as np
import pandas as pd
import pytest
from conftest import HEADER, SAMPLE_DIR

from utils.core.run_record import content_hash, update_record
from utils.core.splits import LABELS, read_split
from utils.inference.submission import main, make_submission


def sample_submission() -> pd.DataFrame:
    test = read_split(SAMPLE_DIR / "test_without_answers.csv", test=True)
    return make_submission(test, np.eye(len(LABELS), dtype=int)[np.arange(len(test)) % len(LABELS)])


@pytest.mark.parametrize("save", [
    lambda frame: frame.to_csv(index=False, lineterminator="\r\n").encode("utf-8"),
    lambda frame: codecs.BOM_UTF8 + frame.to_csv(index=False).encode("utf-8"),
    lambda frame: codecs.BOM_UTF8 + frame.to_csv(index=False, quoting=1, lineterminator="\r\n").encode("utf-8"),
], ids=["crlf", "bom", "bom-crlf-quoted"])
def test_a_sample_submission_saved_again_is_recognised_by_its_texts(save, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "resaved.csv"
    path.write_bytes(save(sample_submission()))
    assert main([str(path), "-m", "x", "--dry-run"]) == 1
    assert capsys.readouterr().err.strip() == (
        f"Not submitted: {path} holds the sample's test texts (a copy saved again: other line ends, a byte-order mark, quoting) "
        "from the kit's authored sample (data/sample), not from the competition's files: its rows are not the competition's "
        "test; pass --allow-sample to send it anyway")
    assert main([str(path), "-m", "x", "--dry-run", "--test", str(SAMPLE_DIR / "test_without_answers.csv")]) == 1, "--test too"
    assert main([str(path), "-m", "x", "--dry-run", "--allow-sample"]) == 0


@pytest.fixture
def other_data(tmp_path):
    """A test file whose texts are not the sample's."""
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "test_without_answers.csv").write_text(f"{HEADER}\nпервый текст,0,0,0,0,0,0,0\nвторой текст,0,0,0,0,0,0,0\n")
    return folder


def made_by(runs_dir, name, submission, data_dir, wrote):
    """A run's record saying its notebook 05 made a submission with `submission`'s bytes (written at `wrote`)."""
    update_record(runs_dir / name, lambda record: record.update(run=name, data_dir=str(data_dir), sample_data=False, steps={
        "05_inference": {"status": "done", "submission": str(wrote), "submission_sha256": content_hash(submission)}}))


def test_identical_submissions_of_several_runs_are_listed_the_writer_first(tmp_path, other_data, capsys):
    test = read_split(other_data / "test_without_answers.csv", test=True)
    (tmp_path / "submissions").mkdir()
    made = tmp_path / "submissions" / "b.csv"
    make_submission(test, np.zeros((2, 7), dtype=int)).to_csv(made, index=False)
    for name in ("a", "b", "c"):
        made_by(tmp_path / "runs", name, made, other_data, tmp_path / "submissions" / f"{name}.csv")
    assert main([str(made), "-m", "x", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert f"{made} is byte-identical to the submissions of 3 runs ['b', 'a', 'c']: run 'b' wrote this file" in printed
    assert f"{made} was made by run 'b': checking it against that run's test file {other_data / 'test_without_answers.csv'}" in printed
    copy = tmp_path / "submissions" / "mine.csv"
    copy.write_bytes(made.read_bytes())
    assert main([str(copy), "-m", "x", "--dry-run"]) == 0
    assert "byte-identical to the submissions of 3 runs ['a', 'b', 'c']: none wrote this file; taking 'a'" in capsys.readouterr().out


def test_a_submission_of_other_texts_is_not_taken_for_the_sample(tmp_path, other_data, capsys):
    path = tmp_path / "sub.csv"
    make_submission(read_split(other_data / "test_without_answers.csv", test=True), np.ones((2, 7), dtype=int)).to_csv(path, index=False)
    assert main([str(path), "-m", "x", "--dry-run", "--test", str(other_data / "test_without_answers.csv")]) == 0
    assert "Would run:" in capsys.readouterr().out
