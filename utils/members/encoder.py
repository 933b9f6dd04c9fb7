"""Member kind `encoder`: a Hugging Face encoder fine-tuned with the kit's head (its backbone: a name or a local folder)."""
from ..core.member_kinds import register_kind
from ..core.members_settings import backbone_of
from ..core.settings import NAVEC, MemberSettings
from .neural import NeuralMember


@register_kind
class EncoderMember(NeuralMember):
    """The GPU network: any AutoModel encoder by name or local path, given as members.<name>.backbone (or model.backbone)."""

    kind = "encoder"
    description = "a Hugging Face encoder fine-tuned with the kit's head (members.<name>.backbone: a name or a local folder)"
    device = "GPU"
    no_export = "a Hugging Face backbone has no ONNX export in the kit yet"

    @classmethod
    def chosen_kind(cls, run_values: dict) -> str:
        """Itself; refused without a Hugging Face encoder to train."""
        if backbone_of(run_values) == NAVEC:
            raise ValueError(f"the {cls.kind} kind needs a Hugging Face encoder, and the run's backbone is {NAVEC!r} (the bigru "
                             f"kind's): give {MemberSettings.section}.backbone=NAME, a name or a local folder (e.g. "
                             "ai-forever/ruRoberta-large)")
        return cls.kind
