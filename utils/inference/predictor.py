"""Predicting with a finished run: exactly the members and the decision rule its record lists -> probabilities, decisions."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.ensemble import Ensemble
from ..core.member_kinds import MemberKind, kind_class
from ..core.paths import TEST_PROBS, THRESHOLDS, VALID_PROBS
from ..core.run_record import RECORD_FILE, StaleProductError, content_hash, input_problems, read_record, stale_message
from ..core.settings import RunConfig
from ..core.splits import LABELS
from ..members import RECORDED_BEFORE_KINDS
from ..thresholds.contract import THRESHOLD_SEARCH
from ..thresholds.search import ThresholdChoice, load_thresholds
from ..training.contract import TRAINING
from .contract import INFERENCE

FALLBACK = ThresholdChoice(mode="global", empty_rule="top", thresholds=dict.fromkeys(LABELS, 0.5), in_sample_f1=float("nan"),
                           cv_f1=float("nan"), table=[], note="no thresholds.json: 0.5 for every label, the top label for rows with none")


def finished_members(run_dir: Path) -> tuple[dict, bool]:
    """The members notebook 03 recorded (kind, path and blend weight each) and whether notebook 04 ran; refuses a run whose
    record is missing or whose model and thresholds do not belong together."""
    record = read_record(run_dir)
    if not record:
        raise StaleProductError(f"{run_dir} has no {RECORD_FILE}: it was not made by the kit's notebooks (or before run records "
                                f"existed); re-run it: python -m utils.pipeline --run {run_dir.name} --force")
    folder = run_dir.resolve()  # `--model .` too: a run folder's name is its run's name
    config = RunConfig(name=folder.name, runs_dir=str(folder.parent), data_dir=record.get("data_dir"))
    tuned = THRESHOLD_SEARCH in record.get("steps", {})
    problems = input_problems(config, INFERENCE, record, check_settings=False, check_data=False)  # the data may be elsewhere now
    if not tuned:
        problems = [p for p in problems if not p.startswith(THRESHOLDS)]
    if problems:
        raise StaleProductError(stale_message(run_dir, INFERENCE, problems))
    return record["steps"][TRAINING]["members"], tuned


@dataclass
class Predictor:
    """A run's members (a neural member's fold models predict as their mean), their blend and the run's decision rule."""

    members: dict[str, MemberKind]
    ensemble: Ensemble
    choice: ThresholdChoice

    @classmethod
    def from_run(cls, run_dir: str | Path, device: str = "cpu") -> Predictor:
        """Load what runs/<name>/manifest.json lists: each member with its weight, thresholds.json (0.5 with a notice when
        notebook 04 has not run); for a blend, its runs' predictors and weights."""
        run_dir = Path(run_dir)
        if read_record(run_dir).get("kind") == "blend":
            return BlendPredictor.from_blend(run_dir, device)
        recorded, tuned = finished_members(run_dir)
        if not tuned:
            print(f"Notice: notebook 04 has not run for {run_dir}: {FALLBACK.note}")
        members = {name: kind_class(member.get("kind") or RECORDED_BEFORE_KINDS[name]).load(name, run_dir / member["path"], device)
                   for name, member in recorded.items()}
        choice = load_thresholds(run_dir / THRESHOLDS) if tuned else FALLBACK
        return cls(members, Ensemble({name: member["weight"] for name, member in recorded.items()}), choice)

    def raw_probs(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """(n, 7) blended probabilities in the input order (raw: before recalibration), as in valid_probs_raw.csv."""
        return self.ensemble.combine({name: member.predict(list(texts), batch_size=batch_size) for name, member in self.members.items()})

    def probs(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """(n, 7) probabilities the thresholds apply to: raw, then recalibrated if the run's rule is."""
        return self.choice.recalibrated(self.raw_probs(texts, batch_size))

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """(n, 7) 0/1 decisions for `probs` from `self.probs` (already recalibrated) under the run's thresholds and no-label rule."""
        return self.choice.apply(probs)


@dataclass
class BlendPredictor:
    """A blend's runs (each a Predictor, a member of the blend) and weights, and the blend's own decision rule (utils.blend)."""

    parts: dict[str, Predictor]
    ensemble: Ensemble
    choice: ThresholdChoice

    @classmethod
    def from_blend(cls, run_dir: Path, device: str = "cpu") -> BlendPredictor:
        """Load each blended run, refusing one whose probabilities changed since the blend was made."""
        parts = read_record(run_dir)["blend"]
        for name, part in parts.items():
            now = {key: content_hash(Path(part["path"]) / product)
                   for key, product in (("valid_probs", VALID_PROBS), ("test_probs", TEST_PROBS))}
            if now != {key: part[key] for key in now}:
                raise StaleProductError(f"{run_dir}: run '{name}' ({part['path']}) changed since it was blended: blend it again "
                                        f"(python -m utils.blend --run NEW ...)")
        return cls({name: Predictor.from_run(part["path"], device) for name, part in parts.items()},
                   Ensemble({name: part["weight"] for name, part in parts.items()}), load_thresholds(run_dir / THRESHOLDS))

    def raw_probs(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """(n, 7) the weighted mean of the runs' raw probabilities."""
        return self.ensemble.combine({name: part.raw_probs(texts, batch_size) for name, part in self.parts.items()})

    def probs(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        return self.choice.recalibrated(self.raw_probs(texts, batch_size))

    def decide(self, probs: np.ndarray) -> np.ndarray:
        return self.choice.apply(probs)
