"""Run the drift worker where TFDV lives: in-process when it imports, else the TFDV runtime.

The same runtime interpreter, environment and error round trip as validation
(:mod:`kfops.validation.runtime`); only the module run is the drift worker.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from kfops.errors import KfopsError, ValidationError, error_from_name, one_line
from kfops.validation.runtime import (
    DEFAULT_TIMEOUT_S,
    check_python,
    tfdv_importable,
    tfdv_python,
    worker_env,
)

WORKER_MODULE = "kfops.drift.tfdv_worker"


def _answer(stdout: str) -> dict[str, Any] | None:
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        payload = json.loads(lines[-1]) if lines else None
    except ValueError:
        return None
    return payload if isinstance(payload, dict) and "ok" in payload else None


def run_tfdv(
    request: dict[str, Any], log_path: Path | None = None, timeout: float = DEFAULT_TIMEOUT_S
) -> dict[str, Any]:
    """The worker's result for ``request``; its KfopsErrors come back as the same class."""
    if tfdv_importable():
        from kfops.drift import tfdv_worker

        return tfdv_worker.run(request)
    python = check_python(tfdv_python())
    command = [str(python), "-m", WORKER_MODULE]
    try:
        done = subprocess.run(
            command,
            input=json.dumps(request),
            capture_output=True,
            text=True,
            env=worker_env(),
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ValidationError(f"TFDV runtime {python}: drift check ran over {timeout:g} s") from exc
    except OSError as exc:
        raise ValidationError(f"TFDV runtime {python} could not start: {one_line(exc)}") from exc
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(f"$ {' '.join(command)}\n--- stderr\n{done.stderr}")
    payload = _answer(done.stdout)
    if payload is None:
        stderr = [line for line in done.stderr.splitlines() if line.strip()]
        cause = stderr[-1].strip() if stderr else "no error output"
        where = f"; full output in {log_path}" if log_path is not None else ""
        raise ValidationError(
            f"TFDV runtime {python} failed (exit code {done.returncode}): {cause}{where}"
        )
    if payload["ok"]:
        return payload["result"]
    error = payload.get("error") or {}
    failure: KfopsError = error_from_name(str(error.get("type")), str(error.get("message")))
    raise failure
