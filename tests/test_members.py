"""Members as plugins: the kinds' registry and listing, the `members` settings (new and old spellings), the one blending
formula, and a toy kind defined here run through a whole pipeline (training, thresholds, inference, utils.predict)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO_ROOT, SAMPLE_DIR, small_run_args

from utils.core import member_kinds
from utils.core.ensemble import Ensemble
from utils.core.member_kinds import MemberKind, register_kind
from utils.core.settings import ConfigError, MemberSettings, Positive
from utils.core.settings_io import load_config, save_config
from utils.core.splits import LABELS, label_matrix
from utils.training.members_of_run import member_records, switched_off_folders

TOY = "test_members:LabelFrequencies"  # a kind of one's own, named module:Class (the module importable)


class FrequencySettings(MemberSettings):
    """The toy kind's settings: add-`smoothing` counts."""

    kind: str = "label_frequencies"
    smoothing: Positive = 1.0


class LabelFrequencies(MemberKind):
    """A toy member: every text gets each label's smoothed share among the rows it trained on (one part per fold)."""

    kind = "label_frequencies"
    description = "each label's share of the training rows, for every text"
    settings = FrequencySettings
    FILE = "frequencies.json"

    def train(self, run) -> np.ndarray:
        train_y, valid_y = label_matrix(run.data.train), label_matrix(run.data.valid)
        folds = run.folds or [(np.arange(0), np.arange(len(valid_y)))]
        self.parts = np.array([self.shares(np.vstack([train_y, valid_y[fit]])) for fit, _ in folds])
        run.folder.mkdir(parents=True, exist_ok=True)
        (run.folder / self.FILE).write_text(json.dumps(self.parts.tolist()), encoding="utf-8")
        return self.predict_held_out(run, run.data.valid.text.tolist())

    def shares(self, labels: np.ndarray) -> np.ndarray:
        return (labels.sum(axis=0) + self.settings.smoothing) / (len(labels) + 2 * self.settings.smoothing)

    @classmethod
    def load(cls, name, folder, device="cpu"):
        member = cls(name, FrequencySettings())
        member.parts = np.array(json.loads((folder / cls.FILE).read_text(encoding="utf-8")))
        return member

    def predict(self, texts, part=None, batch_size=256) -> np.ndarray:
        return np.tile(self.parts.mean(axis=0) if part is None else self.parts[part], (len(texts), 1))


@pytest.fixture
def registry(monkeypatch):
    """The kit's kinds in a registry of this test's own, so that what a test registers is gone after it."""
    monkeypatch.setattr(member_kinds, "KINDS", dict(member_kinds.kit_kinds()))


def test_python_m_utils_members_lists_each_kind_on_one_line(capsys):
    from utils.members.listing import main

    assert main([]) == 0
    lines = capsys.readouterr().out.splitlines()
    kinds = {line.split()[0]: line for line in lines[:-1]}
    assert set(kinds) == {"bigru", "encoder", "ngram_bag", "tfidf"}
    assert "CPU  settings: model, train" in kinds["bigru"] and "bidirectional GRU" in kinds["bigru"]
    assert "GPU  settings: model, train" in kinds["encoder"] and "Hugging Face" in kinds["encoder"]
    assert "CPU  settings: members.<name>" in kinds["tfidf"] and "logistic regression" in kinds["tfidf"]
    assert lines[-1].startswith("A run's members: members.<name>.kind=KIND")


def test_a_registered_kind_is_named_by_its_kind_and_listed(registry, capsys):
    from utils.members.listing import kind_lines

    register_kind(LabelFrequencies)
    config = load_config(None, ["members.freq.kind=label_frequencies", "members.freq.smoothing=2", "members.freq.weight=2"])
    assert isinstance(config.members["freq"], FrequencySettings) and config.members["freq"].smoothing == 2.0
    assert member_records(config)["freq"] == {"kind": "label_frequencies", "path": "members/freq", "weight": 0.5}
    assert any(line.startswith("label_frequencies  CPU") for line in kind_lines())
    with pytest.raises(ValueError, match="member kind 'label_frequencies' is registered twice"):
        register_kind(type("Other", (LabelFrequencies,), {}))


