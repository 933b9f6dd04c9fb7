"""One self-contained HTML report of a run: its executed notebooks in order, code folded, tables and figures embedded."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import nbformat

from ..core.files import write_text
from ..core.paths import EXECUTED_NOTEBOOKS, REPORT

# nbconvert's JupyterLab template without its scripts (require.js, MathJax, mermaid come from a CDN; the report needs
# none of them: figures are inline PNGs, tables HTML), and each code cell's input folded under "code".
TEMPLATE_NAME = "kit_report.html.j2"
TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block input_group -%}
<details><summary>code</summary>
{{ super() }}
</details>
{%- endblock input_group %}
"""
QUIET_LOG = logging.getLogger(__name__ + ".nbconvert")  # for nbconvert: only errors (it warns of every figure without alt text)
QUIET_LOG.setLevel(logging.ERROR)


def executed_notebooks(run_dir: str | Path) -> list[Path]:
    """The run's executed numbered notebooks (runs/<name>/notebooks/NN_name.ipynb), in order."""
    return sorted((Path(run_dir) / EXECUTED_NOTEBOOKS).glob("[0-9][0-9]_*.ipynb"))


def report_notebook(run_name: str, paths: list[Path]) -> nbformat.NotebookNode:
    """The notebooks as one: a title and contents, then each notebook's markdown and the code cells that have outputs."""
    contents = "\n".join(f"- [{path.stem}](#notebook-{path.stem})" for path in paths)
    report = nbformat.v4.new_notebook(metadata={"title": f"Run {run_name}", "language_info": {"name": "python"}})
    report.cells.append(nbformat.v4.new_markdown_cell(
        f"# Run `{run_name}`\n\nThe executed notebooks of `runs/{run_name}/{EXECUTED_NOTEBOOKS}/`, in order; each code cell's "
        f"source is folded under *code*.\n\n{contents}", id="contents"))
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        report.cells.append(nbformat.v4.new_markdown_cell(f'<a id="notebook-{path.stem}"></a>', id=path.stem))
        kept = [cell for cell in notebook.cells if cell.cell_type != "code" or cell.get("outputs")]  # parameters, imports: nothing to show
        for k, cell in enumerate(kept):
            cell.id = f"{path.stem}-{k}"  # unique across notebooks (each notebook numbers its own cells)
            report.cells.append(cell)
    return report


def write_report(run_dir: str | Path) -> Path:
    """Write runs/<name>/report.html (atomically) from the run's executed notebooks; return its path."""
    import jinja2
    from nbconvert import HTMLExporter

    run_dir = Path(run_dir)
    paths = executed_notebooks(run_dir)
    if not paths:
        raise FileNotFoundError(f"no executed notebooks in {run_dir / EXECUTED_NOTEBOOKS}: the report is made from them")
    exporter = HTMLExporter(template_name="lab", template_file=TEMPLATE_NAME, extra_loaders=[jinja2.DictLoader({TEMPLATE_NAME: TEMPLATE})],
                            exclude_input_prompt=True, exclude_output_prompt=True, log=QUIET_LOG,
                            preprocessors=["nbconvert.preprocessors.CoalesceStreamsPreprocessor"])  # progress bars: final lines only
    html, _ = exporter.from_notebook_node(report_notebook(run_dir.name, paths))
    return write_text(run_dir / REPORT, html)


def try_write_report(run_dir: str | Path) -> str | None:
    """write_report for the end of a pipeline run: its path, or None with the reason printed (a report never fails a run)."""
    try:
        return str(write_report(run_dir))
    except Exception as error:  # nbconvert missing or a notebook it cannot read: the run's own products stay valid
        print(f"report.html not written: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        return None
