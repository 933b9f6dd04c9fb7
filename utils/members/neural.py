"""What the two neural kinds share: notebook 03's network (the `model` and `train` settings), trained into model/ by the
fit loop in its own processes, k fold models (or one) loaded for prediction."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..core.member_kinds import MemberKind
from ..core.members_settings import backbone_of
from ..core.settings import NAVEC, MemberSettings


class NeuralConfig(MemberSettings):
    """The neural member: its kind and weight; the network's settings are the run's `model` and `train` sections."""



class NeuralMember(MemberKind):
    """The run's network; which kind it is follows model.backbone (navec: bigru; any other: encoder)."""

    settings = NeuralConfig
    section = "model, train"
    neural = True
    run_settings: ClassVar[dict[str, str]] = {"backbone": "model.backbone"}  # members.<name>.backbone: the run's one network
    num_threads = 1  # CPU threads when predicting: one beside the other members in training, all cores once loaded

    @classmethod
    def chosen_kind(cls, run_values: dict) -> str:
        return "bigru" if backbone_of(run_values) == NAVEC else "encoder"

    def train(self, run) -> np.ndarray:
        from ..training.notebook import train_neural_member

        self.models, probs, self.history, self.mode = train_neural_member(run)
        return probs

    def predict_held_out(self, run, texts: Sequence[str]) -> np.ndarray:
        from ..training.notebook import neural_held_out_probs

        return neural_held_out_probs(run.config, run.data, self.models, list(texts))

    @classmethod
    def load(cls, name: str, folder: Path, device: str = "cpu") -> NeuralMember:
        from ..training.checkpoint import load_models

        member = cls(name, cls.settings(kind=cls.kind))
        member.models, member.num_threads = load_models(folder, device), 0
        return member

    def predict(self, texts: Sequence[str], part: int | None = None, batch_size: int = 256) -> np.ndarray:
        from ..training.prediction import predict_probs

        return predict_probs(self.models if part is None else self.models[part], list(texts), batch_size, num_threads=self.num_threads)
