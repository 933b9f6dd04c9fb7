"""The GPU path through the members' door: a member of kind encoder with its own backbone key (`members: {encoder: {kind:
encoder, backbone: ...}}`) replaces the default's BiGRU and trains beside the TF-IDF member in one run of notebook 03."""
import json

import pytest
import yaml
from conftest import REPO_ROOT, SAMPLE_DIR

from utils.core.settings import ModelConfig, RunConfig
from utils.core.settings_io import load_config, parse_overrides, save_config
from utils.training.members_of_run import member_records

ENCODER = {"encoder": {"kind": "encoder", "backbone": "cointegrated/rubert-tiny2"}, "tfidf": {"kind": "tfidf"}}


def test_an_encoder_member_with_its_backbone_replaces_the_default_network(tmp_path):
    config = load_config(None, {"members": ENCODER, "runs_dir": str(tmp_path)})
    assert config.model.backbone == "cointegrated/rubert-tiny2", "the member's backbone is the run's model.backbone"
    assert member_records(config) == {"tfidf": {"kind": "tfidf", "path": "members/tfidf", "weight": 0.5},
                                      "encoder": {"kind": "encoder", "path": "model", "weight": 0.5}}
    saved = yaml.safe_load(save_config(config).read_text(encoding="utf-8"))
    assert saved["members"]["neural"] is None and saved["members"]["encoder"] == {"kind": "encoder", "weight": 1.0}
    assert load_config(config.run_dir / "params.yaml") == config, "the run's own settings give the same run"
    dotted = ["members.encoder.kind=encoder", "members.encoder.backbone=cointegrated/rubert-tiny2"]
    assert load_config(None, dotted).members == config.members, "the command line's spelling is the same run"
    assert load_config(None, [*dotted, "model.backbone=cointegrated/rubert-tiny2"]).members == config.members, "the same backbone twice"


def test_the_encoder_members_backbone_agrees_with_a_model_config_given_in_code():
    config = RunConfig(model=ModelConfig(max_len=64), members=ENCODER)
    assert config.model.backbone == "cointegrated/rubert-tiny2" and config.model.max_len == 64 and config.members["neural"] is None


def test_an_old_weight_share_counts_after_the_network_is_replaced():
    config = load_config(None, {"members": ENCODER, "tfidf.weight": 0.25})
    assert {name: record["weight"] for name, record in member_records(config).items()} == {"tfidf": 0.25, "encoder": 0.75}


def test_a_members_later_override_below_its_null_wins():
    assert parse_overrides(["members.tfidf=null", "members.tfidf.C=2"]) == {"members": {"tfidf": {"C": 2}}}
    assert parse_overrides(["members.tfidf.C=2", "members.tfidf=null"]) == {"members": {"tfidf": None}}
    assert load_config(None, ["members.tfidf=null", "members.tfidf.C=2"]).members["tfidf"].C == 2.0


@pytest.mark.e2e
def test_notebook_03_trains_an_encoder_member_beside_the_tfidf_member(tmp_path):
    import nbformat
    import papermill
    from tiny_models import build_tiny_bert

    from utils.core.run_record import read_record
    from utils.core.splits import read_split
    from utils.training.checkpoint import load_models

    backbone = str(build_tiny_bert(tmp_path / "bert", read_split(SAMPLE_DIR / "train.csv").text.tolist()))
    members = {"encoder": {"kind": "encoder", "backbone": backbone}, "tfidf": {"kind": "tfidf", "max_iter": 50}}
    overrides = {"runs_dir": str(tmp_path), "members": members, "model.pooling": "cls", "train.epochs": 1, "train.folds": 2,
                 "train.num_threads": 1, "train.lr": 1e-3}
    papermill.execute_notebook(str(REPO_ROOT / "notebooks" / "03_training.ipynb"), str(tmp_path / "out.ipynb"),
                               cwd=str(REPO_ROOT / "notebooks"), kernel_name="python3", progress_bar=False,
                               parameters={"data_dir": str(SAMPLE_DIR), "run_name": "enc", "overrides": overrides})
    run_dir = tmp_path / "enc"
    recorded = read_record(run_dir)["steps"]["03_training"]["members"]
    assert {name: (record["kind"], record["path"]) for name, record in recorded.items()} == {
        "tfidf": ("tfidf", "members/tfidf"), "encoder": ("encoder", "model")}
    assert len(load_models(run_dir / "model")) == 2 and (run_dir / "members" / "tfidf" / "tfidf.json").is_file()  # 2 folds + TF-IDF
    assert sorted(p.name for p in (run_dir / "members").iterdir()) == ["tfidf"]
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["backbone"] == backbone and set(metrics["members"]) == {"encoder", "tfidf"}
    params = yaml.safe_load((run_dir / "params.yaml").read_text(encoding="utf-8"))
    assert params["model"]["backbone"] == backbone and params["members"]["neural"] is None
    assert (run_dir / "training_log.csv").is_file() and (run_dir / "training_curves.png").read_bytes()[:4] == b"\x89PNG"
    printed = "".join(output.get("text", "") for cell in nbformat.read(tmp_path / "out.ipynb", as_version=4).cells
                      for output in cell.get("outputs", []))
    assert printed.count("epoch 1/1: train loss") == 2 and "valid F1 weighted" in printed  # each fold's line
