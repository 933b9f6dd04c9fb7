"""`python -m utils.predict`: a finished run's model on new texts, from the command line.

    python -m utils.predict --model runs/<name> --text "какой ужас, я боюсь"
    python -m utils.predict --model runs/<name> --input texts.csv --output predictions.csv
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..core.files import OutputExistsError, atomic_path
from ..core.splits import LABELS, TEXT
from .predictor import Predictor

PROB_SUFFIX = "_prob"


def describe_text(predictor: Predictor, text: str) -> str:
    """One text's labels with their probability and decision, most probable first."""
    probs = predictor.probs([text])
    decisions = predictor.decide(probs)[0]
    order = np.argsort(-probs[0])
    lines = [f"{LABELS[j]:<9} {probs[0, j]:.3f}  {'yes' if decisions[j] else 'no'}" for j in order]
    return "\n".join(["label     prob   decision", *lines])


def empty_rows(texts: pd.Series) -> np.ndarray:
    """Positions of rows without text: missing, blank, or without a single letter ('123', '!!!')."""
    return np.flatnonzero(~texts.fillna("").astype(str).str.contains(r"[^\W\d_]", regex=True).to_numpy())


def predict_chunk(predictor: Predictor, chunk: pd.DataFrame, batch_size: int) -> tuple[pd.DataFrame, list[int]]:
    """Probabilities and decisions for a chunk of a CSV; rows without text are left blank and returned."""
    texts = chunk[TEXT]
    blank = empty_rows(texts)
    keep = np.setdiff1d(np.arange(len(chunk)), blank)
    probs = np.full((len(chunk), len(LABELS)), np.nan)
    decisions = pd.DataFrame(pd.NA, index=range(len(chunk)), columns=LABELS, dtype="Int64")
    if len(keep):
        probs[keep] = predictor.probs(texts.iloc[keep].astype(str).tolist(), batch_size)
        decisions.iloc[keep] = predictor.decide(probs[keep])
    out = pd.DataFrame({TEXT: texts.to_numpy()})
    for j, label in enumerate(LABELS):
        out[label + PROB_SUFFIX] = np.round(probs[:, j], 6)
    out[LABELS] = decisions.to_numpy()
    return out, [int(chunk.index[i]) for i in blank]


def predict_file(predictor: Predictor, source: Path, target: Path, batch_size: int = 256, chunk_rows: int = 20_000,
                 overwrite: bool = False) -> list[int]:
    """Stream a CSV with a `text` column in chunks to a CSV of 7 probabilities + 7 decisions; return blank rows (1-based)."""
    if not source.is_file():
        raise FileNotFoundError(f"{source}: file not found")
    header = pd.read_csv(source, nrows=0, encoding="utf-8-sig").columns
    if TEXT not in header:
        raise ValueError(f"{source}, header row: no '{TEXT}' column (found {list(header)})")
    with source.open("rb") as handle:
        total = max(sum(1 for _ in handle) - 1, 0)  # lines, for the progress bar
    blank: list[int] = []
    chunks = pd.read_csv(source, usecols=[TEXT], dtype=str, keep_default_na=False, encoding="utf-8-sig", chunksize=chunk_rows)
    with atomic_path(target, overwrite=overwrite) as tmp, tqdm(total=total, desc="predict", unit="row", file=sys.stdout) as bar:
        for k, chunk in enumerate(chunks):
            out, missing = predict_chunk(predictor, chunk, batch_size)
            out.to_csv(tmp, mode="a", header=k == 0, index=False, encoding="utf-8")
            blank += [row + 1 for row in missing]
            bar.update(len(chunk))
    return blank


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0 done, 2 bad arguments or input."""
    parser = argparse.ArgumentParser(prog="python -m utils.predict", description="Tag Russian texts with 7 emotions using a finished run.")
    parser.add_argument("--model", required=True, help="a run folder holding model/ and thresholds.json, e.g. runs/<name>")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="one text to tag")
    source.add_argument("--input", help="a CSV with a `text` column")
    parser.add_argument("--output", help="where --input's predictions go (a CSV; never overwritten unless --force)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--force", action="store_true", help="replace an existing --output file")
    args = parser.parse_args(argv)
    if args.input and not args.output:
        parser.error("--input needs --output")
    try:
        predictor = Predictor.from_run(args.model)
        if args.text is not None:
            print(describe_text(predictor, args.text))
            return 0
        blank = predict_file(predictor, Path(args.input), Path(args.output), args.batch_size, overwrite=args.force)
    except (FileNotFoundError, ValueError, OutputExistsError, UnicodeDecodeError) as error:
        print(f"Error: {error}", file=sys.stderr)
        return 2
    if blank:
        shown = ", ".join(map(str, blank[:20])) + (" ..." if len(blank) > 20 else "")
        print(f"{len(blank)} row(s) without text were left blank in {args.output}: rows {shown}")
    print(f"Predictions written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
