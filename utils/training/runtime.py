"""Where and how training runs: the device, mixed precision, the number of processes and CPU threads, from the settings
and the machine, and the `accelerate.Accelerator` that carries them out."""
from __future__ import annotations

import os
import warnings

import torch

from ..core.settings import ConfigError, TrainConfig

MIXED_PRECISION = {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}  # train.precision -> Accelerate's name


def resolve_runtime(config: TrainConfig) -> TrainConfig:
    """Settings with a concrete device and precision; CUDA-only choices on a CPU fall back to fp32, bf16 on a GPU without it
    (T4, P100) to fp16, each with a notice."""
    cuda = torch.cuda.is_available()
    device = "cuda" if config.device == "cuda" or (config.device == "auto" and cuda) else "cpu"
    if device == "cuda" and not cuda:
        print("Notice: train.device = 'cuda' but no CUDA device is available; training on the CPU.")
        device = "cpu"
    precision = config.precision
    if precision != "fp32" and device == "cpu":
        print(f"Notice: train.precision = {precision!r} needs CUDA; using fp32 on the CPU.")
        precision = "fp32"
    if precision == "bf16" and not torch.cuda.is_bf16_supported(including_emulation=False):
        print(f"Notice: this GPU ({torch.cuda.get_device_name()}) has no bf16 support; using fp16 mixed precision instead.")
        precision = "fp16"
    return config.replace(device=device, precision=precision)


def resolve_processes(config: TrainConfig) -> int:
    """train.num_processes as a number: 'auto' = every visible GPU (1 on a CPU); more processes than the machine has GPUs
    (or, without one, CPU cores) are refused before anything trains."""
    gpus = torch.cuda.device_count() if config.device != "cpu" else 0  # counted through NVML: CUDA stays uninitialised for a fork
    if config.num_processes == "auto":
        return max(gpus, 1)
    available, unit = (gpus, "GPU(s)") if gpus else (os.cpu_count() or 1, "CPU cores and no GPU in use")
    if config.num_processes > available:
        raise ConfigError(f"train.num_processes = {config.num_processes} but this machine has {available} {unit}; "
                          f"accepted: 1 to {available}, or 'auto'")
    return config.num_processes


FOLD_WORKER_ROWS = 2000  # 'auto' starts fold workers from this many training rows: below, starting them costs more than it saves


def resolve_fold_workers(config: TrainConfig, train_rows: int) -> int:
    """train.fold_workers as a number: folds train side by side only in k-fold mode, one process each, on a CPU; 'auto' = the
    cores (each fold keeps `num_threads` of them) for a training of at least FOLD_WORKER_ROWS rows, else 1."""
    on_cpu = config.device == "cpu" or not torch.cuda.is_available()
    if config.folds < 2 or config.num_processes != 1 or not on_cpu:
        return 1
    if config.fold_workers == "auto":
        cores = (os.cpu_count() or 1) // (config.num_threads or os.cpu_count() or 1)
        return max(1, min(config.folds, cores)) if train_rows >= FOLD_WORKER_ROWS else 1
    return min(config.fold_workers, config.folds)


def make_accelerator(config: TrainConfig):
    """An `Accelerator` for resolved settings: the device, mixed precision, gradient accumulation, and data parallel
    training when this process is one of several (buffers are not broadcast: the frozen navec vectors are one)."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from accelerate.utils import DistributedDataParallelKwargs

    warnings.filterwarnings("ignore", message="`broadcast_buffers` is deprecated", category=FutureWarning)  # torch: the
    # replacement, forward_sync_buffers, is not in accelerate's DistributedDataParallelKwargs yet; the behaviour is the same
    settings = {"cpu": config.device == "cpu", "mixed_precision": MIXED_PRECISION[config.precision],
                "gradient_accumulation_steps": config.accumulation_steps,
                "kwargs_handlers": [DistributedDataParallelKwargs(broadcast_buffers=False)]}
    try:
        return Accelerator(**settings)
    except ValueError as error:  # accelerate keeps one state per process: a later training here with another precision or device
        if "already been initialized" not in str(error) or os.environ.get("WORLD_SIZE", "1") != "1":
            raise
        AcceleratorState._reset_state(reset_partial_state=True)
        return Accelerator(**settings)


def set_threads(config: TrainConfig) -> None:
    """torch's CPU threads per process (`train.num_threads`; 0: all cores)."""
    torch.set_num_threads(config.num_threads or os.cpu_count() or 1)
