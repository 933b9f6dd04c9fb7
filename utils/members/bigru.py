"""Member kind `bigru`: navec word vectors + hashed character n-grams -> a bidirectional GRU (model.backbone: navec)."""
from pathlib import Path

from ..core.member_kinds import register_kind
from .neural import NeuralMember


@register_kind
class BigruMember(NeuralMember):
    """The offline network, trained on a CPU in minutes; exported as one ONNX graph averaging its fold models."""

    kind = "bigru"
    description = "navec word vectors + character n-grams -> bidirectional GRU (model.backbone: navec)"
    device = "CPU"
    export_runtime = "utils.members.bigru_onnx:OnnxBiGru"

    def export_problem(self) -> str | None:
        from .bigru_onnx import why_not_exportable

        return why_not_exportable(self.models)

    def export(self, folder: Path, float16: bool = False) -> None:
        from .bigru_onnx import export_bigru

        export_bigru(self.models, folder, float16)
