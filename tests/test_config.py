
import pytest
import yaml
from conftest import HEADER

from utils.core.data_dir import find_data_dir
from utils.core.run_start import start_run
from utils.core.settings import ConfigError, RunConfig
from utils.core.settings_io import load_config, save_config

SPLITS = ("train.csv", "valid.csv", "test_without_answers.csv")


def make_competition_dir(folder):
    folder.mkdir(parents=True, exist_ok=True)
    for name in SPLITS:
        (folder / name).write_text(HEADER + "\nа,0,0,0,0,0,0,1\n", encoding="utf-8")
    return folder


def test_defaults():
    config = load_config()
    assert config.seed == 42 and config.text.demojize is True and config.data_dir is None


def test_yaml_then_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("seed: 7\nname: trial\ntext:\n  demojize: false\n", encoding="utf-8")
    config = load_config(path, overrides=["text.yo_to_e=false", "seed=8"])
    assert (config.seed, config.name, config.text.demojize, config.text.yo_to_e) == (8, "trial", False, False)
    assert config.text.asr_style is True
    assert load_config(path, overrides={"text.fix_slips": False}).text.fix_slips is False


def test_unknown_key_lists_known_ones(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("text:\n  emoji: false\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"run\.yaml: unknown setting\(s\) \['text\.emoji'\]; known: \['text\.asr_style'"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) \['sed'\]; known: .*'seed'"):
        load_config(overrides=["sed=1"])


def test_wrong_type_is_refused():
    with pytest.raises(ConfigError, match=r"setting 'seed': expected int, got 'abc'"):
        load_config(overrides=["seed=abc"])
    with pytest.raises(ConfigError, match=r"setting 'text\.demojize': expected true or false, got 3"):
        load_config(overrides={"text.demojize": 3})
    with pytest.raises(ConfigError, match=r"expected key=value"):
        load_config(overrides=["seed"])


def test_params_yaml_round_trip(tmp_path):
    config = load_config(overrides={"name": "r1", "runs_dir": str(tmp_path), "text.demojize": False})
    path = save_config(config)
    assert path == tmp_path / "r1" / "params.yaml"
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["text"]["demojize"] is False
    assert load_config(path) == config


def test_data_dir_explicit_then_env(tmp_path, monkeypatch):
    explicit = make_competition_dir(tmp_path / "explicit")
    env = make_competition_dir(tmp_path / "env")
    monkeypatch.setenv("KIT_DATA_DIR", str(env))
    assert find_data_dir(explicit) == explicit
    assert find_data_dir() == env
    with pytest.raises(FileNotFoundError, match=r"lacks the competition file\(s\) \['valid.csv'\]"):
        (explicit / "valid.csv").unlink()
        find_data_dir(explicit)


def test_data_dir_kaggle_then_sample(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("KIT_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    kaggle = tmp_path / "kaggle_input"
    found = make_competition_dir(kaggle / "some-mirror" / "files")
    assert find_data_dir(kaggle_input=kaggle) == found
    assert capsys.readouterr().out == ""
    slug = make_competition_dir(kaggle / "cryptonite-hack-sf")
    assert find_data_dir(kaggle_input=kaggle) == slug
    local = make_competition_dir(tmp_path / "data")
    assert find_data_dir(kaggle_input=tmp_path / "none") == local
    for name in SPLITS:
        (local / name).unlink()
    sample = find_data_dir(kaggle_input=tmp_path / "none")
    assert sample.name == "sample" and "using the small authored sample" in capsys.readouterr().out


def test_run_dir_relative_to_repo(tmp_path):
    assert RunConfig(name="x").run_dir.parts[-2:] == ("runs", "x")
    assert RunConfig(name="x", runs_dir=str(tmp_path)).run_dir == tmp_path / "x"


def test_start_run_resolves_data_seeds_and_writes_params(tmp_path, sample_dir):
    config = start_run(overrides={"runs_dir": str(tmp_path), "seed": 3}, data_dir=sample_dir, run_name="nb")
    assert config.data_dir == str(sample_dir.resolve()) and config.name == "nb"
    saved = yaml.safe_load((tmp_path / "nb" / "params.yaml").read_text(encoding="utf-8"))
    assert saved["seed"] == 3 and saved["data_dir"] == str(sample_dir.resolve())


@pytest.mark.parametrize("override, message", [
    ("train.epochs=0", r"train\.epochs = 0 is out of range; accepted: 1 or more"),
    ("model.head.dropout=1.0", r"model\.head\.dropout = 1\.0 is out of range; accepted: 0 <= value < 1"),
    ("tfidf.weight=1.5", r"tfidf\.weight = 1\.5 is out of range; accepted: a number between 0 and 1"),
    ("train.optimizer=lion", r"train\.optimizer 'lion' is unknown; accepted: \['adamw', 'adam', 'sgd'\]"),
    ("train.pos_weight=[1, 2]", r"train\.pos_weight \[1, 2\] is not accepted; accepted: null, 'balanced' or 7 positive numbers"),
    ("train.batch_size=0", r"train\.batch_size = 0 is out of range; accepted: 1 or more"),
    ("model.pooling=cls", r"model\.pooling 'cls' is not available for the 'navec' backbone"),
    ("model.navec.ngram_max=2", r"model\.navec\.ngram_max = 2 is out of range; accepted: 3 to 10"),
    ("text.slips_file=3", r"setting 'text\.slips_file': expected str, got 3"),
])
def test_values_out_of_range_or_unknown_names_are_refused_when_loaded(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=[override])


def test_checked_copies_and_assignments():
    config = load_config()
    default_epochs = config.train.epochs
    assert config.train.replace(epochs=default_epochs + 7).epochs == default_epochs + 7
    assert config.train.epochs == default_epochs, "the copy leaves the original as it was"
    with pytest.raises(ConfigError, match=r"train\.epochs = -1 is out of range"):
        config.train.replace(epochs=-1)
    assert load_config(overrides=["train.pos_weight=[1, 2, 3, 4, 5, 6, 7]"]).train.pos_weight == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    with pytest.raises(ConfigError) as several:
        load_config(overrides=["train.epochs=0", "text.emoji=1", "text.demo=2"])
    message = str(several.value)
    assert "unknown setting(s) ['text.emoji', 'text.demo']" in message and "train.epochs = 0 is out of range" in message


def test_a_folder_with_some_of_the_files_is_an_error_not_the_sample(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("KIT_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    local = make_competition_dir(tmp_path / "data")
    (local / "valid.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"data holds some of the competition files but lacks \['valid.csv'\]"):
        find_data_dir(kaggle_input=tmp_path / "none")
    kaggle = make_competition_dir(tmp_path / "kaggle_input" / "cryptonite-hack-sf")
    (kaggle / "train.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"cryptonite-hack-sf holds some of the competition files but lacks \['train.csv'\]"):
        find_data_dir(kaggle_input=tmp_path / "kaggle_input")
    assert "authored sample" not in capsys.readouterr().out
