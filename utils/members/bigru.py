"""Member kind `bigru`: navec word vectors + hashed character n-grams -> a bidirectional GRU (model.backbone: navec)."""
from ..core.member_kinds import register_kind
from .neural import NeuralMember


@register_kind
class BigruMember(NeuralMember):
    """The offline network, trained on a CPU in minutes."""

    kind = "bigru"
    description = "navec word vectors + character n-grams -> bidirectional GRU (model.backbone: navec)"
    device = "CPU"
