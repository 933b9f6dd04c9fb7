import json
import os

import pytest
import yaml
from conftest import SAMPLE_DIR

from utils.core.paths import VALID_NOISY_PROBS, VALID_PROBS
from utils.core.probs_files import read_probs
from utils.core.settings_io import load_config
from utils.core.splits import label_matrix, read_split
from utils.run.benchmark import main, merge, read_variants
from utils.thresholds.estimate import nested_estimates

TINY = {"model.navec.hidden_size": 16, "model.navec.ngram_buckets": 2048, "train.epochs": 1, "train.folds": 2,
        "tfidf.weight": 0.5, "tfidf.min_df": 1, "expansion.augment.asr_noise": 0.0}


@pytest.mark.e2e
def test_benchmark_runs_the_pipeline_on_the_sample_and_writes_the_results(tmp_path, capsys):
    variants = tmp_path / "variants.yaml"
    variants.write_text(yaml.safe_dump({"tiny": {"description": "two small folds with TF-IDF", "overrides": TINY}}), encoding="utf-8")
    args = ["--data-dir", str(SAMPLE_DIR), "--variants", str(variants), "--out", str(tmp_path / "results"),
            "--runs-dir", str(tmp_path / "runs"), "--quiet"]
    assert main(args) == 0
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert results["machine"]["cores"] == os.cpu_count() and results["data_dir"] == "data/sample"
    [entry] = results["variants"]
    assert entry["name"] == "tiny" and entry["status"] == "finished" and entry["overrides"] == TINY
    assert entry["rows_trained"] == 400 and entry["mode"] == "folds" and entry["models"] == 2
    assert entry["estimate"] == "asr_noise" and set(entry["estimates"]) == {"clean", "asr_noise"}
    run_dir = tmp_path / "runs" / "tiny"  # the entry holds the honest estimate of this run's own held-out probabilities
    y = label_matrix(read_split(SAMPLE_DIR / "valid.csv"))
    versions = {"clean": read_probs(run_dir / VALID_PROBS), "asr_noise": read_probs(run_dir / VALID_NOISY_PROBS)}
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
    assert entry["peak_rss_mb"] > 100  # the kernels hold torch: hundreds of MB
    table = (tmp_path / "results.md").read_text(encoding="utf-8")
    low, high = entry["cv_weighted_f1_ci"]
    assert f"| tiny | two small folds with TF-IDF | 400 | {entry['cv_weighted_f1']:.4f} ({low:.4f}-{high:.4f}) |" in table
    assert f"{results['machine']['cores']} cores" in table and "| anger | disgust | fear | joy | sadness | surprise | neutral |" in table
    assert main([*args, "--only", "missing"]) == 2
    assert "unknown variant(s) ['missing']" in capsys.readouterr().err


def test_variants_file_is_checked_and_results_merge_in_its_order(tmp_path):
    path = tmp_path / "variants.yaml"
    path.write_text("a: {overrides: {seed: 1}}\nb: {description: second}\n", encoding="utf-8")
    variants = read_variants(path)
    assert [(v.name, v.overrides) for v in variants] == [("a", {"seed": 1}), ("b", {})]
    merged = merge({"variants": [{"name": "b", "cv": 1}, {"name": "gone", "cv": 2}]}, [{"name": "a", "cv": 3}], variants)
    assert [entry["name"] for entry in merged] == ["a", "b", "gone"]
    path.write_text("a: {override: {seed: 1}}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"variant 'a' has unknown key\(s\) \['override'\]"):
        read_variants(path)
