"""The REST edge of the FastAPI routes: the body size limit, request metrics, error responses.

Every exception that reaches HTTP is answered by :func:`error_response`, which asks
:func:`kfops.serving.errors.http_error` for the status: the one place errors meet HTTP.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from kfops.errors import KfopsError
from kfops.serving.errors import PayloadTooLargeError, RequestError, http_error
from kfops.serving.inference_routes import declared_length, scope_headers, too_large
from kfops.serving.kserve_import import kserve_errors

if TYPE_CHECKING:
    from kfops.serving.model import KfopsModel

log = logging.getLogger(__name__)


class JSONResponse(Response):
    """orjson-encoded JSON (FastAPI deprecates its ORJSONResponse)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


HANDLED = (
    KfopsError,
    RequestValidationError,
    kserve_errors.InvalidInput,
    kserve_errors.ModelNotFound,
    kserve_errors.ModelNotReady,
    kserve_errors.ServerNotReady,
    kserve_errors.ServerNotLive,
    kserve_errors.UnsupportedProtocol,
    NotImplementedError,
    HTTPException,
    Exception,
)


async def error_response(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, HTTPException):  # unknown route, wrong method
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)
    status, message = http_error(exc)
    if status >= 500:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"error": message}, status_code=status)


class ServingMiddleware:
    """Refuses bodies over the limit and counts inference requests by protocol and status."""

    def __init__(self, app: Any, model: KfopsModel, max_body_bytes: int) -> None:
        self.app = app
        self.model = model
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path: str = scope["path"]
        protocol = "v1" if path.endswith(":predict") else "v2" if path.endswith("/infer") else ""
        status = 500

        async def send_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            declared = self._declared_length(scope)
            if declared > self.max_body_bytes:
                raise PayloadTooLargeError(self._too_large(declared))
            await self.app(scope, self._limited(receive), send_status)
        except (PayloadTooLargeError, RequestError) as exc:  # raised before the app ran
            response = JSONResponse({"error": exc.message}, status_code=exc.http_status)
            await response(scope, receive, send_status)
        finally:
            if protocol and f"/models/{self.model.name}" in path:
                metrics = self.model.dataplane.metrics
                metrics.observe_request(protocol, status, time.perf_counter() - started)

    def _declared_length(self, scope: dict[str, Any]) -> int:
        return declared_length(scope_headers(scope))

    def _too_large(self, size: int) -> str:
        return too_large(size, self.max_body_bytes)

    def _limited(self, receive: Any) -> Any:
        received = 0

        async def limited() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise PayloadTooLargeError(self._too_large(received))
            return message

        return limited
