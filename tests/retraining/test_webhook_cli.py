"""`kfops webhook` refuses to start without a usable secret or with a local dataset."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

KFOPS = str(Path(sys.executable).with_name("kfops"))


def start(tmp_path: Path, *args: str, secret: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "KFOPS_WEBHOOK_SECRET"}
    if secret is not None:
        env["KFOPS_WEBHOOK_SECRET"] = secret
    return subprocess.run(
        [KFOPS, "webhook", *args], capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path
    )


def test_no_secret_or_a_short_one_is_one_line(tmp_path: Path) -> None:
    for secret in (None, "short"):
        ran = start(tmp_path, "--port", "1", secret=secret)
        assert ran.returncode == 2
        assert ran.stderr.strip().splitlines() == [
            "kfops: error: $KFOPS_WEBHOOK_SECRET: the webhook needs a shared secret of 16 "
            "characters or more (Alertmanager sends it as http_config.authorization.credentials);"
            " e.g. openssl rand -hex 32"
        ]


def test_a_run_pods_could_not_read_is_refused_before_listening(tmp_path: Path) -> None:
    config = tmp_path / "kfops.yaml"
    config.write_text("project: churn\ndata: {path: data.csv, target: churned}\n")
    ran = start(tmp_path, "--config", str(config), "--host", "http://127.0.0.1:1", secret="x" * 20)
    assert ran.returncode == 2
    [line] = ran.stderr.strip().splitlines()
    assert line.startswith("kfops: error: data.path: ") and "pods can read" in line
