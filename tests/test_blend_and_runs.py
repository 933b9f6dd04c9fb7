"""Blending finished runs, and the table of runs."""
import json
import shutil

import numpy as np
import pytest
from conftest import SAMPLE_DIR, record_step

from utils.core.paths import ESTIMATE, TEST_PROBS, THRESHOLDS, VALID_PROBS
from utils.core.probs_files import write_probs
from utils.core.run_record import StaleProductError, update_record
from utils.core.settings import RunConfig, ThresholdConfig
from utils.core.splits import LABELS, label_matrix, load_competition
from utils.inference.predictor import Predictor
from utils.inference.submission import check_submission
from utils.run.blend import BlendError, blend_runs, main
from utils.run.runs_table import main as runs_main
from utils.run.runs_table import runs_table
from utils.thresholds.estimate import nested_estimates
from utils.thresholds.search import choose_thresholds

DATA = load_competition(SAMPLE_DIR)
Y = label_matrix(DATA.valid)


def finished_run(runs_dir, name, signal_labels, seed, folds=5, data_dir=SAMPLE_DIR):
    """A run recorded as the notebooks record one, whose valid probabilities know only `signal_labels`."""
    config = RunConfig(name=name, data_dir=str(data_dir), runs_dir=str(runs_dir), train={"folds": folds})
    rng = np.random.default_rng(seed)
    valid = rng.random(Y.shape) * 0.6
    valid[:, signal_labels] = np.clip(0.5 * Y[:, signal_labels] + 0.45 * rng.random((len(Y), len(signal_labels))), 0, 1)
    test = rng.random((len(DATA.test), 7))

    def train():
        (config.run_dir / "model").mkdir(parents=True)
        (config.run_dir / "model" / "weights").write_text("a stand-in")
        write_probs(valid, config.run_dir / VALID_PROBS)

    record_step(config, "03_training", train)
    choice = choose_thresholds(Y, valid, ThresholdConfig(bootstrap=50))
    record_step(config, "04_threshold_search", lambda: (config.run_dir / THRESHOLDS).write_text(json.dumps(choice.as_dict())))
    record_step(config, "05_inference", lambda: write_probs(test, config.run_dir / TEST_PROBS))
    update_record(config.run_dir, lambda record: record.update(status="finished"))
    return config.run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("blend")
    return root, finished_run(root / "runs", "a", [0, 3, 6], seed=1), finished_run(root / "runs", "b", [1, 2, 4, 5], seed=2)


def test_a_blend_of_runs_with_complementary_signal_beats_both_honestly(runs, tmp_path, capsys):
    shutil.copytree(runs[0] / "runs", tmp_path / "runs")  # the blend and the change below stay out of the shared runs
    root, a, b = tmp_path, tmp_path / "runs" / "a", tmp_path / "runs" / "b"
    path = blend_runs("ab", [a, b], root / "runs")
    assert path == root / "submissions" / "ab.csv" and len(check_submission(path, SAMPLE_DIR / "test_without_answers.csv")) == 150
    printed = capsys.readouterr().out
    assert "Blend 'ab': a 0." in printed and "honest estimate of weighted F1:" in printed
    config = ThresholdConfig()
    alone = [nested_estimates(Y, {"clean": np.loadtxt(run / VALID_PROBS, delimiter=",", skiprows=1)[:, 1:]}, "clean", config, 42)["clean"]
             for run in (a, b)]
    blend = json.loads((root / "runs" / "ab" / "summary.json").read_text())
    assert blend["cv_weighted_f1"] >= max(estimate.weighted_f1 for estimate in alone) - 0.02
    assert blend["cv_weighted_f1_ci"][0] <= blend["cv_weighted_f1"] <= blend["cv_weighted_f1_ci"][1]
    table = runs_table(root / "runs")
    assert set(table["run"]) == {"a", "b", "ab"} and table.loc[table["run"] == "ab", "status"].item() == "finished"
    assert main(["--run", "ab", "a", "b", "--runs-dir", str(root / "runs")]) == 2, "an existing blend is not overwritten"
    write_probs(np.full(Y.shape, 0.5), a / VALID_PROBS)  # a blended run changed afterwards
    with pytest.raises(StaleProductError, match=r"run 'a' .* changed since it was blended"):
        Predictor.from_run(root / "runs" / "ab")


