"""The benchmark's results from its runs (one per variant and seed): per-variant statistics over the seeds, the paired
comparison with `default`, and results.md."""
from __future__ import annotations

import json
import math
import statistics

from ..core.splits import LABELS

DEFAULT = "default"  # the variant every other one is compared with


def paired_comparison(variant_scores: dict[int, float], default_scores: dict[int, float]) -> dict:
    """The mean of (variant - default) over the seeds both have, its standard error (sd of the differences, ddof 1, over
    sqrt(n)) and a verdict: better or worse only when |mean| > 2 SE with n >= 2, else no measurable difference."""
    seeds = sorted(set(variant_scores) & set(default_scores))
    differences = [variant_scores[seed] - default_scores[seed] for seed in seeds]
    if not differences:
        return {"seeds": [], "n": 0, "mean_difference": None, "se": None, "verdict": "no seed in common with default"}
    mean = statistics.fmean(differences)
    if len(differences) < 2:
        return {"seeds": seeds, "n": 1, "mean_difference": mean, "se": None, "verdict": "one seed in common: no verdict"}
    se = statistics.stdev(differences) / math.sqrt(len(differences))
    verdict = "better" if mean > 2 * se else "worse" if mean < -2 * se else "no measurable difference"
    return {"seeds": seeds, "n": len(differences), "mean_difference": mean, "se": se, "verdict": verdict}


def merge(previous: dict, new: list[dict], overrides: dict[str, dict]) -> list[dict]:
    """The runs of results.json: earlier ones replaced by new ones of the same (variant, seed), and dropped when the variants
    file (`overrides`: name -> its overrides, in the file's order) now gives their variant other overrides; in the file's
    order (variants no longer in it last), then by seed."""
    kept = [run for run in previous.get("runs", []) if run["name"] not in overrides or run.get("overrides") == overrides[run["name"]]]
    runs = {(run["name"], run["seed"]): run for run in [*kept, *new]}
    order = list(overrides)
    return sorted(runs.values(), key=lambda run: (order.index(run["name"]) if run["name"] in order else len(order), run["seed"]))


def _mean(values: list) -> float | None:
    values = [value for value in values if value is not None]
    return statistics.fmean(values) if values else None


def _rounded(value: float | None, digits: int = 5) -> float | None:
    return None if value is None else round(value, digits)


def summarise(runs: list[dict]) -> list[dict]:
    """One entry per variant (in the runs' order): its seeds, the mean honest estimate, its sd over the seeds (`seed_sd`,
    None under two seeds), min and max, the paired comparison with `default`, mean time, peak memory, mean per-label F1.
    Runs that did not finish are counted in `failed_seeds`, not in the statistics."""
    names = list(dict.fromkeys(run["name"] for run in runs))
    scores = {name: {run["seed"]: run["cv_weighted_f1"] for run in runs if run["name"] == name
                     and run.get("status") == "finished" and run.get("cv_weighted_f1") is not None} for name in names}
    summaries = []
    for name in names:
        own = [run for run in runs if run["name"] == name]
        finished = [run for run in own if run["seed"] in scores[name]]
        values = list(scores[name].values())
        per_label = {label: _rounded(_mean([(run.get("per_label_f1") or {}).get(label) for run in finished]), 4) for label in LABELS}
        steps = dict.fromkeys(step for run in finished for step in run.get("step_seconds") or {})
        summaries.append({
            "name": name, "description": own[-1].get("description", ""), "overrides": own[-1].get("overrides", {}),
            "seeds": sorted(scores[name]), "n": len(values), "failed_seeds": sorted(run["seed"] for run in own if run not in finished),
            "cv_weighted_f1_mean": _rounded(_mean(values)),
            "seed_sd": _rounded(statistics.stdev(values)) if len(values) >= 2 else None,
            "cv_weighted_f1_min": min(values, default=None), "cv_weighted_f1_max": max(values, default=None),
            "vs_default": None if name == DEFAULT or DEFAULT not in scores else {
                key: _rounded(value) if key in ("mean_difference", "se") else value
                for key, value in paired_comparison(scores[name], scores[DEFAULT]).items()},
            "mean_seconds": _rounded(_mean([run.get("total_seconds") for run in finished]), 1),
            "peak_rss_mb": max((run["peak_rss_mb"] for run in finished if run.get("peak_rss_mb") is not None), default=None),
            "per_label_f1": per_label,
            "macro_f1": _rounded(_mean([run.get("macro_f1") for run in finished]), 4),
            "step_seconds": {step: _rounded(_mean([(run.get("step_seconds") or {}).get(step) for run in finished]), 1) for step in steps},
        })
    return summaries


