"""``kfops serve`` as a process: binds 127.0.0.1, answers, drains on SIGTERM and exits 0."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from .conftest import MODEL_NAME

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"kfops serve exited early:\n{process.stdout.read()}")
        try:
            if httpx.get(url + "/v2/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise AssertionError("kfops serve did not come up")


def test_serve_drains_an_in_flight_request_on_sigterm(
    registry, feature_rows, tmp_path: Path
) -> None:
    import json

    log_dir = tmp_path / "log"
    config = {
        "project": "churn",
        "data": {"path": "churn.csv", "target": "churned"},
        "registry": {"model_name": MODEL_NAME},
        "tracking": {"uri": registry.tracking_uri},
        "serving": {
            "inference_log": {"sample_rate": 1.0, "path": str(log_dir), "flush_seconds": 60}
        },
    }
    (tmp_path / "kfops.yaml").write_text(yaml.safe_dump(config))
    port = free_port()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("KFOPS_SERVING", None)
    kfops = Path(sys.executable).parent / "kfops"
    command = [str(kfops), "serve", "--config", str(tmp_path / "kfops.yaml"), "--port", str(port)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process)
        assert (
            httpx.post(
                f"{url}/v1/models/{MODEL_NAME}:predict", json={"instances": feature_rows[:1]}
            ).status_code
            == 200
        )
        # A request whose body is half sent is in flight when SIGTERM arrives.
        body = json.dumps({"instances": feature_rows[:3]}).encode()
        head = (
            f"POST /v1/models/{MODEL_NAME}:predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
            conn.sendall(head + body[:10])
            time.sleep(1.0)
            process.send_signal(signal.SIGTERM)
            time.sleep(1.0)
            conn.sendall(body[10:])
            answer = conn.recv(65536).decode()
        assert answer.startswith("HTTP/1.1 200"), answer
        code = process.wait(timeout=60)
        assert code == 0, process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
    output = process.stdout.read()
    assert f"on http://127.0.0.1:{port}" in output and "verified" in output
    assert list(log_dir.rglob("*.parquet")), (
        "pending inference records were not written at shutdown"
    )
