"""Both prediction backends side by side (issue 24): measured on a toy run (test_export_plugins' kind, no notebook), the run
without a usable export measured on the training stack alone, the section of results.md, and `utils.benchmark --backends`
measuring finished runs again without running them."""
from __future__ import annotations

import json

import pytest
import yaml
from conftest import SAMPLE_DIR
from test_export_plugins import NoExport, TextLength, finished_run

from utils.core.splits import read_split
from utils.run import benchmark
from utils.run.backends import compare_backends
from utils.run.benchmark_results import backends_section

ROWS = {"valid": len(read_split(SAMPLE_DIR / "valid.csv")), "test": len(read_split(SAMPLE_DIR / "test_without_answers.csv", test=True))}


def test_both_backends_of_a_run_are_measured_and_compared(tmp_path):
    run_dir = finished_run(tmp_path, TextLength.kind)
    measured = compare_backends(run_dir, SAMPLE_DIR, repeats=1)
    assert (run_dir / "export" / "manifest.json").is_file()  # exported first
    assert measured["rows"] == ROWS and measured["differing_decisions"] == {"valid": 0, "test": 0}
    assert measured["max_prob_difference"] < 1e-12 and measured["export_mb"] == 0.0
    for backend in ("onnx", "torch"):
        assert measured[backend]["texts"] == ROWS["test"] and measured[backend]["texts_per_second"] > 0
        assert 0 < measured[backend]["predict_seconds"] < 60 and measured[backend]["load_seconds"] >= 0


def test_a_run_without_a_usable_export_is_measured_on_the_training_stack_and_says_why(tmp_path, capsys):
    run_dir = finished_run(tmp_path, NoExport.kind)
    measured = compare_backends(run_dir, SAMPLE_DIR, repeats=1)
    assert measured["onnx"] is None and measured["note"] == f"{run_dir / 'export'} holds no export (no manifest.json)"
    assert measured["torch"]["texts"] == ROWS["test"] and "differing_decisions" not in measured
    assert "Notice: run not exported (NotExportableError" in capsys.readouterr().err


STANDIN = {"onnx": {"predict_seconds": 0.61, "texts_per_second": 1180, "load_seconds": 0.12},
           "torch": {"predict_seconds": 3.94, "texts_per_second": 1825, "load_seconds": 1.82},
           "export_mb": 79.5, "rows": {"valid": 5426, "test": 8742}, "differing_decisions": {"valid": 0, "test": 1},
           "max_prob_difference": 4.8e-7}


def test_the_section_shows_both_backends_of_each_measured_run():
    runs = [{"name": "default", "seed": 42, "backends": STANDIN}, {"name": "default", "seed": 43},
            {"name": "encoder", "seed": 42, "backends": {"onnx": None, "note": "runs/x/export holds no export", "torch": STANDIN["torch"]}}]
    lines = backends_section(runs)
    assert lines[1] == "## Both backends" and "python -m utils.benchmark --backends" in lines[3]
    assert lines[-2] == "| default | 42 | 79.5 MB | 0.61 s / 3.94 s | 1180 / 1825 | 0.12 s / 1.82 s | 0 of 5426 | 1 of 8742 | 4.8e-07 |"
    assert lines[-1] == "| encoder | 42 | none: runs/x/export holds no export | – / 3.94 s | – / 1825 | – / 1.82 s | – | – | – |"
    assert backends_section([{"name": "default", "seed": 42}]) == []


@pytest.fixture
def benchmark_folder(tmp_path, monkeypatch):
    """A variants file, results.json of one finished run of `default` (seed 42) and its run folder; compare_backends stood in for."""
    (tmp_path / "variants.yaml").write_text(yaml.safe_dump({"default": {"description": "the defaults", "overrides": {}}}))
    results = {"data_dir": benchmark.shown_path(SAMPLE_DIR), "runs": [{"name": "default", "seed": 42, "overrides": {}, "status": "finished",
                                                                         "cv_weighted_f1": 0.6, "run": "default-s42"}]}
    (tmp_path / "results.json").write_text(json.dumps(results))
    (tmp_path / "runs" / "default-s42").mkdir(parents=True)
    measured = []
    monkeypatch.setattr(benchmark, "compare_backends", lambda run_dir, data_dir: measured.append(run_dir) or STANDIN)
    return tmp_path, measured


def test_backends_measures_the_chosen_finished_runs_again_and_keeps_them_with_their_results(benchmark_folder, capsys):
    root, measured = benchmark_folder
    arguments = ["--backends", "--variants", str(root / "variants.yaml"), "--out", str(root / "results"), "--runs-dir", str(root / "runs"),
                 "--data-dir", str(SAMPLE_DIR)]
    assert benchmark.main([*arguments, "--seeds", "1"]) == 0
    assert measured == [root / "runs" / "default-s42"]
    saved = json.loads((root / "results.json").read_text())
    assert saved["runs"][0]["backends"] == STANDIN and saved["runs"][0]["cv_weighted_f1"] == 0.6
    assert "| default | 42 | 79.5 MB | 0.61 s / 3.94 s |" in (root / "results.md").read_text()
    assert benchmark.main([*arguments, "--seeds", "42", "43"]) == 2 and len(measured) == 1
    assert capsys.readouterr().err == (f"Not measured: variant 'default', seed 43: {root / 'results.json'} lists no finished run of it in "
                                       f"{root / 'runs' / 'default-s43'} (run the benchmark first)\n")
