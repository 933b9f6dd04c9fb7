"""The kit's library, one subpackage per stage of the data flow; every notebook imports from here.

Names load lazily (`import utils` stays fast): `from utils import Model` imports `utils.training.model` only then.
The table of names is made from each subpackage's own `__all__`.
"""
from importlib import import_module

from .core.lazy import lazy_exports

SUBPACKAGES = ("core", "eda", "expansion", "training", "members", "thresholds", "export", "inference", "analysis",
               "run")  # lower floors first

__getattr__, __dir__, __all__ = lazy_exports(__name__, {package: import_module(f".{package}", __name__).__all__ for package in SUBPACKAGES})
