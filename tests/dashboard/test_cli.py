"""`kfops dashboard` as a user starts it: read-only on 127.0.0.1 by default, a project that
never ran, runs from a KFP that does not answer, and a port already taken."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import httpx
import yaml

from kfops.config import KfopsConfig, config_to_dict
from tests.e2e.conftest import KFOPS, kfops
from tests.support.processes import stop_process, wait_until


def config_file(cfg: KfopsConfig, tmp_path: Path) -> Path:
    path = tmp_path / "kfops.yaml"
    path.write_text(yaml.safe_dump(config_to_dict(cfg)))
    return path


def test_read_only_on_loopback_with_messages_for_what_is_missing(cfg, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        stopped = sock.getsockname()[1]  # nothing listens there once the block ends
    log = tmp_path / "dashboard.log"
    args = ["dashboard", "-c", str(config_file(cfg, tmp_path)), "--port", "0",
            "--host", f"http://127.0.0.1:{stopped}"]  # fmt: skip
    with log.open("w") as out:
        process = subprocess.Popen([KFOPS, *args], stdout=out, stderr=subprocess.STDOUT)
    try:
        url = wait_until(
            lambda: next((w for w in log.read_text().split() if w.startswith("http://")), None),
            60,
            f"the dashboard's address ({log})",
        )
        assert url.startswith("http://127.0.0.1:") and "(read-only)" in log.read_text()
        settings = httpx.get(url + "api/settings").json()
        assert settings["allow_actions"] is False and settings["project"] == "churn"
        runs = httpx.get(url + "api/runs")
        assert runs.status_code == 502
        assert runs.json()["error"].startswith(f"KFP at http://127.0.0.1:{stopped}: cannot list")
        assert "no rollout yet" in httpx.get(url + "api/rollouts").json()["message"]
        refused = httpx.post(url + "api/rollouts/churn/abort", headers={"x-kfops-action": "1"})
        assert refused.status_code == 403
    finally:
        stop_process(process, 10)


def test_a_taken_port_is_a_one_line_error(cfg, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = kfops("dashboard", "-c", str(config_file(cfg, tmp_path)), "--port", str(port))
    assert result.code == 2
    assert f"kfops: error: --bind/--port: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.output
