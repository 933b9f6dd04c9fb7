"""A stage declares its notebook's contract in its own package: a stand-in notebook 07 declared here, without touching
utils/core, is checked, recorded and refused when stale by the same record engine as the kit's notebooks."""
import json
import re

import numpy as np
import pytest
from conftest import REPO_ROOT, SAMPLE_DIR

from utils.core.paths import TEST_PROBS
from utils.core.probs_files import write_probs
from utils.core.run_record import (
    StaleProductError,
    begin_step,
    content_hash,
    finish_step,
    read_record,
    rebuild_hint,
    step_problems,
    update_record,
)
from utils.core.settings import RunConfig
from utils.core.steps import STEPS, Step, declare_step

EXTRA, PRODUCT, LEFTOVER = "07_extra", "extra.json", "extra_old.csv"


@pytest.fixture
def extra_step():
    """Notebook 07: reads notebook 05's test probabilities, writes extra.json, records the seed it used and removes an old file."""
    step = declare_step(EXTRA, Step(("seed",), (TEST_PROBS,), (PRODUCT,), facts=lambda config: {"seed_used": config.seed},
                                    switched_off=lambda config: [LEFTOVER]))
    yield step
    STEPS.pop(EXTRA)


@pytest.fixture
def run(tmp_path):
    """A run folder whose notebook 05 is done (recorded by hand): its test probabilities and nothing else."""
    config = RunConfig(name="r", runs_dir=str(tmp_path), data_dir=str(SAMPLE_DIR))
    write_probs(np.full((3, 7), 0.25), config.run_dir / TEST_PROBS)
    update_record(config.run_dir, lambda record: record["steps"].update({"05_inference": {
        "status": "done", "settings": {}, "inputs": {}, "products": {TEST_PROBS: content_hash(config.run_dir / TEST_PROBS)}}}))
    return config


def run_extra(config):
    begin_step(config, EXTRA)
    (config.run_dir / PRODUCT).write_text(json.dumps({"mean": 0.25}), encoding="utf-8")
    finish_step(config, EXTRA)


def test_a_step_declared_outside_core_is_recorded_with_its_hooks(extra_step, run):
    (run.run_dir / LEFTOVER).write_text("old", encoding="utf-8")
    run_extra(run)
    entry = read_record(run.run_dir)["steps"][EXTRA]
    assert entry["status"] == "done" and entry["seed_used"] == 42
    assert entry["inputs"] == {TEST_PROBS: content_hash(run.run_dir / TEST_PROBS)}
    assert entry["products"] == {PRODUCT: content_hash(run.run_dir / PRODUCT)} and entry["settings"] == {"seed": 42}
    assert not (run.run_dir / LEFTOVER).exists(), "what the settings switched off is removed when the step finishes"
    assert step_problems(run, EXTRA, read_record(run.run_dir)) == []
    assert rebuild_hint(run.run_dir / PRODUCT) == "run notebook 07 again to rewrite it: python -m utils.pipeline --run r --from 07"


def test_a_stale_input_of_the_declared_step_is_refused_naming_its_producer(extra_step, run):
    run_extra(run)
    write_probs(np.full((3, 7), 0.75), run.run_dir / TEST_PROBS)  # notebook 05's product replaced behind the record's back
    problems = step_problems(run, EXTRA, read_record(run.run_dir))
    assert problems == [f"{EXTRA} read {TEST_PROBS}, which changed since", f"{TEST_PROBS} changed since 05_inference wrote it"]
    with pytest.raises(StaleProductError, match=rf"(?s){TEST_PROBS}: {TEST_PROBS} changed since 05_inference wrote it.*--from 05"):
        begin_step(run, EXTRA)


def test_other_settings_make_the_declared_step_stale(extra_step, run):
    run_extra(run)
    assert step_problems(run.replace(seed=7), EXTRA, read_record(run.run_dir)) == [f"{EXTRA} ran with other settings (seed: 42 -> 7)"]


def test_an_undeclared_notebook_is_refused_naming_the_declared_ones(run):
    with pytest.raises(ValueError, match=r"unknown notebook '07_extra'; the declared notebooks are \['01_eda', .*'06_error_analysis'\]"):
        begin_step(run, EXTRA)


def test_core_names_no_notebook_and_no_member():
    named = [path.name for path in (REPO_ROOT / "utils" / "core").rglob("*.py")
             if re.search(r"tfidf|bigru|0[1-6]_[a-z]+", path.read_text(encoding="utf-8"))]
    assert named == []
