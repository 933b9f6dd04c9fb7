"""Training in several processes: which process this is, starting them from notebook 03 (`accelerate launch` of
`python -m utils.train`), keeping all but the main one quiet, and checking a cluster's accelerate config before
`accelerate launch` is started with it."""
from __future__ import annotations

import codecs
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from ..core.files import UnreadableFileError, read_yaml
from ..core.paths import REPO_ROOT

REACH_SECONDS = 5.0  # how long a machine of the cluster may take to answer
PR_SET_PDEATHSIG = 1  # prctl(2): a signal for the child when its parent dies
PRCTL = ctypes.CDLL(None).prctl if sys.platform.startswith("linux") else None  # looked up before any fork: a child only calls it


def launched_processes() -> int:
    """The number of processes of the launch this process belongs to (accelerate launch, torchrun, notebook_launcher);
    1 outside one."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """True in the process that writes files and prints: the only one, or rank 0 of a launch."""
    return os.environ.get("RANK", "0") == "0"


@contextlib.contextmanager
def quiet_unless_main() -> Iterator[None]:
    """Silence stdout (prints, progress bars) in every process but the main one; errors still reach stderr."""
    if is_main_process():
        yield
        return
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        yield


def free_port() -> int:
    """A TCP port nothing listens on now (the processes' rendezvous; a fixed port would clash with another training)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launch_command(run_dir: str | Path, launch_options: list[str], train_options: list[str] = ()) -> list[str]:
    """`accelerate launch OPTIONS -m utils.train RUN_DIR TRAIN_OPTIONS` with this Python."""
    return [sys.executable, "-m", "accelerate.commands.launch", *launch_options, "-m", "utils.train", str(run_dir), *train_options]


def local_launch_options(processes: int, precision: str) -> list[str]:
    """`accelerate launch` options for `processes` processes on this machine. `--multi_gpu` is accelerate's name for several
    local processes; on a CPU the training's Accelerator makes them a gloo group (`--cpu` would start one process only)."""
    return ["--multi_gpu", "--num_processes", str(processes), "--num_machines", "1", "--main_process_port", str(free_port()),
            "--mixed_precision", precision, "--dynamo_backend", "no"]


def die_with_parent() -> None:
    """(In a child process, first thing.) Linux: SIGTERM when the process that started it dies, so no training or worker
    outlives a killed notebook (elsewhere: nothing)."""
    if PRCTL is not None:
        PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM)


def launch_training(run_dir: Path, processes: int, precision: str) -> None:
    """Train the run's neural parts in `processes` new processes (`accelerate launch`), their output shown here as it comes.

    New processes, not forks of this one: forking a notebook's process that has used OpenMP threads (torch on a CPU), CUDA
    or the tokenizers' threads can hang the children, and a new process works alike in Jupyter, papermill, Kaggle and a
    terminal. Stopping this process (Ctrl-C, the end of a Kaggle session, a kill) stops them: their output pipe closes,
    and on Linux the launcher also gets SIGTERM (`die_with_parent`), on which it stops its processes."""
    command = launch_command(run_dir, local_launch_options(processes, precision), ["--neural-only"])
    print(f"Starting {processes} training processes: accelerate launch {' '.join(command[3:])}", flush=True)
    path = os.pathsep.join(filter(None, (str(REPO_ROOT), os.environ.get("PYTHONPATH"))))
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    with subprocess.Popen(command, cwd=REPO_ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path},
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=die_with_parent) as process:
        try:
            while chunk := os.read(process.stdout.fileno(), 1 << 16):
                sys.stdout.write(decoder.decode(chunk))
                sys.stdout.flush()
        except BaseException:  # Ctrl-C or an error here: the processes stop too
            process.terminate()
            process.wait()
            raise
    if process.returncode:
        raise RuntimeError(f"the {processes} training processes failed (exit status {process.returncode}): see their output above")


def unreachable(host: str, port: int, timeout: float = REACH_SECONDS) -> str | None:
    """Why `host` cannot be reached on `port` from here, or None when it answers (a refused connection is an answer: the
    machine is there, its launch has not started yet)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except ConnectionRefusedError:
        return None
    except socket.gaierror as error:
        return f"the name does not resolve ({error.strerror})"
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except OSError as error:
        return error.strerror or str(error)


def is_local_address(host: str) -> bool:
    """True when `host` names this machine (an address it can listen on)."""
    try:
        with socket.socket() as probe:
            probe.bind((host, 0))
        return True
    except OSError:
        return False


def cluster_problems(path: str | Path, timeout: float = REACH_SECONDS) -> list[str]:
    """What would keep an accelerate config file (num_machines, machine_rank, num_processes, main_process_ip/port) from
    starting a training on this machine: values out of range, more processes than its GPUs, a main machine that is not
    this one (machine_rank 0) or that cannot be reached (the others)."""
    import torch

    path = Path(path)
    try:
        values = read_yaml(path)
    except UnreadableFileError as error:
        return [str(error)]
    except OSError as error:
        return [f"{path}: cannot be read ({error.strerror})"]
    if not isinstance(values, dict):
        return [f"{path}: expected a mapping of accelerate settings (made by `accelerate config`)"]
    numbers = {key: values.get(key, default) for key, default in
               (("num_machines", 1), ("machine_rank", 0), ("num_processes", 1), ("main_process_port", 29500))}
    wrong = [f"{key} is {value!r}; expected a whole number" for key, value in numbers.items() if not isinstance(value, int)]
    if wrong:
        return [f"{path}: {problem}" for problem in wrong]
    machines, rank, processes, port = numbers.values()
    host = values.get("main_process_ip")
    problems = []
    if machines < 1 or not 0 <= rank < machines:
        problems.append(f"machine_rank {rank} with num_machines {machines}: expected 0 to {machines - 1}")
    if processes < machines or processes % machines:
        problems.append(f"num_processes {processes} is the total over all {machines} machine(s): expected a multiple of {machines}")
    gpus = 0 if values.get("use_cpu") else torch.cuda.device_count()
    available, unit = (gpus, "GPU(s)") if gpus else (os.cpu_count() or 1, "CPU cores and no GPU")
    if machines >= 1 and processes // machines > available:
        problems.append(f"{processes // machines} process(es) per machine but this machine has {available} {unit}")
    if machines > 1 and not host:
        problems.append("main_process_ip is missing: the address of the machine with machine_rank 0")
    elif machines > 1 and rank == 0 and not is_local_address(str(host)):
        problems.append(f"main_process_ip {host} is not an address of this machine, but machine_rank 0 must run on it")
    elif machines > 1 and rank > 0 and (reason := unreachable(str(host), port, timeout)):
        problems.append(f"the main machine {host}:{port} cannot be reached from here: {reason}")
    return [f"{path}: {problem}" for problem in problems]
