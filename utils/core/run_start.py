"""What every notebook does first: settings, data folder, a check of its inputs and the record, seeds, params.yaml."""
from __future__ import annotations

from pathlib import Path

from .data_dir import find_data_dir
from .path_settings import check_path_settings
from .run_lock import check_not_in_use
from .run_record import begin_step
from .seed import seed_everything
from .settings import RunConfig
from .settings_io import load_config, save_config


def start_run(
    config_file: str | Path | None = None,
    overrides: dict | list[str] | None = None,
    data_dir: str | Path | None = None,
    run_name: str | None = None,
    notebook: str | None = None,
) -> RunConfig:
    """Load the settings and find the data; for one of the kit's notebooks, refuse stale inputs and record it as
    running; then seed everything and write params.yaml."""
    config = load_config(config_file, overrides)
    config = config.replace(name=config.name if run_name is None else run_name)
    check_path_settings(config)
    config = config.replace(data_dir=str(find_data_dir(data_dir or config.data_dir).resolve()))
    check_not_in_use(config.run_dir)
    if notebook:
        begin_step(config, notebook)
    seed_everything(config.seed)
    save_config(config)
    print(f"Run '{config.name}': data from {config.data_dir}, products in {config.run_dir}")
    return config

