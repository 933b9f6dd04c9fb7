"""Notebook 04: the decision rule (thresholds, recalibration, the no-label rule) chosen by nested cross-validation."""
from ..core.lazy import lazy_exports
from . import contract  # noqa: F401  (declares the notebook's step)

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "search": ["ThresholdChoice", "choose_thresholds", "load_thresholds"],
    "recalibration": ["Recalibration"],
    "curves": ["plot_threshold_curves"],
    "notebook": ["tune_thresholds", "estimate_run"],
    "estimate": ["nested_estimates", "Estimate"],
})
