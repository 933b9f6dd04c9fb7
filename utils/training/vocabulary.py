"""An open vocabulary for the offline backbone: words of new texts that navec knows get their navec vector at prediction
time, although the run saved only the words of its own splits."""
from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from ..core.text import make_preprocessor
from .backbones import NavecBackbone, navec_vectors
from .word_tokenizer import split_words


def add_known_words(models: Sequence[nn.Module], texts: Sequence[str]) -> int:
    """Add to the models' shared word list (and to each model's vectors) the navec words of `texts` it lacks; returns how
    many. Models that fine-tuned their vectors get navec's own vector for the new words."""
    from ..core.navec import load_navec

    tokenizer = models[0].backbone.tokenizer
    preprocess = make_preprocessor(models[0].text) if models[0].text else (lambda text: text)
    known = load_navec().vocab.word_ids
    new = sorted({word for text in texts for word in split_words(preprocess(text)) if word not in tokenizer.word_ids and word in known})
    if new:
        vectors = navec_vectors(new)[2:]  # rows 0-1 are padding and unknown
        tokenizer.add_words(new)
        for model in models:
            model.backbone.add_vectors(vectors)
    return len(new)


def open_vocabularies(models: Sequence[nn.Module], texts: Sequence[str]) -> None:
    """`add_known_words` for every group of navec models sharing one word list."""
    groups: dict[int, list[nn.Module]] = {}
    for model in models:
        if isinstance(model.backbone, NavecBackbone):
            groups.setdefault(id(model.backbone.tokenizer), []).append(model)
    for group in groups.values():
        add_known_words(group, texts)
