"""`python -m utils.predict`: a finished run's model on new texts, from the command line.

    python -m utils.predict --model runs/<name> --text "какой ужас, я боюсь"
    python -m utils.predict --model runs/<name> --input texts.csv --output predictions.csv

A row without text (empty or whitespace) gets no prediction; any other text is predicted, emoji-only ones too
(emoji become Russian words before the model sees them).

`--backend auto` (the default) uses the run's export (runs/<name>/export/, `python -m utils.export`) while it is fresh:
onnxruntime and numpy only, no torch, scikit-learn or pandas imported for `--text`; else the training stack, with a notice.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..core.arguments import positive_int
from ..core.errors import KitError
from ..core.labels import LABELS
from ..export.manifest import EXPORT_DIR, stale_reasons

if TYPE_CHECKING:
    import pandas as pd

    from .predictor import Predictor

PROB_SUFFIX = "_prob"
BACKENDS = ("auto", "onnx", "torch")


def load_predictor(run_dir: Path, backend: str = "auto"):
    """The run's predictor: its export (onnxruntime + numpy) for `onnx`, and for `auto` while the export is fresh (made from
    the products the run's record lists now); else the training stack (`auto`: with a notice saying why)."""
    reasons = stale_reasons(run_dir, run_dir / EXPORT_DIR) if backend != "torch" else []
    if backend != "torch" and not reasons:
        from ..export.runtime import ExportedPredictor

        predictor = ExportedPredictor.from_folder(run_dir / EXPORT_DIR)
        if predictor.note:
            print(f"Notice: {run_dir}: {predictor.note}")
        return predictor
    if backend == "onnx":
        raise ValueError(f"{run_dir}: no usable export ({'; '.join(reasons)}): make it with python -m utils.export {run_dir}")
    from .predictor import Predictor

    predictor = Predictor.from_run(run_dir)  # first: a run it cannot load is refused in one line, without the notice below
    if reasons:
        print(f"Notice: predicting with the training stack (torch): {'; '.join(reasons)}. For a fast start, export the run: "
              f"python -m utils.export {run_dir}", file=sys.stderr)
    return predictor


def describe_text(predictor: Predictor, text: str) -> str:
    """One text's labels with their probability (after recalibration, as thresholded) and decision, most probable first."""
    probs = predictor.probs([text])
    decisions = predictor.decide(probs)[0]
    order = np.argsort(-probs[0])
    lines = [f"{LABELS[j]:<9} {probs[0, j]:.3f}  {'yes' if decisions[j] else 'no'}" for j in order]
    return "\n".join(["label     prob   decision", *lines])


def read_texts(source: Path) -> tuple[list[str | None], list[int]]:
    """The `text` column of a CSV, one entry per record (None for a blank line), and the line each record starts on (the
    header is line 1); decoded and checked like the competition's files (UTF-8, UTF-8/16 with BOM or Windows-1251; texts
    of at most MAX_TEXT_CHARS characters)."""
    from ..core.splits import TEXT, DataError, check_text_lengths, csv_records, decode_csv_bytes

    if not source.is_file():
        raise FileNotFoundError(f"{source}: file not found")
    records = csv_records(decode_csv_bytes(source.read_bytes(), source), source)
    header = [name.strip() for name in (records[0][1] if records else [])]
    if TEXT not in header:
        raise DataError(f"{source}, header row: no '{TEXT}' column (found {header})")
    column = header.index(TEXT)
    texts = [row[column] if len(row) > column else None for _, row in records[1:]]
    lines = [line for line, _ in records[1:]]
    check_text_lengths(texts, lines, source)
    return texts, lines


def predict_texts(predictor: Predictor, texts: list[str | None], batch_size: int) -> pd.DataFrame:
    """Probabilities and decisions for texts; rows without text (None, empty or whitespace) are left blank."""
    import pandas as pd

    from ..core.splits import TEXT

    keep = [k for k, text in enumerate(texts) if text is not None and text.strip()]
    probs = np.full((len(texts), len(LABELS)), np.nan)
    decisions = pd.DataFrame(pd.NA, index=range(len(texts)), columns=LABELS, dtype="Int64")
    if keep:
        probs[keep] = predictor.probs([texts[k] for k in keep], batch_size)
        decisions.iloc[keep] = predictor.decide(probs[keep])
    out = pd.DataFrame({TEXT: [text or "" for text in texts]})
    for j, label in enumerate(LABELS):
        out[label + PROB_SUFFIX] = np.round(probs[:, j], 6)
    out[LABELS] = decisions.to_numpy()
    return out


def predict_file(predictor: Predictor, source: Path, target: Path, batch_size: int = 256, chunk_rows: int = 20_000,
                 overwrite: bool = False) -> list[int]:
    """A CSV with a `text` column -> a CSV of 7 probabilities + 7 decisions per row, in chunks with a progress bar over its
    rows; returns the lines of `source` whose rows were left blank (the header is line 1)."""
    from tqdm import tqdm

    from ..core.files import OutputExistsError, atomic_path

    texts, lines = read_texts(source)
    if target.exists() and not overwrite:
        raise OutputExistsError(f"{target} already exists: choose another --output, or pass --force to replace it")
    with atomic_path(target, overwrite=True) as tmp, tqdm(total=len(texts), desc="predict", unit="row", file=sys.stdout) as bar:
        for start in range(0, max(len(texts), 1), chunk_rows):
            chunk = texts[start : start + chunk_rows]
            predict_texts(predictor, chunk, batch_size).to_csv(tmp, mode="a", header=start == 0, index=False, encoding="utf-8")
            bar.update(len(chunk))
    return [line for line, text in zip(lines, texts) if text is None or not text.strip()]


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0 done, 2 bad arguments or input."""
    parser = argparse.ArgumentParser(prog="python -m utils.predict", description="Tag Russian texts with 7 emotions using a finished run.")
    parser.add_argument("--model", required=True, help="a finished run's folder, e.g. runs/<name>")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="one text to tag")
    source.add_argument("--input", help="a CSV with a `text` column")
    parser.add_argument("--output", help="where --input's predictions go (a CSV; never overwritten unless --force)")
    parser.add_argument("--batch-size", type=positive_int, default=256, help="texts per batch (default: 256)")
    parser.add_argument("--force", action="store_true", help="replace an existing --output file")
    parser.add_argument("--backend", choices=BACKENDS, default="auto",
                        help="onnx: the run's export (python -m utils.export); torch: the training stack; auto (default): the export "
                             "while it is fresh, else the training stack")
    args = parser.parse_args(argv)
    if args.input and not args.output:
        parser.error("--input needs --output")
    if args.text is not None and not args.text.strip():
        print("Error: --text is empty: give a text to tag", file=sys.stderr)
        return 2
    if not Path(args.model).is_dir():
        print(f"Error: {args.model}: no such run folder (a finished run's folder, e.g. runs/<name>)", file=sys.stderr)
        return 2
    try:
        predictor = load_predictor(Path(args.model), args.backend)
        if args.text is not None:
            print(describe_text(predictor, args.text))
            return 0
        blank = predict_file(predictor, Path(args.input), Path(args.output), args.batch_size, overwrite=args.force)
    except (FileNotFoundError, ValueError, KitError) as error:  # KitError: a stale product, an output that exists, ...
        print(f"Error: {error}", file=sys.stderr)
        return 2
    if blank:
        from ..core.splits import shown_lines

        print(f"{len(blank)} row(s) without text were left blank in {args.output}: lines {shown_lines(blank, 20)} of {args.input}")
    print(f"Predictions written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
