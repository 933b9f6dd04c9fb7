import pytest
import torch
from conftest import SAMPLE_DIR
from tiny_models import build_tiny_bert, tiny_navec_config

from utils.core.settings import (
    ConfigError,
    HeadConfig,
    ModelConfig,
    NavecConfig,
    check_pooling,
)
from utils.core.splits import read_split
from utils.training.model import build_head, build_model


@pytest.fixture(scope="module")
def texts():
    return read_split(SAMPLE_DIR / "train.csv").text.tolist()


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory, texts):
    return build_tiny_bert(tmp_path_factory.mktemp("tiny_bert"), texts)


def logits_for(model, texts):
    dataset = model.dataset(texts)
    model.eval()
    return model(dataset.collate([dataset[i] for i in range(len(texts))]))


@pytest.mark.parametrize("pooling", ["mean", "max", "max_mean"])
@pytest.mark.parametrize("head", [HeadConfig(layers=0), HeadConfig(layers=2, norm="batch", activation="relu"),
                                  HeadConfig(layers=1, norm="layer", activation="tanh", dropout=0.0)])
def test_navec_model_gives_seven_logits(texts, pooling, head):
    model = build_model(tiny_navec_config(pooling=pooling, head=head), texts)
    assert logits_for(model, texts[:5]).shape == (5, 7)
    linear = [m for m in model.head if isinstance(m, torch.nn.Linear)]
    assert len(linear) == head.layers + 1 and linear[-1].out_features == 7
    assert linear[0].in_features == (64 if pooling == "max_mean" else 32)


@pytest.mark.parametrize("pooling", ["cls", "mean", "max_mean"])
def test_hugging_face_model_gives_seven_logits(tiny_bert, texts, pooling):
    model = build_model(ModelConfig(backbone=str(tiny_bert), pooling=pooling, max_len=16, head=HeadConfig(layers=1, hidden_size=8)))
    assert logits_for(model, texts[:4]).shape == (4, 7)
    assert model.dataset(texts[:4]).lengths.max() == 16
    assert model.config.backbone == str(tiny_bert) and model.config.pooling == pooling


def test_navec_vocabulary_holds_only_navec_words_and_frozen_vectors_are_not_saved(texts):
    model = build_model(tiny_navec_config(), ["кот спит", "кот ыетс"])
    assert model.backbone.tokenizer.words == ["кот", "спит"]
    assert "backbone.word_vectors" not in model.state_dict()
    assert all(p is not model.backbone.word_vectors for p in model.parameters())
    tuned = build_model(tiny_navec_config(navec=NavecConfig(fine_tune=True, hidden_size=8, ngram_dim=4)), ["кот спит"])
    assert "backbone.word_vectors" in tuned.state_dict() and tuned.backbone.word_vectors.requires_grad


def test_words_missing_from_navec_are_told_apart_by_their_character_ngrams():
    def features(ngram_dim):
        settings = NavecConfig(hidden_size=8, ngram_dim=ngram_dim, ngram_buckets=4096, dropout=0.0)
        backbone = build_model(ModelConfig(navec=settings), ["кот"]).backbone.eval()
        batch = backbone.tokenizer.pad([backbone.tokenizer.encode(t, 10) for t in ["кот ыетс", "кот бжщр"]])
        return backbone(**batch)

    with_ngrams, without = features(8), features(0)
    assert not torch.allclose(with_ngrams[0], with_ngrams[1])
    assert torch.allclose(without[0], without[1])


def test_padding_does_not_change_a_text_s_features(texts):
    model = build_model(tiny_navec_config(), texts).eval()
    alone = logits_for(model, texts[:1])
    with_longer = logits_for(model, [texts[0], texts[0] + " " + texts[1]])
    assert torch.allclose(alone[0], with_longer[0], atol=1e-6)


@pytest.mark.parametrize("changes, message", [
    ({"layers": 9}, r"model\.head\.layers = 9 is out of range; accepted: 0 to 8"),
    ({"activation": "swish"}, r"model\.head\.activation 'swish' is unknown; accepted: \['gelu', 'leaky_relu', 'relu', 'silu', 'tanh'\]"),
    ({"norm": "group"}, r"model\.head\.norm 'group' is unknown; accepted: \['none', 'batch', 'layer'\]"),
    ({"dropout": 1.0}, r"model\.head\.dropout = 1\.0 is out of range"),
    ({"hidden_size": 0}, r"model\.head\.hidden_size = 0 is out of range"),
])
def test_bad_head_settings_are_named(changes, message):
    with pytest.raises(ConfigError, match=message):
        build_head(16, HeadConfig(**changes))


def test_bad_backbone_settings_are_named(tmp_path):
    with pytest.raises(ConfigError, match=r"model\.pooling 'cls' is not available for the 'navec' backbone; "
                                          r"accepted: \['mean', 'max', 'max_mean'\]"):
        build_model(ModelConfig(pooling="cls"), ["кот"])
    with pytest.raises(ConfigError, match=r"model\.navec\.hidden_size = 0 is out of range; accepted: 1 to 4096"):
        build_model(ModelConfig(navec=NavecConfig(hidden_size=0)), ["кот"])
    with pytest.raises(ConfigError, match=r"model\.backbone '\./no_such_model': no Hugging Face model there .* accepted: 'navec'"):
        build_model(ModelConfig(backbone="./no_such_model"))
    with pytest.raises(ConfigError, match=r"no Hugging Face model there"):
        build_model(ModelConfig(backbone=str(tmp_path)))
    with pytest.raises(ConfigError, match=r"model\.pooling 'first' is not available .* accepted: \['cls', 'mean', 'max', 'max_mean'\]"):
        check_pooling("first", "some/model")
