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
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'utils' has no attribute {name!r}")
    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)


def __dir__():
    return __all__
