"""Finding the competition's files: an explicit folder, $KIT_DATA_DIR, Kaggle's inputs, ./data, else the sample."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import KitError
from .paths import REPO_ROOT, SAMPLE_DATA_DIR
from .splits import SPLIT_FILES

DATA_DIR_ENV = "KIT_DATA_DIR"
KAGGLE_INPUT = Path("/kaggle/input")
COMPETITION_SLUG = "cryptonite-hack-sf"


class DataDirError(KitError, FileNotFoundError):
    """A data folder that does not exist or lacks some of the competition files; the message names it and what is missing."""


def holds_competition_files(folder: Path) -> bool:
    """True when a folder holds train.csv, valid.csv and test_without_answers.csv."""
    return all((folder / name).is_file() for name in SPLIT_FILES.values())


def _missing_files(folder: Path) -> list[str]:
    return [name for name in SPLIT_FILES.values() if not (folder / name).is_file()]


def _kaggle_candidates(kaggle_input: Path) -> list[Path]:
    preferred = [kaggle_input / COMPETITION_SLUG, kaggle_input / "competitions" / COMPETITION_SLUG]
    found = sorted(p.parent for p in kaggle_input.glob("**/test_without_answers.csv")) if kaggle_input.is_dir() else []
    return preferred + found


def find_data_dir(explicit: str | Path | None = None, kaggle_input: Path = KAGGLE_INPUT) -> Path:
    """Find the competition files: explicit path, $KIT_DATA_DIR, /kaggle/input/..., ./data, then data/sample (with a notice).

    A folder holding only some of the three files is an error naming the missing ones, never a silent fallback."""
    for source, given in (("the given data_dir", explicit), (f"${DATA_DIR_ENV}", os.environ.get(DATA_DIR_ENV))):
        if given:
            folder = Path(given).expanduser()
            if not folder.is_dir():
                raise DataDirError(f"{folder} ({source}) {'is a file' if folder.exists() else 'does not exist'}; expected a folder "
                                        f"holding the competition files {list(SPLIT_FILES.values())}")
            missing = _missing_files(folder)
            if missing:
                raise DataDirError(f"{folder} ({source}) lacks the competition file(s) {missing}")
            return folder
    checked = [*_kaggle_candidates(kaggle_input), Path.cwd() / "data", REPO_ROOT / "data"]
    for folder in dict.fromkeys(checked):  # the first folder holding any of the files decides
        missing = _missing_files(folder)
        if len(missing) < len(SPLIT_FILES):
            if missing:
                raise DataDirError(f"{folder} holds some of the competition files but lacks {missing}: add them, or point to "
                                        f"a complete folder with --data-dir / data_dir / ${DATA_DIR_ENV}")
            return folder
    print(
        f"Notice: no competition data found (checked ${DATA_DIR_ENV}, {kaggle_input}, ./data); using the small "
        f"authored sample in {SAMPLE_DATA_DIR}. Scores on it say nothing about the competition."
    )
    return SAMPLE_DATA_DIR


def is_sample(data_dir: str | Path) -> bool:
    """True when the data folder is the kit's small authored sample."""
    return Path(data_dir).resolve() == SAMPLE_DATA_DIR.resolve()
