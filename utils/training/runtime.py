"""Where and how training runs: the device, mixed precision and CPU threads, from the settings and the machine."""
from __future__ import annotations

import os
from contextlib import nullcontext

import torch

from ..core.settings import TrainConfig


def resolve_runtime(config: TrainConfig) -> TrainConfig:
    """Settings with a concrete device and precision; CUDA-only choices on a CPU fall back to fp32 with a notice."""
    cuda = torch.cuda.is_available()
    device = "cuda" if config.device == "cuda" or (config.device == "auto" and cuda) else "cpu"
    if device == "cuda" and not cuda:
        print("Notice: train.device = 'cuda' but no CUDA device is available; training on the CPU.")
        device = "cpu"
    precision = config.precision
    if precision != "fp32" and device == "cpu":
        print(f"Notice: train.precision = {precision!r} needs CUDA; using fp32 on the CPU.")
        precision = "fp32"
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        print("Notice: this GPU has no bf16 support; using fp16 mixed precision instead.")
        precision = "fp16"
    torch.set_num_threads(config.num_threads or os.cpu_count() or 1)
    return config.replace(device=device, precision=precision)


def autocast(config: TrainConfig):
    """Mixed precision on CUDA (bf16/fp16); nothing on fp32."""
    if config.precision == "fp32":
        return nullcontext()
    return torch.autocast("cuda", dtype=torch.bfloat16 if config.precision == "bf16" else torch.float16)


def to_device(batch: dict, device: str) -> dict:
    """Every tensor of a batch on `device`."""
    return {key: value.to(device, non_blocking=True) for key, value in batch.items()}
