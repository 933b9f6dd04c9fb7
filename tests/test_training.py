import copy
import json

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import SAMPLE_DIR
from tiny_models import tiny_navec_config

from utils.core.paths import VALID_PROBS
from utils.core.probs_files import read_probs
from utils.core.seed import seed_everything
from utils.core.settings import ConfigError, TrainConfig
from utils.core.splits import label_matrix, read_split
from utils.core.text import asr_style
from utils.training.checkpoint import load_models
from utils.training.folds import train_on_valid_folds
from utils.training.loop import fit
from utils.training.model import build_model
from utils.training.optimisation import (
    FocalLoss,
    make_loss,
    make_optimizer,
    make_scheduler,
    positive_weights,
)
from utils.training.prediction import predict_dataset, predict_probs
from utils.training.runtime import resolve_runtime

FAST = TrainConfig(epochs=2, batch_size=32, num_threads=1, early_stopping=0)


@pytest.fixture(scope="module")
def sample():
    return read_split(SAMPLE_DIR / "train.csv"), read_split(SAMPLE_DIR / "valid.csv")


def new_model(sample, seed=0, **changes):
    seed_everything(seed)
    train, valid = sample
    return build_model(tiny_navec_config(**changes), [*train.text, *valid.text])


def datasets(model, sample):
    train, valid = sample
    return model.dataset(train.text, label_matrix(train)), model.dataset(valid.text, label_matrix(valid))


def test_a_few_steps_lower_the_loss_on_a_tiny_batch(sample):
    model = new_model(sample)
    data, _ = datasets(model, sample)
    batch = data.collate([data[i] for i in range(16)])
    loss_fn = make_loss(TrainConfig(), data.labels.numpy())
    optimizer = make_optimizer(model, TrainConfig(), lr=5e-3)
    model.train()
    losses = []
    for _ in range(5):
        loss = loss_fn(model(batch), batch["labels"])
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert losses[-1] < losses[0] * 0.9


def test_fit_logs_each_epoch_and_keeps_the_best_one(sample, capsys):
    model = new_model(sample)
    train_data, valid_data = datasets(model, sample)
    result = fit(model, train_data, valid_data, FAST.replace(epochs=3), seed=1)
    printed = capsys.readouterr().out
    assert list(result.history.columns) == ["epoch", "train_loss", "valid_loss", "valid_f1_weighted", "valid_f1_macro", "lr", "rows",
                                            "train_seconds", "seconds"]
    assert result.history["epoch"].tolist() == [1, 2, 3] and (result.history["rows"] == len(train_data)).all()
    assert (result.history["train_seconds"] < result.history["seconds"]).all()
    assert result.best_epoch == result.history.loc[result.history["valid_f1_weighted"].idxmax(), "epoch"]
    assert "epoch 1/3: train loss" in printed and "valid F1 weighted" in printed and f"Kept epoch {result.best_epoch}" in printed
    probs, _ = predict_dataset(model, valid_data)
    assert np.allclose(probs, result.valid_probs, atol=1e-6), "the model left behind is the kept epoch's"
    assert result.history["train_loss"].iloc[-1] < result.history["train_loss"].iloc[0]


def test_early_stopping_stops_when_valid_f1_stalls(sample, capsys):
    model = new_model(sample)
    train_data, valid_data = datasets(model, sample)
    stalled = FAST.replace(epochs=6, early_stopping=2, lr=1e-9, warmup_ratio=0.0)
    result = fit(model, train_data, valid_data, stalled)
    assert len(result.history) == 3 and "Early stop: no better valid weighted F1 for 2 epoch(s)" in capsys.readouterr().out


def test_same_seed_same_probabilities_on_cpu(sample):
    runs = []
    for _ in range(2):
        model = new_model(sample, seed=5)
        train_data, valid_data = datasets(model, sample)
        runs.append(fit(model, train_data, valid_data, FAST, seed=5).valid_probs)
    assert np.array_equal(runs[0], runs[1])


