"""A shipped run: `ExportedPredictor.from_folder("runs/<name>/export")` tags texts with onnxruntime and numpy only (no torch,
scikit-learn or pandas), as `utils.inference.predictor.Predictor` does with the training stack: the same probabilities
(within 1e-5) and decisions.

    from utils.export.runtime import ExportedPredictor
    predictor = ExportedPredictor.from_folder("export")
    probs = predictor.probs(["какой ужас, я боюсь"])
    print(dict(zip(predictor.labels, predictor.decide(probs)[0])))
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

import numpy as np

from ..core.ensemble import Ensemble
from .manifest import MANIFEST, format_problem, read_json_file

EPSILON = 1e-6  # probabilities are clipped to [EPSILON, 1 - EPSILON] before recalibration (utils.thresholds.recalibration)


def runtime_class(name: str) -> type:
    """The class a member's manifest entry names as "module:Class" (its kind's `export_runtime`): `Class(folder)` reads the
    member's export, `.probs(texts, batch_size)` gives (n, 7) probabilities."""
    module, _, attribute = name.partition(":")
    try:
        return getattr(import_module(module), attribute)
    except (ImportError, AttributeError, ValueError) as error:
        raise ValueError(f"member runtime {name!r} cannot be imported ({error}): expected 'module:Class', the module importable") from None


@dataclass
class DecisionRule:
    """thresholds.json's rule as numbers: optional recalibration, one threshold per label, the no-label rule.

    Written here rather than imported: utils.thresholds and utils.core.decisions import pandas and pydantic on load."""

    thresholds: np.ndarray
    empty_rule: str
    coef: np.ndarray | None = None
    intercept: np.ndarray | None = None

    @classmethod
    def from_dict(cls, rule: dict, labels: list[str]) -> DecisionRule:
        """The rule as the manifest writes it: thresholds by label, empty_rule, recalibration (coef, intercept) or None."""
        recalibration = rule.get("recalibration") or {}
        return cls(np.array([rule["thresholds"][label] for label in labels]), rule["empty_rule"],
                   np.asarray(recalibration["coef"]) if recalibration else None,
                   np.asarray(recalibration["intercept"]) if recalibration else None)

    def recalibrated(self, probs: np.ndarray) -> np.ndarray:
        if self.coef is None:
            return probs
        clipped = np.clip(np.asarray(probs, dtype=float), EPSILON, 1 - EPSILON)
        return 1.0 / (1.0 + np.exp(-(np.log(clipped / (1 - clipped)) @ self.coef.T + self.intercept)))

    def apply(self, probs: np.ndarray) -> np.ndarray:
        """(n, 7) 0/1: a label is on when its probability reaches its threshold; a row with none gets the top label
        ('top'), neutral ('neutral') or stays empty ('none')."""
        decisions = probs >= self.thresholds
        empty = ~decisions.any(axis=1)
        if self.empty_rule == "top":
            decisions[empty, probs[empty].argmax(axis=1)] = True
        elif self.empty_rule == "neutral":
            decisions[empty, -1] = True
        return decisions.astype(np.int64)


@dataclass
class ExportedPredictor:
    """The export's members (their runtime classes), their blend and the decision rule."""

    members: dict[str, object]  # member name -> its runtime (an instance of the class its manifest entry names)
    ensemble: Ensemble  # the members' weights, summing to 1 (the training stack's blend)
    rule: DecisionRule
    labels: list[str]
    note: str | None = None  # said when loading, e.g. that notebook 04 had not run

    @classmethod
    def from_folder(cls, folder: str | Path) -> ExportedPredictor:
        folder = Path(folder)
        manifest = read_json_file(folder / MANIFEST, "export manifest (write one with: python -m utils.export runs/<name>)")
        problem = format_problem(manifest)
        if problem:
            raise ValueError(f"{folder}: {problem}")
        members = {member["name"]: runtime_class(member["runtime"])(folder / member["folder"]) for member in manifest["members"]}
        ensemble = Ensemble({member["name"]: member["weight"] for member in manifest["members"]})
        rule = manifest["decision"]
        return cls(members, ensemble, DecisionRule.from_dict(rule, manifest["labels"]), manifest["labels"], rule.get("note"))

    def raw_probs(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """(n, 7) the members' probabilities blended (before recalibration) by the Ensemble formula the Predictor uses."""
        return self.ensemble.combine({name: member.probs(texts, batch_size) for name, member in self.members.items()})

    def probs(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """(n, 7) probabilities the thresholds apply to."""
        return self.rule.recalibrated(self.raw_probs(texts, batch_size))

    def decide(self, probs: np.ndarray) -> np.ndarray:
        return self.rule.apply(probs)
