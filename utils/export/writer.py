"""`export_run`: a finished run's members and decision rule -> runs/<name>/export/ (ONNX graphs, .npy arrays, text and JSON;
nothing pickled), checked against the training stack on the run's valid texts before it is swapped in."""
from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.ensemble import Ensemble
from ..core.errors import KitError
from ..core.labels import LABELS
from ..core.paths import THRESHOLDS
from ..core.run_record import StaleProductError, input_problems, read_record, stale_message
from ..core.settings import RunConfig
from ..members import RECORDED_BEFORE_KINDS
from . import onnx_bigru, tfidf_arrays
from .manifest import EXPORT_DIR, FORMAT_VERSION, MANIFEST, file_hashes, recorded_sources

TOLERANCE = 1e-5  # the most an exported member's probability may differ from the training stack's
EDGE_TEXTS = ["", "   ", "😀😀😀", "ну 👍 ок", "ыетс qwertyzxcv фывапролджэ", "[ИМЯ] пришёл!!! Ёлки-палки...", "a", "слово " * 300]
FALLBACK_RULE = {"thresholds": dict.fromkeys(LABELS, 0.5), "empty_rule": "top", "recalibration": None,
                 "note": "notebook 04 has not run: 0.5 for every label, the top label for rows with none"}  # as the Predictor's


class NotExportableError(KitError, ValueError):
    """A run or member the export does not cover; the message says why (utils.predict then uses the training stack)."""


@dataclass
class MemberExport:
    """How one member kind is exported: load it from its product folder, say why it cannot be exported, write it."""

    kind: str
    load: object  # product folder -> the loaded member
    why_not: object  # loaded member -> reason or None
    write: object  # (loaded member, folder) -> settings
    torch_probs: object  # (loaded member, texts) -> (n, 7) probabilities from the training stack


def _load_neural(path: Path):
    from ..training.checkpoint import load_models

    return load_models(path)


def _neural_probs(models, texts):
    from ..training.prediction import predict_probs

    return predict_probs(models, texts, num_threads=0)


def _load_tfidf(path: Path):
    from ..members.tfidf import TfidfClassifier

    return TfidfClassifier.load(path)


EXPORTERS = {  # member kind in the run record -> how it is exported; model/ holds every seed's fold models: all are exported
    "bigru": MemberExport(onnx_bigru.KIND, _load_neural, onnx_bigru.why_not_exportable,
                           onnx_bigru.export_bigru, _neural_probs),
    "tfidf": MemberExport(tfidf_arrays.KIND, _load_tfidf, tfidf_arrays.why_not_exportable, tfidf_arrays.export_tfidf,
                          lambda member, texts: member.probs(texts)),
}


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


def check_texts(record: dict) -> list[str]:
    """The texts the export is checked on: the run's valid texts when its data folder is here, and edge cases."""
    from ..core.splits import SPLIT_FILES, read_split

    valid = Path(record.get("data_dir") or "") / SPLIT_FILES["valid"]
    return [*(read_split(valid).text if valid.is_file() else []), *EDGE_TEXTS]


def export_run(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Export the run's members and decision rule into `out` (default runs/<name>/export/), replacing an export made before
    (announced); each member's probabilities are checked against the training stack's (at most TOLERANCE apart)."""
    run_dir = Path(run_dir)
    out = Path(out) if out else run_dir / EXPORT_DIR
    record, members = finished_run(run_dir)
    staging = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        texts, entries, differences = check_texts(record), [], {}
        weights = Ensemble.normalised({name: member["weight"] for name, member in members.items()}).weights
        for name, member in members.items():
            kind = member.get("kind") or RECORDED_BEFORE_KINDS.get(name)
            exporter = EXPORTERS.get(kind)
            if exporter is None:
                raise NotExportableError(f"{run_dir}: member '{name}' (kind {kind}) has no export; exported kinds: {sorted(EXPORTERS)}")
            loaded = exporter.load(run_dir / member["path"])
            reason = exporter.why_not(loaded)
            if reason:
                raise NotExportableError(f"{run_dir}: member '{name}' cannot be exported: {reason}")
            exporter.write(loaded, staging / name)
            probs = exported_member_probs(staging / name, exporter.kind, texts)
            differences[name] = float(np.abs(probs - exporter.torch_probs(loaded, texts)).max())
            if differences[name] > TOLERANCE:
                raise NotExportableError(f"{run_dir}: the exported member '{name}' differs from the training stack by "
                                         f"{differences[name]:.2e} (more than {TOLERANCE:g}) on {len(texts)} texts")
            entries.append({"name": name, "kind": exporter.kind, "weight": weights[name], "folder": name})
        manifest = {"format_version": FORMAT_VERSION, "run": run_dir.resolve().name, "labels": LABELS,
                    "made_from": recorded_sources(record), "members": entries, "decision": decision_rule(run_dir, record),
                    "checked": {"texts": len(texts), "max_difference": differences}, "files": file_hashes(staging)}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        if out.exists():
            print(f"Replacing the export made before in {out}")
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def exported_member_probs(folder: Path, kind: str, texts: list[str]) -> np.ndarray:
    """One exported member's probabilities, through its runtime class."""
    from .runtime import MEMBER_KINDS

    return MEMBER_KINDS[kind](folder).probs(texts)


def export_size(folder: Path) -> int:
    """Bytes of all files under `folder`."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def print_summary(folder: Path) -> None:
    """Where the export is, its size and the check's numbers."""
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    checked = manifest["checked"]
    differences = ", ".join(f"{name} {value:.1e}" for name, value in checked["max_difference"].items())
    print(f"Exported to {folder} ({export_size(folder) / 1e6:.1f} MB); largest difference from the training stack on "
          f"{checked['texts']} texts: {differences}", file=sys.stdout)
