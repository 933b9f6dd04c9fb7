"""End to end on the sample with the kit's notebooks: re-running a step with a changed setting gives the submission a fresh
run with that setting gives, products made from replaced inputs are refused, never used, and a killed run resumes to the
bytes of an uninterrupted one. The shared sample run is the fresh run these compare with."""
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO_ROOT, SAMPLE_DIR, SAMPLE_RUN_NAME, small_run_args

from utils.core.paths import MEMBERS_DIR, TEST_PROBS, VALID_NOISY_PROBS, VALID_PROBS
from utils.core.run_record import StaleProductError, read_record
from utils.inference.predictor import Predictor

pytestmark = pytest.mark.e2e


def pipeline(root, *args, fresh=False):
    """`python -m utils.pipeline` on the sample into root/runs (a fresh run gets the shared run's settings; no export: these
    tests compare the run's own products): (exit status, output)."""
    settings = small_run_args(root / "runs") if fresh else ["-p", f"runs_dir={root / 'runs'}"]
    done = subprocess.run([sys.executable, "-m", "utils.pipeline", "--quiet", "--no-export", "--data-dir", str(SAMPLE_DIR), *settings,
                           *args],
                          cwd=REPO_ROOT, capture_output=True, text=True)
    return done.returncode, done.stdout + done.stderr


def same_products(run_a, run_b, submission_a, submission_b):
    for product in (VALID_PROBS, VALID_NOISY_PROBS, TEST_PROBS):
        assert (run_a / product).read_bytes() == (run_b / product).read_bytes(), product
    assert submission_a.read_bytes() == submission_b.read_bytes()


def test_rerunning_steps_with_changed_settings_equals_fresh_runs(sample_run, tmp_path):
    shared = sample_run.run_dir  # the fresh run these steps must give back, byte for byte
    assert (shared / MEMBERS_DIR / "tfidf").is_dir() and "tfidf" in read_record(shared)["steps"]["03_training"]["members"]
    a = sample_run.copy(tmp_path)

    # --only 03 with the TF-IDF member switched off: removed from the run; 04 and 05, made from the other model, are refused
    code, out = pipeline(tmp_path, "--run", SAMPLE_RUN_NAME, "--only", "03", "-p", "tfidf.weight=0")
    assert code == 0 and "Now stale (made from the products this run replaced): 04_threshold_search, 05_inference" in out, out
    assert not (a / MEMBERS_DIR).exists() and "tfidf" not in read_record(a)["steps"]["03_training"]["members"]
    assert (a / VALID_PROBS).read_bytes() != (shared / VALID_PROBS).read_bytes()
    with pytest.raises(StaleProductError, match=r"(?s)04_threshold_search read valid_probs_raw\.csv, which changed since.*--from 04"):
        Predictor.from_run(a)
    code, out = pipeline(tmp_path, "--run", SAMPLE_RUN_NAME, "--from", "05")
    assert code == 2 and "cannot use the products of earlier notebooks" in out and f"--run {SAMPLE_RUN_NAME} --from 04" in out

    # --only 03 switching it back on: the fresh run's bytes, so the products 04 and 05 made from them are fresh again
    code, out = pipeline(tmp_path, "--run", SAMPLE_RUN_NAME, "--only", "03", "-p", "tfidf.weight=0.5")
    assert code == 0 and "Now stale" not in out, out
    for product in (VALID_PROBS, VALID_NOISY_PROBS):
        assert (a / product).read_bytes() == (shared / product).read_bytes(), product
    assert list(Predictor.from_run(a).members) == ["neural", "tfidf"]

    # --from 05: the test probabilities and submission of the fresh run
    assert pipeline(tmp_path, "--run", SAMPLE_RUN_NAME, "--from", "05")[0] == 0
    same_products(a, shared, tmp_path / "submissions" / f"{SAMPLE_RUN_NAME}-2.csv",
                   sample_run.root / "submissions" / f"{SAMPLE_RUN_NAME}.csv")


def test_a_run_killed_during_notebook_03_resumes_to_the_products_of_an_uninterrupted_run(sample_run, tmp_path):
    run_dir = sample_run.copy(tmp_path)
    killed = subprocess.Popen([sys.executable, "-m", "utils.pipeline", "--quiet", "--data-dir", str(SAMPLE_DIR),
                               "-p", f"runs_dir={tmp_path / 'runs'}", "--run", SAMPLE_RUN_NAME, "--from", "03"],
                              cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    finished_fold = run_dir / "model" / "checkpoints" / "part_0"
    deadline = time.time() + 300
    while not finished_fold.is_dir():  # fold 0 is done, fold 1 is training
        assert time.time() < deadline and killed.poll() is None, "no checkpoint appeared"
        time.sleep(0.1)
    os.killpg(killed.pid, signal.SIGKILL)  # as when a Colab runtime dies: no handler runs
    killed.wait()
    time.sleep(3)  # the orphaned kernel notices its parent is gone and ends (and its workers with it)
    assert read_record(run_dir)["steps"]["03_training"]["status"] == "running"
    code, out = pipeline(tmp_path, "--run", SAMPLE_RUN_NAME, "--resume")
    assert code == 0, out
    assert f"Run '{SAMPLE_RUN_NAME}' into" in out and ": 03_training.ipynb, 04_threshold_search.ipynb" in out, "01 and 02 are not run again"
    same_products(run_dir, sample_run.run_dir, tmp_path / "submissions" / f"{SAMPLE_RUN_NAME}-2.csv",
                   sample_run.root / "submissions" / f"{SAMPLE_RUN_NAME}.csv")
    assert not (run_dir / "model" / "checkpoints").exists(), "checkpoints are removed once training finishes"
