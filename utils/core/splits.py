"""Reading and checking the competition's CSV files, and converting between label formats."""
from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import KitError
from .labels import LABELS
from .paths import SPLIT_FILES

TEXT = "text"
SOURCE = "source"  # where a row of the expanded train came from
EXPECTED_HEADER = ",".join([TEXT, *LABELS])
MAX_TEXT_CHARS = 20_000  # the longest text any reader of the kit accepts; real rows have a few hundred at most


class DataError(KitError, ValueError):
    """A data file that does not match the expected format; the message names the file, line and column."""


@dataclass
class Competition:
    """The three competition splits, checked."""

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame


def _looks_russian(text: str) -> bool:
    """True when the words holding non-ASCII letters are nearly all purely Cyrillic (not Latin-1 read as cp1251)."""
    words = [w for w in re.findall(r"\w+", text) if not w.isascii()]
    cyrillic = [w for w in words if re.fullmatch(r"[\u0400-\u04ff\d_]+", w)]
    return bool(words) and len(cyrillic) >= 0.95 * len(words)


def decode_csv_bytes(raw: bytes, path: Path | str) -> str:
    """Decode UTF-8 (with or without BOM), UTF-16 with BOM, or Windows-1251 Russian text; refuse anything else."""
    if raw.startswith(codecs.BOM_UTF8):
        print(f"Note: {path} starts with a UTF-8 byte-order mark; it was read as UTF-8.")
        raw = raw[len(codecs.BOM_UTF8):]
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        print(f"Note: {path} is UTF-16; it was read as such.")
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        utf8_problem = f"it is not UTF-8 (byte 0x{raw[error.start]:02x} on line {line})"
    try:
        text = raw.decode("cp1251")
    except UnicodeDecodeError:
        text = ""
    if _looks_russian(text):
        print(f"Note: {path}: {utf8_problem}; it was read as Windows-1251 (cp1251) Russian text.")
        return text
    raise DataError(f"{path}: {utf8_problem}, nor Windows-1251 Russian text; re-save it as UTF-8.")


def _check_header(header: list[str], path: Path, test: bool, extra_columns: tuple[str, ...]) -> None:
    for name, count in Counter(header).items():
        if count > 1:
            places = [i + 1 for i, col in enumerate(header) if col == name]
            raise DataError(f"{path}, header row: column '{name}' appears {count} times (positions {places}); expected {EXPECTED_HEADER}")
    if TEXT not in header:
        raise DataError(f"{path}, header row: no '{TEXT}' column (found {header}); expected {EXPECTED_HEADER}")
    missing = [label for label in LABELS if label not in header]
    if missing and not (test and len(missing) == len(LABELS)):
        raise DataError(f"{path}, header row: missing label column(s) {missing}; expected {EXPECTED_HEADER}")
    extra = [col for col in header if col not in (TEXT, *LABELS, *extra_columns)]
    if extra:
        raise DataError(f"{path}, header row: unexpected column(s) {extra}; expected {EXPECTED_HEADER}")


def _parse_labels(frame: pd.DataFrame, path: Path, lines: list[int]) -> pd.DataFrame:
    for label in LABELS:
        raw = frame[label]
        numbers = pd.to_numeric(raw.str.strip(), errors="coerce")
        bad = ~numbers.isin([0, 1])
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            shown = "an empty value" if raw.iloc[row] is None or raw.iloc[row].strip() == "" else repr(raw.iloc[row])
            raise DataError(f"{path}, line {lines[row]}, column '{label}': expected 0 or 1, got {shown}"
                            f" ({int(bad.sum())} bad value(s) in this column)")
        frame[label] = numbers.astype("int64")
    return frame


def csv_records(text: str, path: Path | str) -> list[tuple[int, list[str]]]:
    """Every record of a CSV text with the line of the file it starts on (the header is line 1, blank lines count), a blank
    line as an empty record; fields of any length (checked afterwards)."""
    csv.field_size_limit(2**31 - 1)  # Python's default, 131,072 characters, would stop with no file or line named
    reader = csv.reader(io.StringIO(text))
    records, line = [], 1
    try:
        for record in reader:
            records.append((line, record))
            line = reader.line_num + 1
    except csv.Error as error:
        raise DataError(f"{path}, line {reader.line_num}: not valid CSV ({error})") from None
    return records


def check_text_lengths(texts, lines: list[int], path: Path | str) -> None:
    """Refuse a text longer than MAX_TEXT_CHARS, naming its line in the file."""
    for line, text in zip(lines, texts):
        if text is not None and len(text) > MAX_TEXT_CHARS:
            raise DataError(f"{path}, line {line}, column '{TEXT}': {len(text):,} characters; the kit reads texts of at most "
                            f"{MAX_TEXT_CHARS:,} characters (a model reads the first 128 words): shorten or split it")


def shown_lines(lines: list[int], most: int = 10) -> str:
    """'3, 4, 9' or '3, 4, ... (and 5 more)': the first line numbers of a list."""
    return ", ".join(map(str, lines[:most])) + (f" ... (and {len(lines) - most} more)" if len(lines) > most else "")


