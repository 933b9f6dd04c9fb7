"""Around the notebooks: the papermill pipeline, the benchmark of variants and the Kaggle kernel builder."""
from ..core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "pipeline": ["plan_run", "run_pipeline"],
    "kaggle_kernel": ["build_kernel"],
})
