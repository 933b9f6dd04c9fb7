"""The leakage guard: exact, ASR-normalised and reworded copies are caught and different rows are kept."""

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_DATA

from utils.expansion.leakage import (
    KEPT,
    ReferenceSet,
    find_leaks,
    matching_form,
    nearest_matches,
    ngram_sets,
)

VALID_TEST = [
    "привет имя как дела",  # the test's ASR style
    "ыетс ужасно я не могу в это поверить",  # with a transcription slip (ыетс = это)
    "Транзит будет быстрым, пока и он не увязнет в остановках на каждом втором квартале.",
]
TRAIN = ["Я обожаю кофе по утрам, особенно с корицей."]


def jaccard(a: str, b: str) -> float:
    grams = [{x[i : i + 3] for i in range(len(x) - 2)} for x in (a, b)]
    return len(grams[0] & grams[1]) / len(grams[0] | grams[1]) if grams[0] | grams[1] else 0.0


def verdicts(candidates, threshold=0.3, train_threshold=0.5):
    return find_leaks(candidates, [ReferenceSet("valid/test", VALID_TEST, threshold), ReferenceSet("train", TRAIN, train_threshold)])


def test_exact_copies_after_asr_normalisation_are_caught():
    result = verdicts(["Привет, [ИМЯ]! Как дела?", "Это ужасно! Я не могу в это поверить...",
                       "Я обожаю кофе по утрам, особенно с корицей!"])
    assert result["rule"].tolist() == ["exact copy of valid/test", "exact copy of valid/test", "exact copy of train"]
    assert result["match"].tolist() == [VALID_TEST[0], VALID_TEST[1], TRAIN[0]]


def test_reworded_copy_is_caught_and_different_rows_are_kept():
    retranslation = "Транзит будет быстрым до тех пор, пока он тоже не станет загроможденным остановками в каждом втором квартале"
    different = "Сегодня отличная погода для прогулки в парке с собакой."
    result = verdicts([retranslation, different])
    assert result["rule"].tolist() == ["near copy of valid/test (Jaccard >= 0.3)", KEPT]
    expected = jaccard(*matching_form([retranslation, VALID_TEST[2]]))
    assert result["score"][0] == pytest.approx(expected, abs=1e-6) and 0.3 <= expected < 0.6
    assert verdicts([retranslation], threshold=0.6)["rule"].tolist() == [KEPT]


def test_train_has_its_own_threshold_and_repeats_are_dropped():
    near_train = "Я обожаю кофе по вечерам, особенно с корицей."
    assert verdicts([near_train], train_threshold=0.5)["rule"][0] == "near copy of train (Jaccard >= 0.5)"
    assert verdicts([near_train], train_threshold=0.95)["rule"][0] == KEPT
    result = verdicts(["Совсем новый текст про горы.", "совсем новый текст про горы", "Другой текст."])
    assert result["rule"].tolist() == [KEPT, "repeats an earlier added row", KEPT]


def test_valid_test_rule_comes_before_train():
    result = find_leaks(["один и тот же текст"], [ReferenceSet("valid/test", ["Один и тот же текст"], 0.3),
                                                  ReferenceSet("train", ["один и тот же текст"], 0.5)])
    assert result["rule"].tolist() == ["exact copy of valid/test"]


def test_nearest_matches_agrees_with_brute_force():
    rng = np.random.default_rng(0)
    words = ["кот", "кошка", "собака", "дом", "дома", "бежит", "спит", "на", "в", "красный", "дождь", "утро"]

    def make(n):
        return [" ".join(rng.choice(words, size=rng.integers(1, 8))) for _ in range(n)]

    candidates, references = make(80), make(60)
    for threshold in (0.3, 0.5, 0.8):
        best, where = nearest_matches(ngram_sets(candidates), ngram_sets(references), threshold, chunk_size=16)
        brute = np.array([[jaccard(c, r) for r in references] for c in candidates])
        expected = np.where(brute.max(axis=1) >= threshold, brute.max(axis=1), 0)
        np.testing.assert_allclose(best, expected, atol=1e-6)
        found = where >= 0
        np.testing.assert_allclose(brute[np.flatnonzero(found), where[found]], best[found], atol=1e-6)
        assert found.sum() > 0


def test_no_candidates_and_bad_threshold():
    assert len(verdicts([])) == 0
    with pytest.raises(ValueError, match="threshold"):
        nearest_matches(ngram_sets(["а"]), ngram_sets(["б"]), 0)


def test_real_corpora_against_valid_and_test(competition_dir):
    external = SHARED_DATA / "external"
    files = ["ru_izard_emotions.csv", "cedr_train.csv", "brighter_ru_train.csv"]
    if not all((external / name).is_file() for name in files):
        pytest.skip(f"external corpora not found at {external}")
    candidates = pd.concat([pd.read_csv(external / name, keep_default_na=False)["text"] for name in files]).tolist()
    references = pd.concat([pd.read_csv(competition_dir / name, keep_default_na=False)["text"]
                            for name in ("valid.csv", "test_without_answers.csv")])
    result = find_leaks(candidates, [ReferenceSet("valid/test", references.tolist(), 0.3)])  # its time: a benchmark's matter
    assert len(candidates) > 25_000 and len(references) > 14_000
    izard = result.iloc[:15_432]
    assert (izard["rule"] != KEPT).mean() < 0.01  # the shared copy was already cleaned of re-translations of valid/test
