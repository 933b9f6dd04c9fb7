"""Notebook 03's contract: the data (the expanded train when notebook 02 wrote it) and the settings of the network, the
training and the members -> the members' models, held-out probabilities, metrics; the record keeps the members."""
from ..core.paths import EXPANDED_TRAIN, MEMBER_PROBS_DIR, MEMBERS_DIR, METRICS, MODEL_DIR, VALID_NOISY_PROBS, VALID_PROBS
from ..core.steps import TEST, TRAIN, VALID, Step, declare_step


def recorded_members(config) -> dict:
    """What the record keeps of the run's members: kind, folder and the blend weight metrics.json says they were blended with."""
    from ..core.files import read_json
    from .members_of_run import member_records

    return {"members": member_records(config, read_json(config.run_dir / METRICS).get("member_weights"))}


def switched_off(config) -> list[str]:
    """The members' folders the settings leave out (model/ without a neural member, members/<name>/ of a member set to null)."""
    from .members_of_run import switched_off_folders

    return switched_off_folders(config)


TRAINING = "03_training"
declare_step(TRAINING, Step(("seed", "text", "model", "train", "members"), (TRAIN, VALID, TEST, EXPANDED_TRAIN),
                            (MODEL_DIR, MEMBERS_DIR, VALID_PROBS, VALID_NOISY_PROBS, MEMBER_PROBS_DIR, METRICS, "training_log.csv",
                             "training_curves.png"),
                            (EXPANDED_TRAIN,), recorded_members, switched_off))
