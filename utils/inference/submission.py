"""The submission file: build it from decisions, check it against the test file, write it safely, submit it."""
from __future__ import annotations

import argparse
import codecs
import contextlib
import io
import os
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.data_dir import COMPETITION_SLUG, find_data_dir
from ..core.errors import KitError
from ..core.files import UnreadableFileError, atomic_path
from ..core.paths import REPO_ROOT, SAMPLE_DATA_DIR
from ..core.run_record import RECORD_FILE, content_hash, read_record
from ..core.splits import LABELS, SPLIT_FILES, TEXT, DataError, csv_records, decode_csv_bytes, read_split
from .contract import INFERENCE

CREDENTIALS_HELP = """No Kaggle credentials found. Provide one of:
  1. kaggle.json: Kaggle > Settings > API > "Create New Token" downloads it; then
       mkdir -p ~/.kaggle && mv kaggle.json ~/.kaggle/ && chmod 600 ~/.kaggle/kaggle.json
     (or point KAGGLE_CONFIG_DIR to the folder holding it);
  2. the variables KAGGLE_USERNAME and KAGGLE_KEY (the two values inside kaggle.json);
  3. an API token: export KAGGLE_API_TOKEN=... or save it to ~/.kaggle/access_token."""
FORBIDDEN_HELP = """If Kaggle answered 403 Forbidden: the account has not accepted the competition's rules. Open
https://www.kaggle.com/competitions/{slug}/rules, press "I Understand and Accept", then submit again."""


class SubmissionError(KitError, ValueError):
    """A submission that does not match the test file; the message names the first bad row."""


def make_submission(test: pd.DataFrame, decisions: np.ndarray) -> pd.DataFrame:
    """The test file with its 7 label columns replaced by the 0/1 decisions (same rows, same order)."""
    decisions = np.asarray(decisions)
    if decisions.shape != (len(test), len(LABELS)):
        raise SubmissionError(f"decisions have shape {decisions.shape}; expected ({len(test)}, {len(LABELS)})")
    submission = pd.DataFrame({TEXT: test[TEXT].to_numpy()})
    for j, label in enumerate(LABELS):
        submission[label] = decisions[:, j].astype(np.int64)
    return submission


def utf8_text(path: Path) -> str:
    """A submission's text: UTF-8 (a byte-order mark is dropped with a note); anything else is refused, as Kaggle reads UTF-8."""
    raw = path.read_bytes()
    if raw.startswith(codecs.BOM_UTF8):
        print(f"Note: {path} starts with a UTF-8 byte-order mark; it was read as UTF-8.")
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise SubmissionError(f"{path}: not UTF-8 (byte 0x{raw[error.start]:02x} on line {line}; Windows-1251?): Kaggle reads "
                              "submissions as UTF-8; re-save it as UTF-8") from None


def check_submission(path: str | Path, test_path: str | Path) -> pd.DataFrame:
    """Check a submission file against the test file: columns, row count, row order and text, 0/1 values; a defect is
    named by its line in the file (the header is line 1)."""
    path = Path(path)
    if not path.is_file():
        raise SubmissionError(f"{path}: file not found")
    expected = [TEXT, *LABELS]
    try:
        records = [(line, row) for line, row in csv_records(utf8_text(path), path) if row]
    except DataError as error:
        raise SubmissionError(f"{error}; expected the header {','.join(expected)} and one row per test row") from None
    if not records:
        raise SubmissionError(f"{path}: empty; expected the header {','.join(expected)} and one row per test row")
    (_, header), *rows = records
    uneven = [(line, row) for line, row in rows if len(row) != len(header)]
    if uneven:
        raise SubmissionError(f"{path}, line {uneven[0][0]}: {len(uneven[0][1])} fields; the header has {len(header)}")
    lines = [line for line, _ in rows]
    frame = pd.DataFrame([row for _, row in rows], columns=header, dtype=str)
    if list(frame.columns) != expected:
        raise SubmissionError(f"{path}, header row: columns are {list(frame.columns)}; expected {expected} in this order")
    test = read_split(test_path, test=True)
    if len(frame) != len(test):
        raise SubmissionError(f"{path}: {len(frame)} rows; the test file {test_path} has {len(test)}")
    differs = np.flatnonzero(frame[TEXT].to_numpy() != test[TEXT].to_numpy())
    if len(differs):
        row = int(differs[0])
        raise SubmissionError(
            f"{path}, line {lines[row]}, column 'text': {frame[TEXT].iloc[row][:60]!r} differs from the test file's "
            f"{test[TEXT].iloc[row][:60]!r} (rows must be the test's rows in the test's order)"
        )
    for label in LABELS:
        bad = np.flatnonzero(~frame[label].isin(["0", "1"]).to_numpy())
        if len(bad):
            row = int(bad[0])
            raise SubmissionError(f"{path}, line {lines[row]}, column '{label}': expected 0 or 1, got {frame[label].iloc[row]!r}")
    return frame