def test_runs_of_other_data_or_unfinished_are_refused(runs, tmp_path, capsys):
    a = runs[1]
    other = tmp_path / "other"
    other.mkdir()
    for name in ("train.csv", "valid.csv", "test_without_answers.csv"):
        (other / name).write_bytes((SAMPLE_DIR / name).read_bytes())
    (other / "test_without_answers.csv").write_bytes((SAMPLE_DIR / "test_without_answers.csv").read_bytes().replace(b"\n", b"\r\n"))
    c = finished_run(tmp_path / "runs", "c", [0], seed=3, data_dir=other)
    with pytest.raises(BlendError, match=r"run 'c' was made from another test file than run 'a'"):
        blend_runs("ac", [a, c], tmp_path / "runs")
    (tmp_path / "runs" / "half").mkdir()
    assert main(["--run", "x", str(a), str(tmp_path / "runs" / "half"), "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "half: not a finished run" in capsys.readouterr().err


def test_a_run_that_is_not_out_of_fold_is_blended_with_a_caveat(tmp_path, capsys):
    one = finished_run(tmp_path / "runs", "one", [0, 1, 2], seed=4, folds=0)
    two = finished_run(tmp_path / "runs", "two", [3, 4, 5, 6], seed=5)
    blend_runs("mix", [one, two], tmp_path / "runs", ThresholdConfig(bootstrap=50))
    assert "Caveat: run 'one' trained one model and kept its best epoch on valid" in capsys.readouterr().out


def test_the_runs_table_names_failed_and_interrupted_runs_and_changed_settings(runs, tmp_path, capsys):
    shutil.copytree(runs[0] / "runs", tmp_path / "runs")
    root = tmp_path
    estimate = {"weighted_f1": 0.61, "ci": [0.58, 0.64], "per_label_f1": dict.fromkeys(LABELS, 0.6)}
    (root / "runs" / "a" / ESTIMATE).write_text(json.dumps({"clean": estimate}))  # one run with an estimate, as notebook 04 writes
    for name, status in (("broken", "failed"), ("stopped", "interrupted")):
        config = RunConfig(name=name, data_dir=str(SAMPLE_DIR), runs_dir=str(root / "runs"))
        update_record(config.run_dir, lambda record, name=name, status=status: record.update(
            run=name, status=status, data_dir=str(SAMPLE_DIR), sample_data=True, failure={"notebook": "03_training.ipynb"}))
    (root / "runs" / "broken" / "params.yaml").write_text("seed: 7\ntrain:\n  epochs: 3\n")
    assert runs_main(["--runs-dir", str(root / "runs"), "--sort", "name"]) == 0
    shown = capsys.readouterr().out
    assert "failed (03_training.ipynb)" in shown and "interrupted (03_training.ipynb)" in shown and "seed=7, train.epochs=3" in shown
    by_name = runs_table(root / "runs", "name")["run"].tolist()
    assert by_name == sorted(by_name) and {"a", "b", "broken", "stopped"} <= set(by_name)
    by_f1 = runs_table(root / "runs", "cv_f1")
    assert by_f1["cv_f1"].dropna().is_monotonic_decreasing and by_f1["cv_f1"].iloc[-1] != by_f1["cv_f1"].iloc[-1], "no estimate: last"
    assert by_f1["run"].iloc[0] == "a"
    target = tmp_path / "runs.csv"
    assert runs_main(["--runs-dir", str(root / "runs"), "--csv", str(target)]) == 0
    written = target.read_text(encoding="utf-8").splitlines()
    assert written[0].startswith("run,date,status,data,data_dir,rows_trained,cv_f1,ci_low,ci_high,anger")
    assert runs_main(["--runs-dir", str(root / "runs"), "--csv", str(target)]) == 2
