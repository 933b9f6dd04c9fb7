import numpy as np
import pytest

from utils.core.settings import TextConfig
from utils.core.splits import label_matrix, load_competition
from utils.members.tfidf import TfidfClassifier, TfidfConfig


@pytest.fixture(scope="module")
def sample(request):
    from conftest import SAMPLE_DIR

    return load_competition(SAMPLE_DIR)


def small():
    return TfidfConfig(weight=0.5, min_df=1, max_word_features=2000, max_char_features=4000)


def test_learns_the_sample_better_than_chance(sample):
    from sklearn.metrics import f1_score

    model = TfidfClassifier(small(), TextConfig()).fit(sample.train.text, label_matrix(sample.train))
    probs = model.probs(sample.valid.text)
    assert probs.shape == (len(sample.valid), 7) and ((probs > 0) & (probs < 1)).all()
    y = label_matrix(sample.valid)
    learned = f1_score(y, probs >= 0.3, average="weighted", zero_division=0)
    shuffled = f1_score(y, np.random.default_rng(0).permutation(probs) >= 0.3, average="weighted", zero_division=0)
    assert learned > shuffled + 0.1


def test_save_and_load_give_identical_probabilities_without_pickle(sample, tmp_path):
    model = TfidfClassifier(small(), TextConfig(demojize=False)).fit(sample.train.text, label_matrix(sample.train), sample.test.text)
    model.save(tmp_path / "tfidf")
    assert sorted(p.name for p in (tmp_path / "tfidf").iterdir()) == ["tfidf.json", "tfidf.safetensors", "vocabulary.json"]
    loaded = TfidfClassifier.load(tmp_path / "tfidf")
    assert loaded.text.demojize is False
    assert np.array_equal(loaded.probs(sample.test.text), model.probs(sample.test.text))


def test_missing_files_are_named(tmp_path):
    (tmp_path / "tfidf").mkdir()
    with pytest.raises(FileNotFoundError, match=r"missing \['tfidf.json', 'vocabulary.json', 'tfidf.safetensors'\]"):
        TfidfClassifier.load(tmp_path / "tfidf")


def test_member_over_valid_folds_gives_out_of_fold_probabilities(sample, tmp_path):
    from utils.members.tfidf import train_linear_member
    from utils.training.folds import valid_folds

    y_train, y_valid = label_matrix(sample.train), label_matrix(sample.valid)
    folds = valid_folds(y_valid, 3, seed=0)
    model, oof = train_linear_member(small(), TextConfig(), sample.train.text.tolist(), y_train,
                                     sample.valid.text.tolist(), y_valid, sample.test.text.tolist(), folds)
    assert model.coef.shape[:2] == (3, 7) and oof.shape == y_valid.shape and (oof > 0).all()
    _, held_out = folds[1]
    assert np.allclose(oof[held_out], model.probs_of_features(model.features(sample.valid.text.iloc[held_out].tolist()), [1]))
    texts = ["ура", "мне страшно"]
    assert np.allclose(model.probs(texts), np.mean([model.probs_of_features(model.features(texts), [k]) for k in range(3)], axis=0))
    loaded = TfidfClassifier.load(model.save(tmp_path / "tfidf"))
    assert np.array_equal(loaded.probs(texts), model.probs(texts))


def test_valid_weight_counts_each_valid_row_that_many_times(sample):
    from utils.members.tfidf import train_linear_member
    from utils.training.folds import valid_folds

    y_train, y_valid = label_matrix(sample.train), label_matrix(sample.valid)
    folds = valid_folds(y_valid, 2, seed=0)
    args = (small(), TextConfig(), sample.train.text.tolist(), y_train, sample.valid.text.tolist(), y_valid, [], folds)
    weighted, _ = train_linear_member(*args, valid_weight=3)
    fit_rows, _ = folds[0]
    repeated_texts = [*sample.train.text, *np.repeat(sample.valid.text.to_numpy()[fit_rows], 3)]
    model = TfidfClassifier(small(), TextConfig()).fit_vocabulary([*sample.train.text, *sample.valid.text])
    coef, _ = model.regressions(model.features(repeated_texts), np.vstack([y_train, np.repeat(y_valid[fit_rows], 3, axis=0)]))
    unweighted, _ = train_linear_member(*args)
    distance = lambda other: np.abs(other.coef[0] - coef).mean()  # noqa: E731  (the solver stops at a tolerance)
    assert distance(weighted) < 0.1 * distance(unweighted)
