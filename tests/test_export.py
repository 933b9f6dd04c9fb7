"""The export (issue 24): a tiny k-fold run of two seeds with both members, made in-process, exported; the export answers as the training
stack does (probabilities within 1e-5, the same decisions), its TF-IDF transform is scikit-learn's, nothing is pickled, and
`utils.predict` uses it only while it is fresh, without importing torch, scikit-learn or pandas."""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import subprocess
import sys
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT, SAMPLE_DIR

from utils.core.labels import LABELS
from utils.core.splits import label_matrix, read_split
from utils.export.agreement import EDGE_TEXTS
from utils.export.manifest import EXPORT_DIR, MANIFEST, RUN_RECORD
from utils.export.runtime import DecisionRule, ExportedPredictor
from utils.export.writer import export_run
from utils.members.text_pipeline import read_lines
from utils.members.tfidf_arrays import TfidfArrays

TINY_RUN = {"train.folds": 2, "train.seeds": 2, "train.epochs": 1, "train.num_threads": 1, "model.navec.hidden_size": 16,
            "model.head.hidden_size": 16, "members.tfidf.max_iter": 50, "members.tfidf.weight": 3,
            "train.member_weights": "settings"}
NEW_WORDS = ["энциклопедия", "дирижабль", "пылесосить"]  # in navec, absent from the sample: the open vocabulary gives their vectors
HEAVY = "import sys; {code}; print(sorted({{'torch', 'sklearn', 'pandas'}} & set(sys.modules)))"


