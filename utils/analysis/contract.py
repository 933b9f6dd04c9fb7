"""Notebook 06's contract: the held-out probabilities, the decision rule and the members (for word weights) -> errors/."""
from ..core.paths import ERRORS_DIR, MEMBERS_DIR, THRESHOLDS, VALID_PROBS
from ..core.steps import VALID, Step, declare_step

ERROR_ANALYSIS = "06_error_analysis"
declare_step(ERROR_ANALYSIS, Step((), (VALID, VALID_PROBS, THRESHOLDS, MEMBERS_DIR), (ERRORS_DIR,), (MEMBERS_DIR,)))
