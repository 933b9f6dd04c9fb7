"""The run's record, runs/<name>/manifest.json: per notebook the settings, the inputs read and the products written,
with content hashes, so that a product is reused only when it was made from what is upstream now."""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .data_dir import is_sample
from .errors import KitError
from .files import UnreadableFileError, read_json, write_text
from .paths import (
    ERRORS_DIR,
    ESTIMATE,
    EXPANDED_TRAIN,
    INFERENCE_RECORD,
    LINEAR_DIR,
    METRICS,
    MODEL_DIR,
    TEST_PROBS,
    THRESHOLDS,
    VALID_NOISY_PROBS,
    VALID_PROBS,
)
from .settings import RunConfig
from .splits import SPLIT_FILES

RECORD_FILE = "manifest.json"
TRAIN, VALID, TEST = (f"data/{SPLIT_FILES[split]}" for split in ("train", "valid", "test"))  # data files, as keyed in the record


class StaleProductError(KitError, RuntimeError):
    """A product that was not made from today's inputs and settings; the message names it, says why and what to run."""


@dataclass(frozen=True)
class Step:
    """What one notebook depends on and makes: settings sections, inputs (data files and products), products."""

    sections: tuple[str, ...]  # the settings that shape its products
    inputs: tuple[str, ...]  # data files (data/...) and products of earlier notebooks
    products: tuple[str, ...]  # files or folders it writes into runs/<name>/
    optional: tuple[str, ...] = ()  # inputs that may be absent when their notebook has not run (or not made them)


STEPS = {
    "01_eda": Step(("text", "eda"), (TRAIN, VALID, TEST), ("eda",)),
    "02_data_expansion": Step(("seed", "text", "expansion"), (TRAIN, VALID, TEST), (EXPANDED_TRAIN, "expansion")),
    "03_training": Step(("seed", "text", "model", "train", "tfidf"), (TRAIN, VALID, TEST, EXPANDED_TRAIN),
                        (MODEL_DIR, LINEAR_DIR, VALID_PROBS, VALID_NOISY_PROBS, METRICS, "training_log.csv", "training_curves.png"),
                        (EXPANDED_TRAIN,)),
    "04_threshold_search": Step(("seed", "thresholds"), (VALID, VALID_PROBS, VALID_NOISY_PROBS), (THRESHOLDS, ESTIMATE, "thresholds.png"),
                                (VALID_NOISY_PROBS,)),
    "05_inference": Step((), (TEST, MODEL_DIR, LINEAR_DIR, THRESHOLDS), (TEST_PROBS, INFERENCE_RECORD), (LINEAR_DIR,)),
    "06_error_analysis": Step((), (VALID, VALID_PROBS, THRESHOLDS, LINEAR_DIR), (ERRORS_DIR,), (LINEAR_DIR,)),
}
PRODUCER = {product: name for name, step in STEPS.items() for product in step.products}
CHECKPOINTS = "checkpoints"  # model/checkpoints/: training state kept for resuming, not a product


def content_hash(path: Path) -> str | None:
    """SHA-256 of a file, or of a folder's files (names and bytes; training checkpoints left out); None when absent."""
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    if not path.is_dir():
        return None
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file() and CHECKPOINTS not in p.relative_to(path).parts[:1]):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0" + hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def input_path(config: RunConfig, key: str) -> Path:
    """Where an input lives: data/... in the data folder, anything else in the run folder."""
    return Path(config.data_dir) / key.removeprefix("data/") if key.startswith("data/") else config.run_dir / key


def step_settings(config: RunConfig, name: str) -> dict:
    """The settings sections a notebook's products depend on, as plain values."""
    values = config.model_dump()
    return {section: values[section] for section in STEPS[name].sections}


