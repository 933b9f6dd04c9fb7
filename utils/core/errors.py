"""The kit's own errors say all a user needs in their message: a notebook shows just that message, not a traceback."""
from __future__ import annotations


class KitError(Exception):
    """An error whose message names the file, setting or run and what to do; IPython (a notebook's kernel, so papermill and
    the pipeline's failure report too) shows it as one line instead of the traceback above it, and the cell still fails."""

    def _render_traceback_(self) -> list[str]:  # IPython's hook for an exception's own traceback
        return [f"{type(self).__name__}: {self}"]
