"""Members export themselves (issue 24): a kind defined here names its runtime class and writes its own export; a finished run
of it (made in-process, no notebook) is exported, checked against the kind's own predictions and answered by
`utils.predict`'s loader from the export; a kind without an export, a runtime that answers otherwise and an export of an
older format are refused in one line."""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLE_DIR

from utils.core.member_kinds import MemberKind
from utils.core.settings import MemberSettings
from utils.export.manifest import EXPORT_DIR, MANIFEST, stale_reasons
from utils.export.runtime import ExportedPredictor, runtime_class
from utils.export.writer import NotExportableError, export_run

SLOPES = "slopes.npy"


class LengthSettings(MemberSettings):
    kind: str = "test_export_plugins:TextLength"


class TextLength(MemberKind):
    """A toy member: each label's probability is a logistic function of the text's length, its slope and offset fixed."""

    kind = "test_export_plugins:TextLength"
    description = "a logistic function of the text's length per label"
    settings = LengthSettings
    export_runtime = "test_export_plugins:TextLengthRuntime"
    slopes = np.array([[0.01, -0.02, 0.03, 0.0, 0.05, -0.01, 0.02], [-1.0, 0.5, -0.5, 0.2, -2.0, 0.0, 1.0]])

    @classmethod
    def load(cls, name, folder, device="cpu"):
        member = cls(name, LengthSettings())
        member.slopes = np.load(folder / SLOPES)
        return member

    def predict(self, texts, part=None, batch_size=256) -> np.ndarray:
        return length_probs(self.slopes, texts)

    def export(self, folder: Path, float16: bool = False) -> None:
        folder.mkdir(parents=True)
        np.save(folder / SLOPES, self.slopes)


def length_probs(slopes: np.ndarray, texts) -> np.ndarray:
    lengths = np.array([len(text) for text in texts], dtype=float)[:, None]
    return 1 / (1 + np.exp(-(lengths * slopes[0] + slopes[1])))


class TextLengthRuntime:
    """The toy's runtime: reads the slopes its kind exported."""

    def __init__(self, folder: Path):
        self.slopes = np.load(folder / SLOPES)

    def probs(self, texts, batch_size=256) -> np.ndarray:
        return length_probs(self.slopes, texts)


class OffRuntime(TextLengthRuntime):
    def probs(self, texts, batch_size=256) -> np.ndarray:
        return super().probs(texts) + 1e-3


class OffByAThousandth(TextLength):
    kind = "test_export_plugins:OffByAThousandth"
    export_runtime = "test_export_plugins:OffRuntime"


class NoExport(TextLength):
    kind = "test_export_plugins:NoExport"
    export_runtime = None


def finished_run(root: Path, kind: str) -> Path:
    """A run whose only member is of `kind`, recorded as notebook 03 records it (the toy's slopes in members/toy/)."""
    from utils.core.run_record import finish_step
    from utils.core.run_start import start_run

    overrides = {"runs_dir": str(root), "members": {"neural": None, "tfidf": None, "toy": {"kind": kind}}}
    with contextlib.redirect_stdout(io.StringIO()):
        config = start_run(overrides=overrides, data_dir=SAMPLE_DIR, run_name="toy", notebook="03_training")
        (config.run_dir / "members" / "toy").mkdir(parents=True)
        np.save(config.run_dir / "members" / "toy" / SLOPES, TextLength.slopes)
        finish_step(config, "03_training")
    return config.run_dir


def test_a_kind_of_ones_own_exports_itself_and_predict_answers_from_the_export(tmp_path, capsys):
    from utils.inference.cli import describe_text, load_predictor

    run_dir = finished_run(tmp_path, TextLength.kind)
    export_run(run_dir)
    manifest = json.loads((run_dir / EXPORT_DIR / MANIFEST).read_text(encoding="utf-8"))
    assert [(m["name"], m["kind"], m["runtime"], m["weight"]) for m in manifest["members"]] == [
        ("toy", TextLength.kind, TextLength.export_runtime, 1.0)]
    assert manifest["checked"]["max_difference"] == {"toy": 0.0} and manifest["checked"]["texts"] > 100  # the sample's valid texts
    predictor = load_predictor(run_dir, "auto")
    assert isinstance(predictor, ExportedPredictor) and isinstance(predictor.members["toy"], TextLengthRuntime)
    texts = ["коротко", "текст " * 40]
    assert np.allclose(predictor.probs(texts), length_probs(TextLength.slopes, texts))
    assert "Notice" in capsys.readouterr().out  # notebook 04 has not run: 0.5 for every label
    expected = length_probs(TextLength.slopes, ["ну и дела"])[0]
    lines = describe_text(predictor, "ну и дела").splitlines()
    assert [line.split()[0] for line in lines[1:]] == [predictor.labels[j] for j in np.argsort(-expected)]
    assert [line.split()[2] for line in lines[1:]] == ["yes" if p >= 0.5 else "no" for p in sorted(expected, reverse=True)]


@pytest.mark.parametrize(("kind", "message"), [
    (NoExport.kind, r"member 'toy' \(kind test_export_plugins:NoExport\) cannot be exported: its kind has no export$"),
    (OffByAThousandth.kind, r"the exported member 'toy' differs from the training stack by 1\.00e-03 \(more than 1e-05\) on \d+ texts$"),
])
def test_a_member_its_kind_cannot_export_or_whose_runtime_answers_otherwise_is_refused(tmp_path, kind, message):
    run_dir = finished_run(tmp_path, kind)
    with pytest.raises(NotExportableError, match=message):
        export_run(run_dir)
    assert not (run_dir / EXPORT_DIR).exists() and not (run_dir / f".{EXPORT_DIR}.tmp").exists()


def test_the_kits_kinds_name_their_runtime_or_say_why_they_have_none():
    from utils.core.member_kinds import kit_kinds

    kinds = kit_kinds()
    assert runtime_class(kinds["bigru"].export_runtime).__name__ == "OnnxBiGru"
    assert runtime_class(kinds["tfidf"].export_runtime).__name__ == "TfidfArrays"
    assert kinds["encoder"].export_runtime is None and "Hugging Face" in kinds["encoder"].no_export
    with pytest.raises(ValueError, match=r"member runtime 'utils\.export:Nothing' cannot be imported .*expected 'module:Class'"):
        runtime_class("utils.export:Nothing")


def test_an_export_of_an_older_format_is_stale_and_refused(tmp_path):
    run_dir = finished_run(tmp_path, TextLength.kind)
    export_run(run_dir)
    path = run_dir / EXPORT_DIR / MANIFEST
    path.write_text(json.dumps({**json.loads(path.read_text(encoding="utf-8")), "format_version": 1}), encoding="utf-8")
    expected = "the export is of format 1, this kit reads format 2: export the run again"
    assert stale_reasons(run_dir, run_dir / EXPORT_DIR) == [expected]
    with pytest.raises(ValueError, match=f"{EXPORT_DIR}: {expected}$"):
        ExportedPredictor.from_folder(run_dir / EXPORT_DIR)
