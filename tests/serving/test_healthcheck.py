"""The images' HEALTHCHECK command against a real HTTP endpoint on 127.0.0.1."""

from __future__ import annotations

import socket

from kfops.serving.healthcheck import DEFAULT_PORT, check, serving_port
from tests.support.http_server import Request, json_server


def test_serving_port_reads_the_kfops_serve_command_line() -> None:
    assert serving_port(["/app/.venv/bin/kfops", "serve", "--port", "9001"]) == 9001
    assert serving_port(["/app/.venv/bin/python", "/app/.venv/bin/kfops", "serve"]) == DEFAULT_PORT
    assert serving_port(["kfops", "serve", "--port=7000", "--model", "m"]) == 7000
    assert serving_port(["kfops", "run"]) is None
    assert serving_port(["sh", "-c", "python3 -m kfp.dsl.executor_main"]) is None


def test_a_ready_server_is_healthy_and_a_silent_port_is_not() -> None:
    asked: list[str] = []

    def ready(request: Request) -> tuple[int, dict]:
        asked.append(request.path)
        return 200, {"ready": True}

    with json_server(ready) as url:
        port = int(url.rsplit(":", 1)[1].rstrip("/"))
        assert check(["kfops", "serve", "--port", str(port)]) == 0
    assert asked == ["/v2/health/ready"]
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    assert check(["kfops", "serve", "--port", str(closed)]) == 1


def test_a_not_ready_server_is_unhealthy() -> None:
    with json_server(lambda request: (503, {"error": "loading"})) as url:
        port = int(url.rsplit(":", 1)[1].rstrip("/"))
        assert check(["kfops", "serve", "--port", str(port)]) == 1


def test_a_container_running_a_pipeline_step_is_healthy() -> None:
    assert check(["sh", "-c", "python3 -m kfp.dsl.executor_main --executor_input {}"]) == 0
