"""`python -m utils.train`: notebook 03 as a script on a run folder, the entry point `accelerate launch` runs on one machine
or several.

    python -m utils.train runs/<name> [-p key=value ...]                       # one process, or train.num_processes of them
    accelerate launch --config_file cluster.yaml -m utils.train runs/<name>    # every process of every machine
    python -m utils.train runs/<name> --accelerate-config cluster.yaml         # check the config here, then the line above

The run folder holds the run's params.yaml (written by the run's first notebook); `-p` settings apply on top and are
written back. Only the main process prints and writes.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..core.data_dir import find_data_dir
from ..core.files import UnreadableFileError
from ..core.run_record import StaleProductError, begin_step, finish_step
from ..core.seed import seed_everything
from ..core.settings import ConfigError, RunConfig, check_run_name
from ..core.settings_io import load_config, parse_overrides, save_config
from .contract import TRAINING
from .distributed import cluster_problems, is_main_process, launch_command, quiet_unless_main
from .resume import CheckpointMismatch

PARAMS_FILE = "params.yaml"


def run_settings(run_dir: Path, overrides: list[str]) -> RunConfig:
    """The run's params.yaml with `overrides` on top, for the run folder wherever it is now (its name is the folder's, a run
    name); every process computes the same."""
    run_dir = run_dir.resolve()
    check_run_name(run_dir.name)
    if not (run_dir / PARAMS_FILE).is_file():
        raise FileNotFoundError(f"{run_dir / PARAMS_FILE} not found: start the run with its first notebooks "
                                f"(python -m utils.pipeline --run {run_dir.name} ...), then train it here")
    changes = {**parse_overrides(overrides), "runs_dir": str(run_dir.parent)}
    config = load_config(run_dir / PARAMS_FILE, changes).replace(name=run_dir.name)
    return config.replace(data_dir=str(find_data_dir(config.data_dir).resolve()))


def train_run(run_dir: Path, overrides: list[str], neural_only: bool = False) -> None:
    """Notebook 03's calls on the run folder in this process (one of a launch, or the only one); `neural_only`: only the
    neural parts into the checkpoints, for notebook 03 that started this launch and finishes the run."""
    from .notebook import load_training_data, train_model, train_neural_parts, write_training_report

    config = run_settings(run_dir, overrides)
    if is_main_process() and not neural_only:
        begin_step(config, TRAINING)  # as notebook 03: stale inputs are refused, the run's record says it is training
        save_config(config)
    seed_everything(config.seed)
    data = load_training_data(config)
    if neural_only:
        train_neural_parts(config, data)
        return
    result = train_model(config, data)
    if is_main_process():
        write_training_report(config, data, result)
        finish_step(config, TRAINING)


def main(argv: list[str] | None = None) -> int:
    """Exit status 0 when trained, 2 when refused before training (settings, run folder, checkpoints, cluster config)."""
    parser = argparse.ArgumentParser(prog="python -m utils.train", description="Train a run (notebook 03) as a script.")
    parser.add_argument("run_dir", help="the run folder, e.g. runs/first (holding its params.yaml)")
    parser.add_argument("-p", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting on top of the run's params.yaml (repeatable)")
    parser.add_argument("--accelerate-config", metavar="FILE",
                        help="check this accelerate config (machines, ranks, processes, reachability), then run accelerate launch with it")
    parser.add_argument("--neural-only", action="store_true",
                        help="only train the neural model(s) into model/checkpoints/ (notebook 03 starts its processes so)")
    args = parser.parse_args(argv)
    if args.accelerate_config:
        problems = cluster_problems(args.accelerate_config)
        if problems:
            print("Not started: " + "; ".join(problems), file=sys.stderr)
            return 2
        command = launch_command(args.run_dir, ["--config_file", args.accelerate_config],
                                 [part for item in args.overrides for part in ("-p", item)])
        os.execv(command[0], command)
    try:
        with quiet_unless_main():
            train_run(Path(args.run_dir), args.overrides, args.neural_only)
    except (ConfigError, FileNotFoundError, CheckpointMismatch, StaleProductError, UnreadableFileError) as error:
        print(f"Not trained: {error}", file=sys.stderr)
        return 2
    return 0
