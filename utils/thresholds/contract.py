"""Notebook 04's contract: the held-out probabilities (the noisy ones and each member's when notebook 03 wrote them) -> the
decision rule and its honest estimate."""
from ..core.paths import ESTIMATE, MEMBER_PROBS_DIR, THRESHOLDS, VALID_NOISY_PROBS, VALID_PROBS
from ..core.steps import VALID, Step, declare_step

THRESHOLD_SEARCH = "04_threshold_search"
declare_step(THRESHOLD_SEARCH, Step(("seed", "thresholds"), (VALID, VALID_PROBS, VALID_NOISY_PROBS, MEMBER_PROBS_DIR),
                                    (THRESHOLDS, ESTIMATE, "thresholds.png"), (VALID_NOISY_PROBS, MEMBER_PROBS_DIR)))
