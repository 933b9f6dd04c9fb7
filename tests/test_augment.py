"""Augmentation: seeded and deterministic, labels never change, each method switchable, back-translation degrades clearly."""
import numpy as np
import pandas as pd
import pytest

from utils.core.navec import load_navec
from utils.core.settings import AugmentConfig
from utils.core.splits import LABELS, read_split
from utils.core.text import asr_style, load_slips
from utils.expansion import augment
from utils.expansion.augment import (
    NeighbourFinder,
    asr_noise,
    augment_train,
    back_translate,
    generator_for,
    learn_slip_patterns,
    replace_synonyms,
    translate,
)

SLIPS = {"будеш": "будешь", "незнаю": "не знаю", "немогу": "не могу", "чо": "что", "гдето": "где то", "както": "как то"}


def test_slip_patterns_are_learned_from_the_dictionary():
    patterns = learn_slip_patterns(SLIPS)
    assert ("шь", "ш") in patterns.endings
    assert patterns.merge_before == {"не"} and patterns.merge_after == {"то"}
    assert patterns.word_slips["что"] == ("чо",)


def test_asr_noise_is_test_like_and_seeded():
    patterns = learn_slip_patterns(SLIPS)
    text = "Ты будешь знать, что я не знаю, где то место! [ИМЯ] говорит: как то так."
    assert asr_noise(text, patterns, generator_for(1, "asr"), rate=0) == asr_style(text)
    noisy = asr_noise(text, patterns, generator_for(1, "asr"), rate=1)
    assert noisy == "ты будеш знать чо я незнаю гдето место имя говорит както так"
    runs = [asr_noise(text, patterns, generator_for(seed, "asr"), rate=0.5) for seed in (7, 7, 8, 9, 10)]
    assert runs[0] == runs[1] and len(set(runs)) > 1
    assert all(run == run.lower() and "," not in run for run in runs)


def test_synonym_replacement_keeps_case_and_is_seeded():
    neighbours = {"кошка": ("собака", "лошадь"), "дом": ("дача",)}
    text = "Кошка спит, а дом стоит."
    first = replace_synonyms(text, neighbours, generator_for(3, "syn"), rate=1.0)
    assert first.split()[0] in ("Собака", "Лошадь") and "дача" in first
    assert replace_synonyms(text, neighbours, generator_for(3, "syn"), rate=1.0) == first
    assert replace_synonyms(text, neighbours, generator_for(3, "syn"), rate=0.0) != text  # at least one word changes
    assert replace_synonyms("Ничего заменимого.", neighbours, generator_for(3, "syn"), rate=1.0) is None


def test_navec_neighbours_share_part_of_speech_and_form():
    finder = NeighbourFinder(["кошка", "собака", "кошки", "бежать", "стол", "кошку", "собаку"], load_navec(), ["NOUN"], 0.5)
    found = finder.neighbours(["кошка", "кошку", "бежать"])
    assert found == {"кошка": ("собака",), "кошку": ("собаку",)}


@pytest.fixture
def train(sample_dir):
    return read_split(sample_dir / "train.csv")


def test_augment_train_is_deterministic_and_never_changes_labels(train):
    config = AugmentConfig(asr_noise=0.25, synonyms=0.25)
    frames, report = augment_train(train, config, seed=5, slips=load_slips())
    again, _ = augment_train(train, config, seed=5, slips=load_slips())
    for frame, same in zip(frames, again):
        pd.testing.assert_frame_equal(frame, same)
        np.testing.assert_array_equal(frame[LABELS].to_numpy(), train.loc[frame.index, LABELS].to_numpy())
        assert (frame["text"] != train.loc[frame.index, "text"]).all()
    assert [frame["source"].iloc[0] for frame in frames] == ["asr_noise", "synonyms"]
    table = report.set_index("method")
    assert table.loc["asr_noise", "drawn"] == 100 and table.loc["asr_noise", "added"] == len(frames[0]) > 90
    assert 0 < table.loc["synonyms", "added"] == len(frames[1]) <= 100
    assert table.loc["back_translation", "note"] == "off"


def test_methods_draw_independently_and_labels_restrict_rows(train):
    alone, _ = augment_train(train, AugmentConfig(asr_noise=0.2), seed=5, slips=load_slips())
    together, _ = augment_train(train, AugmentConfig(asr_noise=0.2, synonyms=0.2), seed=5, slips=load_slips())
    pd.testing.assert_frame_equal(alone[0], together[0])
    fear_only, _ = augment_train(train, AugmentConfig(asr_noise=1.0, labels=["fear"]), seed=5, slips=load_slips())
    assert len(fear_only[0]) == train["fear"].sum() and fear_only[0]["fear"].eq(1).all()
    with pytest.raises(ValueError, match="between 0 and 1"):
        augment_train(train, AugmentConfig(asr_noise=1.5), seed=5, slips=load_slips())


def test_back_translation_without_models_gives_a_notice(train, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(augment, "_hub_reachable", lambda timeout=3.0: False)
    assert back_translate(["Привет"], ["Helsinki-NLP/opus-mt-ru-en", "Helsinki-NLP/opus-mt-en-ru"]) is None
    assert "Notice: back-translation skipped, no rows added" in capsys.readouterr().out
    frames, report = augment_train(train, AugmentConfig(asr_noise=0, back_translation=0.1,
                                                        back_translation_models=[str(tmp_path / "none")]), 1, {})
    assert frames == [] and (report.set_index("method").loc["back_translation", ["drawn", "added", "note"]].tolist()
                             == [40, 0, "models not available"])


class FakeTokenizer:
    """Just enough of a Hugging Face tokenizer for translate(): batches of texts in, the same texts out, upper-cased."""

    def __call__(self, texts, **kwargs):
        batch = {"texts": texts}
        return type("Batch", (dict,), {"to": lambda self, device: self})(batch)

    def batch_decode(self, generated, skip_special_tokens=True):
        return [text.upper() for text in generated]


class FakeModel:
    device = "cpu"
    calls = 0

    def generate(self, texts, **kwargs):
        FakeModel.calls += 1
        return texts


def test_translate_keeps_order_across_batches(capsys):
    texts = [f"текст {i}" for i in range(7)]
    assert translate(texts, FakeTokenizer(), FakeModel(), batch_size=3) == [t.upper() for t in texts]
    assert FakeModel.calls == 3 and "translated 7/7" in capsys.readouterr().out
