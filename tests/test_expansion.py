"""build_expanded_train on hand-made folders: selection, guard, cap, report tables, files; the notebook under papermill."""
import json

import nbformat
import numpy as np
import pandas as pd
import papermill
import pytest
from conftest import REPO_ROOT, SHARED_DATA

from utils.core.run_start import start_run
from utils.core.settings import ConfigError
from utils.core.splits import LABELS, read_split
from utils.expansion.build import (
    build_expanded_train,
    cap_rows,
    label_table,
    write_expansion,
)
from utils.expansion.corpora import IZARD_LABELS

LEAK = "Мне так страшно оставаться одной дома по ночам, вдруг кто-нибудь залезет!"  # reworded test text
TRAIN_TEXT = "Фу, какая мерзкая погода сегодня."


def competition_frame(rows):
    """(text, labels...) -> a frame in the competition's format."""
    return pd.DataFrame([{"text": text, **{label: int(label in labels) for label in LABELS}} for text, *labels in rows])


def izard_frame(rows):
    return pd.DataFrame([{"text": text, **{c: int(c in labels) for c in IZARD_LABELS}, "split": "train"} for text, *labels in rows])


@pytest.fixture
def folders(tmp_path):
    data, external, synthetic = tmp_path / "comp", tmp_path / "external", tmp_path / "synthetic"
    for folder in (data, external, synthetic):
        folder.mkdir()
    competition_frame([(TRAIN_TEXT, "disgust"), ("Отличный день!", "joy"), ("Просто текст.", "neutral"),
                       ("Грустно мне.", "sadness")]).to_csv(data / "train.csv", index=False)
    competition_frame([("Какой ужас, я в шоке.", "surprise"), ("Ну и ладно.", "neutral")]).to_csv(data / "valid.csv", index=False)
    competition_frame([("мне очень страшно оставаться одной дома ночью вдруг кто то залезет",),
                       ("алло здравствуйте",)]).to_csv(data / "test_without_answers.csv", index=False)
    izard_frame([
        (LEAK, "fear"),
        ("Боюсь высоты, даже на балкон не выхожу.", "fear"),
        (TRAIN_TEXT, "disgust"),  # a copy of a train text
        ("Какая чудесная новость!", "joy"),  # joy is not selected
        ("Тоска зелёная весь вечер.", "sadness", "shame"),
        ("Плачу третий день подряд.", "sadness"),
        ("Мерзость, а не сериал.", "disgust", "anger"),
    ]).to_csv(external / "ru_izard_emotions.csv", index=False)
    pd.DataFrame({"text": ["Страшно идти к зубному.", "Ура, отпуск!", "Новости часа."],
                  "labels": ["[3]", "[0]", "[]"]}).to_csv(external / "cedr_train.csv", index=False)
    competition_frame([("Боюсь высоты, даже на балкон не выхожу", "fear"),
                       ("Жуткая вонь в подъезде, тошнит.", "disgust")]).to_csv(synthetic / "rare.csv", index=False)
    return data, external, synthetic


def run_config(folders, tmp_path, **overrides):
    data, external, synthetic = folders
    settings = {"runs_dir": str(tmp_path / "runs"), "expansion.enabled": True, "expansion.external_dir": str(external),
                "expansion.synthetic_dir": str(synthetic), "expansion.corpora.cedr": ["fear"], "expansion.augment.asr_noise": 0.5,
                **overrides}
    return start_run(None, settings, data, "test")


def test_switched_off_expansion_keeps_train_as_it_is(folders, tmp_path, capsys):
    expansion = build_expanded_train(run_config(folders, tmp_path, **{"expansion.enabled": False}))
    assert expansion.train["text"].tolist() == read_split(folders[0] / "train.csv")["text"].tolist()
    assert set(expansion.train["source"]) == {"train"} and "Expansion is off" in capsys.readouterr().out


