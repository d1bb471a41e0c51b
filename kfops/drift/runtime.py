"""Run the drift worker where TFDV lives: in-process when it imports, else the TFDV runtime.

The same runtime interpreter, environment and error round trip as validation
(:func:`kfops.validation.runtime.run_subprocess`); only the module run is the drift worker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kfops.validation.runtime import DEFAULT_TIMEOUT_S, run_subprocess, tfdv_importable

WORKER_MODULE = "kfops.drift.tfdv_worker"


def run_tfdv(
    request: dict[str, Any], log_path: Path | None = None, timeout: float = DEFAULT_TIMEOUT_S
) -> dict[str, Any]:
    """The worker's result for ``request``; its KfopsErrors come back as the same class."""
    if tfdv_importable():
        from kfops.drift import tfdv_worker

        return tfdv_worker.run(request)
    return run_subprocess(request, log_path=log_path, timeout=timeout, module=WORKER_MODULE)
