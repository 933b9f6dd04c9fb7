"""The `ngram_bag` member kind: hashed n-grams, training on the sample's folds (out of fold, deterministic), saving and
loading without pickle, the numpy forward pass, its settings' errors and its line in `python -m utils.members`."""
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLE_DIR

from utils.core.settings import ConfigError
from utils.core.settings_io import load_config
from utils.core.splits import SPLIT_FILES, TEXT, label_matrix, read_split
from utils.core.text import asr_style
from utils.members.ngram_bag import ARRAYS_FILE, SETTINGS_FILE, NgramBagConfig, NgramBagMember
from utils.members.ngram_bag_runtime import bags, forward, ngram_ids
from utils.training.folds import valid_folds
from utils.training.members_of_run import MemberRun
from utils.training.notebook import TrainingData

SMALL = ["members.bag.kind=ngram_bag", "members.bag.buckets=4096", "members.bag.dims=8", "members.bag.hidden=8",
         "members.bag.epochs=2"]


def member_run(folder: Path, seed: int = 42) -> MemberRun:
    """The sample data's 3 folds over valid, the held-out rows scored as the test is written."""
    config = load_config(None, [*SMALL, f"seed={seed}"])
    train, valid = read_split(SAMPLE_DIR / SPLIT_FILES["train"]), read_split(SAMPLE_DIR / SPLIT_FILES["valid"])
    data = TrainingData(train, valid, [], SAMPLE_DIR / SPLIT_FILES["train"])
    return MemberRun(config, data, [asr_style(text) for text in valid[TEXT]], valid_folds(label_matrix(valid), 3, seed), folder)


def trained(folder: Path, seed: int = 42) -> tuple[MemberRun, np.ndarray]:
    run = member_run(folder, seed)
    return run, NgramBagMember("bag", run.config.members["bag"]).train(run)


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    return trained(tmp_path_factory.mktemp("bag") / "members" / "bag")


def test_ids_are_each_word_its_character_ngrams_and_the_word_pairs():
    config = NgramBagConfig(char_ngram_min=2, char_ngram_max=3, word_ngram_max=2, buckets=1 << 20)
    one = ngram_ids("да", config)  # <да>: <д да а> (2), <да да> (3), and the word itself
    assert len(one) == 1 + 3 + 2 and len(set(one.tolist())) == 6 and one.dtype == np.int64
    two = ngram_ids("да нет", config)
    assert len(two) == 6 + (1 + 4 + 3) + 1 and two[:6].tolist() == one.tolist(), "each word's ids do not depend on the text"
    assert (two < config.buckets).all() and len(ngram_ids("?! ", config)) == 0
    assert len(ngram_ids("да нет", config.model_copy(update={"word_ngram_max": 1}))) == len(two) - 1


def test_training_gives_out_of_fold_probabilities_of_the_styled_rows_and_saves_without_pickle(first):
    run, probs = first
    assert probs.shape == (len(run.data.valid), 7) and ((probs > 0) & (probs < 1)).all()
    assert sorted(path.name for path in run.folder.iterdir()) == sorted([SETTINGS_FILE, ARRAYS_FILE])
    member = NgramBagMember.load("bag", run.folder)
    assert member.parts["table"].shape == (3, 4096, 8) and member.settings == run.config.members["bag"]
    for k, (_, held_out) in enumerate(run.folds):
        held_out_texts = [run.styled[i] for i in held_out]
        assert np.array_equal(member.predict(held_out_texts, part=k), probs[held_out]), "the part that held the rows out scores them"
        assert not np.allclose(member.predict(held_out_texts, part=(k + 1) % 3), probs[held_out])
    assert np.array_equal(member.predict_held_out(run, run.styled), probs)
    texts = run.data.valid[TEXT].tolist()[:5]
    assert np.allclose(member.predict(texts), np.mean([member.predict(texts, part=k) for k in range(3)], axis=0))


def test_the_same_seed_trains_the_same_member_and_another_seed_another(first, tmp_path):
    run, probs = first
    again_run, again = trained(tmp_path / "again")
    assert np.array_equal(again, probs)
    assert (again_run.folder / ARRAYS_FILE).read_bytes() == (run.folder / ARRAYS_FILE).read_bytes()
    assert not np.allclose(trained(tmp_path / "other", seed=7)[1], probs)


def test_the_numpy_forward_pass_is_the_trained_network(first):
    torch = pytest.importorskip("torch")
    run, _ = first
    member = NgramBagMember.load("bag", run.folder)
    arrays = {name: stacked[1] for name, stacked in member.parts.items()}
    rows = member.rows(["", "Ура, спасибо!", *run.data.valid[TEXT].tolist()[:20]])
    ids, offsets = bags(rows)
    lengths = np.diff(np.append(offsets, len(ids)))
    bag = torch.nn.EmbeddingBag.from_pretrained(torch.from_numpy(arrays["table"]), mode="sum")
    pooled = bag(torch.from_numpy(ids), torch.from_numpy(offsets),
                 per_sample_weights=torch.from_numpy(np.repeat(1 / lengths.clip(1), lengths).astype(np.float32)))
    hidden = torch.relu(pooled @ torch.from_numpy(arrays["hidden_weight"]).T + torch.from_numpy(arrays["hidden_bias"]))
    expected = torch.sigmoid(hidden @ torch.from_numpy(arrays["out_weight"]).T + torch.from_numpy(arrays["out_bias"])).numpy()
    assert np.allclose(forward(ids, offsets, arrays, "mean"), expected, atol=1e-6)
    assert np.array_equal(member.predict(["", "?!"], part=1)[0], member.predict(["", "?!"], part=1)[1]), "no words: the biases alone"


def test_a_folder_without_the_member_is_refused_naming_the_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"missing \['{SETTINGS_FILE}', '{ARRAYS_FILE}'\]; a saved n-gram bag member holds"):
        NgramBagMember.load("bag", tmp_path)


@pytest.mark.parametrize(("overrides", "message"), [
    (["members.bag.char_ngram_min=4", "members.bag.char_ngram_max=3"],
     r"members\.bag\.char_ngram_max = 3 is out of range; accepted: 4 \(members\.bag\.char_ngram_min\) to 8"),
    (["members.bag.dims=0"], r"members\.bag\.dims = 0 is out of range; accepted: 1 or more"),
    (["members.bag.buckets=8388608"], r"members\.bag\.buckets = 8388608 is out of range; accepted: 1 to "),
    (["members.bag.pooling=max"], r"members\.bag\.pooling 'max' is unknown; accepted: \['mean', 'sqrt'\]"),
    (["members.bag.bogus=1"], r"unknown setting\(s\) \['members\.bag\.bogus'\]; known: \['members\.bag\.batch_size', "),
])
def test_bad_settings_are_refused_naming_the_member_and_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, ["members.bag.kind=ngram_bag", *overrides])


def test_python_m_utils_members_lists_the_kind():
    from utils.members.listing import kind_lines

    line = next(line for line in kind_lines() if line.split()[0] == "ngram_bag")
    assert "CPU  settings: members.<name>" in line and "embedding bag" in line
