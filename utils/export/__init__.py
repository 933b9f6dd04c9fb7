"""Shipping a finished run: `python -m utils.export runs/<name>` writes runs/<name>/export/ (each member exports itself
through its kind: utils.core.member_kinds), which `ExportedPredictor` runs with onnxruntime and numpy alone; `utils.predict`
uses it when it is fresh."""
from ..core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "runtime": ["ExportedPredictor"],
    "writer": ["export_run"],
})
