"""Where the kit runs (Kaggle, Colab, a local machine) and installing only the packages that are missing."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements.txt"
PREINSTALLED_ON_HOSTS = ("torch", "transformers", "tokenizers", "safetensors")  # never reinstalled by the kit


def is_kaggle() -> bool:
    """True inside a Kaggle kernel."""
    return "KAGGLE_KERNEL_RUN_TYPE" in os.environ or Path("/kaggle/input").is_dir()


def is_colab() -> bool:
    """True inside Google Colab."""
    return "COLAB_RELEASE_TAG" in os.environ or "google.colab" in sys.modules


def read_requirements(path: str | Path = REQUIREMENTS) -> list[tuple[str, str]]:
    """(distribution name, full requirement line) for each requirement in a requirements file."""
    pairs = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            pairs.append((re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0], line))
    return pairs


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
        return True
    except metadata.PackageNotFoundError:
        return False


def missing_requirements(path: str | Path = REQUIREMENTS, skip: tuple[str, ...] = PREINSTALLED_ON_HOSTS) -> list[str]:
    """Requirement lines whose package is not installed at any version; `skip` names are never listed."""
    skipped = {name.lower() for name in skip}
    return [line for name, line in read_requirements(path) if name.lower() not in skipped and not _installed(name)]


def install_missing(path: str | Path = REQUIREMENTS, dry_run: bool = False) -> list[str]:
    """pip-install only what is missing (never torch or transformers, which hosted notebooks already have)."""
    missing = missing_requirements(path)
    if not missing:
        print("All required packages are already installed.")
        return []
    command = [sys.executable, "-m", "pip", "install", "-q", *missing]
    print("Installing the missing packages:", " ".join(missing))
    if not dry_run:
        subprocess.run(command, check=True)
    return missing