def write_submission(submission: pd.DataFrame, path: str | Path, test_path: str | Path, overwrite: bool = False) -> Path:
    """Write a submission atomically, only if it passes check_submission; never replace one silently."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        submission.to_csv(tmp, index=False, encoding="utf-8")
        check_submission(tmp, test_path)
    return Path(path)


def kaggle_credentials() -> str | None:
    """Where Kaggle credentials come from, or None; never reads out a key."""
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return "the KAGGLE_USERNAME and KAGGLE_KEY variables"
    if os.environ.get("KAGGLE_API_TOKEN"):
        return "the KAGGLE_API_TOKEN variable"
    home = Path.home()
    folders = [Path(os.environ["KAGGLE_CONFIG_DIR"])] if os.environ.get("KAGGLE_CONFIG_DIR") else []
    folders += [home / ".kaggle", home / ".config" / "kaggle"]
    for folder in folders:
        for name in ("kaggle.json", "access_token"):
            if (folder / name).is_file():
                mode = stat.S_IMODE((folder / name).stat().st_mode)
                if name == "kaggle.json" and mode & 0o077:
                    print(f"Warning: {folder / name} is readable by others (mode {mode:o}); run: chmod 600 {folder / name}")
                return str(folder / name)
    return None


def submit(path: str | Path, message: str, test_path: str | Path, competition: str = COMPETITION_SLUG, dry_run: bool = False) -> int:
    """Check the file, then run `kaggle competitions submit`; returns the exit code (non-zero without credentials)."""
    check_submission(path, test_path)
    kaggle = [shutil.which("kaggle")] if shutil.which("kaggle") else [sys.executable, "-m", "kaggle"]
    command = [*kaggle, "competitions", "submit", "-c", competition, "-f", str(path), "-m", message]
    if dry_run:
        print("Would run:", shlex.join(command))
        return 0
    source = kaggle_credentials()
    if source is None:
        print(CREDENTIALS_HELP)
        return 2
    print(f"Submitting {path} to {competition} (credentials from {source})")
    result = subprocess.run(command)
    if result.returncode != 0:
        print(FORBIDDEN_HELP.format(slug=competition))
    return result.returncode


def making_runs(path: Path, runs_root: Path | None = None) -> list[dict]:
    """The records of the runs (and blends) whose submission has this file's bytes: the run that wrote this very file
    first, then the others in the order of their folders (several runs can make identical files)."""
    digest = content_hash(path)
    roots = [runs_root] if runs_root else [path.resolve().parent.parent / "runs", REPO_ROOT / "runs"]
    found = []
    for root in dict.fromkeys(root.resolve() for root in roots if root.is_dir()):
        for manifest in sorted(root.glob(f"**/{RECORD_FILE}")):
            try:
                record = read_record(manifest.parent)
            except UnreadableFileError as error:
                print(f"Warning: skipped while looking for the run that made {path}: {error}")
                continue
            if submission_of(record).get("submission_sha256") == digest:
                found.append(record)
    return sorted(found, key=lambda record: not wrote(record, path))


def submission_of(record: dict) -> dict:
    """Where a record keeps its submission's path and hash: a blend's record itself, a run's notebook 05."""
    return record if "submission_sha256" in record else record.get("steps", {}).get(INFERENCE, {})


