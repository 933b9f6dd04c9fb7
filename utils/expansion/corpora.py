"""External emotion corpora: reading their CSVs, mapping their labels into the kit's 7, and the Hugging Face path."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.files import write_csv
from ..core.splits import LABELS, TEXT, DataError, csv_records, decode_csv_bytes, lists_to_onehot

# ru-izard column -> kit label (None: ignored). Measured on the 5,222 ru-izard rows that re-translate a row of the
# stand-in train (character 3-gram Jaccard >= 0.6): the share of them whose train row carries the mapped label.
IZARD_LABELS = {
    "neutral": "neutral",
    "joy": "joy",
    "sadness": "sadness",  # 50% (the corpus's own labels agree this loosely)
    "anger": "anger",  # 50%
    "enthusiasm": "surprise",  # 46% surprise, 24% joy; 62% surprise when it is the row's only label (GoEmotions curiosity)
    "surprise": "surprise",  # 57%
    "disgust": "disgust",  # 35%, anger 39%
    "fear": "fear",  # 49%
    "guilt": "sadness",  # 66% (GoEmotions remorse); every guilt row of the shared copy already carries sadness
    "shame": None,  # no clear counterpart: sadness 32%, neutral 30%, anger 27%
}
CEDR_LABELS = {0: "joy", 1: "sadness", 2: "surprise", 3: "fear", 4: "anger"}  # [] = "no emotion" -> neutral
BRIGHTER_LABELS = {label: label for label in ["anger", "disgust", "fear", "joy", "sadness", "surprise"]}  # all 0 -> neutral
PLACEHOLDERS = re.compile(r"\[(?:NAME|ИМЕНИ|ФАМИЛИ[ЯЮИЕ]\w*)\]", re.IGNORECASE)  # the corpus's name tags -> the competition's [ИМЯ]
_CEDR_IDS = re.compile(r"\[\s*([\d\s,]*)\]")


@dataclass(frozen=True)
class Corpus:
    """One external corpus: its file, how to map it, and where it lives on the Hugging Face Hub."""

    name: str
    file: str
    read: Callable[[Path], pd.DataFrame]
    hub: tuple[str, str | None, tuple[str, ...]]  # dataset name, configuration, splits


def read_corpus_csv(path: Path, columns: list[str], optional: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a corpus CSV as strings, indexed by the line each row starts on (the header is line 1); refuse a malformed file
    or missing or unknown columns, naming the file (and line)."""
    if not path.is_file():
        raise DataError(f"{path}: file not found; expected a CSV with columns {columns}")
    records = [(line, row) for line, row in csv_records(decode_csv_bytes(path.read_bytes(), path), path) if row]
    header = records[0][1] if records else []
    missing = [c for c in columns if c not in header]
    unknown = [c for c in header if c not in columns and c not in optional]
    if missing or unknown or len(set(header)) < len(header):
        raise DataError(f"{path}, header row: missing column(s) {missing}, unknown column(s) {unknown}; expected {columns}, each once")
    for line, row in records[1:]:
        if len(row) != len(header):
            raise DataError(f"{path}, line {line}: has {len(row)} fields, the header has {len(header)}; expected {columns}")
    return pd.DataFrame([row for _, row in records[1:]], columns=header, index=[line for line, _ in records[1:]], dtype=str)


def onehot_columns(frame: pd.DataFrame, columns: list[str], path: Path) -> np.ndarray:
    """The 0/1 matrix of `columns`; any other value is an error naming file, line and column."""
    values = frame[columns].apply(lambda col: pd.to_numeric(col.str.strip(), errors="coerce"))
    for column in columns:
        bad = ~values[column].isin([0, 1]).to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"{path}, line {frame.index[row]}, column '{column}': expected 0 or 1, got {frame[column].iloc[row]!r}")
    return values.to_numpy(dtype=np.int64)


def map_labels(source: np.ndarray, columns: list, mapping: dict, empty_is_neutral: bool) -> np.ndarray:
    """Map a corpus's 0/1 label matrix into the 7 labels; rows left with none get neutral or all zeros."""
    mapped = np.zeros((len(source), len(LABELS)), dtype=np.int64)
    for j, column in enumerate(columns):
        if mapping[column] is not None:
            mapped[:, LABELS.index(mapping[column])] |= source[:, j]
    if empty_is_neutral:
        mapped[source.sum(axis=1) == 0, LABELS.index("neutral")] = 1
    return mapped


def labelled_frame(texts: pd.Series, labels: np.ndarray, path: Path) -> pd.DataFrame:
    """Text (name tags harmonised) + the 7 labels; rows with empty text or no label left are dropped and counted."""
    frame = pd.DataFrame(labels, columns=LABELS)
    frame.insert(0, TEXT, texts.str.replace(PLACEHOLDERS, "[ИМЯ]", regex=True).to_numpy())
    empty = (frame[TEXT].str.strip() == "").to_numpy()
    unlabelled = (frame[LABELS].sum(axis=1) == 0).to_numpy() & ~empty
    for count, why in ((empty.sum(), "have empty text"), (unlabelled.sum(), "carry only labels without a counterpart")):
        if count:
            print(f"Note: {path}: {int(count)} row(s) {why}; they were left out")
    return frame[~empty & ~unlabelled].reset_index(drop=True)


