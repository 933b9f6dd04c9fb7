"""Numbers on the command line are checked like settings: out of range or not a number is argparse's one-line error or the
entry point's one-line refusal, exit status 2, never a traceback."""
import pytest
from conftest import SAMPLE_DIR

from utils.core.settings import RunConfig
from utils.core.settings_io import save_config
from utils.inference.cli import main as predict_main
from utils.run.figures import main as figures_main
from utils.run.kaggle_kernel import main as kernel_main
from utils.run.pipeline import main as pipeline_main
from utils.training.cli import main as train_main

BAD = ["0", "-1", "abc"]


def refused_by_argparse(main, argv, capsys) -> str:
    """argparse's own refusal: exit status 2 and one line 'error: argument ...' under the usage."""
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and "Traceback" not in err, err
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize("value", BAD)
def test_predict_batch_size(value, tmp_path, capsys):
    last = refused_by_argparse(predict_main, ["--model", str(tmp_path), "--text", "ужас", "--batch-size", value], capsys)
    shown = repr(value) if value == "abc" else value
    assert last == f"python -m utils.predict: error: argument --batch-size: expected a whole number of 1 or more, got {shown}"


@pytest.mark.parametrize("value", BAD)
def test_figures_max_kb(value, tmp_path, capsys):
    last = refused_by_argparse(figures_main, [str(tmp_path), "--max-kb", value], capsys)
    assert last.startswith("python -m utils.run.figures: error: argument --max-kb: expected a whole number of 1 or more, got ")


@pytest.mark.parametrize("option", ["--from", "--only"])
@pytest.mark.parametrize("value", BAD)
def test_pipeline_notebook_numbers(option, value, tmp_path, capsys):
    (tmp_path / "runs" / "r").mkdir(parents=True)
    assert pipeline_main(["--run", "r", option, value, "-p", f"runs_dir={tmp_path / 'runs'}", "--data-dir", str(SAMPLE_DIR)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"Not started: no notebook {value!r}; choose one of ['01_eda.ipynb'") and "\n" not in err


@pytest.mark.parametrize("value", BAD)
def test_numbers_given_as_settings_on_every_entry_point_that_takes_them(value, tmp_path, capsys):
    expected = ("setting 'train.epochs': expected int, got 'abc'" if value == "abc" else
                f"train.epochs = {value} is out of range; accepted: 1 or more")
    assert pipeline_main(["-p", f"train.epochs={value}", "-p", f"runs_dir={tmp_path / 'runs'}"]) == 2
    assert expected in capsys.readouterr().err
    assert kernel_main(["-p", f"train.epochs={value}", "--out", str(tmp_path / "kernel")]) == 2
    assert expected in capsys.readouterr().err
    run_dir = save_config(RunConfig(name="r", runs_dir=str(tmp_path / "runs"), data_dir=str(SAMPLE_DIR))).parent
    assert train_main([str(run_dir), "-p", f"train.epochs={value}"]) == 2
    assert expected in capsys.readouterr().err
    assert not (tmp_path / "kernel").exists() and sorted(p.name for p in run_dir.iterdir()) == ["params.yaml"]
