"""The benchmark over seeds without a pipeline: the paired comparison with default, the merge of runs by (variant, seed),
the per-variant statistics and results.md built from hand-made runs, and the refusals of --seeds and of a variant's seed."""
import json

import pytest

from utils.run import benchmark
from utils.run.benchmark import main, seed_list
from utils.run.benchmark_results import merge, paired_comparison, results_markdown, summarise

DEFAULT_SCORES = {42: 0.630, 43: 0.640, 44: 0.635}


def shifted(differences):
    return {seed: DEFAULT_SCORES[seed] + difference for seed, difference in zip(DEFAULT_SCORES, differences, strict=True)}


def test_a_variant_is_better_or_worse_only_beyond_two_standard_errors_of_the_paired_differences():
    # differences 0.010, 0.012, 0.008: mean 0.010, sd sqrt((0 + 0.002^2 + 0.002^2) / 2) = 0.002, SE 0.002 / sqrt(3) = 0.00115;
    # 0.010 > 2 SE = 0.0023 -> better
    better = paired_comparison(shifted([0.010, 0.012, 0.008]), DEFAULT_SCORES)
    assert better["n"] == 3 and better["seeds"] == [42, 43, 44] and better["verdict"] == "better"
    assert better["mean_difference"] == pytest.approx(0.010) and better["se"] == pytest.approx(0.0011547, abs=1e-6)
    assert paired_comparison(shifted([-0.010, -0.012, -0.008]), DEFAULT_SCORES)["verdict"] == "worse"
    # differences 0.01, -0.008, 0.004: mean 0.002, sd sqrt((0.008^2 + 0.010^2 + 0.002^2) / 2) = 0.0091652, SE 0.0052915;
    # 0.002 < 2 SE = 0.0106 -> no measurable difference
    unclear = paired_comparison(shifted([0.010, -0.008, 0.004]), DEFAULT_SCORES)
    assert unclear["verdict"] == "no measurable difference"
    assert unclear["mean_difference"] == pytest.approx(0.002) and unclear["se"] == pytest.approx(0.0052915, abs=1e-6)


def test_only_the_seeds_both_have_are_paired_and_one_seed_gives_no_verdict():
    # seed 42 is the only one in common: 0.65 - 0.63 = 0.02, no standard error from one difference
    single = paired_comparison({42: 0.65, 7: 0.10}, DEFAULT_SCORES)
    assert single == {"seeds": [42], "n": 1, "mean_difference": pytest.approx(0.02), "se": None,
                      "verdict": "one seed in common: no verdict"}
    assert paired_comparison({7: 0.6}, DEFAULT_SCORES)["verdict"] == "no seed in common with default"


def run(name, seed, f1, seconds=300.0, memory=3000, anger=0.4, status="finished"):
    """A benchmark run entry as run_variant records it (the fields the results are built from)."""
    return {"name": name, "seed": seed, "description": f"{name} tries", "overrides": {} if name == "default" else {"tfidf.weight": 0.0},
            "status": status, "cv_weighted_f1": f1, "estimate": "asr_noise",
            "estimates": {"asr_noise": {"weighted_f1": f1, "ci": [f1 - 0.01, f1 + 0.01]}} if f1 else {},
            "rows_trained": 100, "per_label_f1": {"anger": anger}, "macro_f1": anger, "total_seconds": seconds,
            "step_seconds": {"03_training": seconds}, "peak_rss_mb": memory}


