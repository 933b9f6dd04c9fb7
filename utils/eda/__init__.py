"""Notebook 01: statistics of the splits and their figures."""
from ..core.lazy import lazy_exports
from . import contract  # noqa: F401  (declares the notebook's step)

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "statistics": ["load_eda_splits", "labelled", "get_alphabet", "compare_alphabets", "alphabet_differences", "alphabet_by_class",
                   "label_counts", "cooccurrence", "label_cardinality", "text_lengths", "length_summary", "lengths_by_label",
                   "top_words", "oov_table", "summarize", "describe_summary", "write_summary"],
    "plots": ["save_and_show", "plot_alphabet", "plot_histogram", "plot_combined_emotions", "plot_lengths", "plot_lengths_by_label",
              "plot_top_words"],
})
