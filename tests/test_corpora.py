"""The external corpora: each loader's label mapping on small hand-made files, bad input, the Hugging Face path."""
import sys
import types

import pandas as pd
import pytest
from conftest import SHARED_DATA

from utils.core.splits import LABELS, DataError, onehot_to_lists
from utils.expansion.corpora import (
    CORPORA,
    IZARD_LABELS,
    download_corpus,
    mapping_table,
    read_brighter,
    read_cedr,
    read_ru_izard,
)

IZARD_HEADER = "text,neutral,joy,sadness,anger,enthusiasm,surprise,disgust,fear,guilt,shame,split"


def izard_row(text, *labels, split="train"):
    return ",".join([f"\"{text}\"", *("1" if column in labels else "0" for column in IZARD_LABELS), split])


def test_ru_izard_mapping_and_name_tags(write_file, capsys):
    path = write_file("izard.csv", "\n".join([
        IZARD_HEADER,
        izard_row("Мне страшно, [NAME]", "fear"),
        izard_row("Вот это да", "enthusiasm"),
        izard_row("Простите меня", "guilt", "shame"),
        izard_row("Стыдно", "shame"),
        izard_row("Фу и злость", "disgust", "anger", split="test"),
    ]) + "\n")
    frame = read_ru_izard(path)
    assert frame["text"].tolist() == ["Мне страшно, [ИМЯ]", "Вот это да", "Простите меня", "Фу и злость"]
    assert onehot_to_lists(frame) == [["fear"], ["surprise"], ["sadness"], ["anger", "disgust"]]
    assert "1 row(s) carry only labels without a counterpart" in capsys.readouterr().out


def test_cedr_label_lists_and_no_emotion(write_file):
    path = write_file("cedr.csv", 'text,labels,source\nОй!,[2],lj\nУра и страх,[0 3],twitter\nНовости.,[],lenta\n'
                                  '"Злой, грустный",[4 1],lj\n')
    assert onehot_to_lists(read_cedr(path)) == [["surprise"], ["fear", "joy"], ["neutral"], ["anger", "sadness"]]


def test_brighter_all_zeros_is_neutral(write_file):
    path = write_file("brighter.csv", "id,text,anger,disgust,fear,joy,sadness,surprise\na,Фу,0,1,0,0,0,0\nb,Текст,0,0,0,0,0,0\n"
                                      "c,Ужас!,1,0,1,0,0,0\n")
    assert onehot_to_lists(read_brighter(path)) == [["disgust"], ["neutral"], ["anger", "fear"]]


def test_unknown_column_names_file_and_column(write_file):
    path = write_file("cedr.csv", "text,labels,mood\nОй,[2],x\n")
    with pytest.raises(DataError, match=r"cedr\.csv, header row: missing column\(s\) \[\], unknown column\(s\) \['mood'\]"):
        read_cedr(path)


def test_missing_column_is_an_error(write_file):
    path = write_file("brighter.csv", "text,anger,disgust,fear,joy,sadness\nФу,0,1,0,0,0\n")
    with pytest.raises(DataError, match=r"missing column\(s\) \['surprise'\]"):
        read_brighter(path)


def test_bad_label_values_name_file_line_and_column(write_file):
    path = write_file("izard.csv", "\n".join([IZARD_HEADER, izard_row("а", "joy"), izard_row("б", "joy").replace(",1,", ",yes,")]) + "\n")
    with pytest.raises(DataError, match=r"izard\.csv, line 3, column 'joy': expected 0 or 1, got 'yes'"):
        read_ru_izard(path)
    cedr = write_file("cedr.csv", "text,labels\nОй,[2]\nАх,[7]\n")
    with pytest.raises(DataError, match=r"cedr\.csv, line 3, column 'labels': expected a list of ids .* got '\[7\]'"):
        read_cedr(cedr)
    with pytest.raises(DataError, match=r"cedr2\.csv, line 2, column 'labels'"):
        read_cedr(write_file("cedr2.csv", "text,labels\nОй,joy\n"))


def test_empty_text_rows_are_left_out(write_file, capsys):
    path = write_file("cedr.csv", 'text,labels\n"  ",[2]\nАх,[3]\n')
    assert read_cedr(path)["text"].tolist() == ["Ах"]
    assert "1 row(s) have empty text" in capsys.readouterr().out


def test_mapping_table_lists_every_corpus_label():
    table = mapping_table()
    assert set(table.loc[table["corpus"] == "ru_izard", "corpus label"]) == set(IZARD_LABELS)
    assert set(table["kit label"]) - {"(ignored)"} == set(LABELS)


@pytest.fixture
def fake_datasets(monkeypatch):
    """A stand-in for the `datasets` package: load_dataset returns the hub's shape of each corpus."""
    hub = {
        ("sagteam/cedr_v1", "train"): pd.DataFrame({"text": ["Ура", "Ну"], "labels": [[0, 2], []], "source": ["lj", "lenta"]}),
        ("brighter-dataset/BRIGHTER-emotion-categories", "train"): pd.DataFrame(
            {"id": ["a"], "text": ["Фу"], "anger": [0], "disgust": [1], "fear": [0], "joy": [0], "sadness": [0], "surprise": [0],
             "emotions": [["disgust"]]}),
        ("brighter-dataset/BRIGHTER-emotion-categories", "dev"): pd.DataFrame(
            {"id": ["b"], "text": ["Ой"], "anger": [0], "disgust": [0], "fear": [0], "joy": [0], "sadness": [0], "surprise": [1],
             "emotions": [["surprise"]]}),
    }
    module = types.ModuleType("datasets")
    module.load_dataset = lambda name, configuration, split: types.SimpleNamespace(to_pandas=lambda: hub[(name, split)].copy())
    monkeypatch.setitem(sys.modules, "datasets", module)


def test_download_writes_the_csv_the_loader_reads(fake_datasets, tmp_path):
    cedr = download_corpus("cedr", tmp_path)
    assert cedr == tmp_path / CORPORA["cedr"].file
    assert pd.read_csv(cedr)["labels"].tolist() == ["[0 2]", "[]"]
    assert onehot_to_lists(read_cedr(cedr)) == [["joy", "surprise"], ["neutral"]]
    assert onehot_to_lists(read_brighter(download_corpus("brighter", tmp_path))) == [["disgust"], ["surprise"]]


def test_download_without_datasets_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ImportError, match="pip install datasets"):
        download_corpus("cedr", tmp_path)


@pytest.fixture
def external_dir():
    folder = SHARED_DATA / "external"
    if not all((folder / corpus.file).is_file() for corpus in CORPORA.values()):
        pytest.skip(f"external corpora not found at {folder}")
    return folder


def test_real_corpora_load_with_every_row_labelled(external_dir):
    for corpus in CORPORA.values():
        raw = pd.read_csv(external_dir / corpus.file, keep_default_na=False)
        frame = corpus.read(external_dir / corpus.file)
        assert frame[LABELS].isin([0, 1]).all().all() and (frame[LABELS].sum(axis=1) >= 1).all(), corpus.name
        assert 0.99 * len(raw) <= len(frame) <= len(raw), corpus.name
    raw = pd.read_csv(external_dir / CORPORA["cedr"].file, keep_default_na=False)
    assert read_cedr(external_dir / CORPORA["cedr"].file)["neutral"].sum() == (raw["labels"] == "[]").sum()
