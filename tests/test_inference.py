import json

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE_DIR, record_step
from tiny_models import tiny_navec_config

from utils.core.paths import TEST_PROBS, VALID_PROBS
from utils.core.probs_files import write_probs
from utils.core.settings import RunConfig, TextConfig
from utils.core.splits import LABELS, load_competition
from utils.inference.cli import main as predict_main
from utils.inference.notebook import predict_test
from utils.inference.predictor import Predictor
from utils.inference.submission import check_submission
from utils.thresholds.search import ThresholdChoice
from utils.training.checkpoint import save_model
from utils.training.model import build_model


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A run folder made as notebooks 03 and 04 make it (recorded): a small untrained model and a thresholds.json, on the sample."""
    runs = tmp_path_factory.mktemp("runs")
    config = RunConfig(name="done", data_dir=str(SAMPLE_DIR), runs_dir=str(runs), members={"tfidf": None})
    data = load_competition(SAMPLE_DIR)
    model = build_model(tiny_navec_config(), [*data.train.text, *data.test.text], TextConfig())
    record_step(config, "03_training", lambda: (save_model(model, config.run_dir / "model"),
                                                write_probs(np.full((len(data.valid), 7), 0.5), config.run_dir / VALID_PROBS)))
    choice = ThresholdChoice(mode="per_label", empty_rule="top", thresholds=dict(zip(LABELS, [0.4, 0.45, 0.5, 0.5, 0.5, 0.55, 0.5])),
                             in_sample_f1=0.6, cv_f1=0.58, table=[], note="test")
    record_step(config, "04_threshold_search", lambda: (config.run_dir / "thresholds.json").write_text(json.dumps(choice.as_dict())))
    return config


def test_predictor_applies_the_runs_thresholds(finished_run):
    predictor = Predictor.from_run(finished_run.run_dir)
    probs = predictor.probs(["мне страшно", "ура, спасибо!"])
    assert probs.shape == (2, 7) and ((probs > 0) & (probs < 1)).all()
    expected = (probs >= np.array([0.4, 0.45, 0.5, 0.5, 0.5, 0.55, 0.5])).astype(int)
    expected[expected.sum(axis=1) == 0, probs[expected.sum(axis=1) == 0].argmax(axis=1)] = 1
    assert (predictor.decide(probs) == expected).all()


def run_like(finished_run, run_dir, tfidf_weight=None, member=None):
    """A run holding (links to) the finished run's model, recorded as notebook 03 would with a tfidf member of weight
    `tfidf_weight` beside the neural one of weight 1 - tfidf_weight (None: no tfidf member), and no 04."""
    members = {"neural": {"kind": "bigru", "weight": 1 - (tfidf_weight or 0)},
               "tfidf": tfidf_weight and {"kind": "tfidf", "weight": tfidf_weight}}
    config = finished_run.replace(name=run_dir.name, runs_dir=str(run_dir.parent), members=members)

    def write():
        (run_dir / "model").mkdir(parents=True)
        for path in (finished_run.run_dir / "model").iterdir():
            (run_dir / "model" / path.name).symlink_to(path, target_is_directory=path.is_dir())
        if member is not None:
            member.save(run_dir / "members" / "tfidf")

    record_step(config, "03_training", write)
    return config


def test_predictor_blends_in_the_tfidf_member_with_its_recorded_weight(finished_run, tmp_path):
    from utils.core.splits import label_matrix
    from utils.members.tfidf import TfidfClassifier, TfidfConfig

    data = load_competition(finished_run.data_dir)
    member = TfidfClassifier(TfidfConfig(weight=0.5, min_df=1), TextConfig()).fit(data.train.text, label_matrix(data.train))
    blend = run_like(finished_run, tmp_path / "blend", tfidf_weight=0.25, member=member)
    texts = ["мне страшно", "ура, спасибо!"]
    neural = Predictor.from_run(run_like(finished_run, tmp_path / "alone").run_dir).raw_probs(texts)
    assert np.allclose(Predictor.from_run(blend.run_dir).raw_probs(texts), 0.75 * neural + 0.25 * member.probs(texts))
    off = run_like(finished_run, tmp_path / "off", member=member)  # a member folder the settings switched off
    assert list(Predictor.from_run(off.run_dir).members) == ["neural"], "only the recorded members are blended"
    assert not (off.run_dir / "members").exists(), "a member switched off leaves nothing behind"
    assert np.allclose(Predictor.from_run(off.run_dir).raw_probs(texts), neural)


def test_missing_thresholds_fall_back_to_one_half_with_a_notice(finished_run, tmp_path, capsys):
    predictor = Predictor.from_run(run_like(finished_run, tmp_path / "nothresholds").run_dir)
    assert set(predictor.choice.thresholds.values()) == {0.5}
    assert "notebook 04 has not run" in capsys.readouterr().out


def test_predict_test_writes_checked_submission_and_never_overwrites(finished_run, capsys):
    first = predict_test(finished_run)
    assert first.name == "done.csv" and first.parent.name == "submissions"
    checked = check_submission(first, finished_run.data_dir + "/test_without_answers.csv")
    assert (checked[LABELS].astype(int).sum(axis=1) >= 1).all()  # rule "top": every row gets a label
    probs = pd.read_csv(finished_run.run_dir / TEST_PROBS)
    assert list(probs.columns) == ["index", *LABELS] and len(probs) == len(checked)
    second = predict_test(finished_run)
    assert second.name == "done-2.csv" and first.is_file()
    assert "an earlier submission is never overwritten" in capsys.readouterr().out
    record = json.loads((finished_run.run_dir / "inference.json").read_text(encoding="utf-8"))
    assert record["submission"] == str(second) and sum(record["predicted_per_label"].values()) >= len(checked)


def test_predict_cli_one_text(finished_run, capsys):
    assert predict_main(["--model", str(finished_run.run_dir), "--text", "какой ужас"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["label", "prob", "decision"]
    assert sorted(line.split()[0] for line in lines[1:]) == sorted(LABELS)


def test_predict_cli_file_reports_the_lines_without_text_and_predicts_emoji(finished_run, tmp_path, capsys):
    source = tmp_path / "in.csv"
    lines = ["id,text", "1,мне страшно", "2,", '3,"ура!\nспасибо"', "", "5,   ", "6,😱😱", "7,123"]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    target = tmp_path / "out.csv"
    assert predict_main(["--model", str(finished_run.run_dir), "--input", str(source), "--output", str(target)]) == 0
    printed = capsys.readouterr().out
    assert "3 row(s) without text were left blank in" in printed and f"lines 3, 6, 7 of {source}" in printed
    assert "7/7" in printed, "the progress bar counts CSV rows (a quoted line break is one row; 8 lines after the header)"
    out = pd.read_csv(target, keep_default_na=False)
    assert list(out.columns) == ["text", *[f"{label}_prob" for label in LABELS], *LABELS] and len(out) == 7
    assert (out.loc[[1, 3, 4], LABELS] == "").all().all()
    assert (out.loc[[0, 2, 5, 6], "anger_prob"] != "").all(), "emoji-only and digit-only texts are predicted, as --text does"
    emoji = Predictor.from_run(finished_run.run_dir).probs(["😱😱"])
    assert np.allclose(out.loc[5, [f"{label}_prob" for label in LABELS]].astype(float), emoji[0], atol=1e-6)


def test_predict_cli_refuses_an_empty_text_and_an_existing_output(finished_run, tmp_path, capsys):
    assert predict_main(["--model", str(finished_run.run_dir), "--text", "  "]) == 2
    assert "--text is empty" in capsys.readouterr().err
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text("text\nкот\n", encoding="utf-8")
    target.write_text("keep me", encoding="utf-8")
    assert predict_main(["--model", str(finished_run.run_dir), "--input", str(source), "--output", str(target)]) == 2
    error = capsys.readouterr().err
    assert "already exists" in error and "--force" in error and "overwrite=True" not in error
    assert target.read_text(encoding="utf-8") == "keep me"
    assert predict_main(["--model", str(finished_run.run_dir), "--input", str(source), "--output", str(target), "--force"]) == 0


def test_predict_cli_explains_a_missing_model(tmp_path, capsys):
    assert predict_main(["--model", str(tmp_path / "nope"), "--text", "а"]) == 2
    assert "no such run folder" in capsys.readouterr().err
    (tmp_path / "old").mkdir()
    assert predict_main(["--model", str(tmp_path / "old"), "--text", "а"]) == 2
    assert "has no manifest.json" in capsys.readouterr().err


def test_a_truncated_model_file_is_named_with_the_fix(finished_run, tmp_path, capsys):
    run = run_like(finished_run, tmp_path / "broken")
    weights = run.run_dir / "model" / "model.safetensors"
    data = weights.read_bytes()
    weights.unlink()  # a link into the finished run: replace it by a truncated copy
    weights.write_bytes(data[: len(data) // 2])
    assert predict_main(["--model", str(run.run_dir), "--text", "кот"]) == 2
    error = capsys.readouterr().err
    assert "changed since 03_training wrote it" in error, "the record notices first"
    from utils.training.checkpoint import load_model

    with pytest.raises(ValueError, match=r"model\.safetensors is truncated or not a safetensors file .*--run broken --from 03"):
        load_model(run.run_dir / "model")
    weights.unlink()
    with pytest.raises(FileNotFoundError, match=r"missing \['model\.safetensors'\].*--run broken --from 03"):
        load_model(run.run_dir / "model")


def test_predictor_applies_the_rule_the_default_chooses_recalibration_then_per_label_thresholds(finished_run, tmp_path):
    from utils.thresholds.recalibration import Recalibration

    config = finished_run.replace(name="recalibrated", runs_dir=str(tmp_path))
    rng = np.random.default_rng(0)
    coef = (np.eye(7) * 1.5 + rng.normal(0, 0.2, (7, 7))).tolist()
    recalibration = Recalibration(coef=coef, intercept=rng.normal(0, 0.3, 7).tolist())
    thresholds = dict(zip(LABELS, [0.3, 0.6, 0.25, 0.55, 0.4, 0.35, 0.5]))
    choice = ThresholdChoice(mode="per_label", empty_rule="top", thresholds=thresholds, in_sample_f1=0.6, cv_f1=0.58, table=[],
                             note="test", recalibration=recalibration.as_dict())
    run_like(finished_run, tmp_path / "recalibrated")
    record_step(config, "04_threshold_search", lambda: (config.run_dir / "thresholds.json").write_text(json.dumps(choice.as_dict())))
    predictor = Predictor.from_run(config.run_dir)
    texts = ["мне страшно", "ура, спасибо!", "фу, какая гадость", "ну ладно"]
    raw = predictor.raw_probs(texts)
    recalibrated = 1 / (1 + np.exp(-(np.log(raw / (1 - raw)) @ np.asarray(coef).T + np.asarray(recalibration.intercept))))
    assert np.allclose(predictor.probs(texts), recalibrated, atol=1e-9)
    expected = (recalibrated >= np.array(list(thresholds.values()))).astype(int)
    empty = expected.sum(axis=1) == 0
    expected[np.flatnonzero(empty), recalibrated[empty].argmax(axis=1)] = 1
    assert (predictor.decide(predictor.probs(texts)) == expected).all()
