"""A run's lock never blocks for good: it is written whole, a stale one (empty, unreadable, or whose pid is another process
now) is removed with a notice, and every refusal names the lock file, its holder, how to check it and how to clear it."""
import json
import os
import socket
import subprocess
import sys
import time

import psutil
import pytest
from conftest import REPO_ROOT

from utils.core.run_lock import LOCK_FILE, UNREADABLE_GRACE, RunInUseError, RunLock, check_not_in_use, lock_holder


@pytest.fixture
def sleeper():
    """A live process that is not a holder of any lock."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


def write_lock(run_dir, content, age=0.0):
    path = run_dir / LOCK_FILE
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    os.utime(path, (time.time() - age, time.time() - age))
    return path


@pytest.mark.parametrize("content", ["", "{\"pid\": 12", "[]"])
def test_an_unreadable_lock_is_stale_after_a_few_seconds(tmp_path, capsys, content):
    path = write_lock(tmp_path, content, age=UNREADABLE_GRACE + 5)
    with RunLock(tmp_path):
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert f"Notice: removed the stale lock {path}: it cannot be read" in capsys.readouterr().out


def test_a_fresh_unreadable_lock_is_named_with_how_to_clear_it(tmp_path):
    path = write_lock(tmp_path, "")
    with pytest.raises(RunInUseError) as refused:
        check_not_in_use(tmp_path)
    message = str(refused.value)
    assert f"its lock file {path} cannot be read yet" in message and f"try again in {UNREADABLE_GRACE} s" in message
    assert f"delete {path} yourself after checking" in message and path.exists()


def test_a_lock_whose_pid_is_another_process_now_is_stale(tmp_path, capsys, sleeper):
    began = psutil.Process(sleeper.pid).create_time()
    path = write_lock(tmp_path, {"pid": sleeper.pid, "host": socket.gethostname(), "process_start": began - 3600,
                                 "started": "earlier", "token": "old"})
    assert lock_holder(tmp_path) is None and not path.exists()
    assert f"removed the stale lock {path}: pid {sleeper.pid} now belongs to another process" in capsys.readouterr().out


@pytest.mark.parametrize("host", ["this", "elsewhere"])
def test_a_live_holder_is_refused_with_where_the_lock_is_and_how_to_check_and_clear_it(tmp_path, sleeper, host):
    host = socket.gethostname() if host == "this" else "elsewhere.example"
    holder = {"pid": sleeper.pid, "host": host, "process_start": psutil.Process(sleeper.pid).create_time(),
              "started": "2026-01-02T03:04:05", "token": "theirs"}
    path = write_lock(tmp_path, holder, age=3600)  # an old lock of a live holder is still held
    with pytest.raises(RunInUseError) as refused:
        RunLock(tmp_path).__enter__()
    message = str(refused.value)
    assert f"{tmp_path} is in use by process {sleeper.pid} on {host} (process started " in message
    assert f"lock taken 2026-01-02T03:04:05; lock file {path})" in message
    assert f"`ps -p {sleeper.pid} -o lstart,cmd` on {host}" in message and f"the lock is stale: delete {path}" in message
    assert json.loads(path.read_text()) == holder and sorted(p.name for p in tmp_path.iterdir()) == [LOCK_FILE]


def test_the_lock_is_written_whole_and_names_its_holder(tmp_path):
    with RunLock(tmp_path) as lock:
        holder = json.loads(lock.path.read_text())
        assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_FILE], "no draft is left beside it"
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname() and holder["token"] == lock.token
        assert holder["process_start"] == psutil.Process().create_time()
        other = subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; from utils.core.run_lock import RunLock\n"
                                "RunLock(Path(sys.argv[1])).__enter__()", str(tmp_path)],
                               cwd=REPO_ROOT, capture_output=True, text=True, env={**os.environ, "KIT_RUN_LOCK": ""})
        assert other.returncode != 0 and f"is in use by process {os.getpid()}" in other.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_FILE]
    assert list(tmp_path.iterdir()) == []


def test_a_file_system_without_hard_links_still_gets_a_whole_lock(tmp_path, monkeypatch):
    from utils.core import run_lock

    def no_links(source, target):
        raise PermissionError(1, "Operation not permitted")  # what a FUSE mount such as Google Drive answers

    monkeypatch.setattr(run_lock.os, "link", no_links)
    with RunLock(tmp_path):
        holder = json.loads((tmp_path / LOCK_FILE).read_text(encoding="utf-8"))
        assert holder["pid"] == os.getpid() and holder["token"]
        monkeypatch.delenv(run_lock.TOKEN_ENV)  # as another process of this machine sees the run
        with pytest.raises(RunInUseError, match="is in use by process"):
            check_not_in_use(tmp_path)
    assert list(tmp_path.iterdir()) == [], "the lock and its draft are gone"