def test_predictions_keep_input_order_whatever_the_batch_size(sample):
    model = new_model(sample).eval()
    texts = sample[1].text.tolist()
    big = predict_probs(model, texts, batch_size=256)
    assert big.shape == (len(texts), 7) and big.dtype == np.float32
    assert np.allclose(big, predict_probs(model, texts, batch_size=7), atol=1e-6)
    assert np.allclose(predict_probs(model, texts[5:1:-1]), big[5:1:-1], atol=1e-6)
    assert np.allclose(predict_probs([model, model], texts[:3]), big[:3], atol=1e-6)


def test_losses_and_weights():
    labels = np.array([[1, 0, 0, 0, 0, 0, 1]] * 1 + [[0, 0, 0, 0, 0, 0, 1]] * 3)
    weights = positive_weights("balanced", labels)
    assert weights.tolist() == pytest.approx([3, 4, 4, 4, 4, 4, 1])
    assert positive_weights(None, labels) is None and positive_weights([2] * 7, labels).tolist() == [2] * 7
    with pytest.raises(ConfigError, match=r"train\.pos_weight 'heavy' is not accepted; accepted: null, 'balanced' or 7 positive numbers"):
        TrainConfig(pos_weight="heavy")
    logits, targets = torch.randn(8, 7), torch.randint(0, 2, (8, 7)).float()
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets)
    assert FocalLoss(gamma=0.0)(logits, targets).item() == pytest.approx(bce.item())
    assert FocalLoss(gamma=2.0)(logits, targets).item() < bce.item()
    assert isinstance(make_loss(TrainConfig(loss="focal", pos_weight="balanced"), labels), FocalLoss)


def test_optimizers_and_schedules_by_name():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
    for name, kind in (("adamw", torch.optim.AdamW), ("adam", torch.optim.Adam), ("sgd", torch.optim.SGD)):
        optimizer = make_optimizer(model, TrainConfig(optimizer=name, weight_decay=0.1), lr=0.1)
        assert isinstance(optimizer, kind)
        assert [g["weight_decay"] for g in optimizer.param_groups] == [0.1, 0.0]
        assert len(optimizer.param_groups[0]["params"]) == 1  # only the Linear weight decays
    rates = {}
    for name in ("linear", "cosine", "constant"):
        optimizer = make_optimizer(model, TrainConfig(), lr=1.0)
        scheduler = make_scheduler(optimizer, TrainConfig(scheduler=name, warmup_ratio=0.1), total_steps=100)
        seen = []
        for _ in range(100):
            seen.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
        rates[name] = seen
    assert all(rates[name][0] == 0 and rates[name][10] == pytest.approx(1.0) for name in rates)
    assert rates["linear"][55] == pytest.approx(0.5) and rates["cosine"][55] == pytest.approx(0.5) and rates["constant"][99] == 1.0
    assert rates["cosine"][30] > rates["linear"][30]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallback")
def test_cuda_only_settings_fall_back_on_cpu_with_a_notice(capsys):
    resolved = resolve_runtime(TrainConfig(device="cuda", precision="bf16", num_threads=1))
    printed = capsys.readouterr().out
    assert (resolved.device, resolved.precision) == ("cpu", "fp32")
    assert "train.device = 'cuda' but no CUDA device is available" in printed and "train.precision = 'bf16' needs CUDA" in printed


@pytest.mark.parametrize("changes, message", [
    ({"optimizer": "lion"}, r"train\.optimizer 'lion' is unknown; accepted: \['adamw', 'adam', 'sgd'\]"),
    ({"scheduler": "step"}, r"train\.scheduler 'step' is unknown"),
    ({"epochs": 0}, r"train\.epochs = 0 is out of range; accepted: 1 or more"),
    ({"folds": 1}, r"train\.folds = 1 is not a k-fold"),
    ({"lr": -1.0}, r"train\.lr = -1\.0 is out of range"),
])
def test_bad_training_settings_are_named(changes, message):
    with pytest.raises(ConfigError, match=message):
        resolve_runtime(TrainConfig(**changes))


