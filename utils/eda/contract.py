"""Notebook 01's contract: the text and eda settings and the three data files -> runs/<name>/eda/."""
from ..core.steps import TEST, TRAIN, VALID, Step, declare_step

EDA = "01_eda"
declare_step(EDA, Step(("text", "eda"), (TRAIN, VALID, TEST), ("eda",)))
