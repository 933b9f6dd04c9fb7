import json

import numpy as np
import pandas as pd
import pytest
from tiny_models import tiny_navec_config

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
    """A run folder with a (small, untrained) saved model and a thresholds.json, on the sample data."""
    from conftest import SAMPLE_DIR

    runs = tmp_path_factory.mktemp("runs")
    config = RunConfig(name="done", data_dir=str(SAMPLE_DIR), runs_dir=str(runs))
    data = load_competition(SAMPLE_DIR)
    model = build_model(tiny_navec_config(), [*data.train.text, *data.test.text], TextConfig())
    save_model(model, config.run_dir / "model")
    choice = ThresholdChoice(mode="per_label", empty_rule="top", thresholds=dict(zip(LABELS, [0.4, 0.45, 0.5, 0.5, 0.5, 0.55, 0.5])),
                             in_sample_f1=0.6, cv_f1=0.58, table=[], note="test")
    (config.run_dir / "thresholds.json").write_text(json.dumps(choice.as_dict()), encoding="utf-8")
    return config


def test_predictor_applies_the_runs_thresholds(finished_run):
    predictor = Predictor.from_run(finished_run.run_dir)
    probs = predictor.probs(["мне страшно", "ура, спасибо!"])
    assert probs.shape == (2, 7) and ((probs > 0) & (probs < 1)).all()
    expected = (probs >= np.array([0.4, 0.45, 0.5, 0.5, 0.5, 0.55, 0.5])).astype(int)
    expected[expected.sum(axis=1) == 0, probs[expected.sum(axis=1) == 0].argmax(axis=1)] = 1
    assert (predictor.decide(probs) == expected).all()


def copy_of_model(finished_run, run_dir):
    """A run folder holding only (links to) the finished run's model."""
    (run_dir / "model").mkdir(parents=True)
    for path in (finished_run.run_dir / "model").iterdir():
        (run_dir / "model" / path.name).symlink_to(path, target_is_directory=path.is_dir())
    return run_dir


def test_predictor_blends_in_the_tfidf_member_with_its_weight(finished_run, tmp_path):
    from utils.core.settings import TfidfConfig
    from utils.core.splits import label_matrix
    from utils.training.tfidf import TfidfClassifier

    run_dir = copy_of_model(finished_run, tmp_path / "blend")
    data = load_competition(finished_run.data_dir)
    member = TfidfClassifier(TfidfConfig(weight=0.25, min_df=1), TextConfig()).fit(data.train.text, label_matrix(data.train))
    member.save(run_dir / "tfidf")
    texts = ["мне страшно", "ура, спасибо!"]
    neural = Predictor.from_run(finished_run.run_dir).probs(texts)
    assert np.allclose(Predictor.from_run(run_dir).probs(texts), 0.75 * neural + 0.25 * member.probs(texts))


def test_missing_thresholds_fall_back_to_one_half_with_a_notice(finished_run, tmp_path, capsys):
    predictor = Predictor.from_run(copy_of_model(finished_run, tmp_path / "nothresholds"))
    assert set(predictor.choice.thresholds.values()) == {0.5}
    assert "thresholds.json not found" in capsys.readouterr().out


def test_predict_test_writes_checked_submission_and_never_overwrites(finished_run, capsys):
    first = predict_test(finished_run)
    assert first.name == "done.csv" and first.parent.name == "submissions"
    checked = check_submission(first, finished_run.data_dir + "/test_without_answers.csv")
    assert (checked[LABELS].astype(int).sum(axis=1) >= 1).all()  # rule "top": every row gets a label
    probs = pd.read_csv(finished_run.run_dir / "test_probs.csv")
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


def test_predict_cli_file_reports_rows_without_text(finished_run, tmp_path, capsys):
    source = tmp_path / "in.csv"
    pd.DataFrame({"id": [1, 2, 3, 4], "text": ["мне страшно", "", "ура!", "123"]}).to_csv(source, index=False)
    target = tmp_path / "out.csv"
    assert predict_main(["--model", str(finished_run.run_dir), "--input", str(source), "--output", str(target)]) == 0
    printed = capsys.readouterr().out
    assert "2 row(s) without text were left blank in" in printed and "rows 2, 4" in printed
    out = pd.read_csv(target)
    assert list(out.columns) == ["text", *[f"{label}_prob" for label in LABELS], *LABELS]
    assert out.loc[[1, 3], LABELS].isna().all().all() and out.loc[[0, 2], "anger_prob"].notna().all()
    assert predict_main(["--model", str(finished_run.run_dir), "--input", str(source), "--output", str(target)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_predict_cli_explains_a_missing_model(tmp_path, capsys):
    assert predict_main(["--model", str(tmp_path / "nope"), "--text", "а"]) == 2
    assert "no such model folder" in capsys.readouterr().err
