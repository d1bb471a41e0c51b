"""The Open Inference Protocol's binary tensor extension on REST, as Triton's clients send it.

A request with the ``Inference-Header-Content-Length: N`` header is N bytes of JSON, then
the raw bytes of each input that has ``parameters.binary_data_size``, in input order.
:func:`decode_request` turns it into the plain JSON body the V2 codec reads, so the
signature checks, batching, metrics and the inference log are the same as for JSON.
Outputs go back raw when asked (``parameters.binary_data_output`` on the request, or
``binary_data`` / ``binary_data_output`` on one output): :func:`encode_response`.
Any framing fault is a 400 naming the input.
"""

from __future__ import annotations

from typing import Any

import orjson

from kfops.serving import tensors
from kfops.serving.errors import RequestError
from kfops.serving.protocols import PREDICT, PREDICT_PROBA, OutputTensor

HEADER = "inference-header-content-length"
CONTENT_TYPE = "application/octet-stream"
_SIZE = "binary_data_size"
_OUTPUT_FLAGS = ("binary_data", "binary_data_output")


def decode_request(body: bytes, header_length: str) -> Any:
    """The JSON header with each binary input's values put in its ``data``."""
    try:
        length = int(header_length)
    except ValueError:
        raise RequestError(
            f"Inference-Header-Content-Length {header_length!r} is not a number"
        ) from None
    if length < 0 or length > len(body):
        raise RequestError(
            f"Inference-Header-Content-Length {length} is past the body of {len(body)} bytes; "
            "send the length of the JSON header"
        )
    try:
        payload = orjson.loads(body[:length])
    except orjson.JSONDecodeError as exc:
        raise RequestError(
            f"the first {length} bytes (Inference-Header-Content-Length) are not JSON: {exc}"
        ) from None
    inputs = payload.get("inputs") if isinstance(payload, dict) else None
    if not isinstance(inputs, list):
        return payload  # the V2 codec names what is missing
    data = memoryview(body)[length:]
    offset = 0
    for number, item in enumerate(inputs):
        size = _binary_size(number, item)
        if size is None:
            continue
        name = item.get("name", f"inputs[{number}]")
        if offset + size > len(data):
            raise RequestError(
                f"input '{name}': binary_data_size {size} runs past the body "
                f"({len(data) - offset} bytes left); the binary data is truncated"
            )
        if "data" in item:
            raise RequestError(f"input '{name}': both data and binary_data_size; send one")
        datatype = item.get("datatype")
        if not isinstance(datatype, str):
            raise RequestError(f"input '{name}': datatype required, a string such as FP64")
        item["data"] = tensors.decode(name, datatype, data[offset : offset + size])
        offset += size
    if offset != len(data):
        raise RequestError(
            f"{len(data) - offset} bytes follow the last binary input; the inputs' "
            "binary_data_size values must add up to the bytes after the JSON header"
        )
    return payload


def _binary_size(number: int, item: Any) -> int | None:
    parameters = item.get("parameters") if isinstance(item, dict) else None
    if not isinstance(parameters, dict) or _SIZE not in parameters:
        return None
    size = parameters.pop(_SIZE)
    if type(size) is not int or size < 0:
        name = item.get("name", f"inputs[{number}]")
        raise RequestError(f"input '{name}': binary_data_size {size!r} must be a byte count")
    return size


def binary_outputs(payload: Any) -> set[str]:
    """The names of the outputs to send raw, as the request asks (checked before inferring).

    Malformed ``outputs`` are left to the V2 codec, which names the fault.
    """
    if not isinstance(payload, dict):
        return set()
    parameters = payload.get("parameters")
    everything = isinstance(parameters, dict) and _flag(parameters, "binary_data_output", "")
    chosen = {PREDICT, PREDICT_PROBA} if everything else set()
    outputs = payload.get("outputs")
    for output in outputs if isinstance(outputs, list) else []:
        given = output.get("parameters") if isinstance(output, dict) else None
        if not isinstance(given, dict) or not isinstance(output.get("name"), str):
            continue
        for key in _OUTPUT_FLAGS:
            if key in given:
                name = output["name"]
                if _flag(given, key, name):
                    chosen.add(name)
                else:
                    chosen.discard(name)
    return chosen


def _flag(parameters: dict[str, Any], key: str, output: str) -> bool:
    value = parameters.get(key, False)
    if not isinstance(value, bool):
        where = f"output '{output}': " if output else ""
        raise RequestError(f"{where}parameters.{key} must be true or false, got {value!r}")
    return value


def encode_response(
    header: dict[str, Any], outputs: list[OutputTensor], binary: set[str]
) -> tuple[bytes, int]:
    """(body, JSON header length): raw outputs follow the header in output order."""
    described = []
    buffers = []
    for tensor in outputs:
        if tensor.name not in binary:
            described.append(tensor.as_json())
            continue
        raw = tensors.encode(tensor.datatype, tensor.values)
        buffers.append(raw)
        parameters: dict[str, Any] = {**tensor.parameters, _SIZE: len(raw)}
        described.append(
            {
                "name": tensor.name,
                "shape": tensor.shape,
                "datatype": tensor.datatype,
                "parameters": parameters,
            }
        )
    head = orjson.dumps({**header, "outputs": described})
    return b"".join([head, *buffers]), len(head)
