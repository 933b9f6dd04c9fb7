"""Progress bars that read well in Jupyter, a terminal and papermill's logs; headlines, the lines that matter beyond a notebook."""
from __future__ import annotations

import sys
import warnings
from contextlib import contextmanager

from tqdm import tqdm

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm.auto, imported by transformers; the kit's bars are plain text
PROGRESS_SECONDS = 5.0  # how often a bar redraws: readable in Jupyter, a terminal and papermill logs
_bars = {"on": True}  # switched off by `no_progress_bars` (a worker whose printed log is shown later)


def progress(iterable, total: int, desc: str | None):
    """A plain-text progress bar on stdout (none when `desc` is None): redraws in place in Jupyter and terminals,
    a few lines under papermill."""
    return tqdm(iterable, total=total, desc=desc, file=sys.stdout, mininterval=PROGRESS_SECONDS, ncols=100, leave=False,
                disable=desc is None or not _bars["on"])


@contextmanager
def no_progress_bars():
    """Inside: `progress` draws nothing (for work whose printed lines are collected and shown when it ends)."""
    _bars["on"] = False
    try:
        yield
    finally:
        _bars["on"] = True


HEADLINE = "» "  # marks a line the pipeline shows by default (every other line of a cell only with --verbose)
NOTICES = ("Warning", "Notice", "Note")  # lines starting with these are shown by default too


def headline(text: str) -> None:
    """Print a line that matters beyond its notebook (a fold's score, the estimate, where a product is written)."""
    print(HEADLINE + text, flush=True)
