"""The model server over HTTP on 127.0.0.1: both protocols, strict input, metrics, drain."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from kfops.config import ServingConfig
from kfops.errors import ServingError
from kfops.serving.errors import InputError

from .conftest import MODEL_NAME

V1 = f"/v1/models/{MODEL_NAME}:predict"
V2 = f"/v2/models/{MODEL_NAME}/infer"


@pytest.fixture(scope="module")
def client(server) -> httpx.Client:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def v2_body(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def datatype(value: Any) -> str:
        return (
            "INT64" if isinstance(value, int) else "FP64" if isinstance(value, float) else "BYTES"
        )

    return {
        "id": "req-1",
        "inputs": [
            {"name": k, "shape": [len(rows)], "datatype": datatype(v), "data": [r[k] for r in rows]}
            for k, v in rows[0].items()
        ],
    }


def test_binds_loopback_only(server) -> None:
    assert server.server.host == "127.0.0.1"
    assert server.server._uvicorn.servers[0].sockets[0].getsockname()[0] == "127.0.0.1"


def test_v1_returns_predictions_probabilities_and_version(client, feature_rows, loaded) -> None:
    response = client.post(V1, json={"instances": feature_rows})
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["predictions"]) == len(feature_rows) and body["classes"] == [0, 1]
    assert all(abs(sum(p) - 1) < 1e-9 for p in body["probabilities"])
    assert body["model_version"] == loaded.version
    import pandas as pd

    assert body["predictions"] == loaded.estimator.predict(pd.DataFrame(feature_rows)).tolist()


def test_v1_positional_rows(client, feature_rows) -> None:
    row = [feature_rows[0][k] for k in feature_rows[0]]
    response = client.post(V1, json={"instances": [row]})
    assert response.status_code == 200, response.text


def test_v2_infer_metadata_and_readiness(client, feature_rows, loaded) -> None:
    response = client.post(V2, json=v2_body(feature_rows[:3]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == "req-1" and body["model_version"] == loaded.version
    assert [o["name"] for o in body["outputs"]] == ["predict", "predict_proba"]
    assert body["outputs"][1]["shape"] == [3, 2]
    meta = client.get(f"/v2/models/{MODEL_NAME}").json()
    assert {"name": "tenure_months", "datatype": "INT64", "shape": [-1]} in meta["inputs"]
    assert client.get(f"/v2/models/{MODEL_NAME}/ready").json()["ready"] is True
    assert client.get("/v2/health/ready").status_code == 200
    assert client.get(f"/v1/models/{MODEL_NAME}").json()["ready"] is True


def bad_cases(rows: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any], int, str]]:
    good = rows[0]
    return [
        (
            "malformed JSON",
            V1,
            {"content": b'{"instances": [', "headers": {"content-type": "application/json"}},
            400,
            "the body is not JSON",
        ),
        (
            "NaN literal",
            V1,
            {
                "content": b'{"instances": [{"age": NaN}]}',
                "headers": {"content-type": "application/json"},
            },
            400,
            "the body is not JSON",
        ),
        ("not an object", V1, {"json": [good]}, 400, "the body is not an object"),
        ("no instances", V1, {"json": {"instances": []}}, 422, "no rows"),
        (
            "wrong shape",
            V1,
            {"json": {"instances": [[1, 2, 3]]}},
            422,
            "row 0: 3 values, expected 10",
        ),
        (
            "wrong type",
            V1,
            {"json": {"instances": [{**good, "age": "old"}]}},
            422,
            "row 0, column 'age': expected an integer, got 'old'",
        ),
        (
            "missing value",
            V1,
            {"json": {"instances": [{**good, "monthly_charges": None}]}},
            422,
            "column 'monthly_charges': missing value (null)",
        ),
        (
            "missing column",
            V1,
            {"json": {"instances": [{k: v for k, v in good.items() if k != "region"}]}},
            422,
            "missing column 'region'",
        ),
        (
            "extra column",
            V1,
            {"json": {"instances": [{**good, "shoe_size": 44}]}},
            422,
            "unknown column 'shoe_size'",
        ),
        (
            "oversized body",
            V1,
            {"json": {"instances": [good] * 1000}},
            413,
            "over the limit of 65536",
        ),
        (
            "oversized stream",
            V1,
            {
                "content": iter([b'{"instances": [' + b" " * 70_000, b"]}"]),
                "headers": {"content-type": "application/json"},
            },
            413,
            "over the limit",
        ),
        (
            "unknown model",
            "/v1/models/nope:predict",
            {"json": {"instances": [good]}},
            404,
            "nope does not exist",
        ),
        (
            "V2 unknown model",
            "/v2/models/nope/infer",
            {"json": v2_body([good])},
            404,
            "nope does not exist",
        ),
        (
            "V2 missing field",
            V2,
            {"json": {"inputs": [{"name": "age", "datatype": "INT64", "data": [1]}]}},
            422,
            "inputs[0].shape: required, a list of sizes",
        ),
        (
            "V2 wrong datatype",
            V2,
            {
                "json": {
                    "inputs": [{"name": "age", "shape": [1], "datatype": "BYTES", "data": ["x"]}]
                }
            },
            422,
            "datatype BYTES does not fit",
        ),
        (
            "V2 wrong length",
            V2,
            {"json": {"inputs": [{"name": "age", "shape": [2], "datatype": "INT64", "data": [1]}]}},
            422,
            "shape [2] holds 2 values, data has 1",
        ),
        (
            "V2 not JSON",
            V2,
            {"content": b"]", "headers": {"content-type": "application/json"}},
            400,
            "the body is not JSON",
        ),
        ("unknown route", "/v3/anything", {"json": {}}, 404, "Not Found"),
        (
            "not JSON at all",
            V1,
            {"content": b"age=3", "headers": {"content-type": "application/x-www-form-urlencoded"}},
            400,
            "content-type 'application/x-www-form-urlencoded' is not JSON",
        ),
        ("V2 not an object", V2, {"json": [1, 2]}, 400, "the body is not an object"),
    ]


@pytest.mark.parametrize("case", range(20))
def test_bad_requests_get_a_4xx_message_and_the_next_request_answers(
    client, feature_rows, case
) -> None:
    name, path, kwargs, status, message = bad_cases(feature_rows)[case]
    response = client.post(path, **kwargs)
    assert response.status_code == status, (name, response.text)
    assert message in response.json()["error"], name
    assert client.post(V1, json={"instances": feature_rows[:1]}).status_code == 200


def test_cloudevents_go_through_kserves_own_handler(client, feature_rows) -> None:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "event-1",
        "ce-source": "tests",
        "ce-type": "org.kubeflow.serving.inference.request",
        "content-type": "application/json",
    }
    response = client.post(V1, json={"instances": feature_rows[:1]}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["ce-type"] == "io.kserve.inference.response"


def test_entity_rows_are_completed_from_the_online_store(
    client, churn_frame, online_features
) -> None:
    ids = churn_frame["customer_id"].head(3).tolist()
    by_id = client.post(V1, json={"instances": [{"customer_id": i} for i in ids]})
    assert by_id.status_code == 200, by_id.text
    rows = json.loads(
        churn_frame.drop(columns=["churned", "event_timestamp"]).head(3).to_json(orient="records")
    )
    direct = client.post(V1, json={"instances": rows})
    assert by_id.json()["probabilities"] == direct.json()["probabilities"]
    assert online_features.calls[-1] == [{"customer_id": i} for i in ids]
    unknown = client.post(V1, json={"instances": [{"customer_id": "C-nobody"}]})
    assert (
        unknown.status_code == InputError.http_status
        and "online-store lookup" in unknown.json()["error"]
    )


def test_concurrent_requests_are_batched_and_counted(client, server, feature_rows) -> None:
    before = client.get("/metrics").text

    def count(text: str, name: str) -> float:
        return sum(
            float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name)
        )

    def one(i: int) -> int:
        row = feature_rows[i % len(feature_rows)]
        return httpx.post(server.url + V1, json={"instances": [row]}, timeout=30).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(one, range(64)))
    assert statuses == [200] * 64
    after = client.get("/metrics").text
    calls = count(after, "kfops_serving_batch_requests_count") - count(
        before, "kfops_serving_batch_requests_count"
    )
    merged = count(after, "kfops_serving_batch_requests_sum") - count(
        before, "kfops_serving_batch_requests_sum"
    )
    assert merged == 64 and calls < 64  # some calls served several requests
    ok = 'kfops_serving_requests_total{model="churn-serving",protocol="v1",status="200"'
    assert ok in after
    assert 'kfops_serving_model_info{alias="champion"' in after and "sha256=" in after
    assert 'kfops_serving_feature_category_total{feature="contract"' in after


def test_sampled_requests_reach_the_parquet_log(client, server, feature_rows) -> None:
    import pandas as pd

    client.post(V1, json={"instances": feature_rows[:2]}, headers={"x-request-id": "logged-1"})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        files = list(server.log_dir.rglob("*.parquet"))
        if files and "logged-1" in set(pd.concat(pd.read_parquet(f) for f in files)["request_id"]):
            break
        time.sleep(0.1)
    frame = pd.concat(pd.read_parquet(f) for f in server.log_dir.rglob("*.parquet"))
    logged = frame[frame["request_id"] == "logged-1"]
    assert len(logged) == 2 and {"feature.age", "prediction", "proba.1"} <= set(frame.columns)


def test_openapi_describes_the_v1_body(client) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/v1/models/{model_name}:predict"]["post"]
    row = operation["requestBody"]["content"]["application/json"]["schema"]["properties"][
        "instances"
    ]["items"]
    assert row["properties"]["age"] == {"type": "integer"} and "region" in row["required"]
    assert operation["parameters"][0]["schema"]["enum"] == [MODEL_NAME]


def test_shutdown_drains_in_flight_requests(loaded, feature_rows) -> None:
    from kfops.serving.model import build_model
    from kfops.serving.server import KfopsModelServer, ServerThread

    model = build_model(loaded, ServingConfig(inference="thread"), name="slow")
    predict = model.dataplane.predictor.predict
    entered = threading.Event()

    def slow(frame):
        entered.set()
        time.sleep(1.0)
        return predict(frame)

    model.dataplane.predictor.predict = slow
    running = ServerThread(KfopsModelServer(port=0, grace_period=10), model).start()
    url = running.url
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(
            httpx.post,
            url + "/v1/models/slow:predict",
            json={"instances": feature_rows[:1]},
            timeout=30,
        )
        assert entered.wait(10)
        running.server.stop()
        response = pending.result()
    running.stop()
    assert response.status_code == 200 and len(response.json()["predictions"]) == 1
    with pytest.raises(httpx.ConnectError):
        httpx.post(url + "/v1/models/slow:predict", json={"instances": feature_rows[:1]}, timeout=5)
    assert not model.ready


@pytest.mark.slow
def test_a_dead_inference_process_fails_one_batch_then_is_replaced(
    client, server, feature_rows
) -> None:
    import os
    import signal

    pool = server.model.dataplane.pool
    assert pool is not None  # the session server runs the model in a child process
    old = pool.processes[0].pid
    os.kill(old, signal.SIGKILL)
    failed = client.post(V1, json={"instances": feature_rows[:1]})
    assert (
        failed.status_code == ServingError.http_status
        and "inference process died" in failed.json()["error"]
    )
    again = client.post(V1, json={"instances": feature_rows[:1]})
    assert again.status_code == 200 and pool.processes[0].pid != old
