"""Member kind `encoder`: a Hugging Face encoder fine-tuned with the kit's head (model.backbone: its name or folder)."""
from ..core.member_kinds import register_kind
from .neural import NeuralMember


@register_kind
class EncoderMember(NeuralMember):
    """The GPU network: any AutoModel encoder by name or local path."""

    kind = "encoder"
    description = "a Hugging Face encoder fine-tuned with the kit's head (model.backbone: a name or a local folder)"
    device = "GPU"
    no_export = "a Hugging Face backbone has no ONNX export in the kit yet"
