"""Shared fixtures: the sample data folder, the shared competition data (skipped when absent), CSV writers."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
SAMPLE_DIR = REPO_ROOT / "data" / "sample"
SHARED_DATA = Path(os.environ.get("KIT_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
HEADER = "text,anger,disgust,fear,joy,sadness,surprise,neutral"


@pytest.fixture
def sample_dir() -> Path:
    return SAMPLE_DIR


@pytest.fixture
def competition_dir() -> Path:
    folder = SHARED_DATA / "cryptonite"
    if not (folder / "valid.csv").is_file():
        pytest.skip(f"competition data not found at {folder}")
    return folder


@pytest.fixture
def write_file(tmp_path):
    """Write text (UTF-8 unless an encoding is given) or bytes to a file in a temporary folder."""

    def write(name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
        return path

    return write


def record_step(config, notebook: str, write, **facts):
    """Make a notebook's products as the notebook does: begin its record, `write()` the products, finish the record."""
    from utils.core.run_record import begin_step, finish_step

    begin_step(config, notebook)
    write()
    finish_step(config, notebook, **facts)


def notebook_figures(folder: Path) -> list[bytes]:
    """The PNG outputs of every notebook in a folder, decoded."""
    import base64

    import nbformat

    outputs = [output for path in sorted(folder.glob("*.ipynb")) for cell in nbformat.read(path, as_version=4).cells
               for output in cell.get("outputs", [])]
    return [base64.b64decode(output["data"]["image/png"]) for output in outputs if "image/png" in output.get("data", {})]


def html_figures(html: str) -> set[bytes]:
    """The PNGs embedded in an HTML page as data URIs, decoded."""
    import base64
    import re

    return {base64.b64decode(payload) for payload in re.findall(r'src="data:image/png;base64,([^"]+)"', html)}
