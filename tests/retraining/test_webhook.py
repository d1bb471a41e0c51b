"""`kfops webhook` behind a real Alertmanager (Debian's prometheus-alertmanager): a storm
of drift alerts in five groups starts one KFP run (the recording KFP API emulator), a call
without the secret is refused and starts nothing, a body that is not a notification is a
400. Every server binds 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.kfp_api import API, KfpApiEmulator
from tests.support.processes import answers, wait_until
from tests.support.s3 import free_port

pytestmark = pytest.mark.slow

KFOPS = str(Path(sys.executable).with_name("kfops"))
SECRET = "0123456789abcdef-test-secret"
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
CONFIG = """\
project: churn
data: {path: 's3://bucket/churn.csv', target: churned}
tracking: {uri: 'http://mlflow.kubeflow:5000'}
"""


@pytest.fixture
def webhook(kfp_api: KfpApiEmulator, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    config = tmp_path / "kfops.yaml"
    config.write_text(CONFIG)
    port = free_port()
    out = tmp_path / "webhook.out"
    env = {**os.environ, "KFOPS_WEBHOOK_SECRET": SECRET, "MLFLOW_DISABLE_TELEMETRY": "true"}
    with out.open("wb") as stdout:
        process = subprocess.Popen(
            [KFOPS, "webhook", "--config", str(config), "--host", kfp_api.url,
             "--port", str(port), "--cooldown", "1h"],
            stdout=stdout, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(f"{url}/healthz") or process.poll() is not None, 60, "webhook")
        assert process.poll() is None, out.read_text()
        yield url, out
    finally:
        process.terminate()
        process.wait(20)


def decisions(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text().splitlines() if line.startswith("{")]


def runs(kfp_api: KfpApiEmulator) -> list:
    return [r for r in kfp_api.requests if r.route == ("POST", f"{API}/runs")]


def test_without_the_secret_nothing_starts(webhook, kfp_api: KfpApiEmulator) -> None:
    url, _ = webhook
    storm = {"status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": "KfopsFeatureDrift"}}]}  # fmt: skip
    for headers in (
        {},
        {"Authorization": "Bearer wrong-secret-0123456789"},
        {"Authorization": SECRET},
    ):
        refused = httpx.post(f"{url}/alerts", json=storm, headers=headers, timeout=10)
        assert refused.status_code == 401
    bad = httpx.post(
        f"{url}/alerts", json={"alerts": "none"}, headers={"Authorization": f"Bearer {SECRET}"}
    )
    assert bad.status_code == 400
    assert bad.json()["error"].startswith("not an Alertmanager notification: status:")
    assert runs(kfp_api) == []


@pytest.mark.skipif(
    ALERTMANAGER is None, reason="Debian's prometheus-alertmanager is not installed"
)
def test_an_alert_storm_through_alertmanager_starts_one_run(
    webhook, kfp_api: KfpApiEmulator, tmp_path: Path
) -> None:
    url, out = webhook
    port = free_port()
    config = {
        "route": {
            "receiver": "kfops",
            "group_by": ["alertname", "feature"],  # one group per drifted feature
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "kfops",
                "webhook_configs": [
                    {
                        "url": f"{url}/alerts",
                        "send_resolved": True,
                        "http_config": {"authorization": {"type": "Bearer", "credentials": SECRET}},
                    }
                ],
            }
        ],
    }
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    log = tmp_path / "alertmanager.log"
    with log.open("wb") as output:
        manager = subprocess.Popen(
            [ALERTMANAGER, f"--config.file={tmp_path / 'alertmanager.yml'}",
             f"--storage.path={tmp_path / 'am-data'}", f"--web.listen-address=127.0.0.1:{port}",
             "--cluster.listen-address="],
            stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    api = f"http://127.0.0.1:{port}/api/v2"
    try:
        wait_until(lambda: answers(f"{api}/status"), 60, "alertmanager ready")
        features = ["tenure", "monthly_charges", "plan", "region", "support_calls"]
        alerts = [
            {"labels": {"alertname": "KfopsFeatureDrift", "model": "churn", "feature": f},
             "annotations": {"summary": f"{f} drifted"}}
            for f in features
        ]  # fmt: skip
        assert httpx.post(f"{api}/alerts", json=alerts, timeout=10).status_code == 200
        wait_until(lambda: len(decisions(out)) >= len(features), 60, "five notifications")
        time.sleep(3)  # room for a late second run, which must not come
    finally:
        manager.terminate()
        manager.wait(20)
    seen = decisions(out)
    assert sum(d["started"] for d in seen) == 1, seen
    assert len(runs(kfp_api)) == 1
    assert all(d["reason"].startswith("cool-down: run ") for d in seen if not d["started"])
    run = runs(kfp_api)[0].body
    assert run["display_name"].startswith("churn-retrain-")
    assert run["pipeline_spec"]["pipelineInfo"]["name"] == "kfops-retraining"
    assert run["runtime_config"]["parameters"]["config"]["data"]["path"] == "s3://bucket/churn.csv"
