"""``kfops ui`` serves the project's MLflow store on 127.0.0.1."""

import os
import signal
import socket
import subprocess
import time

import httpx
import pytest

from tests.e2e.conftest import KFOPS

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_ui_serves_mlflow_on_loopback(tmp_path):
    config = tmp_path / "kfops.yaml"
    config.write_text("project: demo\ndata: {path: d.csv, target: y}\n")
    port = free_port()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    proc = subprocess.Popen(
        [KFOPS, "ui", "--config", str(config), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    try:
        deadline, status = time.monotonic() + 240, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code
                if status == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(1)
        assert status == 200
        experiments = httpx.get(
            f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search",
            params={"max_results": 10},
            timeout=10,
        )
        assert experiments.status_code == 200
        assert (tmp_path / ".kfops" / "mlflow.db").exists()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
