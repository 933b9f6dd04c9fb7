"""The ensemble's member kinds, one module each (the protocol and the registry: utils.core.member_kinds), and what their
exports are made of and run by (bigru_onnx, tfidf_arrays, ngram_bag_runtime, text_pipeline: no torch or scikit-learn to
run); `python -m utils.members` lists the kinds."""
from ..core.lazy import lazy_exports

KIND_MODULES = ("bigru", "encoder", "ngram_bag", "tfidf")  # the kit's kinds, registered when imported
DEFAULT_MEMBERS = {"neural": {"kind": "bigru"}, "tfidf": {"kind": "tfidf"}}  # the default run: their mean, equal weights
RECORDED_BEFORE_KINDS = {"neural": "bigru", "tfidf": "tfidf"}  # the members of a run recorded before members had kinds

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "tfidf": ["TfidfClassifier", "TfidfConfig"],
    "listing": ["kind_lines"],
})
