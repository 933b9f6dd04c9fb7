"""The run's record, runs/<name>/manifest.json: per notebook the settings, the inputs read and the products written,
with content hashes, so that a product is reused only when it was made from what is upstream now."""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from .data_dir import is_sample
from .errors import KitError
from .files import UnreadableFileError, read_json, write_text
from .settings import RunConfig
from .steps import STEPS, Step, producer

RECORD_FILE = "manifest.json"


class StaleProductError(KitError, RuntimeError):
    """A product that was not made from today's inputs and settings; the message names it, says why and what to run."""


CHECKPOINTS = "checkpoints"  # model/checkpoints/: training state kept for resuming, not a product


def step_of(name: str) -> Step:
    """Notebook `name`'s declared step; a name no stage declared is refused naming the declared ones."""
    if name not in STEPS:
        raise ValueError(f"unknown notebook {name!r}; the declared notebooks are {list(STEPS)}")
    return STEPS[name]


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
    return {section: values[section] for section in step_of(name).sections}


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
        if producer(key) and recorded is not None:
            problems += step_problems(config, producer(key), record, check_settings, check_data, seen)
    for product, recorded in entry.get("products", {}).items():
        current = content_hash(config.run_dir / product)
        if current != recorded:
            problems.append(f"{product} is missing ({name} wrote it)" if current is None else f"{product} changed since {name} wrote it")
    return problems


def input_problems(config: RunConfig, name: str, record: dict, check_settings: bool = True, check_data: bool = True) -> list[str]:
    """Why the products that notebook `name` reads from earlier notebooks cannot be used now."""
    problems = []
    for key in step_of(name).inputs:
        maker = producer(key)
        if maker is None:
            continue
        entry = record.get("steps", {}).get(maker)
        optional = key in step_of(name).optional
        if optional and ((entry is None and not input_path(config, key).exists())
                         or (entry is not None and entry.get("status") == "done" and key not in entry.get("products", {}))):
            continue  # not made: no expanded train (03 trains on train.csv), or a member switched off
        problems += [f"{key}: {reason}" for reason in step_problems(config, maker, record, check_settings, check_data)]
    return list(dict.fromkeys(problems))


def rebuild_hint(path: Path) -> str:
    """What to do about a run's product (or a file inside one) that cannot be read: run the notebook that writes it again."""
    path = Path(path).resolve()
    run_dir = next((parent for parent in path.parents if (parent / RECORD_FILE).is_file()), path.parent)
    product = path.relative_to(run_dir).parts[0]
    number = (producer(product) or "NN")[:2]
    return f"run notebook {number} again to rewrite it: python -m utils.pipeline --run {run_dir.name} --from {number}"


def stale_message(run_dir: Path, name: str, problems: list[str]) -> str:
    """The refusal: what is stale, why, and what to run."""
    first = min((producer(p.split(":")[0]) for p in problems if producer(p.split(":")[0])), default=name)
    return (f"{run_dir}: notebook {name} cannot use the products of earlier notebooks:\n  " + "\n  ".join(problems)
            + f"\nRe-run from {first[:2]}: python -m utils.pipeline --run {run_dir.name} --from {first[:2]}")


def begin_step(config: RunConfig, name: str) -> None:
    """Check that the notebook's inputs are fresh (else StaleProductError), then record it as running."""
    step = step_of(name)
    record = read_record(config.run_dir)
    problems = input_problems(config, name, record)
    if problems:
        raise StaleProductError(stale_message(config.run_dir, name, problems))
    inputs = {key: content_hash(input_path(config, key)) for key in step.inputs}

    def start(record: dict) -> None:
        record.update(run=config.name, data_dir=config.data_dir, sample_data=is_sample(config.data_dir))
        record["steps"][name] = {"status": "running", "started": timestamp(), "settings": step_settings(config, name), "inputs": inputs}

    update_record(config.run_dir, start)


def finish_step(config: RunConfig, name: str, **facts) -> None:
    """Record the notebook's products (with hashes) and `facts` (e.g. the submission path): the step is done.

    The step's own facts (from the settings) are recorded too, and what the settings switched off is removed from the run."""
    step = step_of(name)
    facts = {**(step.facts(config) if step.facts else {}), **facts}
    for product in step.switched_off(config) if step.switched_off else []:
        path = config.run_dir / product
        if path.exists():
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
            print(f"Removed {path}: the settings switched it off, so it is not part of this run")
    products = {product: content_hash(config.run_dir / product) for product in step.products if (config.run_dir / product).exists()}
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
