"""The registry of a run's steps: each stage declares what its notebook reads and writes (utils/<stage>/contract.py), and
the run's record (run_record) checks and records against these declarations; core itself names no step."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .paths import SPLIT_FILES

TRAIN, VALID, TEST = (f"data/{SPLIT_FILES[split]}" for split in ("train", "valid", "test"))  # data files, as keyed in the record


@dataclass(frozen=True)
class Step:
    """What one notebook depends on and makes: settings sections, inputs (data files and products), products, and two
    hooks that read the run's settings: facts recorded with the products, and products the settings switched off."""

    sections: tuple[str, ...]  # the settings that shape its products
    inputs: tuple[str, ...]  # data files (data/...) and products of earlier notebooks
    products: tuple[str, ...]  # files or folders it writes into runs/<name>/
    optional: tuple[str, ...] = ()  # inputs that may be absent when their notebook has not run (or not made them)
    facts: Callable[[Any], dict] | None = None  # settings -> what the record keeps besides the products (e.g. the members)
    switched_off: Callable[[Any], list[str]] | None = None  # settings -> paths in the run folder to remove when it finishes


STEPS: dict[str, Step] = {}  # notebook name -> its step, as the stages declared them


def declare_step(name: str, step: Step) -> Step:
    """Register notebook `name`'s step (a stage's contract module does this when its package is imported)."""
    STEPS[name] = step
    return step


def producer(product: str) -> str | None:
    """The notebook that writes `product` (a top-level file or folder of the run), None for data files and unknown names."""
    return next((name for name, step in STEPS.items() if product in step.products), None)