def test_selection_guard_and_report_tables(folders, tmp_path, capsys):
    expansion = build_expanded_train(run_config(folders, tmp_path))
    train = expansion.train
    assert train["text"].iloc[:4].tolist() == read_split(folders[0] / "train.csv")["text"].tolist()
    assert (train["source"].iloc[:4] == "train").all()
    by_source = train.groupby("source")["text"].apply(list)
    assert by_source["ru_izard"] == ["Боюсь высоты, даже на балкон не выхожу.", "Тоска зелёная весь вечер.", "Плачу третий день подряд.",
                                     "Мерзость, а не сериал."]
    assert by_source["cedr"] == ["Страшно идти к зубному."]
    assert by_source["rare"] == ["Жуткая вонь в подъезде, тошнит."]
    assert len(by_source["asr_noise"]) == 2
    sources = expansion.sources.set_index("source")
    assert sources.loc["ru_izard", ["loaded", "selected", "guard_dropped", "added"]].tolist() == [7, 6, 2, 4]
    assert sources.loc["rare", ["guard_dropped", "added"]].tolist() == [1, 1]
    guard = expansion.guard["total"].to_dict()
    assert guard == {"exact copy of train": 1, "near copy of valid/test (Jaccard >= 0.3)": 1, "repeats an earlier added row": 1}
    dropped = expansion.dropped.set_index("text")
    assert dropped.loc[LEAK, "match"] == "мне очень страшно оставаться одной дома ночью вдруг кто то залезет"
    labels = label_table(train)
    assert labels.loc["ru_izard", ["rows", "fear", "disgust", "sadness", "anger", "joy"]].tolist() == [4, 1, 1, 2, 1, 0]
    assert labels.loc["total", "rows"] == len(train)
    assert "Warning: source" not in capsys.readouterr().out


def test_same_seed_same_rows_and_a_cap_per_label(folders, tmp_path):
    first = build_expanded_train(run_config(folders, tmp_path)).train
    pd.testing.assert_frame_equal(first, build_expanded_train(run_config(folders, tmp_path)).train)
    capped = build_expanded_train(run_config(folders, tmp_path, **{"expansion.cap_per_label": 1}))
    izard = capped.train[capped.train["source"] == "ru_izard"]
    assert izard[["fear", "disgust", "sadness"]].sum().tolist() == [1, 1, 1]
    assert capped.sources.set_index("source").loc["ru_izard", "capped"] == 1


def test_cap_takes_the_rarest_label_first():
    frame = pd.DataFrame({"fear": [1, 1, 0, 0, 0, 1], "sadness": [1, 0, 1, 1, 1, 0]})
    for seed in range(5):
        taken = cap_rows(frame, ["fear", "sadness"], 2, np.random.default_rng(seed))
        assert frame[taken][["fear", "sadness"]].sum().tolist() == [2, 2]
        assert taken.sum() == 4 - int(taken[0])  # row 0, taken for fear, also counts as one of sadness's two
    overflow = pd.DataFrame({"fear": [1, 1, 0], "disgust": [0, 0, 1], "sadness": [1, 1, 1]})
    taken = cap_rows(overflow, ["fear", "disgust", "sadness"], 1, np.random.default_rng(0))
    assert overflow[taken].sum().tolist() == [1, 1, 2]  # a row taken for a rarer label keeps its sadness
    assert cap_rows(frame, ["fear", "sadness"], None, np.random.default_rng(0)).all()


def test_zero_row_source_is_reported(folders, tmp_path, capsys):
    expansion = build_expanded_train(run_config(folders, tmp_path, **{"expansion.corpora.brighter": ["fear"]}))
    assert "Notice: corpus brighter:" in capsys.readouterr().out
    assert expansion.sources.set_index("source").loc["brighter", ["added", "note"]].tolist() == [0, "nothing loaded"]
    build_expanded_train(run_config(folders, tmp_path, **{"expansion.corpora.cedr": ["surprise"]}))
    assert "Warning: source cedr adds no rows (no rows left after selection, guard and cap)" in capsys.readouterr().out