def test_accumulation_takes_one_optimizer_step_per_group_of_batches(sample):
    model = new_model(sample)
    train_data, valid_data = datasets(model, sample)
    steps = []
    original = torch.optim.AdamW.step

    def counting_step(self, *args, **kwargs):
        steps.append(1)
        return original(self, *args, **kwargs)

    torch.optim.AdamW.step = counting_step
    try:
        fit(model, train_data, valid_data, FAST.replace(epochs=1, batch_size=50, accumulation_steps=3))
    finally:
        torch.optim.AdamW.step = original
    assert len(steps) == -(-len(train_data) // 150)


def test_k_fold_over_valid_predicts_every_valid_row_out_of_fold(sample):
    model = new_model(sample)
    train_data, valid_data = datasets(model, sample)
    result = train_on_valid_folds(model, train_data, valid_data, FAST.replace(epochs=1, folds=3), seed=2)
    assert len(result.models) == 3 and len({id(m) for m in result.models}) == 3
    assert result.oof_probs.shape == (len(valid_data), 7) and (result.oof_probs.sum(axis=1) > 0).all()
    assert result.history["fold"].tolist() == [0, 1, 2]
    held_out_twice = sum(np.allclose(predict_dataset(m, valid_data)[0], result.oof_probs, atol=1e-6) for m in result.models)
    assert held_out_twice == 0, "each row's probability comes from the one model that did not train on it"


def run_training_products(tmp_path, name, overrides):
    from utils.core.run_start import start_run
    from utils.training.notebook import (
        load_training_data,
        train_model,
        write_training_report,
    )

    config = start_run(overrides={"runs_dir": str(tmp_path), "train.num_threads": 1, **overrides}, data_dir=SAMPLE_DIR, run_name=name)
    data = load_training_data(config)
    return config.run_dir, write_training_report(config, data, train_model(config, data))


def test_training_run_writes_its_products_and_repeats_exactly(tmp_path):
    small = {"model.navec.hidden_size": 16, "model.navec.ngram_buckets": 2048, "train.epochs": 2, "train.folds": 0, "tfidf.weight": 0.0}
    first, metrics = run_training_products(tmp_path, "a", small)
    second, _ = run_training_products(tmp_path, "b", small)
    assert (first / "valid_probs_raw.csv").read_bytes() == (second / "valid_probs_raw.csv").read_bytes()
    probs = read_probs(first / "valid_probs_raw.csv")
    assert probs.shape == (len(read_split(SAMPLE_DIR / "valid.csv")), 7) and ((probs > 0) & (probs < 1)).all()
    assert {"weighted_f1", "macro_f1", "per_label", "best_single_threshold", "weighted_f1_at_best_single_threshold"} <= set(metrics)
    assert set(metrics["per_label"]["joy"]) == {"f1", "precision", "recall", "support"} and metrics["mode"] == "train"
    assert json.loads((first / "metrics.json").read_text(encoding="utf-8")) == metrics
    assert (first / "training_curves.png").stat().st_size > 10_000
    assert len(pd.read_csv(first / "training_log.csv")) == 2
    assert np.allclose(predict_probs(load_models(first / "model"), read_split(SAMPLE_DIR / "valid.csv").text), probs, atol=1e-6)


def test_k_fold_run_saves_fold_models_and_out_of_fold_probabilities(tmp_path):
    run_dir, metrics = run_training_products(tmp_path, "folds", {"model.navec.hidden_size": 16, "train.epochs": 1, "train.folds": 2,
                                                                 "tfidf.weight": 0.0})
    assert metrics["mode"] == "folds" and metrics["models"] == 2
    assert sorted(p.name for p in (run_dir / "model").iterdir()) == ["fold_0", "fold_1"]
    models = load_models(run_dir / "model")
    assert len(models) == 2 and models[0].backbone.tokenizer is models[1].backbone.tokenizer  # tokenised once when predicting
    assert pd.read_csv(run_dir / "training_log.csv")["fold"].tolist() == [0, 1]


def executed_outputs(path) -> str:
    """What an executed notebook's code cells printed."""
    import nbformat

    return "".join(o.get("text", "") for cell in nbformat.read(path, as_version=4).cells for o in cell.get("outputs", []))


@pytest.mark.e2e
def test_training_notebook_ran_in_the_shared_run(sample_run):
    run_dir = sample_run.run_dir
    assert {"valid_probs_raw.csv", "metrics.json", "training_log.csv", "training_curves.png",
            "params.yaml"} <= {p.name for p in run_dir.iterdir()}
    assert json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))["backbone"] == "navec"
    printed = executed_outputs(run_dir / "notebooks" / "03_training.ipynb")
    assert "epoch 1/1: train loss" in printed and "valid F1 weighted" in printed
    assert len(load_models(run_dir / "model")) == 2 and (run_dir / "members" / "tfidf" / "tfidf.json").is_file()  # 2 folds + TF-IDF


