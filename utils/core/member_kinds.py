"""Kinds of ensemble member: the protocol each kind implements and the registry of kinds. The kit's own kinds live in the
package KIND_PACKAGE (imported on first use); a kind of your own is a class in any importable module, named "module:Class"."""
from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .paths import MEMBERS_DIR, MODEL_DIR

if TYPE_CHECKING:
    import numpy as np

    from .settings import MemberSettings

KIND_PACKAGE = "utils.members"  # its KIND_MODULES register the kit's kinds; its DEFAULT_MEMBERS are the default run's members
KINDS: dict[str, type[MemberKind]] = {}


class MemberKind:
    """One kind of member: trains on the run's folds (out-of-fold valid probabilities), saves, loads, predicts texts."""

    kind: ClassVar[str]  # its name in members.<name>.kind
    description: ClassVar[str]  # what it is, in a few words
    device: ClassVar[str] = "CPU"  # "CPU" or "GPU": where it is meant to train
    settings: ClassVar[type[MemberSettings]]  # its settings (kind and weight, and its own)
    section: ClassVar[str] = "members.<name>"  # where its settings are written, as `python -m utils.members` lists it
    neural: ClassVar[bool] = False  # True: notebook 03's network, trained in its own processes into model/ (one per run)
    legacy_section: ClassVar[str | None] = None  # a top-level settings section of older runs mapped onto this kind's member
    run_settings: ClassVar[dict[str, str]] = {}  # its keys that are the run's settings, e.g. {"backbone": "model.backbone"}
    export_runtime: ClassVar[str | None] = None  # "module:Class" running its export with numpy/onnxruntime alone; None: no export
    no_export: ClassVar[str] = "its kind has no export"  # why not, said when export_runtime is None

    def __init__(self, name: str, settings: MemberSettings):
        self.name, self.settings = name, settings

    @classmethod
    def chosen_kind(cls, run_values: dict) -> str:
        """The kind a member declared as this one is under the run's other settings (the raw mapping); itself by default."""
        return cls.kind

    def train(self, run: Any) -> np.ndarray:
        """Fit on the run's folds (utils.training.members_of_run.MemberRun) and save into `run.folder`; the (n_valid, 7)
        out-of-fold probabilities of the held-out rows as scored (the k-th part scores the k-th fold's rows)."""
        raise NotImplementedError

    @classmethod
    def load(cls, name: str, folder: Path, device: str = "cpu") -> MemberKind:
        """The member saved in `folder`."""
        raise NotImplementedError

    def predict(self, texts: Sequence[str], part: int | None = None, batch_size: int = 256) -> np.ndarray:
        """(n, 7) probabilities in the input order: of the k-th part (trained without fold k), or the mean of all parts."""
        raise NotImplementedError

    def export_problem(self) -> str | None:
        """Why this loaded member cannot be exported (None: it can), for a kind with an `export_runtime`."""
        return None

    def export(self, folder: Path, float16: bool = False) -> None:
        """Write into `folder` what `export_runtime` reads: its `Class(folder).probs(texts, batch_size)` must give this member's
        `predict(texts)` (within 1e-5, checked on export) without importing torch or scikit-learn. `float16`: large float
        tables may be stored in half precision (then within 1e-3, with every decision of the run's texts unchanged)."""
        raise NotImplementedError

    def predict_held_out(self, run: Any, texts: Sequence[str]) -> np.ndarray:
        """(n_valid, 7): the valid rows, written as `texts`, each predicted by the part that did not train on it."""
        import numpy as np

        from .splits import LABELS

        probs = np.zeros((len(texts), len(LABELS)))
        for k, (_, held_out) in enumerate(run.folds or [(np.arange(0), np.arange(len(texts)))]):
            probs[held_out] = self.predict([texts[i] for i in held_out], k)
        return probs


def member_folder(name: str, kind: type[MemberKind]) -> str:
    """Where a member lives in the run folder: model/ for the neural member, members/<name>/ for every other."""
    return MODEL_DIR if kind.neural else f"{MEMBERS_DIR}/{name}"


def register_kind(kind: type[MemberKind]) -> type[MemberKind]:
    """Add a kind to the registry (a class decorator); a second kind of the same name is refused."""
    if KINDS.get(kind.kind, kind) is not kind:
        raise ValueError(f"member kind {kind.kind!r} is registered twice ({KINDS[kind.kind].__module__} and {kind.__module__})")
    KINDS[kind.kind] = kind
    return kind


def kit_kinds() -> dict[str, type[MemberKind]]:
    """Every registered kind, the kit's own imported first."""
    package = import_module(KIND_PACKAGE)
    for module in package.KIND_MODULES:
        import_module(f"{KIND_PACKAGE}.{module}")
    return KINDS


def default_members() -> dict:
    """The default run's members, as settings values."""
    import copy

    return copy.deepcopy(import_module(KIND_PACKAGE).DEFAULT_MEMBERS)


def kind_class(kind: str) -> type[MemberKind]:
    """The class of a kind: a registered name, or "module:Class" of your own; ValueError names the accepted ones."""
    if ":" in kind:
        module, _, name = kind.partition(":")
        try:
            found = getattr(import_module(module), name)
        except (ImportError, AttributeError) as error:
            raise ValueError(f"member kind {kind!r}: {error}; a kind of your own is 'module:Class', the module importable") from None
        if not (isinstance(found, type) and issubclass(found, MemberKind)):
            raise ValueError(f"member kind {kind!r} is not a MemberKind subclass (utils.core.member_kinds.MemberKind)")
        return found
    if kind not in kit_kinds():
        raise ValueError(f"member kind {kind!r} is unknown; accepted: {sorted(KINDS)} or 'module:Class' (python -m utils.members)")
    return KINDS[kind]
