"""The server: kserve's ModelServer on 127.0.0.1, strict at the door, draining on exit.

kserve's stock server binds 0.0.0.0, adds a timing middleware that logs every request,
and exposes model load/unload endpoints; this one builds its own FastAPI application per
server: kserve's handlers for health, readiness, model lists and metadata (and for V1
requests wrapped in CloudEvents), lean translating routes for V1 predict and V2 infer
(JSON, or the binary tensor extension of :mod:`kfops.serving.binary`), the REST edge of
:mod:`kfops.serving.rest`; with a ``grpc_port``, the V2 gRPC service of
:mod:`kfops.serving.grpc_service` on the same event loop and data plane.

Shutdown (SIGTERM, SIGINT or :meth:`KfopsModelServer.stop`): uvicorn stops accepting,
lets in-flight requests finish (up to ``grace_period`` seconds), the gRPC server does the
same, then the data plane drains its queue and writes the pending inference-log records.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import threading
import time
import warnings
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi import Path as FastAPIPath

from kfops.errors import ServingError
from kfops.serving.grpc_service import start_grpc_server
from kfops.serving.inference_routes import (
    Answer,
    InferenceRoutes,
    answer_v1,
    answer_v2,
    is_cloudevent,
)
from kfops.serving.kserve_import import ModelServer, V1Endpoints, V2Endpoints, kserve_errors
from kfops.serving.model import KfopsModel
from kfops.serving.openapi import v1_request_body, v2_request_body
from kfops.serving.rest import HANDLED, JSONResponse, ServingMiddleware, error_response

log = logging.getLogger(__name__)


LOOPBACK = "127.0.0.1"


class KfopsModelServer(ModelServer):
    """A kserve ModelServer for one model, on ``host`` (127.0.0.1 unless told otherwise)."""

    def __init__(
        self,
        *,
        host: str = LOOPBACK,
        port: int = 8080,
        grace_period: int = 30,
        max_body_bytes: int = 1_048_576,
        timeout_keep_alive: int = 65,
        grpc_port: int | None = None,
    ) -> None:
        super().__init__(
            http_port=port,
            workers=1,
            enable_grpc=False,
            enable_docs_url=False,
            enable_latency_logging=False,
            grace_period=grace_period,
            timeout_keep_alive=timeout_keep_alive,
        )
        self.host = host
        self.max_body_bytes = max_body_bytes
        self._uvicorn: uvicorn.Server | None = None
        self._bound_port = 0
        # kserve's ModelServer has a grpc_port of its own (its server, which is not used).
        self.oip_grpc_port = grpc_port
        self.bound_grpc_port: int | None = None

    def create_application(self, model: KfopsModel) -> FastAPI:
        app = FastAPI(
            title=f"kfops model server: {model.name}",
            version=model.dataplane.version,
            docs_url=None,
            redoc_url=None,
            default_response_class=JSONResponse,
        )
        v1 = V1Endpoints(self.dataplane, self.model_repository_extension)
        v2 = V2Endpoints(self.dataplane, self.model_repository_extension)

        async def metrics() -> Response:
            body, content_type = model.dataplane.metrics.render()
            return Response(body, media_type=content_type)

        async def model_metadata(model_name: str) -> Any:
            return await v2.model_metadata(model_name)

        async def model_ready(model_name: str) -> Any:
            return await v2.model_ready(model_name)

        served = FastAPIPath(json_schema_extra={"enum": [model.name]})

        async def predict(request: Request, model_name: str = served) -> Response:
            if is_cloudevent(request.headers):  # kserve's handler unwraps CloudEvents
                return await v1.predict(model_name, request)
            target = self._ready(model_name)
            return _response(await answer_v1(target, await request.body(), request.headers))

        async def infer(request: Request, model_name: str = served) -> Response:
            return await answer(self._ready(model_name), request)

        async def infer_version(
            request: Request, model_name: str = served, model_version: str = FastAPIPath()
        ) -> Response:
            """Triton's clients call this route when given a model version."""
            target = self._ready(model_name)
            if model_version != target.dataplane.version:
                raise kserve_errors.ModelNotFound(
                    f"{model_name} version {model_version} (this server has version "
                    f"{target.dataplane.version})"
                )
            return await answer(target, request)

        async def answer(target: KfopsModel, request: Request) -> Response:
            return _response(await answer_v2(target, await request.body(), request.headers))

        responses = {status: {"description": text} for status, text in _ERROR_STATUSES.items()}
        route = app.add_api_route
        route("/", self.dataplane.live, methods=["GET"])
        route("/metrics", metrics, methods=["GET"])
        route("/v1/models", v1.models, methods=["GET"])
        route("/v1/models/{model_name}", v1.model_ready, methods=["GET"])
        route(
            "/v1/models/{model_name}:predict", predict, methods=["POST"], response_model=None,
            responses=responses, openapi_extra=v1_request_body(model),
        )  # fmt: skip
        route("/v2", v2.metadata, methods=["GET"])
        route("/v2/health/live", v2.live, methods=["GET"])
        route("/v2/health/ready", v2.ready, methods=["GET"])
        route("/v2/models", v2.models, methods=["GET"])
        route("/v2/models/{model_name}", model_metadata, methods=["GET"])
        route("/v2/models/{model_name}/ready", model_ready, methods=["GET"])
        route(
            "/v2/models/{model_name}/infer", infer, methods=["POST"], response_model=None,
            responses=responses, openapi_extra=v2_request_body(model),
        )  # fmt: skip
        route(
            "/v2/models/{model_name}/versions/{model_version}/infer", infer_version,
            methods=["POST"], response_model=None, responses=responses,
            openapi_extra=v2_request_body(model),
        )  # fmt: skip
        for kind in HANDLED:
            app.add_exception_handler(kind, error_response)
        app.add_middleware(ServingMiddleware, model=model, max_body_bytes=self.max_body_bytes)
        return app

    def asgi_application(self, model: KfopsModel) -> InferenceRoutes:
        """The FastAPI application behind the two inference routes answered directly."""
        return InferenceRoutes(
            self.create_application(model), model, self.max_body_bytes, self._ready
        )

    def _ready(self, name: str) -> KfopsModel:
        model = self.registered_models.get_model(name)
        if model is None:
            raise kserve_errors.ModelNotFound(name)
        if not model.ready:
            raise kserve_errors.ModelNotReady(name)
        return model

    async def serve(self, model: KfopsModel) -> None:
        """Serve until stopped, then drain in-flight requests and the data plane."""
        self.register_model(model)
        config = uvicorn.Config(
            self.asgi_application(model),
            host=self.host,
            port=self.http_port,
            log_config=None,
            access_log=False,
            lifespan="off",
            proxy_headers=False,  # nothing here reads the client's address
            timeout_graceful_shutdown=self.grace_period,
            timeout_keep_alive=self.timeout_keep_alive,
        )
        self._uvicorn = uvicorn.Server(config)
        # Everything loaded so far (mlflow, pandas, scikit-learn, the model) lives until
        # exit; frozen, the collector stops re-scanning it. Unfrozen, a full collection of
        # that heap paused the loop for 100-300 ms under load (p99 at concurrency 32 went
        # from ~390 ms to ~36 ms with a stubbed model when frozen).
        grpc_server = None
        if self.oip_grpc_port is not None:
            grpc_server, self.bound_grpc_port = await start_grpc_server(
                model,
                self.dataplane.metadata(),
                self.host,
                self.oip_grpc_port,
                self.max_body_bytes,
            )
        gc.collect()
        gc.freeze()
        try:
            await self._uvicorn.serve()
        finally:
            if grpc_server is not None:
                await grpc_server.stop(self.grace_period)
            model.stop()
            await model.dataplane.close(self.grace_period)
            log.info("model server on %s:%s stopped", self.host, self.bound_port)

    def start(self, models: list[Any]) -> None:  # type: ignore[override]
        """Serve the first model in this (main) thread until SIGTERM or SIGINT."""
        import uvloop
        from fastapi.exceptions import FastAPIDeprecationWarning

        # kserve's V1 handler answers with FastAPI's ORJSONResponse, deprecated since 0.16x.
        warnings.filterwarnings("ignore", "ORJSONResponse", FastAPIDeprecationWarning)

        # uvicorn handles the signals while serving, then raises them again once it has
        # drained; these handlers absorb that so the data plane can drain too.
        previous = {
            sig: signal.signal(sig, self._drained) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(self.serve(models[0]))
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _drained(self, sig: int, frame: Any) -> None:
        log.info("received %s after draining", signal.Signals(sig).name)

    def stop(self, sig: int | None = None) -> None:  # type: ignore[override]
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True

    @property
    def started(self) -> bool:
        return self._uvicorn is not None and self._uvicorn.started

    @property
    def bound_port(self) -> int:
        """The port actually bound (port 0 asks for any free one); remembered after close."""
        servers = self._uvicorn.servers if self._uvicorn is not None else []
        if servers and servers[0].sockets:
            self._bound_port = servers[0].sockets[0].getsockname()[1]
        return self._bound_port or self.http_port


def _response(answer: Answer) -> Response:
    return Response(answer.body, media_type=answer.media_type, headers=answer.headers)


_ERROR_STATUSES = {
    400: "The body is not a request of this protocol.",
    404: "No such model on this server.",
    413: "The body is over the size limit.",
    422: "The request does not fit the model's signature.",
    503: "Overloaded or shutting down; retry.",
}


class ServerThread:
    """A server in a background thread (tests, benchmarks): ``with ServerThread(...) as s``."""

    def __init__(self, server: KfopsModelServer, model: KfopsModel) -> None:
        self.server = server
        self.model = model
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="kfops-model-server", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self.server.serve(self.model))
        except BaseException as exc:
            self.error = exc

    def start(self, timeout_s: float = 60.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if self.error is not None or not self._thread.is_alive():
                raise ServingError(f"the model server did not start: {self.error!r}")
            if time.monotonic() > deadline:
                raise ServingError(f"the model server did not start within {timeout_s} s")
            time.sleep(0.02)
        return self

    @property
    def url(self) -> str:
        return f"http://{self.server.host}:{self.server.bound_port}"

    @property
    def grpc_target(self) -> str:
        """host:port of the gRPC service (when the server has one)."""
        return f"{self.server.host}:{self.server.bound_grpc_port}"

    def stop(self, timeout_s: float = 60.0) -> None:
        self.server.stop()
        self._thread.join(timeout_s)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
