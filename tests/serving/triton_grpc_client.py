"""A gRPC client process: Triton's tritonclient.grpc against a server, results as JSON.

Run as ``python triton_grpc_client.py HOST:PORT MODEL ROWS_JSON``. It is a process of its
own because tritonclient's generated messages and KServe's share the proto package
``inference``: protobuf refuses to load both into one process, and the tests' process has
KServe's (the server's). Every scenario's outcome is printed as one JSON object.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import grpc
import numpy as np
import tritonclient.grpc as tgrpc
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException


def columns(rows: list[dict[str, Any]]) -> list[tuple[str, str, np.ndarray]]:
    typed = []
    for name in rows[0]:
        values = [row[name] for row in rows]
        if isinstance(values[0], str):
            typed.append((name, "BYTES", np.array(values, dtype=object)))
        elif all(isinstance(v, int) for v in values):
            typed.append((name, "INT64", np.array(values, dtype=np.int64)))
        else:
            typed.append((name, "FP64", np.array(values, dtype=np.float64)))
    return typed


def inputs(rows: list[dict[str, Any]]) -> list[tgrpc.InferInput]:
    tensors = []
    for name, datatype, values in columns(rows):
        tensor = tgrpc.InferInput(name, [len(rows)], datatype)
        tensor.set_data_from_numpy(values)
        tensors.append(tensor)
    return tensors


def refused(call: Callable[[], Any]) -> dict[str, str]:
    try:
        call()
    except InferenceServerException as exc:
        return {"status": str(exc.status()), "message": str(exc.message())}
    except grpc.RpcError as exc:
        return {"status": str(exc.code()), "message": str(exc.details())}
    return {"status": "OK", "message": ""}


def typed_request(model: str, rows: list[dict[str, Any]]) -> Any:
    request = service_pb2.ModelInferRequest(model_name=model, id="typed")
    for name, datatype, values in columns(rows):
        tensor = request.inputs.add(name=name, datatype=datatype, shape=[len(rows)])
        if datatype == "BYTES":
            tensor.contents.bytes_contents.extend(v.encode() for v in values)
        elif datatype == "INT64":
            tensor.contents.int64_contents.extend(values.tolist())
        else:
            tensor.contents.fp64_contents.extend(values.tolist())
    return request


def main(target: str, model: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    client = tgrpc.InferenceServerClient(target)
    report: dict[str, Any] = {
        "live": client.is_server_live(),
        "ready": client.is_server_ready(),
        "model_ready": client.is_model_ready(model),
        "server_name": client.get_server_metadata().name,
    }
    metadata = client.get_model_metadata(model)
    report["metadata"] = {
        "name": metadata.name,
        "versions": list(metadata.versions),
        "inputs": {i.name: i.datatype for i in metadata.inputs},
        "outputs": [o.name for o in metadata.outputs],
    }
    report["unknown_metadata"] = refused(lambda: client.get_model_metadata("no-such-model"))

    result = client.infer(model, inputs(rows), request_id="grpc-1")
    response = result.get_response()
    report["infer"] = {
        "predict": result.as_numpy("predict").tolist(),
        "predict_proba": result.as_numpy("predict_proba").tolist(),
        "id": response.id,
        "model_version": response.model_version,
        "raw_outputs": len(response.raw_output_contents),
        "classes": response.outputs[1].parameters["classes"].string_param,
    }
    only = client.infer(model, inputs(rows), outputs=[tgrpc.InferRequestedOutput("predict")])
    report["only_predict"] = [o.name for o in only.get_response().outputs]

    short = inputs(rows[:3])
    short[0].set_shape([4])  # the data holds 3 values
    report["wrong_shape"] = refused(lambda: client.infer(model, short))
    wrong = inputs(rows[:3])
    wrong[0] = tgrpc.InferInput(wrong[0].name(), [3], "BYTES")
    wrong[0].set_data_from_numpy(np.array(["a", "b", "c"], dtype=object))
    report["wrong_datatype"] = refused(lambda: client.infer(model, wrong))
    report["unknown_model"] = refused(lambda: client.infer("no-such-model", inputs(rows)))
    report["unknown_version"] = refused(lambda: client.infer(model, inputs(rows), "999"))
    report["after_errors"] = client.infer(model, inputs(rows)).as_numpy("predict").tolist()
    client.infer(model, inputs(rows[:2]), request_id="grpc-logged")
    client.close()

    with grpc.insecure_channel(target) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        typed = stub.ModelInfer(typed_request(model, rows), timeout=30)
        report["typed"] = {
            "raw_outputs": len(typed.raw_output_contents),
            "predict": list(typed.outputs[0].contents.int64_contents),
            "predict_proba": list(typed.outputs[1].contents.fp64_contents),
        }
        request = typed_request(model, rows[:2])
        for tensor in request.inputs:
            tensor.ClearField("contents")
        request.raw_input_contents.extend([b"\0" * 16] * (len(request.inputs) - 1))
        report["raw_count"] = refused(lambda: stub.ModelInfer(request, timeout=30))
        request.raw_input_contents.append(b"\0" * 13)  # the last input's buffer, truncated
        report["raw_truncated"] = refused(lambda: stub.ModelInfer(request, timeout=30))
        report["last_input"] = request.inputs[-1].name
        report["live_after"] = stub.ServerLive(service_pb2.ServerLiveRequest(), timeout=30).live
    return report


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))))
