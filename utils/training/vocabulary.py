"""An open vocabulary for the offline backbone: words of new texts that navec knows get their navec vector at prediction
time, although the run saved only the words of its own splits."""
from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from ..core.text import make_preprocessor
from .backbones import NavecBackbone
from .word_tokenizer import split_words


def add_known_words(model: nn.Module, texts: Sequence[str]) -> int:
    """Add to the model's word list (shared by its fold models) the navec words of `texts` it lacks; returns how many.
    Each model sharing the list takes their vectors when it next runs (NavecBackbone.follow_vocabulary)."""
    from ..core.navec import load_navec

    tokenizer = model.backbone.tokenizer
    preprocess = make_preprocessor(model.text) if model.text else (lambda text: text)
    known = load_navec().vocab.word_ids
    new = sorted({word for text in texts for word in split_words(preprocess(text)) if word not in tokenizer.word_ids and word in known})
    tokenizer.add_words(new)
    return len(new)


def open_vocabularies(models: Sequence[nn.Module], texts: Sequence[str]) -> None:
    """`add_known_words` once for every word list that navec models share."""
    lists = {id(model.backbone.tokenizer): model for model in models if isinstance(model.backbone, NavecBackbone)}
    for model in lists.values():
        add_known_words(model, texts)
