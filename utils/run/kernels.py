"""The notebook kernels the pipeline starts write their own stderr (start-up warnings, worker tracebacks) to a log file,
so the terminal shows the cells' output and the pipeline's messages only."""
from __future__ import annotations

from pathlib import Path

from jupyter_client.manager import AsyncKernelManager


class LoggedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels append their stderr to `log_file` (set before the notebook runs)."""

    log_file: Path | None = None

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        if LoggedKernelManager.log_file is not None:
            LoggedKernelManager.log_file.parent.mkdir(parents=True, exist_ok=True)
            kw["stderr"] = open(LoggedKernelManager.log_file, "ab")  # noqa: SIM115 (the kernel process keeps it open)
        await super()._async_launch_kernel(kernel_cmd, **kw)
