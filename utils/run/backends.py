"""A finished run's two prediction backends side by side (`python -m utils.benchmark` measures them after each run, or with
--backends): the export (onnxruntime + numpy) and the training stack (torch), each in processes of its own.

    python -m utils.run.backends RUN BACKEND DATA_DIR OUT   # one backend's pass (the benchmark starts it): OUT.json, OUT.npz
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ..core.errors import KitError
from ..core.paths import REPO_ROOT
from ..core.splits import SPLIT_FILES, TEXT

BACKENDS = ("onnx", "torch")  # utils.predict's --backend: the export, the training stack
PREDICT_TEXT = "ну ыетс вообще жесть я боюсь"
SPLITS = ("valid", "test")


class MeasurementError(KitError, RuntimeError):
    """A measured process failed; the message ends with what it printed last."""


def run_child(command: list[str]) -> None:
    """Run a measured process that imports what this one can (a kind of one's own included); MeasurementError if it fails."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, env=env)
    if done.returncode:
        last = (done.stderr.strip().splitlines() or ["(nothing on stderr)"])[-1]
        raise MeasurementError(f"`{' '.join(command[1:])}` failed with exit status {done.returncode}: {last}")


def predict_seconds(run_dir: Path, backend: str, repeats: int = 3) -> float:
    """Seconds of `python -m utils.predict --model RUN --text ... --backend B` from a cold start (a new process), best of `repeats`."""
    command = [sys.executable, "-m", "utils.predict", "--model", str(run_dir), "--text", PREDICT_TEXT, "--backend", backend]
    seconds = []
    for _ in range(repeats):
        began = time.perf_counter()
        run_child(command)
        seconds.append(time.perf_counter() - began)
    return round(min(seconds), 2)


def one_pass(run_dir: Path, backend: str, data_dir: Path) -> tuple[dict, dict]:
    """The backend loaded, warmed up on 256 valid texts, then one timed pass over the test texts (the preprocessing remembers
    texts, so a second pass would flatter it) and one over the valid texts: its speed, and the decisions and probabilities
    of each split."""
    from ..core.splits import read_split
    from ..inference.cli import load_predictor

    texts = {split: read_split(data_dir / SPLIT_FILES[split], test=split == "test")[TEXT].tolist() for split in SPLITS}
    began = time.perf_counter()
    predictor = load_predictor(run_dir, backend)
    load_seconds = time.perf_counter() - began
    predictor.probs(texts["valid"][:256])
    began = time.perf_counter()
    probs = {"test": predictor.probs(texts["test"])}
    seconds = time.perf_counter() - began
    probs["valid"] = predictor.probs(texts["valid"])
    arrays = {f"{split}_{what}": values for split in SPLITS for what, values in (("probs", probs[split]),
                                                                                    ("decisions", predictor.decide(probs[split])))}
    speed = {"texts": len(texts["test"]), "seconds": round(seconds, 2), "texts_per_second": round(len(texts["test"]) / seconds),
             "load_seconds": round(load_seconds, 2)}
    return speed, arrays


def measured_pass(run_dir: Path, backend: str, data_dir: Path) -> tuple[dict, dict]:
    """`one_pass` in a new process (no cache or import of the other backend's helps it)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "pass"
        run_child([sys.executable, "-m", "utils.run.backends", str(run_dir), backend, str(data_dir), str(out)])
        with np.load(out.with_suffix(".npz")) as arrays:
            return json.loads(out.with_suffix(".json").read_text(encoding="utf-8")), dict(arrays)


def compare_backends(run_dir: Path, data_dir: Path, repeats: int = 3) -> dict:
    """Both backends of a finished run (exported first unless its export is up to date): cold `utils.predict --text`, texts/s
    over the test texts, the export's size, the texts each split's decisions differ on and the largest probability difference;
    without a usable export, the training stack's numbers and why."""
    from ..export.manifest import EXPORT_DIR, export_size, stale_reasons
    from .pipeline import export_finished_run

    export_finished_run(run_dir)
    stale = stale_reasons(run_dir, run_dir / EXPORT_DIR)
    backends = BACKENDS[1:] if stale else BACKENDS
    passes = {backend: measured_pass(run_dir, backend, data_dir) for backend in backends}
    result = {backend: {**passes[backend][0], "predict_seconds": predict_seconds(run_dir, backend, repeats)} for backend in backends}
    if stale:
        return {**result, "onnx": None, "note": "; ".join(stale)}
    (_, onnx), (_, torch) = passes["onnx"], passes["torch"]
    return {**result, "export_mb": round(export_size(run_dir / EXPORT_DIR) / 1e6, 1),
            "rows": {split: len(onnx[f"{split}_decisions"]) for split in SPLITS},
            "differing_decisions": {split: int((onnx[f"{split}_decisions"] != torch[f"{split}_decisions"]).any(axis=1).sum())
                                    for split in SPLITS},
            "max_prob_difference": float(max(np.abs(onnx[f"{split}_probs"] - torch[f"{split}_probs"]).max() for split in SPLITS))}


def main(argv: list[str] | None = None) -> int:
    """One backend's pass: RUN BACKEND DATA_DIR OUT -> OUT.json (speed) and OUT.npz (probabilities and decisions)."""
    run_dir, backend, data_dir, out = (argv or sys.argv[1:])[:4]
    speed, arrays = one_pass(Path(run_dir), backend, Path(data_dir))
    np.savez(Path(out).with_suffix(".npz"), **arrays)
    Path(out).with_suffix(".json").write_text(json.dumps(speed), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