@pytest.mark.e2e
def test_tfidf_member_is_trained_on_the_same_folds_and_blended(tmp_path):
    overrides = {"model.navec.hidden_size": 16, "train.epochs": 1, "train.folds": 2, "tfidf.weight": 0.4, "tfidf.min_df": 1,
                 "train.member_weights": "settings"}
    run_dir, metrics = run_training_products(tmp_path, "blend", overrides)
    from utils.members.tfidf import TfidfClassifier

    assert TfidfClassifier.load(run_dir / "members" / "tfidf").coef.shape[:2] == (2, 7)  # one set of regressions per fold
    assert set(metrics["members"]) == {"neural", "tfidf"} and metrics["member_weights"] == {"neural": 0.6, "tfidf": 0.4}
    assert metrics["weighted_f1"] != metrics["members"]["neural"]["weighted_f1"]


@pytest.mark.e2e
def test_score_as_test_predicts_held_out_valid_rows_written_as_the_test(tmp_path):
    from utils.members.tfidf import TfidfClassifier
    from utils.training.folds import valid_folds

    overrides = {"model.navec.hidden_size": 16, "train.epochs": 1, "train.folds": 2, "tfidf.weight": 0.5, "tfidf.min_df": 1,
                 "text.asr_style": False, "train.score_as_test": True,
                 "train.member_weights": "settings"}
    run_dir, _ = run_training_products(tmp_path, "styled", overrides)
    valid = read_split(SAMPLE_DIR / "valid.csv")
    _, held_out = valid_folds(label_matrix(valid), 2, seed=42)[0]
    raw = valid.text.iloc[held_out].tolist()
    styled = [asr_style(text) for text in raw]
    models, tfidf = load_models(run_dir / "model"), TfidfClassifier.load(run_dir / "members" / "tfidf")
    expected = 0.5 * predict_probs(models[0], styled) + 0.5 * tfidf.probs_of_features(tfidf.features(styled), [0])
    assert np.allclose(read_probs(run_dir / "valid_probs_raw.csv")[held_out], expected, atol=1e-5)
    assert not np.allclose(predict_probs(models[0], raw), predict_probs(models[0], styled), atol=1e-5)  # capitals, punctuation kept


@pytest.mark.e2e
def test_held_out_rows_are_also_scored_written_with_asr_noise_by_the_members_that_did_not_see_them(tmp_path):
    from utils.core.paths import VALID_NOISY_PROBS
    from utils.core.settings_io import load_config
    from utils.core.text import make_preprocessor
    from utils.members.tfidf import TfidfClassifier
    from utils.training.folds import valid_folds
    from utils.training.notebook import load_training_data, noisy_valid_texts

    overrides = {"model.navec.hidden_size": 16, "train.epochs": 1, "train.folds": 2, "tfidf.weight": 0.5, "tfidf.min_df": 1,
                 "train.member_weights": "settings"}
    run_dir, _ = run_training_products(tmp_path, "noisy", overrides)
    config = load_config(overrides={**overrides, "runs_dir": str(tmp_path), "name": "noisy", "data_dir": str(SAMPLE_DIR)})
    valid = read_split(SAMPLE_DIR / "valid.csv")
    noisy = noisy_valid_texts(config, load_training_data(config))
    assert noisy == noisy_valid_texts(config, load_training_data(config)), "the same seed writes the same noise"
    preprocess = make_preprocessor(config.text)
    changed = [i for i, (a, b) in enumerate(zip(valid.text, noisy)) if preprocess(a) != preprocess(b)]
    assert 0.1 * len(noisy) < len(changed) < len(noisy), "the noise changes some rows (slips, merges), not all"
    models, tfidf = load_models(run_dir / "model"), TfidfClassifier.load(run_dir / "members" / "tfidf")
    scored = read_probs(run_dir / VALID_NOISY_PROBS)
    for k, (_, held_out) in enumerate(valid_folds(label_matrix(valid), 2, seed=42)):
        rows = [noisy[i] for i in held_out]
        expected = 0.5 * predict_probs(models[k], rows) + 0.5 * tfidf.probs_of_features(tfidf.features(rows), [k])
        assert np.allclose(scored[held_out], expected, atol=1e-5)
    unchanged = np.setdiff1d(np.arange(len(noisy)), changed)
    assert np.allclose(scored[unchanged], read_probs(run_dir / VALID_PROBS)[unchanged], atol=1e-5)


