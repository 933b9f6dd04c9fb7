"""Notebook 06: the run's mistakes on valid (per label, which for which, the most confident, by kind of text) and its word weights."""
from ..core.lazy import lazy_exports
from . import contract  # noqa: F401  (declares the notebook's step)

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "mistakes": ["ValidDecisions", "load_valid_decisions", "per_label_errors", "mistaken_for", "confident_mistakes", "text_groups",
                 "f1_by_group", "save_table"],
    "words": ["load_linear_member", "word_weights"],
    "plots": ["plot_label_errors", "plot_mistaken_for", "plot_f1_by_group", "plot_word_weights"],
})
