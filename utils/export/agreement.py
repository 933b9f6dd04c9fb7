"""An export checked against the training stack before it is swapped in: each member's probabilities and the decisions of
their blend, on the run's valid and test texts (when its data folder is here) and a few edge cases."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.ensemble import Ensemble
from ..core.errors import KitError
from .runtime import DecisionRule

TOLERANCE = 1e-5  # the most an exported member's probability may differ from the training stack's
FLOAT16_TOLERANCE = 1e-3  # the same with --float16 tables, where every decision must also stay the training stack's
EDGE_TEXTS = ["", "   ", "😀😀😀", "ну 👍 ок", "ыетс qwertyzxcv фывапролджэ", "[ИМЯ] пришёл!!! Ёлки-палки...", "a", "слово " * 300]


class NotExportableError(KitError, ValueError):
    """A run or member the export does not cover; the message says why (utils.predict then uses the training stack)."""


def check_texts(data_dir: str | None) -> list[str]:
    """The run's valid and test texts (those of its data folder that is here) and the edge cases."""
    from ..core.splits import SPLIT_FILES, read_split

    paths = {split: Path(data_dir or "") / SPLIT_FILES[split] for split in ("valid", "test")}
    return [*(text for split, path in paths.items() if path.is_file() for text in read_split(path, test=split == "test").text),
            *EDGE_TEXTS]


def agreement(run_dir: Path, texts: list[str], exported: dict, expected: dict, ensemble: Ensemble, rule: DecisionRule,
              float16: bool = False) -> dict:
    """The largest difference of each member's exported probabilities from the training stack's (`expected`) and how many
    texts the blend decides otherwise; NotExportableError past the tolerance, or (float16) when any decision differs."""
    tolerance = FLOAT16_TOLERANCE if float16 else TOLERANCE
    differences = {name: float(np.abs(probs - expected[name]).max()) for name, probs in exported.items()}
    for name, difference in differences.items():
        if difference > tolerance:
            raise NotExportableError(f"{run_dir}: the exported member '{name}' differs from the training stack by {difference:.2e} "
                                     f"(more than {tolerance:g}) on {len(texts)} texts")
    exported_decisions, expected_decisions = (rule.apply(rule.recalibrated(ensemble.combine(probs))) for probs in (exported, expected))
    differing = int((exported_decisions != expected_decisions).any(axis=1).sum())
    if float16 and differing:
        raise NotExportableError(f"{run_dir}: with float16 tables {differing} of {len(texts)} texts are decided otherwise than by the "
                                 "training stack: export without --float16")
    return {"texts": len(texts), "max_difference": differences, "differing_decisions": differing}
