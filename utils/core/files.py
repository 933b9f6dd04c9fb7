"""Safe file writing (a temporary name beside the target, then a rename) and lenient reading of JSON records."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import KitError


class OutputExistsError(KitError, FileExistsError):
    """Raised instead of silently overwriting a previous run's product."""


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


def read_json(path: str | os.PathLike) -> dict:
    """A JSON object from a file; {} when the file is missing or unreadable."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
