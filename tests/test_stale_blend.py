"""No stale product through a side door: a blend, like a notebook and like utils.predict, uses only runs whose record says
every product it reads is fresh."""
import shutil

import numpy as np
import pytest
from conftest import SAMPLE_DIR, record_step
from test_blend_and_runs import Y, finished_run

from utils.core.paths import VALID_PROBS
from utils.core.probs_files import write_probs
from utils.core.run_record import StaleProductError
from utils.core.settings import RunConfig
from utils.inference.predictor import Predictor
from utils.run.blend import main as blend_main


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    runs_dir = tmp_path_factory.mktemp("made") / "runs"
    for seed, name in enumerate(("a", "b"), 1):
        finished_run(runs_dir, name, [0, 3, 6], seed=seed)
    return runs_dir


@pytest.fixture
def runs(made, tmp_path):
    shutil.copytree(made, tmp_path / "runs")
    return tmp_path / "runs"


def retrain_only(run_dir, **train):
    """What `--run NAME --only 03 -p train.X=...` leaves: notebook 03 done again with other settings (new model, new valid
    probabilities), notebooks 04 and 05 not."""
    config = RunConfig(name=run_dir.name, data_dir=str(SAMPLE_DIR), runs_dir=str(run_dir.parent), train={"folds": 5, **train})

    def train_again():
        (run_dir / "model" / "weights").write_text("another model")
        write_probs(np.random.default_rng(9).random(Y.shape), run_dir / VALID_PROBS)

    record_step(config, "03_training", train_again)


def test_a_blend_refuses_a_run_whose_valid_probabilities_were_remade_after_its_test_ones(runs, capsys):
    retrain_only(runs / "b", epochs=7)
    assert blend_main(["--run", "ab", "a", "b", "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"Not blended: {runs / 'b'}: its products do not belong together, so it is not blended: ") and "\n" not in err
    assert "05_inference read model, which changed since" in err
    assert "04_threshold_search read valid_probs_raw.csv, which changed since" in err
    assert err.endswith("Re-run it from 04: python -m utils.pipeline --run b --from 04")
    assert not (runs / "ab").exists() and not (runs.parent / "submissions").exists()


def test_predict_refuses_the_same_run(runs):
    retrain_only(runs / "b", epochs=7)
    with pytest.raises(StaleProductError, match=r"(?s)05_inference cannot use .*thresholds\.json: 04_threshold_search read "
                                                r"valid_probs_raw\.csv, which changed since"):
        Predictor.from_run(runs / "b")


def test_a_run_that_does_not_exist_is_said_not_to_exist(runs, capsys):
    assert blend_main(["--run", "ab", "a", "nope", "--runs-dir", str(runs)]) == 2
    assert capsys.readouterr().err.strip() == f"Not blended: {runs / 'nope'}: no such run (runs in {runs}: ['a', 'b'])"


def test_a_blend_refuses_data_that_changed_since_the_runs_read_it(runs, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(SAMPLE_DIR, data)
    for name in ("a", "b"):
        record = (runs / name / "manifest.json").read_text()
        (runs / name / "manifest.json").write_text(record.replace(str(SAMPLE_DIR), str(data)))
    (data / "valid.csv").write_bytes((data / "valid.csv").read_bytes().replace(b"\n", b"\r\n"))
    assert blend_main(["--run", "ab", "a", "b", "--runs-dir", str(runs)]) == 2
    assert capsys.readouterr().err.strip() == (f"Not blended: {data / 'valid.csv'} changed (or is gone) since run 'a' read it: the "
                                               "runs cannot be scored against it; blend runs made from the data as it is now")
