"""Notebook 05's contract: the test file, the run's members and its decision rule -> test probabilities and the submission."""
from ..core.paths import INFERENCE_RECORD, MEMBERS_DIR, MODEL_DIR, TEST_PROBS, THRESHOLDS
from ..core.steps import TEST, Step, declare_step

INFERENCE = "05_inference"
declare_step(INFERENCE, Step((), (TEST, MODEL_DIR, MEMBERS_DIR, THRESHOLDS), (TEST_PROBS, INFERENCE_RECORD), (MODEL_DIR, MEMBERS_DIR)))
