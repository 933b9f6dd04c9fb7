"""`Model`: a backbone (navec + BiGRU, or a Hugging Face encoder) -> pooled features -> a configurable head -> 7 logits."""
from __future__ import annotations

from collections.abc import Iterable

from torch import nn

from ..core.settings import NAVEC, HeadConfig, ModelConfig, NavecConfig, TextConfig
from ..core.splits import LABELS
from ..core.text import make_preprocessor
from .backbones import HuggingFaceBackbone, NavecBackbone
from .dataset import EmotionDataset

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh, "leaky_relu": nn.LeakyReLU}
NORMS = {"none": None, "batch": nn.BatchNorm1d, "layer": nn.LayerNorm}


def build_head(input_size: int, head: HeadConfig, outputs: int = len(LABELS)) -> nn.Sequential:
    """[dropout -> linear -> norm -> activation] x layers, then dropout -> linear to `outputs` logits."""
    blocks: list[nn.Module] = []
    size = input_size
    for _ in range(head.layers):
        blocks += [nn.Dropout(head.dropout), nn.Linear(size, head.hidden_size)]
        if NORMS[head.norm] is not None:
            blocks.append(NORMS[head.norm](head.hidden_size))
        blocks.append(ACTIVATIONS[head.activation]())
        size = head.hidden_size
    return nn.Sequential(*blocks, nn.Dropout(head.dropout), nn.Linear(size, outputs))


class Model(nn.Module):
    """backbone -> pooled features -> head -> 7 logits (in LABELS order); `text` = preprocessing applied to raw texts."""

    def __init__(self, backbone: nn.Module, head: HeadConfig | None = None, text: TextConfig | None = None):
        super().__init__()
        self.backbone, self.head_config, self.text = backbone, head or HeadConfig(), text
        self.head = build_head(backbone.output_size, self.head_config)

    @property
    def config(self) -> ModelConfig:
        """The settings that rebuild this model's architecture."""
        navec = self.backbone.settings if isinstance(self.backbone, NavecBackbone) else NavecConfig()
        return ModelConfig(backbone=self.backbone.name, pooling=self.backbone.pooling, max_len=self.backbone.max_len,
                           head=self.head_config, navec=navec)

    def forward(self, batch: dict):
        return self.head(self.backbone(**{key: value for key, value in batch.items() if key != "labels"}))

    def dataset(self, texts: Iterable[str], labels=None) -> EmotionDataset:
        """Raw texts (and optional (n, 7) labels) -> an `EmotionDataset` preprocessed and tokenised for this model."""
        preprocess = make_preprocessor(self.text) if self.text else None
        return EmotionDataset(texts, labels, self.backbone.tokenizer, self.backbone.max_len, preprocess)


def build_model(config: ModelConfig, texts: Iterable[str] = (), text: TextConfig | None = None) -> Model:
    """A new Model from settings; the navec vocabulary is taken from `texts` (raw: all splits' texts, labels not needed)."""
    if config.backbone == NAVEC:
        preprocess = make_preprocessor(text) if text else (lambda t: t)
        backbone = NavecBackbone.build((preprocess(t) for t in texts), config.navec, config.pooling, config.max_len)
    else:
        backbone = HuggingFaceBackbone.from_pretrained(config.backbone, config.pooling, config.max_len)
        if config.gradient_checkpointing:
            backbone.use_gradient_checkpointing()
    return Model(backbone, config.head, text)