def test_length_batches_can_put_the_short_batch_last_for_several_processes():
    from utils.training.dataset import LengthBatchSampler

    lengths = np.random.default_rng(0).integers(1, 60, 1000)
    plain = list(LengthBatchSampler(lengths, 32, shuffle=True, seed=3, pool_batches=5))
    last = list(LengthBatchSampler(lengths, 32, shuffle=True, seed=3, pool_batches=5, short_last=True))
    short = [batch for batch in plain if len(batch) < 32]
    assert len(short) == 1 and plain[-1] is not short[0] and last[-1] == short[0]
    assert last[:-1] == [batch for batch in plain if len(batch) == 32], "the full batches keep their order"
    assert sorted(i for batch in plain for i in batch) == list(range(1000))


def test_a_fit_resumed_from_a_state_inside_an_epoch_ends_where_the_whole_fit_ends(sample, tmp_path, capsys):
    from utils.training.resume import PartCheckpoints

    model = new_model(sample, seed=3)
    initial = copy.deepcopy(model)
    train_data, valid_data = datasets(model, sample)
    settings = FAST.replace(batch_size=96, checkpoint_steps=2)  # 5 batches an epoch: steps 2, 4 | 6, 8 save states
    part = PartCheckpoints(tmp_path, 0)
    whole = fit(model, train_data, valid_data, settings, seed=3, keep_best=False, checkpoints=part)
    assert [path.name for path in part.states()] == ["state_0-1-3"], "the newest complete state only"
    resumed = fit(initial, train_data, valid_data, settings, seed=3, keep_best=False, checkpoints=part)
    assert "Continuing from state_0-1-3: 1 epoch(s) and 3 batch(es) done" in capsys.readouterr().out
    assert np.array_equal(resumed.valid_probs, whole.valid_probs)
    assert resumed.history["train_loss"].tolist() == whole.history["train_loss"].tolist()
    assert all(torch.equal(a, b) for a, b in zip(initial.state_dict().values(), model.state_dict().values()))


def test_gradient_checkpointing_trains_the_same_numbers_with_less_memory(sample, tmp_path):
    from tiny_models import build_tiny_bert

    from utils.core.settings import ModelConfig

    backbone = build_tiny_bert(tmp_path / "bert", sample[0].text.tolist())
    runs = []
    for checkpointing in (False, True):
        seed_everything(0)
        model = build_model(ModelConfig(backbone=str(backbone), pooling="cls", max_len=32, gradient_checkpointing=checkpointing))
        assert model.backbone.encoder.is_activation_checkpointing is checkpointing
        train_data, valid_data = datasets(model, sample)
        runs.append(fit(model, train_data, valid_data, FAST.replace(epochs=1, lr=1e-3), seed=0).valid_probs)
    assert np.allclose(runs[0], runs[1], atol=1e-5)
    with pytest.raises(ConfigError, match=r"model\.gradient_checkpointing = true needs a Hugging Face encoder"):
        tiny_navec_config(gradient_checkpointing=True)
