"""Package names that import their module on first use (PEP 562), so `import utils` stays fast.

Hand-written rather than the lazy_loader package: the kit must import on Kaggle and Colab before
`install_missing()` has installed anything.
"""
from importlib import import_module


def lazy_exports(package: str, modules: dict[str, list[str]]):
    """`__getattr__`, `__dir__` and `__all__` for a package whose public names live in `modules` (module -> names)."""
    owner = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str):
        if name not in owner:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(f"{package}.{owner[name]}"), name)

    def __dir__() -> list[str]:
        return sorted(owner)

    return __getattr__, __dir__, sorted(owner)
