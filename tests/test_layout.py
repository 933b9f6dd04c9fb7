"""The package's shape: one folder per stage, lower floors never import higher ones, a lazy table of public names."""
import ast
import importlib
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

import utils

PACKAGE = REPO_ROOT / "utils"
ENTRY_POINTS = {"__init__", "pipeline", "predict", "submission", "benchmark", "kaggle_kernel", "runs", "blend", "train"}


def imported_floors(path):
    """The subpackages a module imports from (relative imports only: the kit never imports itself absolutely)."""
    floors = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            parts = path.relative_to(PACKAGE).parts[:-1]
            base = list(parts[: len(parts) - node.level + 1]) + (node.module.split(".") if node.module else [])
            if base:
                floors.add(base[0])
    return floors


def test_only_entry_points_sit_outside_a_subpackage():
    loose = {path.stem for path in PACKAGE.glob("*.py")}
    assert loose == ENTRY_POINTS
    for name in ENTRY_POINTS - {"__init__"}:
        assert len((PACKAGE / f"{name}.py").read_text(encoding="utf-8").splitlines()) <= 8, f"utils/{name}.py stays a thin entry point"


@pytest.mark.parametrize("floor", utils.SUBPACKAGES)
def test_lower_floors_never_import_higher_ones(floor):
    allowed = set(utils.SUBPACKAGES[: utils.SUBPACKAGES.index(floor) + 1])
    for path in (PACKAGE / floor).glob("*.py"):
        assert imported_floors(path) <= allowed, f"{path.relative_to(REPO_ROOT)} imports {imported_floors(path) - allowed}"


def test_every_module_opens_with_a_docstring():
    for path in PACKAGE.rglob("*.py"):
        assert ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))), f"{path.relative_to(REPO_ROOT)} has no docstring"


def test_the_top_level_table_is_the_subpackages_tables_and_every_name_resolves():
    tables = {package: importlib.import_module(f"utils.{package}").__all__ for package in utils.SUBPACKAGES}
    names = [name for table in tables.values() for name in table]
    assert len(names) == len(set(names)), "a name is offered by two subpackages"
    assert sorted(names) == utils.__all__
    for package, table in tables.items():
        for name in table:
            assert getattr(utils, name) is getattr(importlib.import_module(f"utils.{package}"), name)
    with pytest.raises(AttributeError, match="has no attribute 'nothing_here'"):
        utils.nothing_here  # noqa: B018


def test_importing_utils_loads_no_heavy_library():
    code = "import sys, utils; print(sorted({'torch', 'sklearn', 'pandas', 'numpy', 'transformers', 'pydantic'} & set(sys.modules)))"
    printed = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    assert printed.strip() == "[]"


def test_every_error_the_kit_raises_for_a_user_is_a_kit_error():
    """Each exception class the kit defines shows as its one-line message in a notebook (KitError), not a traceback."""
    from utils.core.errors import KitError

    defined = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef) and node.name.endswith(("Error", "Mismatch", "Tampered")):
                defined.append(getattr(importlib.import_module(module), node.name))
    assert len(defined) >= 10
    assert [error.__name__ for error in defined if not issubclass(error, KitError)] == []