def test_runs_merge_by_variant_and_seed_and_each_variant_is_summarised_over_its_seeds():
    previous = {"runs": [run("gone", 42, 0.5), run("tfidf-off", 42, 0.600), run("default", 42, 0.630), run("default", 43, 0.640,
                                                                                                          360.0, 3100, 0.5)]}
    new = [run("tfidf-off", 42, 0.620), run("tfidf-off", 43, 0.628), run("tfidf-off", 44, None, status="failed")]
    changed = merge(previous, new, {"default": {"train.epochs": 3}, "tfidf-off": {"tfidf.weight": 0.0}})
    assert [run["name"] for run in changed if run["name"] == "default"] == [], "runs of a variant whose overrides changed are dropped"
    runs = merge(previous, new, {"default": {}, "tfidf-off": {"tfidf.weight": 0.0}})
    assert [(r["name"], r["seed"], r["cv_weighted_f1"]) for r in runs] == [
        ("default", 42, 0.630), ("default", 43, 0.640), ("tfidf-off", 42, 0.620), ("tfidf-off", 43, 0.628),
        ("tfidf-off", 44, None), ("gone", 42, 0.5)], "the new seed-42 run replaces the old one; a variant gone from the file is last"
    default, tfidf_off, gone = summarise(runs)
    # default: 0.630 and 0.640 -> mean 0.635, sd sqrt(2 * 0.005^2 / 1) = 0.0070711; time (300 + 360) / 2 = 330 s
    assert default["seeds"] == [42, 43] and default["n"] == 2 and default["cv_weighted_f1_mean"] == pytest.approx(0.635)
    assert default["seed_sd"] == pytest.approx(0.0070711, abs=1e-5) and default["vs_default"] is None
    assert (default["cv_weighted_f1_min"], default["cv_weighted_f1_max"]) == (0.630, 0.640)
    assert default["mean_seconds"] == 330.0 and default["peak_rss_mb"] == 3100 and default["per_label_f1"]["anger"] == 0.45
    # tfidf-off: differences -0.010, -0.012 -> mean -0.011, sd sqrt(2 * 0.001^2 / 1) = 0.0014142, SE 0.001 -> worse;
    # the failed seed 44 is named, not counted
    assert tfidf_off["seeds"] == [42, 43] and tfidf_off["failed_seeds"] == [44]
    assert tfidf_off["seed_sd"] == pytest.approx(0.0056569, abs=1e-5)  # 0.620, 0.628: sd sqrt(2 * 0.004^2 / 1)
    paired = tfidf_off["vs_default"]
    assert paired["verdict"] == "worse" and paired["n"] == 2
    assert paired["mean_difference"] == pytest.approx(-0.011) and paired["se"] == pytest.approx(0.001, abs=1e-6)
    assert gone["n"] == 1 and gone["seed_sd"] is None and gone["vs_default"]["verdict"] == "one seed in common: no verdict"

    table = results_markdown({"date": "2026-01-01T00:00", "data_dir": "data/sample", "machine": {"cpu": "x", "cores": 2, "python": "3.11",
                              "torch": "2"}, "runs": runs, "variants": [default, tfidf_off, gone]})
    assert "Variants were measured with 1 to 2 of the seeds 42, 43 (column 'seeds (n)')." in table
    assert "| default | default tries | 42, 43 (2) | 0.6350 | 0.0071 | 0.6300-0.6400 | reference | – | 5.5 min | 3100 MB |" in table
    assert ("| tfidf-off | tfidf-off tries | 42, 43 (2; failed: 44) | 0.6240 | 0.0057 | 0.6200-0.6280 | -0.0110 ± 0.0010 (n=2) "
            "| worse | 5.0 min | 3000 MB |") in table
    assert "| gone | gone tries | 42 (1) | 0.5000 | – | 0.5000-0.5000 | -0.1300 (n=1) | one seed in common: no verdict |" in table
    assert "| tfidf-off | 43 | 100 | 0.6280 (0.6180-0.6380) |" in table and "| tfidf-off | 44 | 100 | – |" in table
    assert "| default | 0.450 | – |" in table, "per-label F1: the mean over the seeds"


def test_seeds_are_a_count_from_the_default_seed_or_a_list():
    assert seed_list([3]) == [42, 43, 44] and seed_list([1]) == [42] and seed_list([42, 1, 2]) == [42, 1, 2]
    with pytest.raises(ValueError, match="one number is how many seeds"):
        seed_list([0])
    with pytest.raises(ValueError, match="expected different seeds"):
        seed_list([42, 42])