def flatten(values: dict, prefix: str = "") -> dict:
    """{'train': {'epochs': 5}} -> {'train.epochs': 5}."""
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def read_record(run_dir: Path) -> dict:
    """The run's record ({} when there is none yet); an unreadable one (cut short, emptied, edited into another shape) is
    refused with UnreadableFileError naming it and saying what to do."""
    run_dir = Path(run_dir)
    path = run_dir / RECORD_FILE
    fix = (f"the record of run '{run_dir.name}' is unreadable: restore it from a copy, or start the run over: python -m "
           f"utils.pipeline --run {run_dir.name} --force --data-dir DIR")
    record = read_json(path, fix)
    steps = record.get("steps", {})
    if not isinstance(steps, dict) or not all(isinstance(step, dict) for step in steps.values()):
        raise UnreadableFileError(f"{path}: 'steps' is not a mapping of notebook -> what it did: {fix}", path)
    return record


@contextlib.contextmanager
def _locked(run_dir: Path) -> Iterator[None]:
    """Serialise read-modify-write of the record between the pipeline and its notebook kernels."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / f".{RECORD_FILE}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def update_record(run_dir: Path, change: Callable[[dict], None]) -> dict:
    """Apply `change` to the record and write it back atomically; returns the new record."""
    run_dir = Path(run_dir)
    with _locked(run_dir):
        record = read_record(run_dir)
        record.setdefault("steps", {})
        change(record)
        write_text(run_dir / RECORD_FILE, json.dumps(record, indent=2, ensure_ascii=False))
    return record


def timestamp() -> str:
    return datetime.now().isoformat(timespec="seconds")


def _settings_change(recorded: dict, current: dict) -> str:
    """The first few settings that differ, as 'key: old -> new'."""
    old, new = flatten(recorded), flatten(current)
    changed = [f"{key}: {old.get(key)!r} -> {new.get(key)!r}" for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)]
    return "; ".join(changed[:3]) + (f" (and {len(changed) - 3} more)" if len(changed) > 3 else "")


def step_problems(config: RunConfig, name: str, record: dict, check_settings: bool = True, check_data: bool = True,
                  seen: set | None = None) -> list[str]:
    """Why notebook `name`'s products cannot be used now (empty when they can): not finished, other settings, other
    inputs, products changed since, or the same for a notebook upstream. Without `check_settings` and `check_data`
    (a finished run used elsewhere) only the products' agreement with each other is checked."""
    seen = set() if seen is None else seen
    if name in seen:
        return []
    seen.add(name)
    entry = record.get("steps", {}).get(name)
    if entry is None:
        return [f"{name} has not run in this run"]
    if entry.get("status") != "done":
        return [f"{name} did not finish (status: {entry.get('status')})"]
    if check_settings and entry.get("settings") != step_settings(config, name):
        return [f"{name} ran with other settings ({_settings_change(entry.get('settings', {}), step_settings(config, name))})"]
    problems = []
    for key, recorded in entry.get("inputs", {}).items():
        if not check_data and key.startswith("data/"):
            continue
        if content_hash(input_path(config, key)) != recorded:
            problems.append(f"{name} read {key}, which changed since" if recorded else f"{name} ran without {key}, which exists now")
        if key in PRODUCER and recorded is not None:
            problems += step_problems(config, PRODUCER[key], record, check_settings, check_data, seen)
    for product, recorded in entry.get("products", {}).items():
        current = content_hash(config.run_dir / product)
        if current != recorded:
            problems.append(f"{product} is missing ({name} wrote it)" if current is None else f"{product} changed since {name} wrote it")
    return problems


def input_problems(config: RunConfig, name: str, record: dict, check_settings: bool = True, check_data: bool = True) -> list[str]:
    """Why the products that notebook `name` reads from earlier notebooks cannot be used now."""
    problems = []
    for key in STEPS[name].inputs:
        producer = PRODUCER.get(key)
        if producer is None:
            continue
        entry = record.get("steps", {}).get(producer)
        optional = key in STEPS[name].optional
        if optional and ((entry is None and not input_path(config, key).exists())
                         or (entry is not None and entry.get("status") == "done" and key not in entry.get("products", {}))):
            continue  # not made: no expanded train (03 trains on train.csv), or a member switched off
        problems += [f"{key}: {reason}" for reason in step_problems(config, producer, record, check_settings, check_data)]
    return list(dict.fromkeys(problems))


