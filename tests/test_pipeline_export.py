"""The pipeline exports a run that finishes after notebook 05 (issue 24) unless --no-export: an up-to-date export is kept, a
failure is one notice and the run stays finished, the summary names the export. The notebooks are stood in for in-process
(no kernel); the run is the toy kind's of test_export_plugins."""
from __future__ import annotations

import json

import pytest
from conftest import SAMPLE_DIR
from test_export_plugins import NoExport, TextLength, finished_run

from utils.export.manifest import EXPORT_DIR, MANIFEST
from utils.run import pipeline


def test_a_finished_run_is_exported_once_and_the_summary_names_the_export(tmp_path, capsys):
    run_dir = finished_run(tmp_path, TextLength.kind)
    assert pipeline.export_line(run_dir) == f"none up to date (python -m utils.export {run_dir})"
    pipeline.export_finished_run(run_dir)
    manifest = (run_dir / EXPORT_DIR / MANIFEST).read_bytes()
    assert json.loads(manifest)["members"][0]["runtime"] == TextLength.export_runtime
    assert pipeline.export_line(run_dir).startswith(f"{run_dir / EXPORT_DIR} (0.0 MB)")
    capsys.readouterr()
    pipeline.export_finished_run(run_dir)  # up to date: kept as it is, nothing said
    assert (run_dir / EXPORT_DIR / MANIFEST).read_bytes() == manifest and capsys.readouterr() == ("", "")


def test_a_run_that_cannot_be_exported_gets_one_notice_and_stays_as_it_is(tmp_path, capsys):
    run_dir = finished_run(tmp_path, NoExport.kind)
    pipeline.export_finished_run(run_dir)
    err = capsys.readouterr().err
    assert err == (f"Notice: run not exported (NotExportableError: {run_dir}: member 'toy' (kind {NoExport.kind}) cannot be exported: "
                   f"its kind has no export); utils.predict uses the training stack. Export it with: python -m utils.export {run_dir}\n")
    assert not (run_dir / EXPORT_DIR).exists()


@pytest.mark.parametrize(("notebooks", "export", "exported"), [
    (["04_threshold_search", "05_inference", "06_error_analysis"], True, True),
    (["05_inference"], False, False),  # --no-export
    (["06_error_analysis"], True, False),  # notebook 05 did not run: the export (if any) is as it was
])
def test_the_pipeline_exports_after_notebook_05_unless_told_not_to(tmp_path, monkeypatch, capsys, notebooks, export, exported):
    run_dir = finished_run(tmp_path, TextLength.kind)
    calls = []

    def notebook_done(plan, notebook, shown, bar):
        pipeline._set_notebook(run_dir, notebook.stem, status="done", seconds=0.1)

    monkeypatch.setattr(pipeline, "_execute", notebook_done)
    monkeypatch.setattr(pipeline, "export_finished_run", calls.append)
    monkeypatch.setattr(pipeline, "try_write_report", lambda run_dir: None)
    config = pipeline.load_config(None, {"runs_dir": str(tmp_path)}).replace(name="toy", data_dir=str(SAMPLE_DIR))
    plan = pipeline.Plan(config, [pipeline.NOTEBOOKS_DIR / f"{stem}.ipynb" for stem in notebooks], {"data_dir": str(SAMPLE_DIR)},
                         "python3", reuse=True, force=False, export=export)
    assert pipeline._run_locked(plan, "quiet")["status"] == "finished"
    assert calls == ([run_dir] if exported else [])


def test_no_export_is_a_documented_switch_of_the_pipeline(capsys):
    with pytest.raises(SystemExit):
        pipeline.main(["--help"])
    assert "--no-export" in capsys.readouterr().out
    plan = pipeline.plan_run(overrides={"runs_dir": "runs/none"}, data_dir=SAMPLE_DIR, run_name="x", export=False)
    assert plan.export is False
