import json

import numpy as np
import pytest
from conftest import SAMPLE_DIR
from tiny_models import build_tiny_bert, tiny_navec_config

from utils.core.files import OutputExistsError
from utils.core.settings import HeadConfig, ModelConfig, NavecConfig, TextConfig
from utils.core.splits import read_split
from utils.training.checkpoint import load_model, load_models, save_model, save_models
from utils.training.model import build_model
from utils.training.prediction import predict_probs


@pytest.fixture(scope="module")
def texts():
    return read_split(SAMPLE_DIR / "valid.csv").text.tolist()


def files_in(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("fine_tune", [False, True])
def test_navec_model_round_trips_with_identical_probabilities(tmp_path, texts, fine_tune):
    config = tiny_navec_config(navec=NavecConfig(fine_tune=fine_tune, hidden_size=8, ngram_dim=4, ngram_buckets=512),
                               head=HeadConfig(layers=2, norm="batch", hidden_size=8))
    model = build_model(config, texts, TextConfig(demojize=False)).eval()
    saved = save_model(model, tmp_path / "model")
    assert files_in(saved) == ["encoder/tokenizer.json", "encoder/words.txt", "model.safetensors", "model_config.json"]
    again = load_model(saved)
    assert not again.training and again.text == TextConfig(demojize=False) and again.config == model.config
    assert np.array_equal(predict_probs(model, texts), predict_probs(again, texts))
    settings = json.loads((saved / "model_config.json").read_text(encoding="utf-8"))
    assert settings["model"]["navec"]["fine_tune"] is fine_tune and settings["labels"][0] == "anger"


def test_hugging_face_model_round_trips(tmp_path, texts):
    folder = build_tiny_bert(tmp_path / "bert", texts)
    model = build_model(ModelConfig(backbone=str(folder), pooling="mean", max_len=32), text=TextConfig()).eval()
    saved = save_model(model, tmp_path / "model")
    assert {"model.safetensors", "model_config.json", "encoder/config.json", "encoder/tokenizer.json"} <= set(files_in(saved))
    assert not [name for name in files_in(saved) if name.endswith((".bin", ".pt", ".pkl", ".pth"))], "nothing pickled"
    again = load_model(saved)
    assert np.allclose(predict_probs(model, texts[:20]), predict_probs(again, texts[:20]), atol=1e-6)


def test_missing_files_and_fold_folders_are_explained(tmp_path, texts):
    model = build_model(tiny_navec_config(), texts)
    with pytest.raises(FileNotFoundError, match=r"no such model folder; a saved model is a folder holding model_config\.json"):
        load_model(tmp_path / "nowhere")
    saved = save_model(model, tmp_path / "single")
    (saved / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=r"single: missing \['model\.safetensors'\]; a saved model holds"):
        load_model(saved)
    folds = save_models([model, model], tmp_path / "folds")
    assert sorted(p.name for p in folds.iterdir()) == ["fold_0", "fold_1"]
    with pytest.raises(FileNotFoundError, match=r"holds k-fold models \(fold_<k>/\); load them with load_models"):
        load_model(folds)
    assert len(load_models(folds)) == 2 and len(load_models(tmp_path / "folds" / "fold_1")) == 1


def test_weights_that_do_not_fit_are_refused(tmp_path, texts):
    saved = save_model(build_model(tiny_navec_config(), texts), tmp_path / "model")
    settings = json.loads((saved / "model_config.json").read_text(encoding="utf-8"))
    settings["model"]["head"]["hidden_size"] = 32
    (saved / "model_config.json").write_text(json.dumps(settings), encoding="utf-8")
    with pytest.raises(ValueError, match=r"model\.safetensors does not fit the architecture in model_config\.json: size mismatch"):
        load_model(saved)
    settings["model"]["head"]["hidden_size"] = 16
    settings["model"]["navec"]["fine_tune"] = True
    (saved / "model_config.json").write_text(json.dumps(settings), encoding="utf-8")
    with pytest.raises(ValueError, match=r"does not fit the architecture in model_config\.json: missing \['backbone\.word_vectors'\]"):
        load_model(saved)


def test_replacing_is_announced_and_can_be_refused(tmp_path, texts, capsys):
    model = build_model(tiny_navec_config(), texts)
    save_model(model, tmp_path / "model")
    save_model(model, tmp_path / "model")
    assert "Replacing the model(s) saved before" in capsys.readouterr().out
    with pytest.raises(OutputExistsError, match="refusing to overwrite"):
        save_model(model, tmp_path / "model", overwrite=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"], "no temporary folders left behind"
