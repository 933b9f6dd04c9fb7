"""A run's report.html (every figure of every executed notebook, nothing fetched) and the README figures of a finished run."""
import base64
import io
import json
import re

import matplotlib
import nbformat
import numpy as np
import pytest
from conftest import html_figures, notebook_figures
from PIL import Image

from utils.core.probs_files import write_probs
from utils.core.settings_io import load_config, save_config
from utils.core.splits import LABELS, label_matrix, read_split
from utils.run.figures import FIGURES, copy_figures, main
from utils.run.report import try_write_report, write_report
from utils.thresholds.search import ThresholdChoice

matplotlib.use("Agg")


def png(seed: int, size=(6, 4)) -> bytes:
    """A matplotlib figure of random points as PNG bytes (each seed a different image)."""
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=size)
    axis.plot(np.random.default_rng(seed).random(50))
    axis.set_title(f"Рисунок {seed}")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    plt.close(figure)
    return buffer.getvalue()


def executed(name: str, seeds: list[int]) -> nbformat.NotebookNode:
    """An executed notebook: a header, a code cell without output, one cell per figure, a progress bar and a table."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    quiet = nbformat.v4.new_code_cell("import sys  # bootstrap", execution_count=1)
    progress = nbformat.v4.new_code_cell("fit()", execution_count=2, outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="\repoch 1:  50%|#####     | 1/2"),
        nbformat.v4.new_output("stream", name="stdout", text="\repoch 1: loss 0.5\n"),
    ])
    table = nbformat.v4.new_code_cell("table", execution_count=3, outputs=[nbformat.v4.new_output(
        "execute_result", data={"text/html": "<table><tr><td>злость 0.61</td></tr></table>", "text/plain": "table"}, execution_count=3)])
    figures = [nbformat.v4.new_code_cell(f"plot({seed})", execution_count=4 + k, outputs=[nbformat.v4.new_output(
        "display_data", data={"image/png": base64.b64encode(png(seed)).decode(), "text/plain": "<Figure>"})])
        for k, seed in enumerate(seeds)]
    notebook.cells = [nbformat.v4.new_markdown_cell(f"# {name}\nWhat it reads and writes."), quiet, progress, table, *figures]
    return notebook


@pytest.fixture
def run_dir(tmp_path):
    """runs/r with three executed notebooks (cells numbered the same way in each), five figures in all."""
    run_dir = tmp_path / "runs" / "r"
    (run_dir / "notebooks").mkdir(parents=True)
    for name, seeds in {"01_eda": [1, 2], "04_threshold_search": [3], "06_error_analysis": [4, 5]}.items():
        nbformat.write(executed(name, seeds), run_dir / "notebooks" / f"{name}.ipynb")
    return run_dir


def test_the_report_embeds_every_figure_of_every_executed_notebook_and_fetches_nothing(run_dir):
    path = write_report(run_dir)
    assert path == run_dir / "report.html"
    html = path.read_text(encoding="utf-8")
    figures = notebook_figures(run_dir / "notebooks")
    assert len(set(figures)) == 5 and html_figures(html) == set(figures)
    assert not re.findall(r"<script[^>]+src=|<link[^>]+href=", html), "no script or style sheet from elsewhere"
    assert not re.findall(r'src="(?!data:)', html), "no image outside the file"
    positions = [html.index(f'id="notebook-{name}"') for name in ("01_eda", "04_threshold_search", "06_error_analysis")]
    assert positions == sorted(positions) and html.count('href="#notebook-01_eda"') == 1, "in order, with a table of contents"
    assert html.count("<details>") == 2 * 3 + 5, "the code of each cell with outputs (2 per notebook and 5 figures) is folded"
    assert "import sys  # bootstrap" not in html, "cells without outputs are left out"
    assert "злость 0.61" in html and "epoch 1: loss 0.5" in html and "50%|" not in html, "the progress bar's last state only"


def test_the_report_needs_executed_notebooks(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match=r"no executed notebooks in .*notebooks: the report is made from them"):
        write_report(tmp_path)
    assert try_write_report(tmp_path) is None
    assert "report.html not written: FileNotFoundError: no executed notebooks" in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()


def finished_run(run_dir, sample_dir, with_per_label=True):
    """A finished run's folder holding the products the README figures come from (PNGs of random points)."""
    for k, (name, source) in enumerate(FIGURES.items()):
        if with_per_label or name != "per_label_f1.png":
            (run_dir / source).parent.mkdir(parents=True, exist_ok=True)
            (run_dir / source).write_bytes(png(k, size=(22, 8)))  # 2640 x 960 pixels
    (run_dir / "manifest.json").write_text(json.dumps({"status": "finished"}))
    save_config(load_config(overrides={"runs_dir": str(run_dir.parent), "data_dir": str(sample_dir)}).replace(name=run_dir.name))
    return run_dir


def test_the_figures_of_a_finished_run_are_copied_small(run_dir, sample_dir, tmp_path, capsys):
    finished_run(run_dir, sample_dir)
    written = copy_figures(run_dir, tmp_path / "figures", max_bytes=60_000)
    assert sorted(path.name for path in written) == sorted(FIGURES)
    for path in written:
        assert path.stat().st_size <= 60_000
        assert Image.open(path).format == "PNG" and Image.open(path).width <= 1400
    assert "label_histogram.png:" in capsys.readouterr().out


def test_the_per_label_figure_is_drawn_from_the_runs_decisions_when_missing(run_dir, sample_dir, tmp_path):
    finished_run(run_dir, sample_dir, with_per_label=False)
    y = label_matrix(read_split(sample_dir / "valid.csv"))
    write_probs(np.clip(0.4 * y + 0.55 * np.random.default_rng(0).random(y.shape), 0, 1), run_dir / "valid_probs_raw.csv")
    choice = ThresholdChoice("global", "top", dict.fromkeys(LABELS, 0.5), 0.0, 0.0, [], "")
    (run_dir / "thresholds.json").write_text(json.dumps(choice.as_dict()))
    copy_figures(run_dir, tmp_path / "figures")
    drawn = Image.open(tmp_path / "figures" / "per_label_f1.png")
    assert drawn.width > 1000 and not (run_dir / "errors").exists()
    assert sorted(path.name for path in (tmp_path / "figures").iterdir()) == sorted(FIGURES), "no scratch file left behind"


def test_figures_are_refused_from_an_unfinished_run_or_one_lacking_a_product(run_dir, sample_dir, tmp_path, capsys):
    assert main([str(run_dir.parent / "nope"), "--out", str(tmp_path / "figures")]) == 2
    assert "nope: no such run folder" in capsys.readouterr().err
    assert main([str(run_dir), "--out", str(tmp_path / "figures")]) == 2
    assert "is not a finished run (it has no readable manifest.json)" in capsys.readouterr().err
    (run_dir / "manifest.json").write_text(json.dumps({"status": "failed"}))
    assert main([str(run_dir), "--out", str(tmp_path / "figures")]) == 2
    assert "is not a finished run (its manifest.json says 'failed')" in capsys.readouterr().err
    finished_run(run_dir, sample_dir, with_per_label=False)
    (run_dir / "thresholds.png").unlink()
    assert main([str(run_dir), "--out", str(tmp_path / "figures")]) == 2
    lacks = "lacks ['thresholds.png', 'errors/per_label.png (or valid_probs_raw.csv and thresholds.json to draw it)']"
    assert lacks in capsys.readouterr().err
    assert not (tmp_path / "figures").exists()