def _cell(value, digits: int = 4) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def rule_name(run: dict) -> str:
    """The chosen decision rule in a few words."""
    mode = "per-label thresholds" if run.get("threshold_mode") == "per_label" else "one threshold"
    return f"{'recalibrated, ' if run.get('recalibrated') else ''}{mode}, no-label rule '{run.get('empty_rule')}'"


def estimate_cell(run: dict, name: str | None = None) -> str:
    """An estimate with its 95% interval, e.g. 0.6353 (0.6256-0.6448)."""
    values = (run.get("estimates") or {}).get(name or run.get("estimate")) or {}
    if values.get("weighted_f1") is None:
        return "–"
    return f"{values['weighted_f1']:.4f} ({values['ci'][0]:.4f}-{values['ci'][1]:.4f})"


def paired_cell(summary: dict) -> tuple[str, str]:
    """The paired Δ vs default ± SE (n seeds) and the verdict, as table cells."""
    paired = summary.get("vs_default")
    if paired is None:
        return ("reference" if summary["name"] == DEFAULT else "–"), "–"
    if paired["mean_difference"] is None:
        return "–", paired["verdict"]
    se = "" if paired["se"] is None else f" ± {paired['se']:.4f}"
    return f"{paired['mean_difference']:+.4f}{se} (n={paired['n']})", paired["verdict"]


def seeds_line(summaries: list[dict]) -> str:
    """How many seeds each row was measured with, and which."""
    seeds = sorted({seed for summary in summaries for seed in summary["seeds"]})
    counts = sorted({summary["n"] for summary in summaries})
    if not seeds:
        return "No run finished."
    listed = ", ".join(map(str, seeds))
    if counts == [len(seeds)]:
        return f"Every variant was measured with the same {len(seeds)} seed(s): {listed}."
    return f"Variants were measured with {counts[0]} to {counts[-1]} of the seeds {listed} (column 'seeds (n)')."


def pair(measured: dict, key: str, digits: int = 0, unit: str = "") -> str:
    """The export's and the training stack's value of `key`, e.g. `0.6 s / 3.9 s`."""
    return " / ".join("–" if measured.get(backend) is None else f"{measured[backend][key]:.{digits}f}{unit}"
                      for backend in ("onnx", "torch"))


