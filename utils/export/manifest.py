"""The export's manifest: what it was made from (the run record's hashes of the products), its members and decision rule,
and a hash of every file; an export is fresh while the run's record still lists the products it was made from."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

EXPORT_DIR, MANIFEST, FORMAT_VERSION = "export", "manifest.json", 2  # 2: members name their runtime class
RUN_RECORD = "manifest.json"  # the run's own record (utils.core.run_record.RECORD_FILE), read here without its imports
TRAINING, THRESHOLD_SEARCH = "03_training", "04_threshold_search"
THRESHOLDS = "thresholds.json"


def file_hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under `folder` but the manifest, by path relative to it."""
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file() and path.name != MANIFEST}


def export_size(folder: Path) -> int:
    """Bytes of all files under `folder`."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def recorded_sources(record: dict) -> dict[str, str | None]:
    """The hashes the run's record holds for what an export is made from: the product holding each member's folder (model/,
    members/ for members/<name>/) and thresholds.json (None when notebook 04 has not run)."""
    steps = record.get("steps", {})
    training = steps.get(TRAINING, {})
    products = training.get("products", {})
    held_in = {member["path"].split("/")[0] for member in training.get("members", {}).values()}
    sources = {product: products.get(product) for product in sorted(held_in)}
    tuning = steps.get(THRESHOLD_SEARCH, {})
    sources[THRESHOLDS] = tuning.get("products", {}).get(THRESHOLDS) if tuning.get("status") == "done" else None
    return sources


def read_json_file(path: Path, what: str) -> dict:
    """A JSON object from `path`; ValueError naming the file when it is not one."""
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a readable {what} ({error})") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path}: not a {what} (expected a JSON object)")
    return values


def format_problem(manifest: dict) -> str | None:
    """Why this kit cannot read an export's manifest (None: it can)."""
    version = manifest.get("format_version")
    return None if version == FORMAT_VERSION else (f"the export is of format {version}, this kit reads format {FORMAT_VERSION}: "
                                                    "export the run again")


def stale_reasons(run_dir: Path, export: Path) -> list[str]:
    """Why the export in `export` does not belong to the run's current products (empty when it does)."""
    if not (export / MANIFEST).is_file():
        return [f"{export} holds no export (no {MANIFEST})"]
    if not (run_dir / RUN_RECORD).is_file():
        return [f"{run_dir} has no run record ({RUN_RECORD})"]
    manifest = read_json_file(export / MANIFEST, "export manifest")
    if format_problem(manifest):
        return [format_problem(manifest)]
    made_from = manifest.get("made_from", {})
    now = recorded_sources(read_json_file(run_dir / RUN_RECORD, "run record"))
    return [f"{name} changed since the export was made" if now.get(name) else f"{name} is no longer part of the run"
            for name in sorted(set(made_from) | set(now)) if made_from.get(name) != now.get(name)]
