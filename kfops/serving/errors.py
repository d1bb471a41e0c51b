"""What can go wrong while serving, and the HTTP answer for each: mapped here, once.

Every failure a client can cause is a 4xx with a message naming the field; only our own
faults are 5xx. kserve's own exceptions (unknown model, not ready, bad CloudEvent) and
FastAPI's body validation are translated by the same table.
"""

from __future__ import annotations

from kfops.errors import KfopsError, ServingError


class RequestError(ServingError):
    """The body is not a request at all: not JSON, or not the protocol's shape."""

    http_status = 400


class InputError(ServingError):
    """The request is well formed but does not fit the model's signature."""

    http_status = 422


class PayloadTooLargeError(ServingError):
    """The body is bigger than ``serving.max_body_bytes``."""

    http_status = 413


class OverloadedError(ServingError):
    """The batcher's queue is full, or the server is draining for shutdown."""

    http_status = 503


class UpstreamError(ServingError):
    """A service the request needs (the online feature store) failed."""

    http_status = 502


class ModelIntegrityError(ServingError):
    """The artifact's digest differs from the registry's record: refuse to unpickle it."""


def http_error(exc: BaseException) -> tuple[int, str]:
    """(HTTP status, message) for any exception that reaches the HTTP layer.

    >>> http_error(InputError("column 'age': expected an integer, got 'x'"))
    (422, "column 'age': expected an integer, got 'x'")
    """
    if isinstance(exc, KfopsError):
        return exc.http_status, exc.message
    from fastapi.exceptions import RequestValidationError

    from kfops.serving.kserve_import import kserve_errors

    if isinstance(exc, RequestValidationError):
        return 422, _validation_message(exc)
    foreign: tuple[tuple[type[BaseException], int], ...] = (
        (kserve_errors.InvalidInput, 400),
        (kserve_errors.ModelNotFound, 404),
        (kserve_errors.ModelNotReady, 503),
        (kserve_errors.ServerNotReady, 503),
        (kserve_errors.ServerNotLive, 503),
        (kserve_errors.UnsupportedProtocol, 501),
        (NotImplementedError, 501),
    )
    for kind, status in foreign:
        if isinstance(exc, kind):
            return status, str(exc)
    return 500, f"internal error ({type(exc).__name__}); the server logged the details"


def _validation_message(exc) -> str:
    """FastAPI's list of pydantic errors as one line naming the first field.

    ``{'loc': ('body', 'inputs', 0, 'shape'), 'msg': 'Field required'}`` becomes
    ``body.inputs[0].shape: Field required``.
    """
    errors = exc.errors()
    if not errors:
        return "the request body does not match the protocol"
    first = errors[0]
    where = ""
    for part in first.get("loc", ()):
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where or 'body'}: {first.get('msg', 'invalid')}{more}"
