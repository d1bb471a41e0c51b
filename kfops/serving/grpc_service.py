"""The Open Inference Protocol over gRPC (KServe's ``grpc_predict_v2.proto``), kfops' own servicer.

KServe's generated messages, kfops' data plane: a ``ModelInfer`` request becomes the same
V2 body the REST route decodes (typed ``contents`` or ``raw_input_contents``), so the
signature checks, batching, metrics (protocol ``grpc``, the HTTP-equivalent status) and
the inference log are shared. Outputs go back raw when the inputs came raw (as Triton
does), else typed. Errors carry a code from :func:`kfops.serving.errors.http_error`'s
status: a client's fault is ``INVALID_ARGUMENT`` or ``NOT_FOUND``, never ``UNKNOWN``.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import grpc

from kfops.serving import tensors
from kfops.serving.errors import RequestError, http_error
from kfops.serving.kserve_import import kserve_errors, oip_grpc, oip_pb2
from kfops.serving.protocols import OutputTensor

if TYPE_CHECKING:
    from kfops.serving.model import KfopsModel

log = logging.getLogger(__name__)

_CONTENTS = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}
_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    501: grpc.StatusCode.UNIMPLEMENTED,
    502: grpc.StatusCode.UNAVAILABLE,
    503: grpc.StatusCode.UNAVAILABLE,
}


class InferenceServicer(oip_grpc.GRPCInferenceServiceServicer):
    """One served model behind the six calls of the protocol."""

    def __init__(self, model: KfopsModel, server_metadata: dict[str, Any]) -> None:
        self.model = model
        self.server_metadata = server_metadata

    async def ServerLive(self, request: Any, context: Any) -> Any:
        return oip_pb2.ServerLiveResponse(live=True)

    async def ServerReady(self, request: Any, context: Any) -> Any:
        return oip_pb2.ServerReadyResponse(ready=self.model.ready)

    async def ModelReady(self, request: Any, context: Any) -> Any:
        try:
            self._named(request.name, request.version)
        except Exception as exc:
            await _abort(context, exc)
        return oip_pb2.ModelReadyResponse(ready=self.model.ready)

    async def ServerMetadata(self, request: Any, context: Any) -> Any:
        return oip_pb2.ServerMetadataResponse(**self.server_metadata)

    async def ModelMetadata(self, request: Any, context: Any) -> Any:
        try:
            self._named(request.name, request.version)
        except Exception as exc:
            await _abort(context, exc)

        def tensor(item: dict[str, Any]) -> Any:
            return oip_pb2.ModelMetadataResponse.TensorMetadata(**item)

        return oip_pb2.ModelMetadataResponse(
            name=self.model.name,
            versions=[self.model.dataplane.version],
            platform="",
            inputs=[tensor(i) for i in self.model.get_input_types()],
            outputs=[tensor(o) for o in self.model.get_output_types()],
        )

    async def ModelInfer(self, request: Any, context: Any) -> Any:
        started = time.perf_counter()
        status = 200
        try:
            model = self._named(request.model_name, request.model_version)
            raw = bool(request.raw_input_contents)
            header, outputs = await model.infer_v2_tensors(request_body(request))
            return infer_response(header, outputs, raw)
        except Exception as exc:
            status = http_error(exc)[0]
            await _abort(context, exc)
        finally:
            seconds = time.perf_counter() - started
            self.model.dataplane.metrics.observe_request("grpc", status, seconds)

    def _named(self, name: str, version: str) -> KfopsModel:
        if name != self.model.name:
            raise kserve_errors.ModelNotFound(name)
        served = self.model.dataplane.version
        if version and version != served:
            raise kserve_errors.ModelNotFound(
                f"{name} version {version} (this server has version {served})"
            )
        if not self.model.ready:
            raise kserve_errors.ModelNotReady(name)
        return self.model


async def _abort(context: Any, exc: Exception) -> None:
    """End the RPC with the code and one-line message of ``exc`` (``context.abort`` raises)."""
    status, message = http_error(exc)
    if status >= 500:
        log.error("gRPC call failed", exc_info=exc)
    await context.abort(_CODES.get(status, grpc.StatusCode.INTERNAL), message)


def request_body(request: Any) -> dict[str, Any]:
    """A ModelInferRequest as the V2 REST body the codec reads."""
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise RequestError(
            f"raw_input_contents has {len(raw)} buffers for {len(request.inputs)} inputs; "
            "send one per input, in input order"
        )
    inputs = []
    for number, tensor in enumerate(request.inputs):
        name, datatype = tensor.name, tensor.datatype
        data = tensors.decode(name, datatype, raw[number]) if raw else _contents(tensor)
        inputs.append(
            {"name": name, "shape": list(tensor.shape), "datatype": datatype, "data": data}
        )
    body: dict[str, Any] = {"inputs": inputs}
    if request.id:
        body["id"] = request.id
    if request.outputs:
        body["outputs"] = [{"name": output.name} for output in request.outputs]
    return body


def _contents(tensor: Any) -> list[Any]:
    field = _CONTENTS.get(tensor.datatype)
    if field is None:
        raise RequestError(
            f"input '{tensor.name}': datatype '{tensor.datatype}' has no typed contents; "
            "send it in raw_input_contents"
        )
    values = list(getattr(tensor.contents, field))
    if tensor.datatype != "BYTES":
        return values
    try:
        return [value.decode("utf-8") for value in values]
    except UnicodeDecodeError:
        raise RequestError(f"input '{tensor.name}': bytes_contents must be UTF-8 text") from None


def infer_response(header: dict[str, Any], outputs: list[OutputTensor], raw: bool) -> Any:
    response = oip_pb2.ModelInferResponse(
        model_name=header["model_name"], model_version=header["model_version"], id=header["id"]
    )
    for tensor in outputs:
        output = response.outputs.add(
            name=tensor.name, datatype=tensor.datatype, shape=tensor.shape
        )
        for key, value in tensor.parameters.items():
            output.parameters[key].string_param = value
        if raw:
            response.raw_output_contents.append(tensors.encode(tensor.datatype, tensor.values))
            continue
        values = tensor.values.ravel().tolist()
        if tensor.datatype == "BYTES":
            values = [str(value).encode("utf-8") for value in values]
        getattr(output.contents, _CONTENTS[tensor.datatype]).extend(values)
    return response


async def start_grpc_server(
    model: KfopsModel,
    server_metadata: dict[str, Any],
    host: str,
    port: int,
    max_message_bytes: int,
) -> tuple[grpc.aio.Server, int]:
    """The started gRPC server on this event loop, and its bound port (0 picks a free one)."""
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.so_reuseport", 0),
        ]
    )
    oip_grpc.add_GRPCInferenceServiceServicer_to_server(
        InferenceServicer(model, server_metadata), server
    )
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    return server, bound
