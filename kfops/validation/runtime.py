"""Where TFDV runs: in this interpreter when it imports, else in the TFDV runtime.

TFDV 1.16 pins protobuf<5, pandas<2 and numpy<2, so it cannot share the main
environment (see DESIGN.md, "Environments"). The work then goes to the runtime's own
interpreter as ``python -m kfops.validation.tfdv_worker``: a JSON request on stdin, a
JSON result as the last line of stdout, TensorFlow's noise captured and kept in a log.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import kfops
from kfops.errors import KfopsError, ValidationError, error_from_name

PYTHON_ENV_VAR = "KFOPS_TFDV_PYTHON"
WORKER_MODULE = "kfops.validation.tfdv_worker"
TFDV_MODULE = "tensorflow_data_validation"
DEFAULT_TIMEOUT_S = 1800.0


def package_parent() -> Path:
    """The directory that holds the ``kfops`` package: the worker's PYTHONPATH."""
    return Path(kfops.__file__).resolve().parents[1]


def default_python() -> Path:
    """``<repo>/runtimes/tfdv/.venv/bin/python``, as ``make setup`` creates it."""
    return package_parent() / "runtimes" / "tfdv" / ".venv" / "bin" / "python"


def tfdv_python(environ: Mapping[str, str] | None = None) -> Path:
    """The TFDV runtime's interpreter: ``$KFOPS_TFDV_PYTHON``, else the default path.

    Not resolved: a virtualenv's ``python`` is a symlink that must stay one.
    """
    environ = os.environ if environ is None else environ
    configured = environ.get(PYTHON_ENV_VAR, "").strip()
    return Path(configured).expanduser() if configured else default_python()


def tfdv_importable() -> bool:
    """True when TFDV is installed here; checked without paying for its 22 s import."""
    return importlib.util.find_spec(TFDV_MODULE) is not None


def check_python(python: Path) -> Path:
    if not (python.is_file() and os.access(python, os.X_OK)):
        raise ValidationError(
            f"TFDV runtime not found: {python} is not an executable Python; "
            f"run `make setup` to create it, or set {PYTHON_ENV_VAR} to a Python "
            "with tensorflow-data-validation 1.16"
        )
    return python


def worker_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The subprocess environment: this package on PYTHONPATH and TensorFlow quiet.

    PYTHONPATH is replaced, not extended: an inherited one could point at the main
    environment's site-packages and shadow the runtime's pinned libraries.
    """
    env = dict(os.environ if environ is None else environ)
    env.pop("PYTHONHOME", None)
    env["PYTHONPATH"] = str(package_parent())
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _decode(stdout: str) -> dict[str, Any] | None:
    try:
        payload = json.loads(_last_line(stdout))
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _unwrap(payload: dict[str, Any]) -> dict[str, Any]:
    """The worker's answer is ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": ...}``."""
    if payload.get("ok"):
        return payload["result"]
    error = payload.get("error") or {}
    raise error_from_name(str(error.get("type")), str(error.get("message")))


def run_in_process(request: dict[str, Any]) -> dict[str, Any]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from kfops.validation import tfdv_worker

    return tfdv_worker.run(request)


def run_subprocess(
    request: dict[str, Any],
    python: Path | None = None,
    log_path: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> dict[str, Any]:
    """Run the worker in the TFDV runtime; its errors come back as the same KfopsError."""
    python = check_python(python or tfdv_python())
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
        raise ValidationError(
            f"TFDV runtime {python} did not finish within {timeout:.0f} s; "
            "check the data size or run the worker by hand to see where it hangs"
        ) from exc
    except OSError as exc:
        raise ValidationError(
            f"TFDV runtime {python} could not be started ({exc.strerror}); "
            f"run `make setup` or set {PYTHON_ENV_VAR}"
        ) from exc
    payload = _decode(done.stdout)
    if log_path is not None:
        shown = done.stdout if payload is None else "(one JSON line, read)"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(
            f"$ {' '.join(command)}\nexit code {done.returncode}\n"
            f"--- stdout\n{shown}\n--- stderr\n{done.stderr}"
        )
    if payload is None or "ok" not in payload:
        where = f"; full output in {log_path}" if log_path is not None else ""
        cause = _last_line(done.stderr) or "no error output"
        raise ValidationError(
            f"TFDV runtime {python} failed (exit code {done.returncode}): {cause}{where}"
        )
    return _unwrap(payload)


def run_worker(
    request: dict[str, Any],
    in_process: bool | None = None,
    python: Path | None = None,
    log_path: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> dict[str, Any]:
    """Run the TFDV work for ``request`` here or in the runtime, and return its result.

    Args:
        request: Plain JSON values (paths, column names, thresholds), see tfdv_worker.run.
        in_process: Force one mode; None picks in-process exactly when TFDV is importable.
        python: The runtime's interpreter; defaults to tfdv_python().
        log_path: Where to keep the subprocess's captured stdout and stderr.
        timeout: Seconds before the subprocess is given up on.
    """
    if in_process is None:
        in_process = tfdv_importable()
    if in_process:
        try:
            return run_in_process(request)
        except KfopsError:
            raise
        except Exception as exc:
            detail = " ".join(str(exc).split())
            raise ValidationError(f"TFDV failed: {type(exc).__name__}: {detail}") from exc
    return run_subprocess(request, python=python, log_path=log_path, timeout=timeout)
