"""The two inference routes answered straight from ASGI, beside the FastAPI application.

Profiled at concurrency 32, two thirds of the server process's busy time per request went
to the framework around the handler (uvicorn's proxy-header middleware, Starlette's
error, exception and routing layers, FastAPI's dependency solving and response building),
not to parsing, checking or answering. ``POST /v1/models/<name>:predict`` and
``POST /v2/models/<name>/infer`` are what a model server spends its life on, so
:class:`InferenceRoutes` answers exactly those two paths itself, through the same
functions the FastAPI routes use (:func:`answer_v1`, :func:`answer_v2`), the same body
limit, the same request metrics and the same error mapping
(:func:`kfops.serving.errors.http_error`); every other request (health, metadata,
versioned infer, CloudEvents, other methods) goes to the FastAPI application unchanged.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import orjson

from kfops.serving import binary
from kfops.serving.errors import PayloadTooLargeError, RequestError, http_error

if TYPE_CHECKING:
    from kfops.serving.model import KfopsModel

log = logging.getLogger(__name__)

_JSON_TYPES = ("application/json", "application/cloudevents+json", "text/plain", "")
_JSON_HEADERS = [(b"content-type", b"application/json")]


class Answer:
    """A response body with its media type and extra headers (not yet sent)."""

    __slots__ = ("body", "media_type", "headers")

    def __init__(
        self,
        body: bytes,
        media_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.body = body
        self.media_type = media_type
        self.headers = headers or {}


def parse_json(body: bytes, content_type: str) -> Any:
    """The parsed body; anything but JSON is a 400 naming the problem."""
    media = content_type.split(";")[0].strip().lower()
    if media not in _JSON_TYPES and not media.endswith("+json"):
        raise RequestError(f"content-type '{media}' is not JSON; send application/json")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestError(f"the body is not JSON: {exc}") from None


def is_cloudevent(headers: Any) -> bool:
    """A CloudEvent (binary or structured mode): kserve's V1 handler unwraps those."""
    return "ce-specversion" in headers or headers.get("content-type", "").startswith(
        "application/cloudevents+json"
    )


async def answer_v1(model: KfopsModel, body: bytes, headers: Any) -> Answer:
    payload = parse_json(body, headers.get("content-type", ""))
    result = await model.infer_v1(payload, headers.get("x-request-id", ""))
    return Answer(orjson.dumps(result))


async def answer_v2(model: KfopsModel, body: bytes, headers: Any) -> Answer:
    """JSON or the binary extension in; JSON, or binary outputs when asked, out."""
    header_length = headers.get(binary.HEADER)
    if header_length is None:
        payload = parse_json(body, headers.get("content-type", ""))
        if not (isinstance(payload, dict) and _may_want_binary(payload)):
            return Answer(orjson.dumps(await model.infer_v2(payload)))
    else:
        payload = binary.decode_request(body, header_length)
    raw = binary.binary_outputs(payload)
    header, outputs = await model.infer_v2_tensors(payload)
    if not raw:
        return Answer(orjson.dumps({**header, "outputs": [o.as_json() for o in outputs]}))
    content, length = binary.encode_response(header, outputs, raw)
    return Answer(content, binary.CONTENT_TYPE, {"Inference-Header-Content-Length": str(length)})


def _may_want_binary(payload: dict[str, Any]) -> bool:
    """Whether a JSON request mentions binary outputs (most do not: the quick path)."""
    parameters = payload.get("parameters")
    if isinstance(parameters, dict) and "binary_data_output" in parameters:
        return True
    outputs = payload.get("outputs")
    return isinstance(outputs, list) and any(
        isinstance(o, dict) and isinstance(o.get("parameters"), dict) for o in outputs
    )


def too_large(size: int, limit: int) -> str:
    return (
        f"the body has {size} bytes, over the limit of {limit} "
        "(serving.max_body_bytes); send fewer rows per request"
    )


def declared_length(headers: Any) -> int:
    value = headers.get("content-length")
    if value is None:
        return 0
    try:
        return int(value)
    except ValueError:
        raise RequestError(f"content-length {value!r} is not a number") from None


def scope_headers(scope: dict[str, Any]) -> dict[str, str]:
    """ASGI's header pairs as a dict with lower-case names (the last value wins)."""
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


class InferenceRoutes:
    """ASGI: the model's predict and infer POSTs here, everything else to ``app``."""

    def __init__(self, app: Any, model: KfopsModel, max_body_bytes: int, ready: Any) -> None:
        self.app = app
        self.model = model
        self.max_body_bytes = max_body_bytes
        self._ready = ready  # the server's check: the model is registered and ready
        self._routes = {
            f"/v1/models/{model.name}:predict": ("v1", answer_v1),
            f"/v2/models/{model.name}/infer": ("v2", answer_v2),
        }

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        route = self._routes.get(scope["path"]) if scope["type"] == "http" else None
        if route is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = scope_headers(scope)
        if is_cloudevent(headers):
            await self.app(scope, receive, send)
            return
        protocol, handler = route
        started = time.perf_counter()
        status = 500
        try:
            try:
                body = await self._body(headers, receive)
                answer = await handler(self._ready(self.model.name), body, headers)
                status = 200
            except Exception as exc:
                status, message = http_error(exc)
                if status >= 500:
                    log.error("POST %s failed", scope["path"], exc_info=exc)
                answer = Answer(orjson.dumps({"error": message}))
            await _send(send, status, answer)
        finally:
            self.model.dataplane.metrics.observe_request(
                protocol, status, time.perf_counter() - started
            )

    async def _body(self, headers: Any, receive: Any) -> bytes:
        declared = declared_length(headers)
        if declared > self.max_body_bytes:
            raise PayloadTooLargeError(too_large(declared, self.max_body_bytes))
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                raise RequestError("the client closed the connection before the body ended")
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_body_bytes:
                raise PayloadTooLargeError(too_large(received, self.max_body_bytes))
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _send(send: Any, status: int, answer: Answer) -> None:
    headers = (
        _JSON_HEADERS
        if answer.media_type == "application/json"
        else [(b"content-type", answer.media_type.encode())]
    )
    headers = [
        *headers,
        (b"content-length", str(len(answer.body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in answer.headers.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})
