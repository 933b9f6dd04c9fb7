"""Notebook 02's contract: the seed, text and expansion settings and the data files -> the expanded train."""
from ..core.paths import EXPANDED_TRAIN
from ..core.steps import TEST, TRAIN, VALID, Step, declare_step

EXPANSION = "02_data_expansion"
declare_step(EXPANSION, Step(("seed", "text", "expansion"), (TRAIN, VALID, TEST), (EXPANDED_TRAIN, "expansion")))