def wrote(record: dict, path: Path) -> bool:
    """True when the record's submission is this very file (not a copy of it)."""
    recorded = submission_of(record).get("submission")
    return bool(recorded) and Path(recorded).resolve() == path.resolve()


def sample_made(path: Path) -> bool:
    """True when a file's `text` column holds the test texts of the kit's authored sample, in order, however it was saved
    again (line ends, a byte-order mark, quoting, encoding): a submission made from the sample, with or without a record."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # its notes (a byte-order mark) are printed when the file is checked
            rows = [row for _, row in csv_records(decode_csv_bytes(path.read_bytes(), path), path) if row]
    except (OSError, DataError):
        return False
    header = [name.strip() for name in rows[0]] if rows else []
    if TEXT not in header:
        return False
    column = header.index(TEXT)
    texts = [row[column].strip() if len(row) > column else "" for row in rows[1:]]
    return texts == read_split(SAMPLE_DATA_DIR / SPLIT_FILES["test"], test=True)[TEXT].str.strip().tolist()


def checked_against(path: Path, explicit: str | None, allow_sample: bool) -> Path:
    """The test file to check a submission against: --test, else the test of the run that made it, else the discovered one.
    A submission made from the authored sample (by its record, or by its texts) is refused unless allowed."""
    records = making_runs(path) if path.is_file() else []
    sample = [record["run"] for record in records if record.get("sample_data")]
    if not allow_sample and (sample or (path.is_file() and sample_made(path))):
        how = (f"was made by run '{sample[0]}'" if sample else
               "holds the sample's test texts (a copy saved again: other line ends, a byte-order mark, quoting)")
        raise SubmissionError(f"{path} {how} from the kit's authored sample (data/sample), not from the competition's files: its "
                              "rows are not the competition's test; pass --allow-sample to send it anyway")
    if explicit:
        return Path(explicit)
    if not records:
        test_path = find_data_dir() / SPLIT_FILES["test"]
        print(f"No run record names {path}; checking it against {test_path} (the discovered data folder)")
        return test_path
    record = records[0]
    if len(records) > 1:
        names = [other["run"] for other in records]
        which = f"run '{record['run']}' wrote this file" if wrote(record, path) else f"none wrote this file; taking '{record['run']}'"
        print(f"{path} is byte-identical to the submissions of {len(records)} runs {names}: {which}")
    test_path = Path(record["data_dir"]) / SPLIT_FILES["test"]
    print(f"{path} was made by run '{record['run']}': checking it against that run's test file {test_path}")
    return test_path


def main(argv: list[str] | None = None) -> int:
    """`python -m utils.submission FILE -m MESSAGE [--dry-run]`: check a submission and send it to Kaggle."""
    parser = argparse.ArgumentParser(prog="python -m utils.submission", description=main.__doc__)
    parser.add_argument("file", help="the submission CSV, e.g. submissions/<run>.csv")
    parser.add_argument("-m", "--message", required=True, help="the submission's description on Kaggle")
    parser.add_argument("--competition", default=COMPETITION_SLUG)
    parser.add_argument("--test", help="the test file to check against (default: the test file of the run that made it)")
    parser.add_argument("--allow-sample", action="store_true", help="send a submission made from the authored sample data too")
    parser.add_argument("--dry-run", action="store_true", help="check the file and print the command without running it")
    args = parser.parse_args(argv)
    try:
        if not Path(args.file).is_file():
            raise SubmissionError(f"{args.file}: {'a folder, not a file' if Path(args.file).is_dir() else 'file not found'}; expected "
                                  "the submission CSV (e.g. submissions/<run>.csv)")
        test_path = checked_against(Path(args.file), args.test, args.allow_sample)
        return submit(args.file, args.message, test_path, args.competition, args.dry_run)
    except (SubmissionError, DataError, FileNotFoundError, UnreadableFileError) as error:
        print(f"Not submitted: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