def test_a_variant_that_sets_its_seed_or_bad_seeds_are_refused_before_any_run(tmp_path, capsys):
    variants = tmp_path / "variants.yaml"
    variants.write_text("default: {}\nlucky: {overrides: {seed: 7}}\n", encoding="utf-8")
    assert main(["--variants", str(variants), "--out", str(tmp_path / "results")]) == 2
    assert f"Not started: {variants}: variant 'lucky' sets 'seed' in its overrides" in capsys.readouterr().err
    variants.write_text(f"{'v' * 98}: {{}}\n", encoding="utf-8")  # a valid variant name, but its run name v...v-s42 is too long
    assert main(["--variants", str(variants), "--out", str(tmp_path / "results"), "--seeds", "1"]) == 2
    assert "is not accepted: a run name is 1 to 100 characters" in capsys.readouterr().err
    assert main(["--variants", str(variants), "--out", str(tmp_path / "results"), "--seeds", "5", "5"]) == 2
    assert "Not started: --seeds 5 5: expected different seeds" in capsys.readouterr().err
    assert not list(tmp_path.glob("results*"))


def test_every_variant_runs_with_the_same_seeds_and_a_later_benchmark_replaces_only_its_own_runs(tmp_path, monkeypatch, capsys):
    made = []

    def fake_run(variant, seed, data_dir, runs_dir, quiet):  # what run_variant records, without the pipeline
        made.append(benchmark.run_name(variant, seed))
        return run(variant.name, seed, 0.63 + seed / 1000 - (0.01 if variant.name == "tfidf-off" else 0) + 0.001 * len(made))

    monkeypatch.setattr(benchmark, "run_variant", fake_run)
    monkeypatch.setattr(benchmark, "machine", lambda: {"cpu": "x", "cores": 2, "python": "3.11", "torch": "2"})
    variants, out = tmp_path / "variants.yaml", tmp_path / "results"
    variants.write_text("default: {}\ntfidf-off: {overrides: {tfidf.weight: 0.0}}\n", encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps({"data_dir": "data/sample", "variants": [{"name": "default"}]}), encoding="utf-8")
    args = ["--variants", str(variants), "--out", str(out), "--data-dir", "data/sample"]
    assert main([*args, "--seeds", "2"]) == 0
    assert made == ["default-s42", "default-s43", "tfidf-off-s42", "tfidf-off-s43"]
    assert "holds results of the single-seed format (no per-seed runs): they are replaced" in capsys.readouterr().out
    first = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert main([*args, "--only", "tfidf-off", "--seeds", "43", "44"]) == 0
    assert made[4:] == ["tfidf-off-s43", "tfidf-off-s44"]
    results = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert [(r["name"], r["seed"]) for r in results["runs"]] == [("default", 42), ("default", 43), ("tfidf-off", 42), ("tfidf-off", 43),
                                                                 ("tfidf-off", 44)]
    assert results["runs"][:3] == first["runs"][:3] and results["runs"][3] != first["runs"][3], "only the re-run (variant, seed) changed"
    # default: 0.63 + 0.042 + 0.001 = 0.673 (1st run), 0.675 (2nd): sd sqrt(2 * 0.001^2) = 0.0014142 (recorded to 5 digits);
    # tfidf-off: seed 42 kept from the 3rd run, 0.662 + 0.003 = 0.665; seed 43 from the 5th, 0.663 + 0.005 = 0.668;
    # differences -0.008, -0.007 -> mean -0.0075 over the 2 paired seeds; seed 44 has no default to pair with
    default, tfidf_off = results["variants"]
    assert default["seed_sd"] == pytest.approx(0.0014142, abs=1e-5) and tfidf_off["vs_default"]["seeds"] == [42, 43]
    assert tfidf_off["vs_default"]["mean_difference"] == pytest.approx(-0.0075) and tfidf_off["seeds"] == [42, 43, 44]
    assert "| tfidf-off | 44 |" in out.with_suffix(".md").read_text(encoding="utf-8")