def test_without_guard_the_leak_gets_in(folders, tmp_path, capsys):
    expansion = build_expanded_train(run_config(folders, tmp_path, **{"expansion.guard.enabled": False}))
    assert LEAK in expansion.train["text"].tolist()
    assert "Warning: the leakage guard is off" in capsys.readouterr().out


def test_settings_are_checked(folders, tmp_path):
    with pytest.raises(ConfigError, match=r"expansion.corpora.cedr': unknown label\(s\) \['happiness'\]"):
        build_expanded_train(run_config(folders, tmp_path, **{"expansion.corpora.cedr": ["happiness"]}))
    (folders[2] / "cedr.csv").write_text("text,anger,disgust,fear,joy,sadness,surprise,neutral\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\['cedr.csv'\] clash with the source names"):
        build_expanded_train(run_config(folders, tmp_path))


def test_no_external_folder_continues_with_synthetic_rows(sample_dir, tmp_path, capsys):
    config = start_run(None, {"runs_dir": str(tmp_path), "expansion.enabled": True}, sample_dir, "sample")
    expansion = build_expanded_train(config)
    assert "Notice: no external corpora folder" in capsys.readouterr().out
    assert set(expansion.train["source"]) == {"train", "rare_labels", "asr_noise"}


def test_written_files_read_back(folders, tmp_path, capsys):
    config = run_config(folders, tmp_path)
    expansion = build_expanded_train(config)
    paths = write_expansion(expansion, config.run_dir)
    written = read_split(paths["train_expanded"], extra_columns=("source",))
    pd.testing.assert_frame_equal(written, expansion.train)
    report = json.loads(paths["report"].read_text(encoding="utf-8"))
    assert report["rows"] == len(expansion.train) and report["guard"]["exact copy of train"]["total"] == 1
    assert pd.read_csv(paths["sources"])["added"].sum() == len(expansion.train)
    write_expansion(expansion, config.run_dir)
    assert "Note: replacing" in capsys.readouterr().out


def run_notebook(tmp_path, data_dir):
    output = tmp_path / "out.ipynb"
    parameters = {"run_name": "nb", "overrides": {"runs_dir": str(tmp_path / "runs"), "expansion.enabled": True}, "data_dir": data_dir}
    papermill.execute_notebook(str(REPO_ROOT / "notebooks" / "02_data_expansion.ipynb"), str(output), parameters=parameters,
                               cwd=str(REPO_ROOT / "notebooks"), kernel_name="python3", progress_bar=False)
    printed = "".join(o.get("text", "") for c in nbformat.read(output, as_version=4).cells if c.cell_type == "code" for o in c.outputs)
    return tmp_path / "runs" / "nb", printed


@pytest.mark.e2e
def test_notebook_on_the_sample(sample_run):
    run_dir = sample_run.run_dir
    executed = nbformat.read(run_dir / "notebooks" / "02_data_expansion.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert "Notice: no external corpora folder" in printed
    expanded = read_split(run_dir / "train_expanded.csv", extra_columns=("source",))
    assert set(expanded["source"]) >= {"train", "rare_labels", "asr_noise"}
    assert {"sources.csv", "labels.csv", "guard.csv", "dropped.csv", "augmentation.csv",
            "report.json"} <= {p.name for p in (run_dir / "expansion").iterdir()}


@pytest.mark.e2e
def test_notebook_on_the_competition_data_adds_guarded_corpus_rows(competition_dir, tmp_path):
    if not (SHARED_DATA / "external" / "ru_izard_emotions.csv").is_file():
        pytest.skip("external corpora not found")
    run_dir, _ = run_notebook(tmp_path, str(competition_dir))
    report = json.loads((run_dir / "expansion" / "report.json").read_text(encoding="utf-8"))
    sources = {entry["source"]: entry for entry in report["sources"]}
    assert sources["ru_izard"]["added"] > 1000 and sources["ru_izard"]["guard_dropped"] > 0
    assert report["rows"] == sum(entry["added"] for entry in report["sources"])