class InProcessPool:
    """Stands for the worker pool notebook 03 trains the TF-IDF member in: runs it here (the fast tier starts no process)."""

    def __init__(self, **_):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *_):
        return False

    def submit(self, function, *args):
        future = Future()
        future.set_result(function(*args))
        return future


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A finished run of notebooks 03 and 04 (2 seeds x 2 fold BiGRUs + the TF-IDF member weighted 3:1, tuned thresholds), exported."""
    from utils.core.run_record import finish_step
    from utils.core.run_start import start_run
    from utils.thresholds.notebook import tune_thresholds
    from utils.training import notebook

    root = tmp_path_factory.mktemp("export_run")
    overrides = {"runs_dir": str(root), **TINY_RUN}
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(io.StringIO()):
        patch.setattr(notebook, "ProcessPoolExecutor", InProcessPool)
        config = start_run(overrides=overrides, data_dir=SAMPLE_DIR, run_name="tiny", notebook="03_training")
        data = notebook.load_training_data(config)
        notebook.write_training_report(config, data, notebook.train_model(config, data))
        finish_step(config, "03_training")
        config = start_run(overrides=overrides, data_dir=SAMPLE_DIR, run_name="tiny", notebook="04_threshold_search")
        tune_thresholds(config.run_dir, label_matrix(data.valid), config.thresholds, config.seed)
        finish_step(config, "04_threshold_search")
        export_run(config.run_dir)
    return config.run_dir


def sample_texts() -> list[str]:
    texts = [*read_split(SAMPLE_DIR / "valid.csv").text, *read_split(SAMPLE_DIR / "test_without_answers.csv", test=True).text]
    return [*texts, *EDGE_TEXTS, " ".join(NEW_WORDS), f"мой {NEW_WORDS[0]} 😱", "?!", "ё"]


def test_the_export_answers_as_the_training_stack(run_dir):
    from utils.inference.predictor import Predictor

    run_words = set(read_lines(run_dir / EXPORT_DIR / "neural" / "run_words.txt.gz"))
    assert not run_words & set(NEW_WORDS)  # so the texts below take the open vocabulary's path
    texts = sample_texts()
    torch_predictor, exported = Predictor.from_run(run_dir), ExportedPredictor.from_folder(run_dir / EXPORT_DIR)
    expected, probs = torch_predictor.probs(texts), exported.probs(texts)
    assert probs.shape == (len(texts), 7) and np.abs(probs - expected).max() < 1e-5
    assert np.abs(exported.raw_probs(texts, batch_size=7) - torch_predictor.raw_probs(texts)).max() < 1e-5  # other batches
    assert (exported.decide(probs) == torch_predictor.decide(expected)).all()
    assert exported.labels == LABELS and exported.decide(probs).sum() > 0


def test_the_numpy_tfidf_transform_is_scikit_learns_row_by_row(run_dir):
    from utils.members.tfidf import TfidfClassifier

    texts = sample_texts()
    member, arrays = TfidfClassifier.load(run_dir / "members" / "tfidf"), TfidfArrays(run_dir / EXPORT_DIR / "tfidf")
    expected = member.features(texts)
    indptr, indices, values = arrays.features([arrays.preprocess(text) for text in texts])
    for row in range(len(texts)):
        dense = np.zeros(expected.shape[1], dtype=np.float32)
        dense[indices[indptr[row] : indptr[row + 1]]] = values[indptr[row] : indptr[row + 1]]
        assert np.abs(dense - expected[[row]].toarray()[0]).max() <= 1e-9, texts[row]
    assert np.abs(arrays.probs(texts) - member.probs(texts)).max() < 1e-5


def test_the_manifest_hashes_every_file_and_nothing_is_pickled(run_dir):
    import onnx

    export = run_dir / EXPORT_DIR
    manifest = json.loads((export / MANIFEST).read_text(encoding="utf-8"))
    files = sorted(p for p in export.rglob("*") if p.is_file() and p.name != MANIFEST)
    assert sorted(manifest["files"]) == [p.relative_to(export).as_posix() for p in files]
    assert all(manifest["files"][p.relative_to(export).as_posix()] == hashlib.sha256(p.read_bytes()).hexdigest() for p in files)
    assert {p.suffix for p in files} == {".npy", ".gz", ".json", ".onnx"}  # .gz: word lists, one a line
    for path in export.rglob("*.npy"):
        np.load(path, allow_pickle=False)
    onnx.checker.check_model(str(export / "neural" / "bigru.onnx"))
    record = json.loads((run_dir / RUN_RECORD).read_text(encoding="utf-8"))
    assert manifest["made_from"] == {"model": record["steps"]["03_training"]["products"]["model"],
                                     "members": record["steps"]["03_training"]["products"]["members"],
                                     "thresholds.json": record["steps"]["04_threshold_search"]["products"]["thresholds.json"]}
    assert [(m["name"], m["kind"], m["runtime"], m["weight"]) for m in manifest["members"]] == [
        ("neural", "bigru", "utils.members.bigru_onnx:OnnxBiGru", 0.25), ("tfidf", "tfidf", "utils.members.tfidf_arrays:TfidfArrays", 0.75)]
    assert len(list((run_dir / "model").glob("fold_*"))) == 4  # both seeds' fold models, all in the graph
    assert json.loads((export / "neural" / "bigru.json").read_text(encoding="utf-8"))["folds"] == 4
    assert max(manifest["checked"]["max_difference"].values()) < 1e-5 and manifest["float16"] is False
    assert manifest["checked"]["texts"] == len(sample_texts()) - 4 and manifest["checked"]["differing_decisions"] == 0  # valid, test, edges


def test_float16_tables_are_half_the_size_and_decide_as_the_training_stack(run_dir, tmp_path):
    import onnx
    from onnx import numpy_helper

    from utils.export.manifest import export_size
    from utils.inference.predictor import Predictor

    with contextlib.redirect_stdout(io.StringIO()):
        half = export_run(run_dir, tmp_path / "half", float16=True)
    graph = onnx.load(str(half / "neural" / "bigru.onnx")).graph
    tables = {t.name: numpy_helper.to_array(t).dtype for t in graph.initializer if t.name.startswith("table_")}
    assert tables == {f"table_{k}_float16": np.float16 for k in range(4)}
    assert np.load(half / "tfidf" / "coef_by_feature.npy").dtype == np.float16
    full, halved = export_size(run_dir / EXPORT_DIR), export_size(half)
    assert halved < full - 0.4 * (np.load(run_dir / EXPORT_DIR / "tfidf" / "coef_by_feature.npy").nbytes)
    manifest = json.loads((half / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["float16"] is True and manifest["checked"]["differing_decisions"] == 0
    texts = sample_texts()
    torch_predictor, exported = Predictor.from_run(run_dir), ExportedPredictor.from_folder(half)
    expected, probs = torch_predictor.probs(texts), exported.probs(texts)
    assert 1e-6 < np.abs(probs - expected).max() < 1e-3
    assert (exported.decide(probs) == torch_predictor.decide(expected)).all()


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)


def test_predict_uses_the_export_without_torch_sklearn_or_pandas_and_prints_the_torch_decisions(run_dir):
    text = f"какой ужас, я боюсь {NEW_WORDS[1]} 😱"
    main = "from utils.inference.cli import main; main(['--model', {run!r}, '--text', {text!r}{extra}])"
    onnx = run_python(HEAVY.format(code=main.format(run=str(run_dir), text=text, extra="")))
    torch = run_python(main.format(run=str(run_dir), text=text, extra=", '--backend', 'torch'"))
    assert onnx.returncode == 0 and torch.returncode == 0, onnx.stderr + torch.stderr
    assert onnx.stdout.splitlines()[-1] == "[]" and "Notice" not in onnx.stderr
    table = onnx.stdout.splitlines()[:-1]
    assert table == torch.stdout.splitlines() and len(table) == 8 and table[0].startswith("label")


def test_the_runtime_alone_imports_no_torch_sklearn_or_pandas(run_dir):
    code = f"from utils.export.runtime import ExportedPredictor; p = ExportedPredictor.from_folder({str(run_dir / EXPORT_DIR)!r}); " \
           f"p.decide(p.probs(['ну и дела', '']))"
    result = run_python(HEAVY.format(code=code))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_auto_uses_the_training_stack_with_a_notice_when_the_export_is_stale(run_dir, tmp_path, capsys):
    from utils.core.run_record import content_hash
    from utils.inference.cli import load_predictor
    from utils.inference.predictor import Predictor

    copy = tmp_path / "tiny"
    shutil.copytree(run_dir, copy)
    assert isinstance(load_predictor(copy, "auto"), ExportedPredictor)
    choice = json.loads((copy / "thresholds.json").read_text(encoding="utf-8"))
    choice["thresholds"]["anger"] = 0.123  # as if notebook 04 ran again since: new thresholds, recorded
    (copy / "thresholds.json").write_text(json.dumps(choice), encoding="utf-8")
    record = json.loads((copy / RUN_RECORD).read_text(encoding="utf-8"))
    record["steps"]["04_threshold_search"]["products"]["thresholds.json"] = content_hash(copy / "thresholds.json")
    (copy / RUN_RECORD).write_text(json.dumps(record), encoding="utf-8")
    assert isinstance(load_predictor(copy, "auto"), Predictor)
    assert "thresholds.json changed since the export was made" in capsys.readouterr().err
    assert isinstance(load_predictor(copy, "torch"), Predictor)
    with pytest.raises(ValueError, match=r"no usable export .*python -m utils\.export"):
        load_predictor(copy, "onnx")
    shutil.rmtree(copy / EXPORT_DIR)
    assert isinstance(load_predictor(copy, "auto"), Predictor)
    assert f"{copy / EXPORT_DIR} holds no export" in capsys.readouterr().err


@pytest.mark.parametrize("empty_rule", ["none", "top", "neutral"])
def test_the_runtime_decision_rule_is_the_kits(empty_rule):
    from utils.thresholds.recalibration import Recalibration
    from utils.thresholds.search import ThresholdChoice

    rng = np.random.default_rng(0)
    probs = rng.uniform(0, 1, (500, 7)) ** 3
    recalibration = Recalibration(rng.normal(0, 0.5, (7, 7)).tolist(), rng.normal(0, 0.5, 7).tolist())
    thresholds = dict(zip(LABELS, rng.uniform(0.3, 0.7, 7).tolist()))
    choice = ThresholdChoice("per_label", empty_rule, thresholds, 0.0, 0.0, [], "", recalibration.as_dict())
    rule = DecisionRule(np.array(list(thresholds.values())), empty_rule, np.array(recalibration.coef), np.array(recalibration.intercept))
    assert np.array_equal(rule.recalibrated(probs), choice.recalibrated(probs))
    assert np.array_equal(rule.apply(rule.recalibrated(probs)), choice.apply(choice.recalibrated(probs)))


def test_members_the_export_does_not_cover_say_why():
    from utils.core.settings import HeadConfig, NavecConfig, TextConfig
    from utils.members.bigru_onnx import why_not_exportable as bigru_reason
    from utils.members.tfidf import TfidfClassifier, TfidfConfig
    from utils.members.tfidf_arrays import why_not_exportable as tfidf_reason
    from utils.training.backbones import NavecBackbone
    from utils.training.model import Model
    from utils.training.word_tokenizer import WordTokenizer

    def bigru(**navec):
        settings = NavecConfig(hidden_size=4, ngram_buckets=64, **navec)
        backbone = NavecBackbone(WordTokenizer(["кот"]), np.zeros((3, 300), np.float32), settings)
        return Model(backbone, HeadConfig(hidden_size=4), TextConfig())

    assert bigru_reason([bigru(), bigru()]) is None
    assert "fine-tuned navec vectors" in bigru_reason([bigru(fine_tune=True)])
    assert "differ in settings" in bigru_reason([bigru(), bigru(ngram_min=2)])
    assert tfidf_reason(TfidfClassifier(TfidfConfig(), TextConfig())) is None
    assert "lemmas need pymorphy3" in tfidf_reason(TfidfClassifier(TfidfConfig(lemma_ngram_max=1), TextConfig()))


def test_a_member_of_a_kind_without_an_export_is_refused_and_the_export_made_before_kept(run_dir, tmp_path):
    from utils.export.writer import NotExportableError

    copy = tmp_path / "tiny"
    shutil.copytree(run_dir, copy)
    record = json.loads((copy / RUN_RECORD).read_text(encoding="utf-8"))
    record["steps"]["03_training"]["members"]["neural"]["kind"] = "encoder"  # as notebook 03 records a Hugging Face backbone
    (copy / RUN_RECORD).write_text(json.dumps(record), encoding="utf-8")
    before = (copy / EXPORT_DIR / MANIFEST).read_bytes()
    with pytest.raises(NotExportableError, match=r"member 'neural' \(kind encoder\) cannot be exported: a Hugging Face backbone has no "
                                                 r"ONNX export in the kit yet$"):
        export_run(copy)
    assert (copy / EXPORT_DIR / MANIFEST).read_bytes() == before and not (copy / f".{EXPORT_DIR}.tmp").exists()