def test_a_kind_of_ones_own_is_named_module_colon_class():
    config = load_config(None, [f"members.freq.kind={TOY}", "members.tfidf=null"])
    assert type(config.members["freq"]) is FrequencySettings
    assert member_records(config) == {"neural": {"kind": "bigru", "path": "model", "weight": 0.5},
                                      "freq": {"kind": TOY, "path": "members/freq", "weight": 0.5}}


@pytest.mark.parametrize(("overrides", "message"), [
    (["members.x.kind=nope"], r"members\.x\.kind: member kind 'nope' is unknown; accepted: \['bigru', 'encoder', 'ngram_bag', 'tfidf'\]"),
    (["members.x.kind=no_module_here:Kind"], r"members\.x\.kind: member kind 'no_module_here:Kind': No module named 'no_module_here'"),
    (["members.x={}"], r"members\.x: expected a mapping with a kind \(e\.g\. \{kind: bigru\}\) or null, got \{\}"),
    (["members.tfidf.bogus=1"], r"unknown setting\(s\) \['members\.tfidf\.bogus'\]; known: \['members\.tfidf\.C', "),
    (["members.tfidf.C=-1"], r"members\.tfidf\.C = -1 is out of range; accepted: more than 0"),
    (["members.neural=null", "members.tfidf=null"], r"members: every member is switched off; a run needs at least one"),
    (["members.neural.kind=bigru", "members.second.kind=bigru"],
     r"\['neural', 'second'\] are both neural members .* -p members\.second=null"),
    (["members.neural.kind=encoder"], r"members\.neural\.kind: the encoder kind needs a Hugging Face encoder, and the run's backbone is "
                                      r"'navec' .*: give members\.neural\.backbone=NAME"),
    (["members.e.kind=encoder", "members.e.backbone=a/b", "model.backbone=c/d"],
     r"members\.e\.backbone = 'a/b' and model\.backbone = 'c/d' disagree .*: give it once, as members\.e\.backbone"),
    (["tfidf.weight=1"], r"tfidf\.weight = 1 is out of range; accepted: a number between 0 and 1, below 1"),
])
def test_bad_members_are_refused_naming_the_member_and_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, overrides)


def test_a_member_switched_off_stays_off_in_the_runs_own_settings(tmp_path):
    config = load_config(None, ["members.tfidf=null", f"runs_dir={tmp_path}"])
    assert config.members["tfidf"] is None and list(member_records(config)) == ["neural"]
    again = load_config(save_config(config))  # params.yaml: the run continued with its own settings
    assert again.members == config.members and again.model_dump()["members"] == {"neural": {"kind": "bigru", "weight": 1.0}, "tfidf": None}


def test_old_spellings_map_onto_the_members(tmp_path):
    off = load_config(None, ["tfidf.max_iter=50", "tfidf.weight=0", f"runs_dir={tmp_path}"])
    assert member_records(off) == member_records(load_config(None, ["members.tfidf=null"])) == {
        "neural": {"kind": "bigru", "path": "model", "weight": 1.0}}
    again = load_config(save_config(off), ["tfidf.weight=0.5"])  # weight 0 keeps its settings for a later weight to bring back
    assert again.members["tfidf"].max_iter == 50 and member_records(again)["tfidf"]["weight"] == 0.5
    old = load_config(None, ["tfidf.weight=0.25", "tfidf.C=3"])
    assert old.members["tfidf"].C == 3.0
    assert {name: record["weight"] for name, record in member_records(old).items()} == {"neural": 0.75, "tfidf": 0.25}
    assert load_config(None, ["tfidf.C=3"]).members == load_config(None, ["members.tfidf.C=3"]).members
    assert load_config(None, ["members.tfidf=null", "tfidf.max_iter=50"]).members["tfidf"] is None, "old keys do not switch it on"
    assert load_config(None, ["members.tfidf=null", "tfidf.weight=0.5"]).members["tfidf"].weight == 0.5, "an old weight does"
    assert load_config(None, ["model.backbone=cointegrated/rubert-tiny2"]).members["neural"].kind == "encoder"
    default = member_records(load_config(None))
    assert default == {"neural": {"kind": "bigru", "path": "model", "weight": 0.5}, "tfidf": {"kind": "tfidf", "path": "members/tfidf",
                                                                                          "weight": 0.5}}


