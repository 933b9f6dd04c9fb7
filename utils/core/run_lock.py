"""One writer per run folder: the pipeline holds runs/<name>/.lock; a lock left by a process that died is detected."""
from __future__ import annotations

import json
import os
import socket
import uuid
from datetime import datetime
from pathlib import Path

LOCK_FILE = ".lock"
TOKEN_ENV = "KIT_RUN_LOCK"  # the holder's token, inherited by the notebook kernels it starts


class RunInUseError(RuntimeError):
    """A run folder that another live process is writing."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_holder(run_dir: Path) -> dict | None:
    """Who holds the run's lock (pid, host, started, token), or None when nobody live does (a dead holder's lock is removed)."""
    path = Path(run_dir) / LOCK_FILE
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if holder.get("host") == socket.gethostname() and not _alive(int(holder.get("pid", 0))):
        print(f"Notice: removed the lock of {run_dir} left by process {holder.get('pid')}, which is no longer running")
        path.unlink(missing_ok=True)
        return None
    return holder


def check_not_in_use(run_dir: Path) -> None:
    """Refuse to write a run that a live process other than this one's pipeline holds."""
    holder = lock_holder(run_dir)
    if holder and holder.get("token") != os.environ.get(TOKEN_ENV):
        raise RunInUseError(f"{run_dir} is in use by process {holder['pid']} on {holder['host']} (since {holder['started']}): "
                            "wait for it to end, or stop it first")


class RunLock:
    """`with RunLock(run_dir):` holds the run folder for this process and the kernels it starts."""

    def __init__(self, run_dir: Path):
        self.path, self.token = Path(run_dir) / LOCK_FILE, uuid.uuid4().hex

    def __enter__(self) -> RunLock:
        check_not_in_use(self.path.parent)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "started": datetime.now().isoformat(timespec="seconds"),
                  "token": self.token}
        try:
            with open(self.path, "x", encoding="utf-8") as handle:
                json.dump(holder, handle)
        except FileExistsError:
            raise RunInUseError(f"{self.path.parent} was locked by another process a moment ago: try again later") from None
        os.environ[TOKEN_ENV] = self.token
        return self

    def __exit__(self, *exc) -> None:
        os.environ.pop(TOKEN_ENV, None)
        self.path.unlink(missing_ok=True)
