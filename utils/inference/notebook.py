"""Notebook 05 as one call: predict the test file, write test_probs_raw.csv and a checked submission that never overwrites."""
from __future__ import annotations

import json
from pathlib import Path

from ..core.files import write_text
from ..core.paths import INFERENCE_RECORD, TEST_PROBS
from ..core.probs_files import write_probs
from ..core.progress import headline
from ..core.settings import RunConfig
from ..core.splits import LABELS, SPLIT_FILES, TEXT, read_split
from ..training.runtime import resolve_runtime
from .predictor import Predictor
from .submission import make_submission, write_submission


def submission_path(config: RunConfig) -> Path:
    """Where a run's submission goes: submissions/<name>.csv beside the runs folder."""
    return config.run_dir.parent.parent / "submissions" / f"{config.name}.csv"


def free_path(path: Path) -> Path:
    """`path` if it does not exist, else the first free `<stem>-2`, `<stem>-3`, ... beside it."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate


def predict_test(config: RunConfig, batch_size: int = 256) -> Path:
    """Predict the test file, write runs/<name>/test_probs_raw.csv and a checked submission; return its path."""
    test_path = Path(config.data_dir) / SPLIT_FILES["test"]
    test = read_split(test_path, test=True)
    predictor = Predictor.from_run(config.run_dir, resolve_runtime(config.train).device)  # the GPU when training had one
    raw = predictor.raw_probs(test[TEXT], batch_size)
    write_probs(raw, config.run_dir / TEST_PROBS)
    decisions = predictor.decide(predictor.choice.recalibrated(raw))
    target = submission_path(config)
    path = free_path(target)
    if path != target:
        print(f"Notice: {target} exists (an earlier submission is never overwritten): writing {path} instead")
    write_submission(make_submission(test, decisions), path, test_path, overwrite=False)
    counts = dict(zip(LABELS, map(int, decisions.sum(axis=0))))
    record = {"submission": str(path), "rows": len(test), "predicted_per_label": counts, "rule": predictor.choice.note}
    write_text(config.run_dir / INFERENCE_RECORD, json.dumps(record, indent=2, ensure_ascii=False))
    headline(f"Checked submission of {len(test)} rows written to {path}")
    print("rows predicted per label:", counts)
    return path
