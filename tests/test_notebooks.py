"""Every notebook: committed without outputs, papermill-ready, and able to find the utils package."""
import json

import nbformat
import papermill
import pytest
from conftest import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BOOTSTRAP = """import sys
from pathlib import Path
ROOT = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "utils" / "__init__.py").is_file())
sys.path.insert(0, str(ROOT))"""


@pytest.mark.e2e
def test_a_notebook_in_notebooks_imports_utils(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(BOOTSTRAP),
        nbformat.v4.new_code_cell("from utils import seed_everything, LABELS\nseed_everything(1)\nprint(len(LABELS))"),
    ]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source, output = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(notebook, source)
    papermill.execute_notebook(str(source), str(output), cwd=str(REPO_ROOT / "notebooks"), progress_bar=False)
    printed = nbformat.read(output, as_version=4).cells[1].outputs[0]["text"]
    assert printed.strip() == "7"


def test_the_kits_notebooks_are_the_ones_the_tests_run():
    from standin_notebooks import REAL_NOTEBOOKS, STEPS

    assert [path.name for path in NOTEBOOKS] == [path.name for path in REAL_NOTEBOOKS], "a notebook renamed, added or removed"
    assert [path.stem for path in REAL_NOTEBOOKS[: len(STEPS)]] == list(STEPS), "a stand-in for each of the notebooks 01-05"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_clean_and_papermill_ready(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    nbformat.validate(nbformat.reads(path.read_text(encoding="utf-8"), as_version=4))
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert all(not cell.get("outputs") and cell.get("execution_count") is None for cell in code), "commit without outputs"
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    assert "parameters" in code[0]["metadata"].get("tags", []), "the first code cell is tagged `parameters`"
    assert "".join(code[1]["source"]).strip() == BOOTSTRAP, "the second code cell finds the utils package"
    assert notebook["cells"][0]["cell_type"] == "markdown", "a markdown header says what it reads and writes"
