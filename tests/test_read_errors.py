"""Every file the kit reads, not only the competition CSVs: a malformed one is one message naming it (and the line) and what
to do, never a traceback; an unreadable run record stops the commands that need it and is marked in the runs table."""
import json
import shutil

import pytest
from conftest import SAMPLE_DIR
from test_blend_and_runs import finished_run

from utils.core.files import UnreadableFileError, read_json
from utils.core.probs_files import read_probs
from utils.core.run_record import read_record
from utils.core.settings import ConfigError
from utils.core.settings_io import load_config, parse_overrides
from utils.core.splits import DataError
from utils.core.summary import run_summary
from utils.core.text import read_slips
from utils.inference.cli import main as predict_main
from utils.inference.submission import SubmissionError, check_submission
from utils.run.benchmark import main as benchmark_main
from utils.run.blend import main as blend_main
from utils.run.kaggle_kernel import read_metadata
from utils.run.pipeline import PipelineError, plan_run
from utils.run.pipeline import main as pipeline_main
from utils.run.runs_table import main as runs_main
from utils.run.runs_table import runs_table
from utils.thresholds.search import load_thresholds
from utils.training.distributed import cluster_problems
from utils.training.resume import Checkpoints


def only_line(text: str) -> str:
    """The one line a command printed (a traceback or a second line fails the test)."""
    lines = text.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


@pytest.mark.parametrize("content, message", [
    ("seed: 1\ntrain:\n  epochs: [3\n", r"bad\.yaml, line 4: not valid YAML \(expected ',' or '\]', but got '<stream end>'\)"),
    ("seed: 1\ntext: !!python/object/apply:os.system ['touch {marker}']\n",
     r"bad\.yaml, line 2: the tag '!!python/object/apply:os\.system' is refused: the kit reads plain values"),
    ("seed: 1\nname: 'проба'\n".encode("cp1251"), r"bad\.yaml, line 2: not UTF-8 \(byte 0x..; saved as Windows-1251\?\).*as UTF-8"),
], ids=["malformed", "python-tag", "windows-1251"])
def test_a_bad_config_file_is_one_line_naming_it_and_the_line(tmp_path, capsys, content, message):
    marker = tmp_path / "marker"
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(content.replace("{marker}", str(marker)).encode() if isinstance(content, str) else content)
    with pytest.raises(UnreadableFileError, match=message):
        load_config(bad)
    assert pipeline_main(["--config", str(bad), "--run", "x", "-p", f"runs_dir={tmp_path / 'runs'}"]) == 2
    assert only_line(capsys.readouterr().err).startswith(f"Not started: {bad}, line ")
    assert not marker.exists() and not (tmp_path / "runs").exists(), "nothing ran, nothing was made"


def test_an_override_holding_a_python_tag_is_refused():
    with pytest.raises(ConfigError, match=r"override 'seed=!!python/object/apply:os\.system \[x\]': the value is not a plain YAML"):
        parse_overrides(["seed=!!python/object/apply:os.system [x]"])


@pytest.fixture(scope="module")
def finished_runs(tmp_path_factory):
    """Three finished runs, made once."""
    runs_dir = tmp_path_factory.mktemp("made") / "runs"
    for seed, name in enumerate(("good", "cut", "third"), 1):
        finished_run(runs_dir, name, [0, 3, 6], seed=seed)
    return runs_dir


