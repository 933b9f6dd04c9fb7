import zlib

import numpy as np
import pytest
import torch

from utils.core.settings import NavecConfig
from utils.core.splits import read_split
from utils.training.dataset import EmotionDataset, LengthBatchSampler
from utils.training.word_tokenizer import WordTokenizer, split_words, word_ngrams

SETTINGS = NavecConfig(ngram_min=3, ngram_max=4, ngram_buckets=1000)


def make_tokenizer():
    return WordTokenizer.build(["кот спит", "кот ест, кот спит!"], lambda word: word in {"кот", "спит"}, SETTINGS)


def test_vocabulary_keeps_known_words_most_frequent_first():
    tokenizer = make_tokenizer()
    assert tokenizer.words == ["кот", "спит"] and len(tokenizer) == 4
    encoded = tokenizer.encode("Кот ест", max_length=10)
    assert encoded["input_ids"] == [2, WordTokenizer.UNK]
    assert split_words("Ну, кот!") == ["ну", ",", "кот", "!"]


def test_ngrams_are_stable_hashes_of_the_wrapped_word():
    grams = word_ngrams("кот", 3, 4, 1000)
    expected = {zlib.crc32(g.encode()) % 1000 for g in ["<ко", "кот", "от>", "<кот", "кот>", "<кот>"]}
    assert set(grams) == expected
    encoded = make_tokenizer().encode("кот ест", max_length=10)
    assert encoded["ngram_counts"] == [len(grams), len(word_ngrams("ест", 3, 4, 1000))]
    assert encoded["ngram_ids"][: len(grams)] == list(grams)


def test_truncation_and_empty_text():
    tokenizer = make_tokenizer()
    assert len(tokenizer.encode("кот " * 50, max_length=7)["input_ids"]) == 7
    empty = tokenizer.encode("", max_length=7)
    assert empty == {"input_ids": [WordTokenizer.UNK], "ngram_ids": [], "ngram_counts": [0]}


def test_pad_makes_one_bag_per_position_and_empty_bags_for_padding():
    tokenizer = make_tokenizer()
    features = [tokenizer.encode(text, 10) for text in ["кот", "кот спит ест"]]
    batch = tokenizer.pad(features)
    assert batch["input_ids"].tolist() == [[2, 0, 0], [2, 3, 1]]
    assert batch["lengths"].tolist() == [1, 3]
    bags = torch.nn.EmbeddingBag(1000, 2, mode="sum")
    torch.nn.init.ones_(bags.weight)
    counts = bags(batch["ngram_ids"], batch["ngram_offsets"])[:, 0].view(2, 3)
    sizes = {word: len(word_ngrams(word, 3, 4, 1000)) for word in ("кот", "спит", "ест")}
    assert counts.tolist() == [[sizes["кот"], 0, 0], [sizes["кот"], sizes["спит"], sizes["ест"]]]
    assert sizes == {"кот": 6, "спит": 8, "ест": 6}


def test_tokenizer_files_round_trip(tmp_path):
    tokenizer = make_tokenizer()
    tokenizer.save_pretrained(tmp_path)
    again = WordTokenizer.from_pretrained(tmp_path)
    assert again.words == tokenizer.words and again.encode("кот ест", 5) == tokenizer.encode("кот ест", 5)


def test_dataset_preprocesses_tokenises_once_and_pads_per_batch(sample_dir):
    frame = read_split(sample_dir / "train.csv")
    labels = frame.iloc[:, 1:].to_numpy()
    dataset = EmotionDataset(frame.text, labels, make_tokenizer(), max_len=20, preprocess=str.upper)
    _features, target = dataset[0]
    assert target.dtype == torch.float32 and target.tolist() == labels[0].tolist()
    assert dataset.lengths.max() <= 20
    shortest = np.argsort(dataset.lengths)[:4]
    batch = dataset.collate([dataset[i] for i in shortest])
    assert batch["input_ids"].shape == (4, dataset.lengths[shortest].max())
    assert batch["labels"].shape == (4, 7)
    with pytest.raises(ValueError, match=r"labels: expected shape \(3, 7\), got \(3, 6\)"):
        EmotionDataset(["а", "б", "в"], np.zeros((3, 6)), make_tokenizer())


def test_rows_and_joining_keep_features_and_labels():
    dataset = EmotionDataset(["кот", "спит", "ест"], np.eye(7)[:3], make_tokenizer())
    joined = dataset.rows([2, 0]) + dataset.rows([1])
    assert [f["input_ids"] for f in joined.features] == [[1], [2], [3]]
    assert joined.labels.argmax(1).tolist() == [2, 0, 1] and joined.lengths.tolist() == [1, 1, 1]


def test_length_batches_cover_every_row_once_with_little_padding():
    lengths = np.random.default_rng(0).integers(1, 60, 1000)
    sampler = LengthBatchSampler(lengths, batch_size=32, shuffle=True, seed=3, pool_batches=10)
    batches = list(sampler)
    assert sorted(i for batch in batches for i in batch) == list(range(1000)) and len(batches) == len(sampler)
    spread = np.mean([lengths[b].max() - lengths[b].min() for b in batches])
    assert spread < 10  # random batches would spread over ~55
    assert batches == list(sampler)
    sampler.set_epoch(1)
    assert batches != list(sampler)
    ordered = list(LengthBatchSampler(lengths, 100, shuffle=False))
    assert [lengths[b].max() for b in ordered] == sorted((lengths[b].max() for b in ordered), reverse=True)
