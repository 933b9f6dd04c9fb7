"""Safe file writing (a temporary name beside the target, then a rename) and checked reading of the kit's JSON and YAML
files: one message naming the file (and line) instead of a traceback."""
from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import yaml

from .errors import KitError


class OutputExistsError(KitError, FileExistsError):
    """Raised instead of silently overwriting a previous run's product."""


class UnreadableFileError(KitError, ValueError):
    """A file the kit reads whose content it cannot use (not UTF-8, not valid JSON or YAML, cut short, another shape); the
    message names the file, the line where there is one, and what to do."""

    def __init__(self, message: str, path: Path | None = None):
        super().__init__(message)
        self.path = path  # the file, when the reader that refused it knows it


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    if not overwrite and path.exists():
        raise OutputExistsError(f"{path} already exists: refusing to overwrite it (choose another name or pass overwrite=True)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private; give it the usual mode
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str, overwrite: bool = True) -> Path:
    """Write UTF-8 text atomically."""
    with atomic_path(path, overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_csv(frame, path: str | os.PathLike, overwrite: bool = True) -> Path:
    """Write a DataFrame as UTF-8 CSV without its index, atomically."""
    with atomic_path(path, overwrite) as tmp:
        frame.to_csv(tmp, index=False, encoding="utf-8")
    return Path(path)


def _refuse(path: Path, problem: str, fix: str) -> UnreadableFileError:
    return UnreadableFileError(f"{path}{problem}" + (f": {fix}" if fix else ""), path)


def read_utf8(path: str | os.PathLike, fix: str = "") -> str:
    """A file's text, UTF-8 (a byte-order mark is dropped); anything else is refused naming the file and the line."""
    path = Path(path)
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise _refuse(path, f", line {line}: not UTF-8 (byte 0x{raw[error.start]:02x}; saved as Windows-1251?); the kit reads "
                            "these files as UTF-8: re-save it as UTF-8", fix) from None


def read_json(path: str | os.PathLike, fix: str = "") -> dict:
    """A JSON object from a file ({} when there is no file); a file that is not one (empty, cut short, not UTF-8) is refused
    with UnreadableFileError naming it and the line, followed by `fix` (what to do)."""
    path = Path(path)
    if not path.is_file():
        return {}
    text = read_utf8(path, fix)
    if not text.strip():
        raise _refuse(path, ": empty (cut short when it was written?)", fix)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise _refuse(path, f", line {error.lineno}: not valid JSON ({error.msg}; cut short or edited?)", fix) from None
    if not isinstance(value, dict):
        raise _refuse(path, f": expected a JSON object ({{...}}), found {type(value).__name__}", fix)
    return value


def read_yaml(path: str | os.PathLike, fix: str = ""):
    """Plain YAML values from a UTF-8 file (safe: a python or other tag is refused, nothing is run); a file that cannot be
    read is refused with UnreadableFileError naming it and the line, followed by `fix`."""
    path = Path(path)
    text = read_utf8(path, fix)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = str(getattr(error, "problem", None) or error).strip()
        tag = re.search(r"tag '([^']+)'", problem)
        if isinstance(error, yaml.constructor.ConstructorError) and tag:
            problem = (f"the tag {tag.group(1).replace('tag:yaml.org,2002:', '!!')!r} is refused: the kit reads plain values "
                       "(numbers, text, lists, mappings) and never runs what a file names")
        else:
            problem = f"not valid YAML ({problem})"
        raise _refuse(path, f"{where}: {problem}", fix) from None