def read_ru_izard(path: Path) -> pd.DataFrame:
    """Djacon/ru-izard-emotions: one-hot Izard emotions (see IZARD_LABELS); an optional `split` column is ignored."""
    columns = list(IZARD_LABELS)
    frame = read_corpus_csv(path, [TEXT, *columns], optional=("split",))
    return labelled_frame(frame[TEXT], map_labels(onehot_columns(frame, columns, path), columns, IZARD_LABELS, False), path)


def parse_cedr_labels(frame: pd.DataFrame, path: Path) -> list[list[str]]:
    """CEDR's `labels` like "[0 2]" -> label names; "[]" -> ["neutral"]; anything else is an error naming the line."""
    names = []
    for line, value in frame["labels"].items():
        match = _CEDR_IDS.fullmatch(value.strip())
        ids = [int(i) for i in re.split(r"[\s,]+", match.group(1).strip()) if i] if match else None
        if ids is None or any(i not in CEDR_LABELS for i in ids):
            raise DataError(f"{path}, line {line}, column 'labels': expected a list of ids from {sorted(CEDR_LABELS)} like [0 2], "
                            f"got {value!r}")
        names.append(sorted({CEDR_LABELS[i] for i in ids}) or ["neutral"])
    return names


def read_cedr(path: Path) -> pd.DataFrame:
    """CEDR (Sboev et al. 2021): `labels` lists of ids (see CEDR_LABELS), `source` lj/lenta/twitter (ignored)."""
    frame = read_corpus_csv(path, [TEXT, "labels"], optional=("source",))
    return labelled_frame(frame[TEXT], lists_to_onehot(parse_cedr_labels(frame, path)), path)


def read_brighter(path: Path) -> pd.DataFrame:
    """BRIGHTER Russian (SemEval-2025 Task 11): six one-hot emotions, no neutral column (all zeros -> neutral)."""
    columns = list(BRIGHTER_LABELS)
    frame = read_corpus_csv(path, [TEXT, *columns], optional=("id",))
    return labelled_frame(frame[TEXT], map_labels(onehot_columns(frame, columns, path), columns, BRIGHTER_LABELS, True), path)


CORPORA = {
    corpus.name: corpus
    for corpus in [
        Corpus("ru_izard", "ru_izard_emotions.csv", read_ru_izard, ("Djacon/ru-izard-emotions", None, ("train", "validation", "test"))),
        Corpus("cedr", "cedr_train.csv", read_cedr, ("sagteam/cedr_v1", "main", ("train",))),
        Corpus("brighter", "brighter_ru_train.csv", read_brighter,
               ("brighter-dataset/BRIGHTER-emotion-categories", "rus", ("train", "dev"))),
    ]
}


def mapping_table() -> pd.DataFrame:
    """Every corpus label and the kit label it becomes (for the notebook)."""
    rows = [("ru_izard", column, label or "(ignored)") for column, label in IZARD_LABELS.items()]
    rows += [("cedr", f"{i} ({label})", label) for i, label in CEDR_LABELS.items()] + [("cedr", "[] (no emotion)", "neutral")]
    rows += [("brighter", column, label) for column, label in BRIGHTER_LABELS.items()] + [("brighter", "all zeros", "neutral")]
    return pd.DataFrame(rows, columns=["corpus", "corpus label", "kit label"])


def download_corpus(name: str, folder: str | Path) -> Path:
    """Fetch a corpus from the Hugging Face Hub (needs internet) and save it as the CSV its reader expects."""
    try:
        from datasets import load_dataset
    except ImportError as error:
        raise ImportError("downloading a corpus needs the datasets package: pip install datasets") from error
    corpus = CORPORA[name]
    dataset, configuration, splits = corpus.hub
    parts = []
    for split in splits:
        part = load_dataset(dataset, configuration, split=split).to_pandas()
        parts.append(part.assign(split=split) if name == "ru_izard" else part)
    frame = pd.concat(parts, ignore_index=True)
    if name == "cedr":
        frame["labels"] = [f"[{' '.join(str(int(i)) for i in ids)}]" for ids in frame["labels"]]
    keep = {"ru_izard": [TEXT, *IZARD_LABELS, "split"], "cedr": [TEXT, "labels", "source"],
            "brighter": ["id", TEXT, *BRIGHTER_LABELS]}[name]
    path = Path(folder) / corpus.file
    write_csv(frame[keep], path)
    print(f"Downloaded {dataset} ({', '.join(splits)}): {len(frame)} rows -> {path}")
    return path
