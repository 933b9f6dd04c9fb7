"""The kit's library: every notebook imports from here. Names load lazily, so `import utils` stays fast."""
from importlib import import_module

_EXPORTS = {
    "LABELS": "data",
    "DataError": "data",
    "read_split": "data",
    "load_competition": "data",
    "label_matrix": "data",
    "onehot_to_lists": "data",
    "lists_to_onehot": "data",
    "RunConfig": "config",
    "TextConfig": "config",
    "load_config": "config",
    "save_config": "config",
    "find_data_dir": "config",
    "start_run": "config",
    "make_preprocessor": "text",
    "preprocess_texts": "text",
    "seed_everything": "seed",
    "ModelConfig": "config",
    "TrainConfig": "config",
    "ThresholdConfig": "config",
    "apply_thresholds": "thresholds",
    "choose_thresholds": "thresholds",
    "tune_thresholds": "thresholds",
    "load_thresholds": "thresholds",
    "check_submission": "submission",
    "write_submission": "submission",
    "make_submission": "submission",
    "submit": "submission",
    "SPLIT_FILES": "data",
    "load_eda_splits": "eda",
    "labelled": "eda",
    "get_alphabet": "eda",
    "compare_alphabets": "eda",
    "alphabet_differences": "eda",
    "alphabet_by_class": "eda",
    "label_counts": "eda",
    "cooccurrence": "eda",
    "label_cardinality": "eda",
    "text_lengths": "eda",
    "length_summary": "eda",
    "lengths_by_label": "eda",
    "top_words": "eda",
    "oov_table": "eda",
    "summarize": "eda",
    "describe_summary": "eda",
    "write_summary": "eda",
    "save_and_show": "eda_plots",
    "plot_alphabet": "eda_plots",
    "plot_histogram": "eda_plots",
    "plot_combined_emotions": "eda_plots",
    "plot_lengths": "eda_plots",
    "plot_lengths_by_label": "eda_plots",
    "plot_top_words": "eda_plots",
    "load_navec": "embeddings",
    "ExpansionConfig": "config",
    "build_expanded_train": "expansion",
    "write_expansion": "expansion",
    "label_table": "expansion",
    "boundary_examples": "expansion",
    "source_examples": "expansion",
    "mapping_table": "corpora",
    "download_corpus": "corpora",
    "find_leaks": "leakage",
    "ReferenceSet": "leakage",
    "augment_train": "augment",
    "back_translate": "augment",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'utils' has no attribute {name!r}")
    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)


def __dir__():
    return __all__