@pytest.fixture
def runs(finished_runs, tmp_path):
    """A copy of runs 'good' and 'cut'; run 'cut' has its record cut short as a crash or a full disk would leave it."""
    runs_dir = tmp_path / "runs"
    for name in ("good", "cut"):
        shutil.copytree(finished_runs / name, runs_dir / name)
    record = (runs_dir / "cut" / "manifest.json").read_text()
    (runs_dir / "cut" / "manifest.json").write_text(record[: len(record) // 2])
    return runs_dir


def test_a_cut_record_stops_every_pipeline_mode_naming_it_and_what_to_do(runs, capsys):
    record = runs / "cut" / "manifest.json"
    with pytest.raises(UnreadableFileError, match=rf"{record}, line \d+: not valid JSON \(.*; cut short or edited\?\): the record of "
                                                  r"run 'cut' is unreadable: restore it from a copy, or start the run over: "
                                                  r"python -m utils\.pipeline --run cut --force"):
        read_record(record.parent)
    for mode in ([], ["--resume"], ["--from", "03"], ["--only", "04"]):
        assert pipeline_main(["--run", "cut", "--data-dir", str(SAMPLE_DIR), "-p", f"runs_dir={runs}", *mode]) == 2, mode
        assert only_line(capsys.readouterr().err).startswith(f"Not started: {record}, line "), mode
    (runs / "good" / "manifest.json").write_text('{"status": "finished", "steps": ["03_training"]}')  # edited into another shape
    with pytest.raises(UnreadableFileError, match=r"manifest\.json: 'steps' is not a mapping of notebook -> what it did: the record"):
        read_record(runs / "good")
    plan = plan_run(overrides={"runs_dir": str(runs)}, data_dir=SAMPLE_DIR, run_name="cut", force=True)
    assert plan.force and plan.config.run_dir == runs / "cut", "--force, the way out the message names, is not refused"
    with pytest.raises(PipelineError, match=r"--force cannot read which data the run was made from: give --data-dir DIR"):
        plan_run(overrides={"runs_dir": str(runs)}, run_name="cut", force=True)  # no --data-dir: the record would have said


def test_predict_and_blend_name_a_cut_or_empty_record(runs, capsys):
    assert predict_main(["--model", str(runs / "cut"), "--text", "какой ужас"]) == 2
    assert only_line(capsys.readouterr().err).startswith(f"Error: {runs / 'cut' / 'manifest.json'}, line ")
    (runs / "cut" / "manifest.json").write_text("")
    assert blend_main(["--run", "ab", "good", "cut", "--runs-dir", str(runs)]) == 2
    assert only_line(capsys.readouterr().err) == (f"Not blended: {runs / 'cut' / 'manifest.json'}: empty (cut short when it was "
                                                  "written?): the record of run 'cut' is unreadable: restore it from a copy, or "
                                                  "start the run over: python -m utils.pipeline --run cut --force --data-dir DIR")
    assert not (runs / "ab").exists()


def test_the_runs_table_lists_the_other_runs_and_marks_an_unreadable_one(runs, finished_runs, capsys):
    (runs / "good" / "estimate.json").write_text('{"clean": {"weighted_f1": 0.5,')  # one of a second run's files
    shutil.copytree(finished_runs / "third", runs / "third")
    assert runs_main(["--runs-dir", str(runs), "--sort", "name"]) == 0
    captured = capsys.readouterr()
    table = runs_table(runs, "name")
    assert table["run"].tolist() == ["cut", "good", "third"]
    assert table["status"].tolist() == ["unreadable manifest.json", "unreadable estimate.json", "finished"]
    assert "unreadable manifest.json" in captured.out and "third" in captured.out
    assert f"Warning: {runs / 'cut' / 'manifest.json'}, line " in captured.err
    assert f"Warning: {runs / 'good' / 'estimate.json'}, line 1: not valid JSON" in captured.err
    assert "run notebook 04 again to rewrite it: python -m utils.pipeline --run good --from 04" in captured.err


def test_a_run_product_that_cannot_be_read_names_the_notebook_that_writes_it(runs):
    good = runs / "good"
    (good / "thresholds.json").write_text(json.dumps({"mode": "global", "thresholds": {}}))
    with pytest.raises(UnreadableFileError, match=r"thresholds\.json: not a thresholds file of the kit \(.*\): run notebook 04 again"):
        load_thresholds(good / "thresholds.json")
    (good / "thresholds.json").write_text("[1, 2]")
    with pytest.raises(UnreadableFileError, match=r"thresholds\.json: expected a JSON object \(\{\.\.\.\}\), found list: run notebook 04"):
        load_thresholds(good / "thresholds.json")
    (good / "metrics.json").write_bytes(b"\xff\xfe{}")
    with pytest.raises(UnreadableFileError, match=r"metrics\.json, line 1: not UTF-8 .*run notebook 03 again .*--run good --from 03"):
        run_summary(good)
    (good / "valid_probs_raw.csv").write_text("index,anger\n0,0.5\n")
    with pytest.raises(UnreadableFileError, match=r"valid_probs_raw\.csv, header row: missing probability column\(s\)"):
        read_probs(good / "valid_probs_raw.csv")
    (good / "valid_probs_raw.csv").write_text("index,anger,disgust,fear,joy,sadness,surprise,neutral\n0,0.5,x,0,0,0,0,0\n")
    with pytest.raises(UnreadableFileError, match=r"probs_raw\.csv, line 2, column 'disgust': expected a probability in \[0, 1\], got 'x'"):
        read_probs(good / "valid_probs_raw.csv")
    (good / "valid_probs_raw.csv").write_text('index,anger\n"0,0.5\n')
    with pytest.raises(UnreadableFileError, match=r"valid_probs_raw\.csv: not a readable probabilities CSV \(.*EOF inside string"):
        read_probs(good / "valid_probs_raw.csv")


def test_other_files_the_kit_reads_are_refused_naming_them(tmp_path, capsys):
    slips = tmp_path / "slips.csv"
    slips.write_bytes("slip,fix\nкороч,короче\n".encode("cp1251"))  # read as the competition files are, with a note
    assert read_slips(slips) == {"короч": "короче"} and "it was read as Windows-1251" in capsys.readouterr().out
    slips.write_text('slip,fix\nкороч,короче\n"ыетс,это\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"slips\.csv, line 3: expected a one-word slip and a non-empty fix"):
        read_slips(slips)
    metadata = tmp_path / "kernel-metadata.json"
    metadata.write_text('{"id": "me/kit",\n "title": }')
    with pytest.raises(UnreadableFileError, match=r"kernel-metadata\.json, line 2: not valid JSON .*git checkout kernel-metadata\.json"):
        read_metadata(metadata)
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text("num_machines: 2\n  machine_rank: 0\n")
    assert cluster_problems(cluster) == [f"{cluster}, line 2: not valid YAML (mapping values are not allowed here)"]
    variants = tmp_path / "variants.yaml"
    variants.write_text("default:\n  overrides: [1\n")
    assert benchmark_main(["--variants", str(variants), "--out", str(tmp_path / "results")]) == 2
    assert only_line(capsys.readouterr().err).startswith(f"Not started: {variants}, line ")
    variants.write_text("default:\n  overrides: train.epochs=3\n")
    assert benchmark_main(["--variants", str(variants), "--out", str(tmp_path / "results")]) == 2
    assert "variant 'default': expected a mapping {description: text, overrides: {key: value}}" in capsys.readouterr().err
    checkpoints = tmp_path / "checkpoints"
    (checkpoints / "part_0").mkdir(parents=True)
    (checkpoints / "training.json").write_text('{"seed": 4')
    with pytest.raises(UnreadableFileError, match=r"training\.json, line 1: not valid JSON .*delete .*checkpoints to start this training"):
        Checkpoints(checkpoints, {"seed": 4}).open()
    submission = tmp_path / "submission.csv"
    submission.write_text("")
    with pytest.raises(SubmissionError, match=r"submission\.csv: empty; expected the header text,anger"):
        check_submission(submission, SAMPLE_DIR / "test_without_answers.csv")
    assert read_json(tmp_path / "absent.json") == {}, "an absent file is no error: the callers say what its absence means"


def test_a_folder_where_a_file_is_expected_and_a_file_where_a_folder_is_are_named(tmp_path, capsys):
    from utils.inference.submission import main as submission_main
    from utils.run.kaggle_kernel import main as kernel_main

    with pytest.raises(ConfigError, match=rf"{tmp_path}: a folder, not a settings file; expected a YAML file"):
        load_config(tmp_path)
    assert submission_main([str(tmp_path), "-m", "x", "--dry-run"]) == 1
    assert only_line(capsys.readouterr().err) == (f"Not submitted: {tmp_path}: a folder, not a file; expected the submission CSV "
                                                  "(e.g. submissions/<run>.csv)")
    (tmp_path / "out").write_text("a file")
    assert kernel_main(["--out", str(tmp_path / "out")]) == 2
    assert only_line(capsys.readouterr().err).startswith(f"Not built: --out {tmp_path / 'out'} is a file; expected a folder")
    assert (tmp_path / "out").read_text() == "a file"
