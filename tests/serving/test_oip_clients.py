"""The Open Inference Protocol with a client this project did not write: Triton's tritonclient.

One server per module on 127.0.0.1 (REST and gRPC on free ports), the same churn champion
as the other serving tests. Each transport (REST JSON, REST binary, gRPC) must give the
model's own predictions; bad requests get a 4xx / INVALID_ARGUMENT or NOT_FOUND naming the
input, and the server keeps serving. Framing the client library refuses to send (a
truncated buffer, a header length past the body) is sent by hand. The gRPC client runs in
a process of its own (``triton_grpc_client.py`` says why).
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import tritonclient.http as thttp
from tritonclient.utils import InferenceServerException

from kfops.config import ServingConfig

from .conftest import MODEL_NAME

INFER = f"/v2/models/{MODEL_NAME}/infer"


@pytest.fixture(scope="module")
def oip_server(loaded, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from kfops.serving.model import build_model
    from kfops.serving.server import KfopsModelServer, ServerThread

    log_dir = tmp_path_factory.mktemp("oip-log")
    settings = ServingConfig(
        inference="thread",
        inference_log={"sample_rate": 1.0, "path": str(log_dir), "flush_seconds": 0.2},
    )
    model = build_model(loaded, settings)
    server = KfopsModelServer(port=0, grpc_port=0, max_body_bytes=settings.max_body_bytes)
    with ServerThread(server, model) as thread:
        thread.log_dir = log_dir
        yield thread


@pytest.fixture(scope="module")
def rest(oip_server) -> Iterator[thttp.InferenceServerClient]:
    client = thttp.InferenceServerClient(oip_server.url.removeprefix("http://"))
    yield client
    client.close()


def columns(rows: list[dict[str, Any]]) -> list[tuple[str, str, np.ndarray]]:
    """(name, datatype, values) per column, typed as a client holding a DataFrame would."""
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


def http_inputs(rows: list[dict[str, Any]], binary: bool) -> list[thttp.InferInput]:
    inputs = []
    for name, datatype, values in columns(rows):
        tensor = thttp.InferInput(name, [len(rows)], datatype)
        tensor.set_data_from_numpy(values, binary_data=binary)
        inputs.append(tensor)
    return inputs


def expected(loaded, rows: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    frame = pd.DataFrame(rows)
    return loaded.estimator.predict(frame), loaded.estimator.predict_proba(frame)


# ---- REST: JSON and the binary tensor extension ---------------------------------------


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_rest_infer_gives_the_models_predictions(rest, loaded, feature_rows, binary) -> None:
    labels, probabilities = expected(loaded, feature_rows)
    result = rest.infer(MODEL_NAME, http_inputs(feature_rows, binary), request_id="rest-1")
    assert result.as_numpy("predict").tolist() == labels.tolist()
    assert np.allclose(result.as_numpy("predict_proba"), probabilities)
    response = result.get_response()
    assert response["id"] == "rest-1" and response["model_version"] == loaded.version
    # tritonclient asks for binary outputs when it names none: they came raw.
    sizes = [o["parameters"]["binary_data_size"] for o in response["outputs"]]
    assert sizes == [labels.size * 8, probabilities.size * 8]
    assert json.loads(response["outputs"][1]["parameters"]["classes"]) == [0, 1]


def test_rest_binary_narrow_integer_types(rest, loaded, feature_rows) -> None:
    """INT32 and UINT16 columns: raw layouts other than 8 bytes reach the model as integers."""
    labels, _ = expected(loaded, feature_rows)
    inputs = []
    for number, (name, datatype, values) in enumerate(columns(feature_rows)):
        if datatype == "INT64":
            datatype, values = (
                ("INT32", values.astype(np.int32))
                if number % 2
                else ("UINT16", values.astype(np.uint16))
            )
        tensor = thttp.InferInput(name, [len(feature_rows)], datatype)
        tensor.set_data_from_numpy(values, binary_data=True)
        inputs.append(tensor)
    assert rest.infer(MODEL_NAME, inputs).as_numpy("predict").tolist() == labels.tolist()


def test_rest_outputs_as_asked_json_or_binary(rest, loaded, feature_rows) -> None:
    labels, _ = expected(loaded, feature_rows)
    outputs = [thttp.InferRequestedOutput("predict", binary_data=False)]
    result = rest.infer(MODEL_NAME, http_inputs(feature_rows, True), outputs=outputs)
    (only,) = result.get_response()["outputs"]
    assert only["data"] == labels.tolist() and "parameters" not in only
    outputs = [thttp.InferRequestedOutput("predict_proba", binary_data=True)]
    result = rest.infer(MODEL_NAME, http_inputs(feature_rows, False), outputs=outputs)
    assert result.as_numpy("predict_proba").shape == (len(feature_rows), 2)
    assert result.as_numpy("predict") is None


def test_rest_health_and_metadata(rest, loaded) -> None:
    assert rest.is_server_live() and rest.is_server_ready()
    assert rest.is_model_ready(MODEL_NAME)
    metadata = rest.get_model_metadata(MODEL_NAME)
    assert {i["name"] for i in metadata["inputs"]} >= {"tenure_months", "contract"}
    assert [o["name"] for o in metadata["outputs"]] == ["predict", "predict_proba"]


def refused(call: Any) -> InferenceServerException:
    with pytest.raises(InferenceServerException) as caught:
        call()
    return caught.value


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_rest_bad_tensors_are_4xx_naming_the_input(rest, loaded, feature_rows, binary) -> None:
    rows = feature_rows[:3]
    short = http_inputs(rows, binary)
    short[0].set_shape([4])  # the data holds 3 values
    error = refused(lambda: rest.infer(MODEL_NAME, short))
    assert error.status() in ("400", "422") and "tenure_months" in error.message()

    wrong = http_inputs(rows, binary)
    wrong[0] = thttp.InferInput("tenure_months", [3], "BYTES")
    wrong[0].set_data_from_numpy(np.array(["a", "b", "c"], dtype=object), binary_data=binary)
    error = refused(lambda: rest.infer(MODEL_NAME, wrong))
    assert error.status() in ("400", "422")
    assert "tenure_months" in error.message() and "BYTES" in error.message()

    error = refused(lambda: rest.infer("no-such-model", http_inputs(rows, binary)))
    assert error.status() == "404"
    error = refused(lambda: rest.infer(MODEL_NAME, http_inputs(rows, binary), model_version="999"))
    assert error.status() == "404" and "999" in error.message()
    served = rest.infer(MODEL_NAME, http_inputs(rows, binary), model_version=loaded.version)
    assert served.get_response()["model_version"] == loaded.version
    labels, _ = expected(loaded, rows)
    assert rest.infer(MODEL_NAME, http_inputs(rows, binary)).as_numpy("predict").tolist() == (
        labels.tolist()
    )


def framed(header: dict[str, Any], *buffers: bytes, length: int | None = None) -> tuple:
    head = json.dumps(header).encode()
    body = head + b"".join(buffers)
    return body, {"Inference-Header-Content-Length": str(len(head) if length is None else length)}


def bytes_tensor(*values: str) -> bytes:
    return b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in values)


def one_column(name: str, datatype: str, size: int, shape: int = 2) -> dict[str, Any]:
    return {
        "name": name,
        "shape": [shape],
        "datatype": datatype,
        "parameters": {"binary_data_size": size},
    }


@pytest.mark.parametrize(
    ("header", "buffers", "length", "words"),
    [
        ({"inputs": [one_column("age", "INT64", 16)]}, [b"\0" * 12], None, ["'age'", "truncated"]),
        ({"inputs": [one_column("age", "INT64", 16)]}, [b"\0" * 16], 10_000, ["past the body"]),
        ({"inputs": [one_column("age", "INT64", 8)]}, [b"\0" * 16], None, ["8 bytes follow"]),
        ({"inputs": [one_column("age", "INT64", 12)]}, [b"\0" * 12], None, ["'age'", "INT64"]),
        ({"inputs": [one_column("age", "INT64", -1)]}, [b""], None, ["'age'", "byte count"]),
        (
            {"inputs": [one_column("contract", "BYTES", 9)]},
            [bytes_tensor("one-year")[:-3]],
            None,
            ["'contract'", "declares"],
        ),
        ({"inputs": [one_column("age", "INT64", 16)]}, [b"\0" * 16], "ten", ["not a number"]),
    ],
    ids=[
        "truncated",
        "header-past-body",
        "sizes-short",
        "partial-value",
        "negative",
        "bytes",
        "nan",
    ],
)
def test_rest_bad_framing_is_400_naming_the_fault(
    oip_server, rest, feature_rows, header, buffers, length, words
) -> None:
    body, headers = framed(header, *buffers, length=length if length != "ten" else None)
    if length == "ten":
        headers["Inference-Header-Content-Length"] = "ten"
    response = httpx.post(oip_server.url + INFER, content=body, headers=headers, timeout=30)
    assert response.status_code == 400, response.text
    message = response.json()["error"]
    assert all(word in message for word in words), message
    assert rest.infer(MODEL_NAME, http_inputs(feature_rows[:1], True)).as_numpy("predict").size


def test_rest_binary_by_hand_every_column_type(oip_server, loaded, feature_rows) -> None:
    """INT64, FP64 and BYTES columns framed by hand, and a JSON request asking binary outputs."""
    rows = feature_rows[:2]
    inputs, buffers = [], []
    for name, datatype, values in columns(rows):
        raw = bytes_tensor(*values) if datatype == "BYTES" else values.tobytes()
        inputs.append(one_column(name, datatype, len(raw)))
        buffers.append(raw)
    body, headers = framed({"inputs": inputs, "parameters": {"binary_data_output": True}}, *buffers)
    response = httpx.post(oip_server.url + INFER, content=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    length = int(response.headers["inference-header-content-length"])
    header = json.loads(response.content[:length])
    labels, _ = expected(loaded, rows)
    first = header["outputs"][0]
    assert first["parameters"]["binary_data_size"] == 16 and "data" not in first
    assert np.frombuffer(response.content[length : length + 16], "<i8").tolist() == (
        labels.tolist()
    )


# ---- gRPC (tritonclient.grpc in a client process: see triton_grpc_client.py) ----------


@pytest.fixture(scope="module")
def grpc_report(oip_server, feature_rows) -> dict[str, Any]:
    """Every gRPC scenario, run once by Triton's client in a process of its own."""
    script = Path(__file__).with_name("triton_grpc_client.py")
    done = subprocess.run(
        [sys.executable, str(script), oip_server.grpc_target, MODEL_NAME, json.dumps(feature_rows)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_grpc_infer_gives_the_models_predictions(grpc_report, loaded, feature_rows) -> None:
    labels, probabilities = expected(loaded, feature_rows)
    infer = grpc_report["infer"]
    assert infer["predict"] == labels.tolist()
    assert np.allclose(infer["predict_proba"], probabilities)
    assert infer["id"] == "grpc-1" and infer["model_version"] == loaded.version
    assert infer["raw_outputs"] == 2  # raw in, raw out
    assert json.loads(infer["classes"]) == [0, 1]
    assert grpc_report["only_predict"] == ["predict"]


def test_grpc_typed_contents_in_and_out(grpc_report, loaded, feature_rows) -> None:
    labels, probabilities = expected(loaded, feature_rows)
    typed = grpc_report["typed"]
    assert typed["raw_outputs"] == 0
    assert typed["predict"] == labels.tolist()
    assert np.allclose(typed["predict_proba"], probabilities.ravel())


def test_grpc_health_and_metadata(grpc_report, loaded) -> None:
    report = grpc_report
    assert report["live"] and report["ready"] and report["model_ready"] and report["server_name"]
    metadata = report["metadata"]
    assert metadata["name"] == MODEL_NAME and metadata["versions"] == [loaded.version]
    assert metadata["inputs"]["contract"] == "BYTES"
    assert metadata["outputs"] == ["predict", "predict_proba"]
    unknown = report["unknown_metadata"]
    assert unknown["status"] == "StatusCode.NOT_FOUND" and "no-such-model" in unknown["message"]


def test_grpc_bad_requests_are_invalid_argument_or_not_found(
    grpc_report, loaded, feature_rows
) -> None:
    report = grpc_report
    invalid = "StatusCode.INVALID_ARGUMENT"
    assert report["wrong_shape"]["status"] == invalid
    assert "tenure_months" in report["wrong_shape"]["message"]
    assert report["wrong_datatype"]["status"] == invalid
    assert "BYTES" in report["wrong_datatype"]["message"]
    assert report["unknown_model"]["status"] == "StatusCode.NOT_FOUND"
    assert report["unknown_version"]["status"] == "StatusCode.NOT_FOUND"
    assert "999" in report["unknown_version"]["message"]
    assert report["raw_count"]["status"] == invalid
    assert "raw_input_contents" in report["raw_count"]["message"]
    assert report["raw_truncated"]["status"] == invalid
    assert f"'{report['last_input']}'" in report["raw_truncated"]["message"]
    labels, _ = expected(loaded, feature_rows)
    assert report["after_errors"] == labels.tolist() and report["live_after"]


def test_grpc_requests_are_counted_and_logged(oip_server, grpc_report) -> None:
    metrics = httpx.get(oip_server.url + "/metrics", timeout=30).text
    assert 'protocol="grpc",status="200"' in metrics
    assert 'protocol="grpc",status="404"' in metrics
    assert 'protocol="grpc",status="422"' in metrics
    deadline = time.monotonic() + 10
    logged = pd.DataFrame()
    while time.monotonic() < deadline and logged.empty:
        files = list(oip_server.log_dir.rglob("*.parquet"))
        if files:
            frame = pd.concat(pd.read_parquet(f) for f in files)
            logged = frame[frame["request_id"] == "grpc-logged"]
        time.sleep(0.1)
    assert len(logged) == 2 and set(logged["protocol"]) == {"v2"}


# ---- kfops serve --grpc-port: the process, on uvloop, drains both servers -------------


@pytest.mark.slow
def test_kfops_serve_grpc_port_option(registry, feature_rows, tmp_path: Path) -> None:
    import os
    import signal

    import yaml

    from tests.support.prometheus import free_port

    config = {
        "project": "churn",
        "data": {"path": "churn.csv", "target": "churned"},
        "registry": {"model_name": MODEL_NAME},
        "tracking": {"uri": registry.tracking_uri},
    }
    (tmp_path / "kfops.yaml").write_text(yaml.safe_dump(config))
    port, grpc_port = free_port(), free_port()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("KFOPS_SERVING", None)
    command = [
        str(Path(sys.executable).parent / "kfops"), "serve", "--config",
        str(tmp_path / "kfops.yaml"), "--port", str(port), "--grpc-port", str(grpc_port),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1).is_success:
                    break
            except httpx.TransportError:
                time.sleep(0.25)
        script = Path(__file__).with_name("triton_grpc_client.py")
        done = subprocess.run(
            [sys.executable, str(script), f"127.0.0.1:{grpc_port}", MODEL_NAME,
             json.dumps(feature_rows)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["live_after"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    output = process.stdout.read()
    assert f"and gRPC 127.0.0.1:{grpc_port}" in output, output