def read_split(path: str | Path, test: bool = False, extra_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read one competition file, check it, and return `text` + the 7 labels (+ `extra_columns`) in the fixed order.

    Labelled files (test=False) drop rows with empty text and print how many; the test keeps every row.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found; expected a CSV with header {EXPECTED_HEADER}")
    records = [(line, row) for line, row in csv_records(decode_csv_bytes(path.read_bytes(), path), path) if row]
    header = [name.strip() for name in (records[0][1] if records else [])]
    if not header:
        raise DataError(f"{path}: the file is empty; expected a CSV with header {EXPECTED_HEADER}")
    _check_header(header, path, test, extra_columns)
    lines, rows = [line for line, _ in records[1:]], [row for _, row in records[1:]]
    if not rows:
        raise DataError(f"{path}: a header and no data rows; expected at least one row under {EXPECTED_HEADER}")
    for line, row in zip(lines, rows):
        if len(row) != len(header):
            raise DataError(f"{path}, line {line}: has {len(row)} fields, the header has {len(header)}; expected {EXPECTED_HEADER}")
    frame = pd.DataFrame(rows, columns=header, dtype=str)
    if test and LABELS[0] not in header:
        for label in LABELS:
            frame[label] = "0"
    wanted = [TEXT, *LABELS, *[col for col in extra_columns if col in header]]
    present = [col for col in wanted if col in header]
    if [col for col in header if col in wanted] != present:
        print(f"Note: {path} has its columns in another order; they were reordered by name to {EXPECTED_HEADER}.")
    repeated = (frame[header] == header).all(axis=1).to_numpy()
    if repeated.any():
        line = lines[int(np.flatnonzero(repeated)[0])]
        raise DataError(f"{path}, line {line}: repeats the header row (were two files concatenated?); expected data rows only")
    frame = _parse_labels(frame[wanted].copy(), path, lines)
    check_text_lengths(frame[TEXT], lines, path)
    empty = frame[TEXT].str.strip() == ""
    if empty.any():
        shown = shown_lines([lines[i] for i in np.flatnonzero(empty.to_numpy())])
        if test:
            print(f"Warning: {path}: {int(empty.sum())} row(s) with empty text kept (every test row needs a prediction): lines {shown}")
        else:
            print(f"Note: {path}: dropped {int(empty.sum())} row(s) with empty text: lines {shown}")
            frame = frame[~empty].reset_index(drop=True)
    return frame


def load_competition(data_dir: str | Path) -> Competition:
    """Read and check train, valid and test from a data folder."""
    data_dir = Path(data_dir)
    return Competition(
        train=read_split(data_dir / SPLIT_FILES["train"]),
        valid=read_split(data_dir / SPLIT_FILES["valid"]),
        test=read_split(data_dir / SPLIT_FILES["test"], test=True),
    )


def warn_absent_labels(train: pd.DataFrame, name: str, valid: pd.DataFrame, folds: int) -> list[str]:
    """Warn about the labels no row of the training file `name` carries, saying what is true of them: which of them valid
    carries, whether the models see those rows (k-fold: each fold model trains on the other folds' valid rows; train.folds
    0: train only), and which no file carries at all. Returns the absent labels."""
    absent = [label for label in LABELS if not train[label].any()]
    if not absent:
        return absent
    in_valid = {label: int(valid[label].sum()) for label in absent if valid[label].any()}
    nowhere = [label for label in absent if label not in in_valid]
    valid_name = SPLIT_FILES["valid"]
    facts = []
    if in_valid and folds:
        facts.append(f"{valid_name} carries {in_valid} (rows): with train.folds {folds} each fold model trains on the valid rows of "
                     f"its other {folds - 1} folds, so the models learn them from those rows alone (expect weak scores for them)")
    elif in_valid:
        facts.append(f"{valid_name} carries {in_valid} (rows), but with train.folds 0 the models train on {name} only and never "
                     "see them: expect an F1 near 0 for them (only notebook 04's recalibration, fitted on valid, can still tag "
                     "them); train.folds 2 or more trains on valid rows too")
    if nowhere:
        facts.append(f"no row of {name} or {valid_name} carries {nowhere}: no model sees them, so none predicts them (F1 0 "
                     "wherever they occur)")
    print(f"Warning: {name} has no row with the label(s) {absent}; " + "; ".join(facts)
          + " (add rows that carry them, e.g. with notebook 02's expansion)")
    return absent


def label_matrix(frame: pd.DataFrame) -> np.ndarray:
    """The (rows, 7) 0/1 matrix of a frame's label columns, in LABELS order."""
    return frame[LABELS].to_numpy(dtype=np.int64)


def onehot_to_lists(onehot: pd.DataFrame | np.ndarray) -> list[list[str]]:
    """Turn one-hot rows into lists of label names, e.g. [0,0,0,1,0,1,0] -> ['joy', 'surprise']."""
    matrix = label_matrix(onehot) if isinstance(onehot, pd.DataFrame) else np.asarray(onehot)
    return [[LABELS[j] for j in np.flatnonzero(row)] for row in matrix]


def lists_to_onehot(label_lists: list[list[str]]) -> np.ndarray:
    """Turn lists of label names into a (rows, 7) 0/1 matrix; unknown names are an error."""
    matrix = np.zeros((len(label_lists), len(LABELS)), dtype=np.int64)
    for i, names in enumerate(label_lists):
        for name in names:
            if name not in LABELS:
                raise ValueError(f"row {i + 1}: unknown label {name!r}; expected one of {LABELS}")
            matrix[i, LABELS.index(name)] = 1
    return matrix
