"""`python -m utils.export runs/<name>`: write the run's export (runs/<name>/export/, or --out), checked against the training
stack; `utils.predict` then uses it while the run's products stay as they are."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.errors import KitError
from .writer import export_run, print_summary


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0 exported, 2 a run that cannot be exported (the message says why)."""
    parser = argparse.ArgumentParser(prog="python -m utils.export", description="Export a finished run for onnxruntime + numpy.")
    parser.add_argument("run", help="a finished run's folder, e.g. runs/<name>")
    parser.add_argument("--out", help="where the export goes (default: <run>/export; an export there is replaced)")
    parser.add_argument("--float16", action="store_true",
                        help="store the large tables (TF-IDF weights, n-gram vectors) in half precision: about 21 MB less for the "
                             "default run; refused unless every decision on the run's valid and test texts stays the training stack's")
    args = parser.parse_args(argv)
    if not Path(args.run).is_dir():
        print(f"Error: {args.run}: no such run folder (a finished run's folder, e.g. runs/<name>)", file=sys.stderr)
        return 2
    try:
        print_summary(export_run(args.run, args.out, args.float16))
    except (KitError, FileNotFoundError, ValueError) as error:
        print(f"Error: {error}", file=sys.stderr)
        return 2
    return 0
