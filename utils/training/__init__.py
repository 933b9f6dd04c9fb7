"""Notebook 03: tokenisers and datasets, the two backbones behind `Model`, the fit loop (Accelerate), k folds, checkpoints,
several processes, and the training of the run's members (utils/members)."""
from ..core.lazy import lazy_exports
from . import contract  # noqa: F401  (declares the notebook's step)

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "model": ["Model", "build_model"],
    "dataset": ["EmotionDataset"],
    "loop": ["train_epoch", "fit"],
    "prediction": ["predict_dataset", "predict_probs"],
    "folds": ["train_on_valid_folds"],
    "checkpoint": ["save_model", "load_model", "load_models"],
    "scores": ["score_probs", "per_label_table"],
    "notebook": ["load_training_data", "train_model", "write_training_report"],
})
