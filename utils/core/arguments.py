"""Checked numbers on the command line: argparse `type=` functions that refuse a value out of range as argparse refuses
any bad argument, with one line naming the option (exit status 2)."""
from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """A whole number of 1 or more, e.g. a batch size."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {value}")
    return value