def test_the_ensemble_is_the_weighted_mean_of_its_members():
    ensemble = Ensemble.normalised({"a": 1.0, "b": 3.0})
    assert ensemble.weights == {"a": 0.25, "b": 0.75}
    probs = ensemble.combine({"b": np.array([[0.6, 0.2]]), "a": np.array([[0.2, 1.0]])})
    assert probs.tolist() == [[0.25 * 0.2 + 0.75 * 0.6, 0.25 * 1.0 + 0.75 * 0.2]] and np.allclose(probs, [[0.5, 0.4]])
    assert Ensemble({"only": 1.0}).combine({"only": np.full((2, 7), 0.3, dtype=np.float32)}).dtype == np.float32
    with pytest.raises(ValueError, match=r"no probabilities of member\(s\) \['b'\] to blend; members: \['a', 'b'\]"):
        ensemble.combine({"a": np.zeros((1, 2))})


def test_a_member_switched_off_is_named_for_removal(tmp_path):
    config = load_config(None, ["members.neural=null", f"runs_dir={tmp_path}"])
    for folder in ("model", "members/tfidf", "members/old"):
        (config.run_dir / folder).mkdir(parents=True)
    assert switched_off_folders(config) == ["model", "training_log.csv", "training_curves.png", "members/old"]
    assert switched_off_folders(load_config(None, ["members.tfidf=null", f"runs_dir={tmp_path}"])) == ["members/old", "members/tfidf",
                                                                                                       "members"]


@pytest.mark.e2e
def test_a_toy_kind_runs_through_training_thresholds_inference_and_predict(tmp_path, capsys):
    from utils.core.probs_files import read_probs
    from utils.core.run_record import read_record
    from utils.inference.cli import main as predict
    from utils.inference.predictor import Predictor

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "tests"), os.environ.get("PYTHONPATH", "")])}
    members = ["-p", f"members.freq.kind={TOY}", "-p", "members.freq.weight=0.5", "-p", "members.tfidf=null",
               "-p", "train.member_weights=settings", "-p", "expansion.enabled=false"]
    done = subprocess.run([sys.executable, "-m", "utils.pipeline", "--quiet", "--data-dir", str(SAMPLE_DIR), "--run", "toy",
                           *small_run_args(tmp_path / "runs"), *members], cwd=REPO_ROOT, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    run_dir = tmp_path / "runs" / "toy"
    assert read_record(run_dir)["steps"]["03_training"]["members"] == {
        "neural": {"kind": "bigru", "path": "model", "weight": 2 / 3}, "freq": {"kind": TOY, "path": "members/freq", "weight": 1 / 3}}
    assert sorted(p.name for p in (run_dir / "members").iterdir()) == ["freq"], "no folder of the member switched off"
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert set(metrics["members"]) == {"neural", "freq"} and (run_dir / "thresholds.json").is_file()
    assert len(read_probs(run_dir / "test_probs_raw.csv")) == len((SAMPLE_DIR / "test_without_answers.csv").read_text().splitlines()) - 1

    predictor = Predictor.from_run(run_dir)
    texts = ["мне страшно", "ура, спасибо!"]
    frequencies = np.array(json.loads((run_dir / "members" / "freq" / "frequencies.json").read_text(encoding="utf-8"))).mean(axis=0)
    expected = 2 / 3 * predictor.members["neural"].predict(texts) + 1 / 3 * frequencies
    assert np.allclose(predictor.raw_probs(texts), expected)
    assert predict(["--model", str(run_dir), "--text", texts[0]]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["label", "prob", "decision"] and {line.split()[0] for line in table[1:]} == set(LABELS)
