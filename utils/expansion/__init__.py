"""Notebook 02: external corpora mapped into the 7 labels, synthetic rows, augmentation, all behind a leakage guard."""
from ..core.lazy import lazy_exports
from . import contract  # noqa: F401  (declares the notebook's step)

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "build": ["build_expanded_train", "write_expansion", "label_table", "boundary_examples", "source_examples"],
    "corpora": ["mapping_table", "download_corpus"],
    "leakage": ["find_leaks", "ReferenceSet"],
    "augment": ["augment_train", "back_translate"],
})
