"""End to end on the sample with the kit's notebooks: re-running a step with a changed setting gives the submission a fresh
run with that setting gives, and products made from replaced inputs are refused, never used."""
import subprocess
import sys

import pytest
from conftest import REPO_ROOT, SAMPLE_DIR

from utils.core.paths import LINEAR_DIR, TEST_PROBS, VALID_PROBS
from utils.core.run_record import StaleProductError, read_record
from utils.inference.predictor import Predictor

SMALL = ["train.folds=2", "train.epochs=1", "model.navec.hidden_size=16", "model.head.hidden_size=16", "tfidf.max_iter=50"]


def pipeline(root, *args, fresh=False):
    """`python -m utils.pipeline` on the sample into root/runs (a fresh run gets the SMALL settings): (exit status, output)."""
    settings = [item for setting in [f"runs_dir={root / 'runs'}", *(SMALL if fresh else [])] for item in ("-p", setting)]
    done = subprocess.run([sys.executable, "-m", "utils.pipeline", "--quiet", "--data-dir", str(SAMPLE_DIR), *settings, *args],
                          cwd=REPO_ROOT, capture_output=True, text=True)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.slow
def test_rerunning_steps_with_changed_settings_equals_fresh_runs(tmp_path):
    runs, submissions = tmp_path / "runs", tmp_path / "submissions"
    assert pipeline(tmp_path, "--run", "a", fresh=True)[0] == 0
    assert (runs / "a" / LINEAR_DIR).is_dir() and "tfidf" in read_record(runs / "a")["steps"]["03_training"]["members"]

    # the TF-IDF member switched off from notebook 03 on: removed from the run, never blended in
    code, out = pipeline(tmp_path, "--run", "a", "--from", "03", "-p", "tfidf.weight=0")
    assert code == 0, out
    assert not (runs / "a" / LINEAR_DIR).exists() and "tfidf" not in read_record(runs / "a")["steps"]["03_training"]["members"]
    assert Predictor.from_run(runs / "a").linear is None
    assert pipeline(tmp_path, "--run", "b", "-p", "tfidf.weight=0", fresh=True)[0] == 0
    assert (submissions / "a-2.csv").read_bytes() == (submissions / "b.csv").read_bytes()
    assert (runs / "a" / VALID_PROBS).read_bytes() == (runs / "b" / VALID_PROBS).read_bytes()
    assert (runs / "a" / TEST_PROBS).read_bytes() == (runs / "b" / TEST_PROBS).read_bytes()

    # --only 03: the thresholds and test probabilities made from the earlier model are stale and refused
    code, out = pipeline(tmp_path, "--run", "a", "--only", "03", "-p", "train.epochs=2")
    assert code == 0 and "Now stale (made from the products this run replaced): 04_threshold_search, 05_inference" in out
    with pytest.raises(StaleProductError, match=r"(?s)04_threshold_search read valid_probs_raw\.csv, which changed since.*--from 04"):
        Predictor.from_run(runs / "a")
    code, out = pipeline(tmp_path, "--run", "a", "--from", "05")
    assert code == 2 and "cannot use the products of earlier notebooks" in out and "--run a --from 04" in out
    assert pipeline(tmp_path, "--run", "a", "--from", "04")[0] == 0
    assert pipeline(tmp_path, "--run", "c", "-p", "tfidf.weight=0", "-p", "train.epochs=2", fresh=True)[0] == 0
    assert (submissions / "a-3.csv").read_bytes() == (submissions / "c.csv").read_bytes()


@pytest.mark.slow
def test_a_run_killed_during_notebook_03_resumes_to_the_products_of_an_uninterrupted_run(tmp_path):
    import os
    import signal
    import time

    from utils.core.paths import VALID_NOISY_PROBS

    assert pipeline(tmp_path, "--run", "whole", fresh=True)[0] == 0
    settings = [item for setting in [f"runs_dir={tmp_path / 'runs'}", *SMALL] for item in ("-p", setting)]
    killed = subprocess.Popen([sys.executable, "-m", "utils.pipeline", "--quiet", "--data-dir", str(SAMPLE_DIR), *settings, "--run", "k"],
                              cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    finished_fold = tmp_path / "runs" / "k" / "model" / "checkpoints" / "part_0"
    deadline = time.time() + 300
    while not finished_fold.is_dir():  # fold 0 is done, fold 1 is training
        assert time.time() < deadline and killed.poll() is None, "no checkpoint appeared"
        time.sleep(0.1)
    os.killpg(killed.pid, signal.SIGKILL)  # as when a Colab runtime dies: no handler runs
    killed.wait()
    time.sleep(3)  # the orphaned kernel notices its parent is gone and ends (and its workers with it)
    assert read_record(tmp_path / "runs" / "k")["steps"]["03_training"]["status"] == "running"
    code, out = pipeline(tmp_path, "--run", "k", "--resume")
    assert code == 0, out
    assert "Run 'k' into" in out and ": 03_training.ipynb, 04_threshold_search.ipynb" in out, "01 and 02 are not run again"
    for product in (VALID_PROBS, VALID_NOISY_PROBS, TEST_PROBS):
        assert (tmp_path / "runs" / "k" / product).read_bytes() == (tmp_path / "runs" / "whole" / product).read_bytes(), product
    assert (tmp_path / "submissions" / "k.csv").read_bytes() == (tmp_path / "submissions" / "whole.csv").read_bytes()
    assert not (tmp_path / "runs" / "k" / "model" / "checkpoints").exists(), "checkpoints are removed once training finishes"
