"""V1 and V2 (Open Inference Protocol) codecs: translation only, no checks of values.

V1 request: ``{"instances": [...]}``, rows as objects by column name or positional lists
(``{"inputs": {column: [values]}}``, TF-Serving's columnar form, is accepted too).
V1 response: ``{"predictions": [...], "probabilities": [[...]], "classes": [...],
"model_name": ..., "model_version": ...}`` (probabilities and classes for classifiers).

V2 request: one input per column (shape ``[N]`` or ``[N, 1]``), or a single ``[N, F]``
input with the model's columns in order; both codecs take the parsed JSON body. V2 response: outputs ``predict`` (``[N]``) and,
for classifiers, ``predict_proba`` (``[N, C]``, classes in its ``classes`` parameter).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kfops.serving.dataplane import Prediction, TabularRequest
from kfops.serving.errors import InputError, RequestError
from kfops.serving.kserve_import import InferRequest
from kfops.serving.signature import InputSchema, Kind

PREDICT = "predict"
PREDICT_PROBA = "predict_proba"

V2_DATATYPES: dict[Kind, str] = {
    Kind.INTEGER: "INT64",
    Kind.NUMBER: "FP64",
    Kind.TEXT: "BYTES",
    Kind.BOOLEAN: "BOOL",
    Kind.TIME: "BYTES",
}
_INTS = {f"INT{n}" for n in (8, 16, 32, 64)} | {f"UINT{n}" for n in (8, 16, 32, 64)}
_FLOATS = {"FP16", "FP32", "FP64"}
_FITS: dict[Kind, set[str]] = {
    Kind.INTEGER: _INTS,
    Kind.NUMBER: _INTS | _FLOATS,
    Kind.TEXT: {"BYTES"},
    Kind.BOOLEAN: {"BOOL"},
    Kind.TIME: {"BYTES"},
}
_KNOWN = _INTS | _FLOATS | {"BYTES", "BOOL"}


class V1Codec:
    def decode(self, payload: Any, request_id: str = "") -> TabularRequest:
        if not isinstance(payload, dict):
            kind = (
                "bytes of another content type" if isinstance(payload, bytes) else "not an object"
            )
            raise RequestError(
                f'the body is {kind}; send JSON like {{"instances": [{{"column": value}}]}}'
            )
        unknown = sorted(set(payload) - {"instances", "inputs"})
        if unknown:
            raise RequestError(f"unknown key '{unknown[0]}'; send {{\"instances\": [...]}}")
        if "instances" in payload:
            rows = payload["instances"]
            if not isinstance(rows, list):
                raise RequestError("'instances' must be a list of rows")
            return TabularRequest(rows=rows, request_id=request_id, protocol="v1")
        inputs = payload.get("inputs")
        if isinstance(inputs, list):
            return TabularRequest(rows=inputs, request_id=request_id, protocol="v1")
        if isinstance(inputs, dict) and all(isinstance(v, list) for v in inputs.values()):
            return TabularRequest(columns=inputs, request_id=request_id, protocol="v1")
        raise RequestError(
            "send 'instances' (a list of rows) or 'inputs' (column name -> list of values)"
        )

    def encode(self, prediction: Prediction) -> dict[str, Any]:
        body: dict[str, Any] = {"predictions": prediction.labels.tolist()}
        if prediction.probabilities is not None:
            body["probabilities"] = prediction.probabilities.tolist()
            body["classes"] = prediction.classes
        body["model_name"] = prediction.model
        body["model_version"] = prediction.version
        return body


class V2Codec:
    """Open Inference Protocol REST bodies (plain JSON objects) to and from the data plane."""

    def __init__(self, schema: InputSchema, classes: list[Any] | None) -> None:
        self.schema = schema
        self.classes = classes
        self._classes_json = json.dumps(classes)  # the same on every response

    def decode(self, payload: Any) -> TabularRequest:
        if not isinstance(payload, dict):
            raise RequestError('the body is not an object; send {"inputs": [...]}')
        unknown = sorted(set(payload) - {"id", "parameters", "inputs", "outputs"})
        if unknown:
            raise RequestError(f"unknown key '{unknown[0]}'; send id, parameters, inputs, outputs")
        request_id = payload.get("id") or ""
        if not isinstance(request_id, str):
            raise InputError("id: must be a string")
        self.requested_outputs(payload)
        inputs = payload.get("inputs")
        if not isinstance(inputs, list) or not inputs:
            raise InputError("inputs: required, a non-empty list with one input per column")
        tensors = [_tensor(number, item) for number, item in enumerate(inputs)]
        if len(tensors) == 1 and self.schema.column(tensors[0][0]) is None:
            return TabularRequest(
                rows=self._matrix(*tensors[0]), request_id=request_id, protocol="v2"
            )
        columns: dict[str, list[Any]] = {}
        for name, shape, datatype, data in tensors:
            if name in columns:
                raise InputError(f"input '{name}' is sent twice; send it once")
            columns[name] = self._column(name, shape, datatype, data)
        return TabularRequest(columns=columns, request_id=request_id, protocol="v2")

    def requested_outputs(self, payload: dict[str, Any]) -> set[str]:
        outputs = payload.get("outputs") or []
        if not isinstance(outputs, list) or not all(
            isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs
        ):
            raise InputError('outputs: a list of objects like {"name": "predict"}')
        names = {o["name"] for o in outputs}
        unknown = sorted(names - {PREDICT, PREDICT_PROBA})
        if unknown:
            raise InputError(f"unknown output '{unknown[0]}'; ask for {PREDICT} or {PREDICT_PROBA}")
        return names or {PREDICT, PREDICT_PROBA}

    def _column(self, name: str, shape: list[int], datatype: str, data: list[Any]) -> list[Any]:
        if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
            raise InputError(f"input '{name}': shape {shape} is not one column; use [N] or [N, 1]")
        column = self.schema.column(name)
        if column is not None and datatype not in _FITS[column.kind]:
            raise InputError(
                f"input '{name}': datatype {datatype} does not fit the column's {column.kind} "
                f"values; send {V2_DATATYPES[column.kind]}"
            )
        return data

    def _matrix(
        self, name: str, shape: list[int], datatype: str, data: list[Any]
    ) -> list[list[Any]]:
        if len(shape) != 2:
            raise InputError(
                f"input '{name}' is not a model column; send one input per column "
                f"({', '.join(self.schema.model_order)}) or one [N, F] input"
            )
        rows, width = shape
        return [data[i * width : (i + 1) * width] for i in range(rows)]

    def encode(self, prediction: Prediction, request_id: str, wanted: set[str]) -> dict[str, Any]:
        return {
            "model_name": prediction.model,
            "model_version": prediction.version,
            "id": request_id,
            "outputs": [t.as_json() for t in self.output_tensors(prediction, wanted)],
        }

    def output_tensors(self, prediction: Prediction, wanted: set[str]) -> list[OutputTensor]:
        """The wanted outputs as arrays, for any encoding (JSON, binary, gRPC)."""
        tensors = []
        if PREDICT in wanted:
            tensors.append(OutputTensor(PREDICT, prediction.labels))
        if prediction.probabilities is not None and PREDICT_PROBA in wanted:
            classes = {
                "classes": self._classes_json
                if prediction.classes == self.classes
                else json.dumps(prediction.classes)
            }
            tensors.append(OutputTensor(PREDICT_PROBA, prediction.probabilities, classes))
        return tensors

    def input_metadata(self) -> list[dict[str, Any]]:
        return [
            {"name": c.name, "datatype": V2_DATATYPES[c.kind], "shape": [-1]}
            for c in self.schema.columns
        ]

    def output_metadata(self) -> list[dict[str, Any]]:
        labels = np.asarray(self.classes if self.classes is not None else [0.0])
        outputs = [{"name": PREDICT, "datatype": _datatype(labels), "shape": [-1]}]
        if self.classes is not None:
            outputs.append(
                {"name": PREDICT_PROBA, "datatype": "FP64", "shape": [-1, len(self.classes)]}
            )
        return outputs


def from_infer_request(request: InferRequest) -> dict[str, Any]:
    """kserve's InferRequest (the gRPC and kserve-internal path) as a V2 REST body."""

    def data(item: Any) -> list[Any]:
        values = item.data
        return values if isinstance(values, list) else item.as_numpy().ravel().tolist()

    body: dict[str, Any] = {
        "inputs": [
            {"name": i.name, "shape": list(i.shape), "datatype": i.datatype, "data": data(i)}
            for i in request.inputs or []
        ]
    }
    if request.id:
        body["id"] = request.id
    if request.request_outputs:
        body["outputs"] = [{"name": o.name} for o in request.request_outputs]
    return body


