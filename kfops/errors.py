"""One exception root for the platform, with one base per area.

Every error knows its process exit code and HTTP status, so the CLI and the model
server map failures in one place. Messages name the object, the value and the fix.
"""

from __future__ import annotations

import os
import sys
from contextlib import ContextDecorator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError as PydanticValidationError


class KfopsError(Exception):
    """Root of every error kfops raises on purpose."""

    exit_code: int = 1
    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigurationError(KfopsError):
    """The configuration file, a flag or an override is wrong."""

    exit_code = 2
    http_status = 400


class DataError(KfopsError):
    """The dataset cannot be read or cannot be used for the configured task."""

    exit_code = 3
    http_status = 422


class ValidationError(KfopsError):
    """The data does not match its schema (TFDV anomalies)."""

    exit_code = 4
    http_status = 422


class FeaturesError(KfopsError):
    """The feature store definitions or lookups failed."""

    exit_code = 5
    http_status = 422


class TrainingError(KfopsError):
    """The estimator could not be built or fitted."""

    exit_code = 6
    http_status = 500


class RegistryError(KfopsError):
    """The tracking server or model registry refused an operation."""

    exit_code = 7
    http_status = 502


class ServingError(KfopsError):
    """A model could not be loaded or a request could not be served."""

    exit_code = 8
    http_status = 500


class RolloutError(KfopsError):
    """A rollout could not be started or steered."""

    exit_code = 9
    http_status = 409


class ClusterError(KfopsError):
    """The Kubeflow Pipelines or Kubernetes API refused a request."""

    exit_code = 10
    http_status = 502


class PipelineError(KfopsError):
    """A pipeline step failed for a reason that is not one of the above."""

    exit_code = 11
    http_status = 500


ERROR_TYPES: dict[str, type[KfopsError]] = {
    cls.__name__: cls
    for cls in (
        KfopsError,
        ConfigurationError,
        DataError,
        ValidationError,
        FeaturesError,
        TrainingError,
        RegistryError,
        ServingError,
        RolloutError,
        ClusterError,
        PipelineError,
    )
}


def error_from_name(name: str, message: str) -> KfopsError:
    """Rebuild an error that crossed a process boundary as (class name, message)."""
    return ERROR_TYPES.get(name, PipelineError)(message)


def one_line(exc: BaseException | str, limit: int | None = None) -> str:
    """The first line of an error (or text), for messages that must stay on one line.

    Third-party exceptions often carry tracebacks or multi-line payloads; a kfops error
    line quotes only their first line, or the exception's class name when it is empty.
    """
    if isinstance(exc, BaseException):
        lines = str(exc).strip().splitlines()
        text = lines[0] if lines else type(exc).__name__
    else:
        lines = str(exc).strip().splitlines()
        text = lines[0] if lines else ""
    text = " ".join(text.split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def format_location(loc: tuple[object, ...] | list[object]) -> str:
    """A pydantic error location as a key path: ('tuning', 'parameters', 1, 'type') ->
    'tuning.parameters[1].type'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def config_error(
    exc: PydanticValidationError, source: str, error_type: type[KfopsError] = ConfigurationError
) -> KfopsError:
    """One line for a pydantic validation failure: the first problem's key, what is wrong
    and the fix, and how many more there are."""
    err = exc.errors()[0]
    key = format_location(err["loc"])
    if err["type"] == "extra_forbidden":
        msg = f"{source}: unknown key '{key}'; remove it or check its spelling"
    elif err["type"] == "missing":
        msg = f"{source}: missing required key '{key}'; add it"
    else:
        value: Any = err.get("input")
        shown = repr(value) if not isinstance(value, dict) else "{...}"
        msg = f"{source}: invalid value {shown} for '{key}': {err['msg']}"
    more = len(exc.errors()) - 1
    if more:
        msg += f" (and {more} more problem{'s' if more > 1 else ''})"
    return error_type(msg)


ERROR_PREFIX = "kfops: error:"


class _ExitOnError(ContextDecorator):
    """Turn a KfopsError into ``kfops: error: <one line>`` on stderr and its exit code.

    Every entry point (the ``kfops`` commands, ``kubectl-kfops``, the router and the Katib
    trial) uses this one wrapper, so a failure looks and exits the same everywhere. Other
    exceptions pass through untouched: they are bugs, and their traceback is the report.
    Standard library only, so processes without pydantic (the TFDV runtime) can use it.
    """

    def __enter__(self) -> _ExitOnError:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if not isinstance(exc, KfopsError):
            return False
        prefix = ERROR_PREFIX
        if sys.stderr.isatty() and not os.environ.get("NO_COLOR"):
            prefix = f"\033[1;31m{prefix}\033[0m"
        print(f"{prefix} {one_line(exc)}", file=sys.stderr, flush=True)
        raise SystemExit(exc.exit_code) from None


exit_on_error = _ExitOnError()
"""Use as ``@exit_on_error`` on an entry point, or ``with exit_on_error:`` around its body."""