def backends_section(runs: list[dict]) -> list[str]:
    """Lines of results.md comparing each run's two prediction backends (none when no run measured them)."""
    measured = [run for run in runs if run.get("backends")]
    if not measured:
        return []
    lines = ["", "## Both backends", "", "Each finished run predicted by its export (`--backend onnx`: onnxruntime + numpy, "
             "runs/<name>/export/) and by the training stack (`--backend torch`), measured by `python -m utils.benchmark` after the run "
             "or again with `python -m utils.benchmark --backends --only NAME --runs-dir DIR`. Cold predict: `python -m utils.predict "
             "--model RUN --text \"...\" --backend B`, a new process each time, best of 3. Texts/s: one pass over the test texts in a "
             "process of its own, after loading and a warm-up on 256 valid texts (load: seconds to load the predictor). Decided "
             "otherwise: texts whose 7 decisions are not all the same under both backends; max difference: of the probabilities "
             "the thresholds apply to, over valid and test.", "",
             "| variant | seed | export | cold predict --text (onnx / torch) | texts/s (onnx / torch) | load (onnx / torch) "
             "| valid: decided otherwise | test: decided otherwise | max prob. difference |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for run in measured:
        b = run["backends"]
        export = f"{b['export_mb']:.1f} MB" if b.get("onnx") else f"none: {b.get('note', '')}"
        differing = [f"{b['differing_decisions'][split]} of {b['rows'][split]}" if b.get("onnx") else "–" for split in ("valid", "test")]
        difference = f"{b['max_prob_difference']:.1e}" if b.get("onnx") else "–"
        lines.append(f"| {run['name']} | {run['seed']} | {export} | {pair(b, 'predict_seconds', 2, ' s')} | {pair(b, 'texts_per_second')} "
                     f"| {pair(b, 'load_seconds', 2, ' s')} | {differing[0]} | {differing[1]} | {difference} |")
    return lines


def results_markdown(results: dict) -> str:
    """results.md: the machine and seeds, one row per variant (statistics over its seeds), one row per run, then per-label
    F1 and seconds per notebook averaged over the seeds."""
    summaries, runs = results["variants"], results.get("runs", [])
    lines = [
        "# Benchmark results",
        "",
        f"Written by `python -m utils.benchmark` on {results['date']}; data: `{results['data_dir']}`.",
        f"Machine: {results['machine']['cpu']}, {results['machine']['cores']} cores; Python {results['machine']['python']}, "
        f"torch {results['machine']['torch']}, onnxruntime {results['machine'].get('onnxruntime', '–')}. Absolute times vary between "
        "machines.",
        "",
        seeds_line(summaries),
        "",
        "Honest estimate: the run's `cv_weighted_f1` (notebook 04's nested estimate: the whole choice of the decision rule "
        "repeated inside each outer fold of valid, on the held-out rows written with the kit's ASR noise); per variant its mean, "
        "sd and range over the seeds. Paired Δ: the mean over the seeds both have of (variant - default) with the same seed, ± "
        "its standard error (sd of the differences / sqrt(n)). Verdict: better or worse only when |Δ| > 2 SE with n >= 2, else "
        "no measurable difference. Time: the whole pipeline (notebooks 01 -> 06 under papermill), mean over the seeds. Memory: "
        "peak resident memory of the pipeline with its kernels and workers (sampled every 0.2 s), the highest over the seeds.",
        "",
        "| variant | what it tries | seeds (n) | honest estimate (mean) | sd | min-max | paired Δ vs default ± SE | verdict "
        "| mean time | peak memory |",
        "|---|---|---|---:|---:|---|---|---|---:|---:|",
    ]
    for s in summaries:
        delta, verdict = paired_cell(s)
        spread = "–" if s["cv_weighted_f1_min"] is None else f"{s['cv_weighted_f1_min']:.4f}-{s['cv_weighted_f1_max']:.4f}"
        failed = f"; failed: {', '.join(map(str, s['failed_seeds']))}" if s["failed_seeds"] else ""
        time = "–" if s["mean_seconds"] is None else f"{s['mean_seconds'] / 60:.1f} min"
        memory = "–" if s["peak_rss_mb"] is None else f"{s['peak_rss_mb']} MB"
        lines.append(f"| {s['name']} | {s['description']} | {', '.join(map(str, s['seeds'])) or '–'} ({s['n']}{failed}) "
                     f"| {_cell(s['cv_weighted_f1_mean'])} | {_cell(s['seed_sd'])} | {spread} | {delta} | {verdict} | {time} | {memory} |")
    lines += ["", "## Each run", "", "Honest CV F1 with its 95% bootstrap interval over valid rows; clean rows: the same estimate on "
              "the held-out rows as written; chosen rule's CV: the best of 12 cross-validated rules scored on the rows it was chosen "
              "on (optimistic). Inference: the training stack's predictor over the test texts, models loaded. Predict: `python -m "
              "utils.predict --model RUN --text ...` from a cold start, the training stack (the export: see 'Both backends').", "",
              "| variant | seed | rows trained | honest CV F1 (95% interval) | clean rows | chosen rule's CV | decision rule "
              "| members (best single thr.) | time | infer texts/s | predict --text | peak memory | status |",
              "|---|---:|---:|---|---|---:|---|---|---:|---:|---:|---:|---|"]
    for r in runs:
        members = ", ".join(f"{name} {_cell(score)}" for name, score in (r.get("members") or {}).items()) or "–"
        lines.append(
            f"| {r['name']} | {r['seed']} | {_cell(r.get('rows_trained'))} | {estimate_cell(r)} | {estimate_cell(r, 'clean')} "
            f"| {_cell(r.get('chosen_rule_cv_f1'))} | {rule_name(r)} | {members} | {(r.get('total_seconds') or 0) / 60:.1f} min "
            f"| {_cell((r.get('inference') or {}).get('texts_per_second'))} | {_cell(r.get('predict_seconds'), 1)} s "
            f"| {r.get('peak_rss_mb')} MB | {r.get('status')} |")
    lines += ["", "## F1 per label", "", "The honest estimate's per-label F1 (held-out rows decided by rules chosen without them), "
              "mean over the variant's seeds. Macro F1 is the mean over labels.", "",
              "| variant | " + " | ".join(LABELS) + " | macro |", "|---|" + "---:|" * (len(LABELS) + 1)]
    for s in summaries:
        lines.append(f"| {s['name']} | " + " | ".join(_cell(s["per_label_f1"].get(label), 3) for label in LABELS)
                     + f" | {_cell(s['macro_f1'], 3)} |")
    steps = sorted({step for s in summaries for step in s["step_seconds"]})
    lines += ["", "## Seconds per notebook (mean over the seeds)", "", "| variant | " + " | ".join(steps) + " | total |",
              "|---|" + "---:|" * (len(steps) + 1)]
    for s in summaries:
        lines.append(f"| {s['name']} | " + " | ".join(_cell(s["step_seconds"].get(step), 1) for step in steps)
                     + f" | {_cell(s['mean_seconds'], 1)} |")
    lines += backends_section(runs)
    lines += ["", "## Overrides of each variant (each run adds its `seed`)", ""]
    lines += [f"- `{s['name']}`: " + (", ".join(f"`{k}={json.dumps(val, ensure_ascii=False)}`" for k, val in s["overrides"].items())
                                      or "none")
              for s in summaries]
    return "\n".join(lines) + "\n"
