"""One writer per run folder: the pipeline holds runs/<name>/.lock, written whole in one step (never empty), naming its
holder (pid, host, the process's start time, a token); a lock whose holder is gone, or whose pid now belongs to another
process, is stale and removed with a notice, and every refusal says where the lock is, how to check it and how to clear it."""
from __future__ import annotations

import json
import os
import socket
import time
import uuid
from datetime import datetime
from pathlib import Path

import psutil

from .errors import KitError

LOCK_FILE = ".lock"
TOKEN_ENV = "KIT_RUN_LOCK"  # the holder's token, inherited by the notebook kernels it starts
UNREADABLE_GRACE = 10  # seconds an unreadable lock is left alone (another process may be writing it the old way)


class RunInUseError(KitError, RuntimeError):
    """A run folder that another live process is writing, or whose lock cannot be read yet."""


def _clock(seconds: object) -> str:
    """A process start time as a date and time ('unknown' when the lock holds none)."""
    return datetime.fromtimestamp(seconds).isoformat(timespec="seconds") if isinstance(seconds, int | float) else "unknown"


def _stale_reason(holder: dict) -> str | None:
    """Why a lock taken on this machine is stale (its process is gone, or the pid is another process now), or None."""
    pid = holder.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return f"it names no process (pid {pid!r})"
    try:
        began = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return f"process {pid} is no longer running"
    except psutil.AccessDenied:
        return None
    recorded = holder.get("process_start")
    if isinstance(recorded, int | float) and abs(began - recorded) > 1:
        return f"pid {pid} now belongs to another process (started {_clock(began)}, the holder started {_clock(recorded)})"
    return None


def lock_holder(run_dir: Path) -> dict | None:
    """Who holds the run's lock (pid, host, process_start, started, token; or just `unreadable`, its age in seconds, for a
    lock that cannot be read yet), or None when nobody does: a stale lock (its process gone or replaced, or unreadable for
    more than UNREADABLE_GRACE seconds) is removed with a notice naming it."""
    path = Path(run_dir) / LOCK_FILE
    try:
        text, age = path.read_text(encoding="utf-8"), time.time() - path.stat().st_mtime
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        holder = json.loads(text)
    except ValueError:
        holder = None
    if not isinstance(holder, dict):
        if age < UNREADABLE_GRACE:
            return {"unreadable": age}
        reason = f"it cannot be read ({'empty' if not text.strip() else 'not a lock record'}, written {age:.0f} s ago)"
    elif holder.get("host") == socket.gethostname():
        reason = _stale_reason(holder)
    else:
        reason = None
    if reason is None:
        return holder
    print(f"Notice: removed the stale lock {path}: {reason}")
    path.unlink(missing_ok=True)
    return None


def in_use_message(run_dir: Path, holder: dict) -> str:
    """Why a run cannot be written now: where its lock is, who holds it, how to check that holder and how to clear the lock."""
    path = Path(run_dir) / LOCK_FILE
    if "unreadable" in holder:
        return (f"{run_dir} is locked, but its lock file {path} cannot be read yet (written {holder['unreadable']:.0f} s ago, "
                f"perhaps by a process taking the lock now): try again in {UNREADABLE_GRACE} s; a lock still unreadable then is "
                f"removed as stale (or delete {path} yourself after checking that no pipeline or notebook of this run is running)")
    pid, host = holder.get("pid"), holder.get("host")
    return (f"{run_dir} is in use by process {pid} on {host} (process started {_clock(holder.get('process_start'))}, lock taken "
            f"{holder.get('started')}; lock file {path}): wait for it to end, or stop it first. To check it: `ps -p {pid} -o "
            f"lstart,cmd` on {host}; if that is not this run's pipeline or notebook (it ended, or its pid was reused), the lock is "
            f"stale: delete {path}")


def check_not_in_use(run_dir: Path) -> None:
    """Refuse to write a run that a live process other than this one's pipeline holds (see in_use_message)."""
    holder, mine = lock_holder(run_dir), os.environ.get(TOKEN_ENV)
    if holder and not (mine and holder.get("token") == mine):
        raise RunInUseError(in_use_message(run_dir, holder))


def _place(draft: Path, path: Path) -> None:
    """Put the written draft at `path` unless something is there (FileExistsError): a hard link, all or nothing; on a file
    system without hard links (e.g. a mounted Google Drive) an exclusive create, which an unreadable-lock grace covers."""
    try:
        os.link(draft, path)
    except FileExistsError:
        raise
    except OSError:
        with open(path, "x", encoding="utf-8") as handle:
            handle.write(draft.read_text(encoding="utf-8"))


class RunLock:
    """`with RunLock(run_dir):` holds the run folder for this process and the kernels it starts."""

    def __init__(self, run_dir: Path):
        self.path, self.token = Path(run_dir) / LOCK_FILE, uuid.uuid4().hex

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "process_start": psutil.Process().create_time(),
                  "started": datetime.now().isoformat(timespec="seconds"), "token": self.token}
        draft = self.path.with_name(f"{LOCK_FILE}.{self.token}")
        draft.write_text(json.dumps(holder), encoding="utf-8")
        try:
            for _ in range(3):  # a stale lock is removed by the check; another process may take the lock in between
                check_not_in_use(self.path.parent)
                try:
                    _place(draft, self.path)
                    break
                except FileExistsError:
                    continue
            else:
                raise RunInUseError(in_use_message(self.path.parent, lock_holder(self.path.parent) or {}))
        finally:
            draft.unlink()
        os.environ[TOKEN_ENV] = self.token
        return self

    def __exit__(self, *exc) -> None:
        os.environ.pop(TOKEN_ENV, None)
        self.path.unlink(missing_ok=True)