def _tensor(number: int, item: Any) -> tuple[str, list[int], str, list[Any]]:
    """(name, shape, datatype, flat data) of one input object, or a 422 naming the field."""
    where = f"inputs[{number}]"
    if not isinstance(item, dict):
        raise InputError(f"{where}: expected an object with name, shape, datatype and data")
    for key, kind, text in (
        ("name", str, "a string"),
        ("shape", list, "a list of sizes"),
        ("datatype", str, "a string such as FP64"),
        ("data", list, "a list of values"),
    ):
        if not isinstance(item.get(key), kind):
            state = "required" if key not in item else "invalid"
            raise InputError(f"{where}.{key}: {state}, {text}")
    name, shape, datatype, data = item["name"], item["shape"], item["datatype"], item["data"]
    if datatype not in _KNOWN:
        raise InputError(f"input '{name}': datatype '{datatype}' is not an Open Inference type")
    if not all(type(d) is int and d >= 0 for d in shape):
        raise InputError(f"input '{name}': shape {shape!r} must list non-negative sizes")
    if data and all(isinstance(v, list) for v in data):  # nested rows: flatten one level
        data = [v for row in data for v in row]
    if len(data) != math.prod(shape):
        raise InputError(
            f"input '{name}': shape {shape} holds {math.prod(shape)} values, data has {len(data)}"
        )
    return name, shape, datatype, data


def _datatype(values: np.ndarray) -> str:
    return {"i": "INT64", "u": "UINT64", "f": "FP64", "b": "BOOL"}.get(values.dtype.kind, "BYTES")


@dataclass(frozen=True, slots=True)
class OutputTensor:
    """One response output: its values, and parameters such as a classifier's classes."""

    name: str
    values: np.ndarray
    parameters: dict[str, str] = field(default_factory=dict)

    @property
    def datatype(self) -> str:
        return _datatype(self.values)

    @property
    def shape(self) -> list[int]:
        return list(self.values.shape)

    def as_json(self) -> dict[str, Any]:
        flat = self.values.ravel()
        datatype = self.datatype
        data = flat.astype(str).tolist() if datatype == "BYTES" else flat.tolist()
        output = {"name": self.name, "shape": self.shape, "datatype": datatype, "data": data}
        if self.parameters:
            output["parameters"] = dict(self.parameters)
        return output
