"""What training optimises and how: the loss (BCE or focal, per-label positive weights), the optimiser and the schedule."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..core.settings import NAVEC, TrainConfig

BACKBONE_DEFAULTS = {  # settings left at None; navec checkpoints at epoch ends only (an epoch takes seconds to minutes)
    NAVEC: {"lr": 3e-3, "batch_size": 128, "checkpoint_steps": 0},
    "huggingface": {"lr": 3e-5, "batch_size": 32, "checkpoint_steps": 500},
}


def positive_weights(setting: str | list[float] | None, labels: np.ndarray) -> torch.Tensor | None:
    """BCE `pos_weight` from a checked `train.pos_weight`: None, "balanced" (negatives / positives per label, 1 to 30)
    or the 7 given numbers."""
    if setting is None:
        return None
    if setting == "balanced":
        positives = labels.sum(axis=0)
        return torch.tensor(((len(labels) - positives) / positives.clip(min=1)).clip(1, 30), dtype=torch.float32)
    return torch.tensor(setting, dtype=torch.float32)


class FocalLoss(nn.Module):
    """Binary focal loss on logits (Lin et al. 2017), with an optional per-label positive weight."""

    def __init__(self, gamma: float = 2.0, pos_weight: torch.Tensor | None = None):
        super().__init__()
        self.gamma = gamma
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        bce = nn.functional.binary_cross_entropy_with_logits(logits, targets, pos_weight=self.pos_weight, reduction="none")
        probs = torch.sigmoid(logits)
        p_true = probs * targets + (1 - probs) * (1 - targets)
        return ((1 - p_true) ** self.gamma * bce).mean()


def make_loss(config: TrainConfig, labels: np.ndarray) -> nn.Module:
    """BCE or focal loss, with `pos_weight` from the settings and the training labels."""
    pos_weight = positive_weights(config.pos_weight, np.asarray(labels))
    if config.loss == "focal":
        return FocalLoss(config.focal_gamma, pos_weight)
    return nn.BCEWithLogitsLoss(pos_weight=pos_weight)


def make_optimizer(model: nn.Module, config: TrainConfig, lr: float) -> torch.optim.Optimizer:
    """AdamW, Adam or SGD (momentum 0.9) over the trainable parameters; biases and norms get no weight decay."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in trainable if p.ndim > 1], "weight_decay": config.weight_decay},
              {"params": [p for p in trainable if p.ndim <= 1], "weight_decay": 0.0}]
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9)
    return (torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam)(groups, lr=lr)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, total_steps: int):
    """Warm-up for `warmup_ratio` of the steps, then linear decay, cosine decay or a constant rate."""
    from transformers import (
        get_constant_schedule_with_warmup,
        get_cosine_schedule_with_warmup,
        get_linear_schedule_with_warmup,
    )

    warmup = int(config.warmup_ratio * total_steps)
    if config.scheduler == "constant":
        return get_constant_schedule_with_warmup(optimizer, warmup)
    make = get_linear_schedule_with_warmup if config.scheduler == "linear" else get_cosine_schedule_with_warmup
    return make(optimizer, warmup, total_steps)


def with_backbone_defaults(config: TrainConfig, model: nn.Module) -> TrainConfig:
    """Fill the settings left at None (lr, batch_size, checkpoint_steps) with the defaults of the model's kind of backbone."""
    defaults = BACKBONE_DEFAULTS[NAVEC if model.backbone.name == NAVEC else "huggingface"]
    return config.replace(**{key: value for key, value in defaults.items() if getattr(config, key) is None})
