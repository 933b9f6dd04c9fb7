import json
import os

import pytest
from conftest import SAMPLE_DIR, SMALL_RUN

from utils.core.settings_io import load_config
from utils.core.splits import label_matrix, read_split
from utils.run.benchmark import main, read_variants
from utils.thresholds.estimate import nested_estimates
from utils.thresholds.notebook import held_out_versions


@pytest.mark.e2e
def test_benchmark_runs_the_pipeline_on_the_sample_and_writes_the_results(sample_run, tmp_path, capsys):
    root = sample_run.root  # the shared run is the benchmark of one variant, 'sample', with one seed (42)
    results = json.loads((root / "results.json").read_text(encoding="utf-8"))
    assert results["machine"]["cores"] == os.cpu_count() and results["data_dir"] == "data/sample"
    [entry] = results["runs"]
    assert entry["name"] == "sample" and entry["seed"] == 42 and entry["run"] == "sample-s42" and entry["status"] == "finished"
    assert entry["overrides"] == SMALL_RUN
    run_dir = sample_run.run_dir
    assert run_dir.name == "sample-s42" and load_config(run_dir / "params.yaml").seed == 42
    [summary] = results["variants"]  # one seed: its mean is the run's estimate, no sd, no default to compare with
    assert summary["seeds"] == [42] and summary["n"] == 1
    assert summary["cv_weighted_f1_mean"] == pytest.approx(entry["cv_weighted_f1"], abs=1e-5)
    assert summary["seed_sd"] is None and summary["vs_default"] is None and summary["peak_rss_mb"] == entry["peak_rss_mb"]
    expanded = len(read_split(run_dir / "train_expanded.csv", extra_columns=("source",)))
    assert entry["rows_trained"] == expanded > 400 and entry["mode"] == "folds" and entry["models"] == 2
    assert entry["estimate"] == "asr_noise" and set(entry["estimates"]) == {"clean", "asr_noise"}
    y = label_matrix(read_split(SAMPLE_DIR / "valid.csv"))  # the entry holds the honest estimate of the run's held-out probabilities
    versions, fixed = held_out_versions(run_dir, len(y))  # each member's, their weights learned again in each outer fold
    assert fixed is None and set(versions["asr_noise"]) == {"neural", "tfidf"}
    config = load_config(run_dir / "params.yaml")
    again = nested_estimates(y, versions, "clean", config.thresholds, config.seed)["asr_noise"]
    assert entry["cv_weighted_f1"] == pytest.approx(again.weighted_f1, abs=1e-4)
    assert entry["cv_weighted_f1_ci"] == pytest.approx(list(again.ci), abs=1e-4)
    assert 0 < entry["cv_weighted_f1"] < 1 and 0 < entry["chosen_rule_cv_f1"] < 1
    assert set(entry["members"]) == {"neural", "tfidf"} and entry["per_label_f1"] == pytest.approx(again.per_label_f1, abs=1e-4)
    assert entry["macro_f1"] == pytest.approx(sum(entry["per_label_f1"].values()) / 7, abs=1e-4)
    assert list(entry["step_seconds"]) == ["01_eda", "02_data_expansion", "03_training", "04_threshold_search", "05_inference",
                                          "06_error_analysis"]
    assert entry["train_rows_per_second"] > 0 and entry["inference"]["texts"] == 150 and entry["inference"]["texts_per_second"] > 0
    assert 0 < entry["predict_seconds"] < 120
    backends = entry["backends"]  # the pipeline exported the run: both backends side by side, deciding alike
    assert backends["differing_decisions"] == {"valid": 0, "test": 0} and backends["max_prob_difference"] < 1e-5
    assert backends["torch"]["predict_seconds"] == entry["predict_seconds"] and backends["onnx"]["texts"] == 150
    assert (run_dir / "export" / "manifest.json").is_file() and 0 < backends["export_mb"] < 200
    assert entry["peak_rss_mb"] > 100  # the kernels hold torch: hundreds of MB
    table = (root / "results.md").read_text(encoding="utf-8")
    low, high = entry["cv_weighted_f1_ci"]
    assert f"| sample | 42 | {expanded} | {entry['cv_weighted_f1']:.4f} ({low:.4f}-{high:.4f}) |" in table
    assert f"| sample | the tests' small run | 42 (1) | {entry['cv_weighted_f1']:.4f} | – | " in table
    assert "Every variant was measured with the same 1 seed(s): 42." in table
    assert f"| sample | 42 | {backends['export_mb']:.1f} MB | {backends['onnx']['predict_seconds']:.2f} s / " in table
    assert f"{results['machine']['cores']} cores" in table and "| anger | disgust | fear | joy | sadness | surprise | neutral |" in table
    assert main(["--data-dir", str(SAMPLE_DIR), "--variants", str(root / "variants.yaml"), "--out", str(tmp_path / "results"),
                 "--only", "missing"]) == 2
    assert "unknown variant(s) ['missing']" in capsys.readouterr().err


def test_variants_file_is_checked(tmp_path):
    path = tmp_path / "variants.yaml"
    path.write_text("a: {overrides: {train.epochs: 1}}\nb: {description: second}\n", encoding="utf-8")
    variants = read_variants(path)
    assert [(v.name, v.overrides) for v in variants] == [("a", {"train.epochs": 1}), ("b", {})]
    path.write_text("a: {override: {train.epochs: 1}}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"variant 'a' has unknown key\(s\) \['override'\]"):
        read_variants(path)
