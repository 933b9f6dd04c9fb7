"""The settings that name a file or folder, checked before a run starts: each names something usable, or one message says
which setting, which path and what it should be."""
from __future__ import annotations

from .paths import repo_path
from .settings import ConfigError, RunConfig
from .splits import DataError
from .text import read_slips


def check_path_settings(config: RunConfig) -> None:
    """Refuse runs_dir naming a file, a text.slips_file that is not a readable slip,fix CSV and, when the expansion is
    enabled, an expansion.external_dir or expansion.synthetic_dir that is not a folder (relative paths: from the repository
    root)."""
    runs = repo_path(config.runs_dir)
    if runs.exists() and not runs.is_dir():
        raise ConfigError(f"runs_dir: {runs} is a file; expected a folder for the runs (it is made when missing)")
    if config.text.slips_file:
        slips = repo_path(config.text.slips_file)
        if not slips.is_file():
            raise ConfigError(f"text.slips_file: {slips} is not a file; expected a CSV with the header slip,fix (or null for none)")
        try:
            read_slips(slips)
        except DataError as error:
            raise ConfigError(f"text.slips_file: {error}") from None
    folders = {"expansion.external_dir": config.expansion.external_dir, "expansion.synthetic_dir": config.expansion.synthetic_dir}
    for key, setting in folders.items():
        if config.expansion.enabled and setting and not repo_path(setting).is_dir():
            raise ConfigError(f"{key}: {repo_path(setting)} is not a folder; expected a folder of CSV files (or null for none)")
