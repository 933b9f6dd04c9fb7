"""The `ngram_bag` kind exports itself: its tables as .npy and settings as JSON, run by `NgramBagArrays` (numpy alone, no torch,
scikit-learn or pandas) as the member predicts; float16 halves the table; a finished run of it exports and answers from the export."""
from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT, SAMPLE_DIR

from utils.core.splits import SPLIT_FILES, TEXT, read_split
from utils.export.agreement import TOLERANCE
from utils.export.manifest import EXPORT_DIR, MANIFEST
from utils.export.runtime import ExportedPredictor, runtime_class
from utils.export.writer import export_run
from utils.members.ngram_bag import NgramBagMember
from utils.members.ngram_bag_runtime import ARRAYS, EXPORT_SETTINGS, NgramBagArrays

SMALL = {"kind": "ngram_bag", "buckets": 4096, "dims": 8, "hidden": 8, "epochs": 2}  # as tests/test_ngram_bag_member.py trains it
EDGE_TEXTS = ["", "😀", "Ну и денёк!!! " * 143]  # the last: 2,002 characters
HEAVY = "import sys; {code}; print(sorted({{'torch', 'sklearn', 'pandas'}} & set(sys.modules)))"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A finished run of notebook 03 whose only member is a small n-gram bag (3 folds over the sample's valid rows), trained in-process."""
    from utils.core.run_record import finish_step
    from utils.core.run_start import start_run
    from utils.core.splits import label_matrix
    from utils.core.text import asr_style
    from utils.training.folds import valid_folds
    from utils.training.members_of_run import MemberRun
    from utils.training.notebook import TrainingData

    overrides = {"runs_dir": str(tmp_path_factory.mktemp("bag_run")), "members": {"neural": None, "tfidf": None, "bag": SMALL}}
    with contextlib.redirect_stdout(io.StringIO()):
        config = start_run(overrides=overrides, data_dir=SAMPLE_DIR, run_name="bag", notebook="03_training")
        train, valid = read_split(SAMPLE_DIR / SPLIT_FILES["train"]), read_split(SAMPLE_DIR / SPLIT_FILES["valid"])
        run = MemberRun(config, TrainingData(train, valid, [], SAMPLE_DIR / SPLIT_FILES["train"]), [asr_style(t) for t in valid[TEXT]],
                        valid_folds(label_matrix(valid), 3, config.seed), config.run_dir / "members" / "bag")
        NgramBagMember("bag", config.members["bag"]).train(run)
        finish_step(config, "03_training")
    return config.run_dir


@pytest.fixture(scope="module")
def member(run_dir) -> NgramBagMember:
    return NgramBagMember.load("bag", run_dir / "members" / "bag")


def texts() -> list[str]:
    return [*read_split(SAMPLE_DIR / SPLIT_FILES["valid"])[TEXT], *EDGE_TEXTS]


def test_the_runtime_named_by_the_kind_answers_as_the_member(member, tmp_path):
    member.export(tmp_path / "bag")
    assert sorted(path.name for path in (tmp_path / "bag").iterdir()) == sorted([EXPORT_SETTINGS, *(f"{name}.npy" for name in ARRAYS)])
    assert all(np.load(tmp_path / "bag" / f"{name}.npy").dtype == np.float32 for name in ARRAYS)  # np.load refuses pickled objects
    settings = json.loads((tmp_path / "bag" / EXPORT_SETTINGS).read_text(encoding="utf-8"))
    assert settings["hashing"] == {"buckets": 4096, "word_ngram_max": 2, "char_ngram_min": 2, "char_ngram_max": 5}
    runtime = runtime_class(NgramBagMember.export_runtime)(tmp_path / "bag")
    assert isinstance(runtime, NgramBagArrays)
    expected, probs = member.predict(texts()), runtime.probs(texts())
    assert probs.shape == (len(texts()), 7) and np.abs(probs - expected).max() < TOLERANCE
    assert np.abs(runtime.probs(texts(), batch_size=7) - expected).max() < TOLERANCE
    assert not np.allclose(probs[-3], probs[-1]), "the long text has n-grams, the empty one none"
    assert runtime.probs([]).shape == (0, 7)


def test_float16_halves_the_table_and_moves_the_probabilities_by_less_than_a_thousandth(member, tmp_path):
    member.export(tmp_path / "full")
    member.export(tmp_path / "half", float16=True)
    full, half = (tmp_path / "full" / "table.npy"), (tmp_path / "half" / "table.npy")
    assert np.load(half).dtype == np.float16 and np.load(tmp_path / "half" / "hidden_weight.npy").dtype == np.float32
    assert half.stat().st_size < 0.51 * full.stat().st_size
    difference = np.abs(NgramBagArrays(tmp_path / "half").probs(texts()) - member.predict(texts())).max()
    assert 0 < difference < 1e-3


def test_the_runtime_module_imports_no_torch_sklearn_or_pandas(member, tmp_path):
    member.export(tmp_path / "bag")
    code = f"from utils.members.ngram_bag_runtime import NgramBagArrays; NgramBagArrays({str(tmp_path / 'bag')!r}).probs(['ну и дела', ''])"
    result = subprocess.run([sys.executable, "-c", HEAVY.format(code=code)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_finished_run_of_the_member_exports_and_answers_from_the_export(run_dir, member):
    with contextlib.redirect_stdout(io.StringIO()):
        export_run(run_dir)
    manifest = json.loads((run_dir / EXPORT_DIR / MANIFEST).read_text(encoding="utf-8"))
    assert [(m["name"], m["kind"], m["runtime"], m["weight"]) for m in manifest["members"]] == [
        ("bag", "ngram_bag", NgramBagMember.export_runtime, 1.0)]
    assert manifest["checked"]["max_difference"]["bag"] < TOLERANCE and manifest["checked"]["texts"] > 300  # valid + test + edges
    predictor = ExportedPredictor.from_folder(run_dir / EXPORT_DIR)
    assert np.abs(predictor.raw_probs(texts()) - member.predict(texts())).max() < TOLERANCE
