"""`export_run`: a finished run's members and decision rule -> runs/<name>/export/ (ONNX graphs, .npy arrays, gzipped word
lists and JSON; nothing pickled), checked against the training stack (utils.export.agreement) before it is swapped in."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from ..core.ensemble import Ensemble
from ..core.labels import LABELS
from ..core.member_kinds import MemberKind, kind_class
from ..core.paths import THRESHOLDS
from ..core.run_record import StaleProductError, input_problems, read_record, stale_message
from ..core.settings import RunConfig
from ..core.splits import SPLIT_FILES
from ..members import RECORDED_BEFORE_KINDS
from .agreement import NotExportableError, agreement, check_texts
from .manifest import EXPORT_DIR, FORMAT_VERSION, MANIFEST, export_size, file_hashes, recorded_sources
from .runtime import DecisionRule, runtime_class

FALLBACK_RULE = {"thresholds": dict.fromkeys(LABELS, 0.5), "empty_rule": "top", "recalibration": None,
                 "note": "notebook 04 has not run: 0.5 for every label, the top label for rows with none"}  # as the Predictor's


def finished_run(run_dir: Path) -> tuple[dict, dict]:
    """The run's record and its members (path and weight each), refusing a run that is not finished or whose products do
    not belong together (the checks utils.inference.predictor makes before predicting)."""
    record = read_record(run_dir)
    if not record:
        raise StaleProductError(f"{run_dir} has no run record: export a run made by the kit's notebooks")
    if record.get("kind") == "blend":
        raise NotExportableError(f"{run_dir} is a blend: blends are not exported yet (export each blended run)")
    config = RunConfig(name=run_dir.resolve().name, runs_dir=str(run_dir.resolve().parent), data_dir=record.get("data_dir"))
    problems = input_problems(config, "05_inference", record, check_settings=False, check_data=False)
    if "04_threshold_search" not in record.get("steps", {}):
        problems = [p for p in problems if not p.startswith(THRESHOLDS)]
    if problems:
        raise StaleProductError(stale_message(run_dir, "05_inference", problems))
    return record, record["steps"]["03_training"]["members"]


def decision_rule(run_dir: Path, record: dict) -> dict:
    """thresholds.json's rule (thresholds, no-label rule, recalibration), or the Predictor's fallback before notebook 04."""
    if "04_threshold_search" not in record.get("steps", {}):
        return FALLBACK_RULE
    from ..thresholds.search import load_thresholds

    choice = load_thresholds(run_dir / THRESHOLDS)
    return {"thresholds": choice.thresholds, "empty_rule": choice.empty_rule, "recalibration": choice.recalibration, "note": None}


def export_run(run_dir: str | Path, out: str | Path | None = None, float16: bool = False) -> Path:
    """Export the run's members and decision rule into `out` (default runs/<name>/export/), replacing an export made before
    (announced), once it agrees with the training stack (`agreement`); `float16`: the members' large tables in half precision."""
    run_dir = Path(run_dir)
    out = Path(out) if out else run_dir / EXPORT_DIR
    record, members = finished_run(run_dir)
    if float16 and not (Path(record.get("data_dir") or "") / SPLIT_FILES["test"]).is_file():
        raise NotExportableError(f"{run_dir}: --float16 is checked on the run's valid and test texts, and its data folder "
                                 f"({record.get('data_dir')}) is not here")
    staging = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        texts, entries, exported, expected = check_texts(record.get("data_dir")), [], {}, {}
        ensemble = Ensemble.normalised({name: member["weight"] for name, member in members.items()})
        for name, recorded in members.items():
            member = exportable_member(run_dir, name, recorded)
            member.export(staging / name, float16)
            exported[name] = runtime_class(member.export_runtime)(staging / name).probs(texts)
            expected[name] = member.predict(texts)
            entries.append({"name": name, "kind": member.kind, "runtime": member.export_runtime, "weight": ensemble.weights[name],
                            "folder": name})
        rule = decision_rule(run_dir, record)
        checked = agreement(run_dir, texts, exported, expected, ensemble, DecisionRule.from_dict(rule, LABELS), float16)
        manifest = {"format_version": FORMAT_VERSION, "run": run_dir.resolve().name, "labels": LABELS,
                    "made_from": recorded_sources(record), "members": entries, "decision": rule, "float16": float16,
                    "checked": checked, "files": file_hashes(staging)}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        if out.exists():
            print(f"Replacing the export made before in {out}")
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def exportable_member(run_dir: Path, name: str, recorded: dict) -> MemberKind:
    """The run's member `name` loaded by its kind (the record's, or the kind of a member recorded before kinds), refused
    in one line when its kind or the member itself cannot be exported."""
    kind = recorded.get("kind") or RECORDED_BEFORE_KINDS.get(name)
    found = kind_class(kind)
    if found.export_runtime is None:
        raise NotExportableError(f"{run_dir}: member '{name}' (kind {kind}) cannot be exported: {found.no_export}")
    member = found.load(name, run_dir / recorded["path"])
    reason = member.export_problem()
    if reason:
        raise NotExportableError(f"{run_dir}: member '{name}' (kind {kind}) cannot be exported: {reason}")
    return member


def print_summary(folder: Path) -> None:
    """Where the export is, its size and the check's numbers."""
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    checked = manifest["checked"]
    differences = ", ".join(f"{name} {value:.1e}" for name, value in checked["max_difference"].items())
    print(f"Exported to {folder} ({export_size(folder) / 1e6:.1f} MB{', float16 tables' if manifest['float16'] else ''}); on "
          f"{checked['texts']} texts the largest difference from the training stack: {differences}; texts decided otherwise: "
          f"{checked['differing_decisions']}", file=sys.stdout)
