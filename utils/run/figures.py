"""The README's figures from a finished run: chosen PNGs of its notebooks, copied small into docs/figures/.

    python -m utils.run.figures runs/<name> [--out docs/figures] [--max-kb 200]
"""
from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

from ..core.arguments import positive_int
from ..core.data_dir import find_data_dir
from ..core.errors import KitError
from ..core.figures import save_figure
from ..core.files import atomic_path
from ..core.paths import ERRORS_DIR, REPO_ROOT, THRESHOLDS, VALID_PROBS
from ..core.run_record import RECORD_FILE, read_record
from ..core.settings_io import load_config

FIGURES = {  # name in docs/figures -> the run's PNG (notebooks 01, 03, 04, 06)
    "label_histogram.png": "eda/label_histogram.png",
    "cooccurrence.png": "eda/cooccurrence_train.png",
    "training_curves.png": "training_curves.png",
    "threshold_curves.png": "thresholds.png",
    "per_label_f1.png": f"{ERRORS_DIR}/per_label.png",
}
RENDERED = {"per_label_f1.png": (VALID_PROBS, THRESHOLDS)}  # drawn from these products when the run has no such PNG
MAX_WIDTH = 1400  # pixels: wider figures are scaled down (a README shows them narrower still)


class FiguresError(KitError, RuntimeError):
    """A run the figures cannot come from; the message says what is missing."""


def check_run(run_dir: Path) -> None:
    """Refuse a run that did not finish or lacks a product the figures are made from, naming what is missing."""
    if not run_dir.is_dir():
        raise FiguresError(f"{run_dir}: no such run folder")
    status = read_record(run_dir).get("status")
    if status != "finished":
        said = f"its {RECORD_FILE} says {status!r}" if status else f"it has no readable {RECORD_FILE}"
        raise FiguresError(f"{run_dir} is not a finished run ({said}): the figures come from a finished run")
    missing = []
    for name, source in FIGURES.items():
        products = RENDERED.get(name, ())
        if not (run_dir / source).is_file() and not (products and all((run_dir / product).is_file() for product in products)):
            missing.append(f"{source} (or {' and '.join(products)} to draw it)" if products else source)
    if missing:
        raise FiguresError(f"{run_dir} lacks {missing}: re-run the notebooks that write them (python -m utils.pipeline --run "
                           f"{run_dir.name} --from NN)")


def render_per_label_f1(run_dir: Path, target: Path) -> Path:
    """Notebook 06's per-label figure, drawn from the run's valid probabilities and thresholds."""
    from ..analysis.mistakes import load_valid_decisions, per_label_errors
    from ..analysis.plots import plot_label_errors

    data_dir = find_data_dir(load_config(run_dir / "params.yaml").data_dir)  # start_run wrote the run's data folder there
    return save_figure(plot_label_errors(per_label_errors(load_valid_decisions(run_dir, data_dir))), target)


def small_png(source: Path, max_bytes: int, max_width: int = MAX_WIDTH) -> bytes:
    """`source` as 256-colour PNG bytes (plots lose nothing visible, a third of the size), at most max_width wide and
    max_bytes long (scaled down until it fits)."""
    from PIL import Image

    image = Image.open(source).convert("RGB")
    width = min(image.width, max_width)
    while width >= 300:  # narrower than that, a figure's text is unreadable
        scaled = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS) if width < image.width else image
        encoded = io.BytesIO()
        scaled.quantize(256).save(encoded, format="PNG", optimize=True)
        if encoded.tell() <= max_bytes:
            return encoded.getvalue()
        width = round(width * 0.8)
    raise ValueError(f"{source}: cannot be made smaller than {max_bytes:,} bytes while staying readable")


def copy_figures(run_dir: str | Path, out: str | Path, max_bytes: int = 200_000) -> list[Path]:
    """Copy FIGURES of a finished run into `out` as PNGs under max_bytes each; return their paths."""
    run_dir, out = Path(run_dir), Path(out)
    check_run(run_dir)
    written = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, source in FIGURES.items():
            source = run_dir / source
            if not source.is_file():
                source = render_per_label_f1(run_dir, Path(scratch) / name)
            data = small_png(source, max_bytes)
            with atomic_path(out / name) as tmp:
                tmp.write_bytes(data)
            written.append(out / name)
            print(f"{out / name}: {len(data) / 1000:.0f} kB")
    return written


def main(argv: list[str] | None = None) -> int:
    """Exit status 0 when every figure was written, 2 when the run was refused."""
    parser = argparse.ArgumentParser(prog="python -m utils.run.figures", description="Copy a finished run's figures for the README.")
    parser.add_argument("run_dir", help="the run's folder, e.g. runs/<name>")
    parser.add_argument("--out", default=str(REPO_ROOT / "docs" / "figures"), help="where the PNGs go (default: docs/figures)")
    parser.add_argument("--max-kb", type=positive_int, default=200, help="the largest PNG allowed, in kB (default: 200)")
    args = parser.parse_args(argv)
    try:
        copy_figures(args.run_dir, args.out, args.max_kb * 1000)
    except (FiguresError, ValueError, OSError) as error:  # refused; or the data folder, a PNG or the output folder failed
        print(f"No figures written: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
