"""Notebook 05 and after: a finished run's predictor, the test's submission, checking and sending it, tagging new texts."""
from ..core.lazy import lazy_exports
from . import contract  # noqa: F401  (declares the notebook's step)

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "predictor": ["Predictor"],
    "notebook": ["predict_test"],
    "submission": ["check_submission", "write_submission", "make_submission", "submit"],
})