def rebuild_hint(path: Path) -> str:
    """What to do about a run's product (or a file inside one) that cannot be read: run the notebook that writes it again."""
    path = Path(path).resolve()
    run_dir = next((parent for parent in path.parents if (parent / RECORD_FILE).is_file()), path.parent)
    product = path.relative_to(run_dir).parts[0]
    number = PRODUCER[product][:2] if product in PRODUCER else "NN"
    return f"run notebook {number} again to rewrite it: python -m utils.pipeline --run {run_dir.name} --from {number}"


def stale_message(run_dir: Path, name: str, problems: list[str]) -> str:
    """The refusal: what is stale, why, and what to run."""
    first = min((PRODUCER[p.split(":")[0]] for p in problems if p.split(":")[0] in PRODUCER), default=name)
    return (f"{run_dir}: notebook {name} cannot use the products of earlier notebooks:\n  " + "\n  ".join(problems)
            + f"\nRe-run from {first[:2]}: python -m utils.pipeline --run {run_dir.name} --from {first[:2]}")


def begin_step(config: RunConfig, name: str) -> None:
    """Check that the notebook's inputs are fresh (else StaleProductError), then record it as running."""
    if name not in STEPS:
        raise ValueError(f"unknown notebook {name!r}; the kit's notebooks are {list(STEPS)}")
    record = read_record(config.run_dir)
    problems = input_problems(config, name, record)
    if problems:
        raise StaleProductError(stale_message(config.run_dir, name, problems))
    inputs = {key: content_hash(input_path(config, key)) for key in STEPS[name].inputs}

    def start(record: dict) -> None:
        record.update(run=config.name, data_dir=config.data_dir, sample_data=is_sample(config.data_dir))
        record["steps"][name] = {"status": "running", "started": timestamp(), "settings": step_settings(config, name), "inputs": inputs}

    update_record(config.run_dir, start)


def members_of(config: RunConfig) -> dict:
    """The ensemble members notebook 03 trains and the weights it blends them with."""
    weight = config.tfidf.weight
    return {"neural": {"path": MODEL_DIR, "weight": 1 - weight}, **({"tfidf": {"path": LINEAR_DIR, "weight": weight}} if weight else {})}


def finish_step(config: RunConfig, name: str, **facts) -> None:
    """Record the notebook's products (with hashes) and `facts` (e.g. the submission path): the step is done.

    Notebook 03 also records its members; a member the settings switched off is removed from the run."""
    if name == "03_training":
        facts["members"] = members_of(config)
        if "tfidf" not in facts["members"] and (config.run_dir / LINEAR_DIR).exists():
            shutil.rmtree(config.run_dir / LINEAR_DIR)
            print(f"Removed {config.run_dir / LINEAR_DIR}: tfidf.weight is 0, so the TF-IDF member is not part of this run")
    products = {product: content_hash(config.run_dir / product) for product in STEPS[name].products
                if (config.run_dir / product).exists()}
    if "submission" in facts:  # found again by its content when it is checked or sent (utils.submission)
        facts["submission_sha256"] = content_hash(Path(facts["submission"]))

    def finish(record: dict) -> None:
        entry = record["steps"].get(name, {})
        entry.update(status="done", ended=timestamp(), products=products, **facts)
        if "started" in entry:
            entry["seconds"] = round((datetime.fromisoformat(entry["ended"]) - datetime.fromisoformat(entry["started"])).total_seconds(), 1)
        record["steps"][name] = entry

    update_record(config.run_dir, finish)
    print(f"Recorded in {config.run_dir / RECORD_FILE}: {name} done, products {sorted(products)}")


def mark_step(run_dir: Path, name: str, status: str) -> None:
    """Set a notebook's status (failed, interrupted) when it stopped before recording its products."""
    def mark(record: dict) -> None:
        entry = record["steps"].setdefault(name, {})
        if entry.get("status") != "done":
            entry.update(status=status, ended=timestamp())

    update_record(run_dir, mark)
