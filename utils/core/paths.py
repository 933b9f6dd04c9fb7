"""Where things are: the repository root, the competition's file names and the names of the products each notebook
writes into runs/<name>/."""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DATA_DIR = REPO_ROOT / "data" / "sample"


def repo_path(setting: str) -> Path:
    """Where a path setting points: absolute, ~ expanded, or relative to the repository root."""
    path = Path(setting).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


SPLIT_FILES = {"train": "train.csv", "valid": "valid.csv", "test": "test_without_answers.csv"}  # the competition's files
EXPANDED_TRAIN = "train_expanded.csv"  # 02: train + added rows, with a `source` column
MODEL_DIR, MEMBERS_DIR = "model", "members"  # 03: the neural member's model(s); every other member in members/<its name>/
VALID_PROBS, METRICS = "valid_probs_raw.csv", "metrics.json"  # 03: held-out probabilities (raw: before recalibration), scores
VALID_NOISY_PROBS = "valid_probs_asr_noise_raw.csv"  # 03: the same held-out rows written with ASR noise (slips, merges)
MEMBER_PROBS_DIR, NOISY = "member_probs", "asr_noise"  # 03: each member's held-out probabilities (<member>.csv and, with ASR
# noise, <member>.asr_noise.csv), before blending
THRESHOLDS, ESTIMATE = "thresholds.json", "estimate.json"  # 04: the decision rule; the honest estimate of its F1
TEST_PROBS, INFERENCE_RECORD = "test_probs_raw.csv", "inference.json"  # 05: test probabilities (raw, as valid's); the submission
ERRORS_DIR = "errors"  # 06: tables and figures of the run's mistakes on valid
EXECUTED_NOTEBOOKS, REPORT = "notebooks", "report.html"  # the pipeline: the executed notebooks; the HTML report made from them
SUMMARY = "summary.json"  # the run in one file: the honest estimate and its interval, data, seconds per notebook
