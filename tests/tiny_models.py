"""A tiny BERT (random weights) and its WordPiece tokenizer trained on the sample texts, saved as a local
Hugging Face model folder, so the real `from_pretrained` path of the Hugging Face backbone runs offline in tests."""
from __future__ import annotations

from pathlib import Path

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_tiny_bert(folder: Path, texts: list[str]) -> Path:
    """Train a 400-word WordPiece tokenizer on `texts`, pair it with a 2-layer BERT of width 32, save both to `folder`."""
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import BertConfig, BertModel, BertTokenizerFast

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=400, special_tokens=SPECIAL))
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    fast = BertTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                             sep_token="[SEP]", mask_token="[MASK]")
    config = BertConfig(vocab_size=tokenizer.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    fast.save_pretrained(folder)
    BertModel(config).save_pretrained(folder)
    return folder


def tiny_navec_config(**changes):
    """A small offline model: quick to train on the sample in tests."""
    from utils.core.settings import HeadConfig, ModelConfig, NavecConfig

    small = {"navec": NavecConfig(hidden_size=16, ngram_dim=8, ngram_buckets=1024), "head": HeadConfig(hidden_size=16)}
    return ModelConfig(**{**small, **changes})
