"""The loop from traffic back to traffic, every part real and on 127.0.0.1.

A champion trained by ``kfops run`` serves (``kfops serve``, inference log on). ``kfops
drift`` writes its gauges to a node-exporter textfile, which a tiny HTTP endpoint serves
to a real Prometheus evaluating the project's rendered rule file
(manifests/monitoring/rules/kfops-drift.yaml). Prometheus sends its alerts to a real
Alertmanager (Debian's prometheus-alertmanager), which posts to ``kfops webhook --local``.

Traffic like the training data: no alert, no retraining run (and a webhook call without
the shared secret: 401, no run). Shifted traffic: the drift alert fires, the webhook
starts one ``kfops run --pipeline retraining`` in the background, its new version passes
the gate and becomes challenger, and ``kfops rollout start`` with a short canary and a
replay moves ``champion`` to it. The test prints the figures: distances, alerts, times.

The first champion is a DummyClassifier (``--set model.estimator=...``): retraining on the
same dataset with the project's forest must beat it at the gate, or no challenger would
be registered (an equal score is no improvement).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import yaml

from tests.e2e.conftest import kfops, registry
from tests.support.processes import answers, live_in_session, stop_process, wait_until
from tests.support.prometheus import prometheus_binary
from tests.support.rollout_world import CANDIDATE_ERROR_RATE
from tests.support.s3 import free_port

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(prometheus_binary() is None, reason="needs prometheus (apt-get install)"),
    pytest.mark.skipif(ALERTMANAGER is None, reason="needs prometheus-alertmanager (apt-get)"),
]

REPO = Path(__file__).resolve().parents[2]
DRIFT_RULES = REPO / "manifests" / "monitoring" / "rules" / "kfops-drift.yaml"
KFOPS = str(Path(sys.executable).with_name("kfops"))
MODEL = "churn-classifier"
SECRET = "0123456789abcdef-loop-secret"
NOT_FEATURES = ["churned", "customer_id", "event_timestamp"]
ROWS = 400
ENV = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "KFOPS_WEBHOOK_SECRET": SECRET}


@contextmanager
def process(argv: list[str], log: Path, ready: str | None = None) -> Iterator[subprocess.Popen]:
    """A server process, its output in ``log``; waits for ``ready`` to answer 200."""
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=ENV)
    try:
        if ready:
            wait_until(lambda: answers(ready) or proc.poll() is not None, 90, f"{argv[0]} up")
            assert proc.poll() is None, log.read_text()[-3000:]
        yield proc
    finally:
        stop_process(proc, 30)


@contextmanager
def textfile_endpoint(textfile: Path) -> Iterator[str]:
    """Serves the drift textfile's current content on /metrics, as node-exporter's textfile
    collector would: the drift check is a short-lived process that nothing can scrape."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = textfile.read_bytes() if textfile.exists() else b""
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def aliases(state: Path) -> dict[str, str]:
    return {k: str(v) for k, v in registry(state).get_registered_model(MODEL).aliases.items()}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The bundled churn example: inference log on, drift gauges to a textfile, a short
    canary (50 %, then one analysis)."""
    folder = tmp_path / "churn"
    shutil.copytree(REPO / "examples" / "churn", folder, ignore=shutil.ignore_patterns(".kfops"))
    config = folder / "kfops.yaml"
    raw = yaml.safe_load(config.read_text())
    raw["runtime"] = {"root": str(tmp_path / "state")}
    raw["serving"] = {
        "inference": "thread",
        "grace_period_seconds": 2,
        "nan_policy": "allow",
        "inference_log": {"path": str(tmp_path / "log"), "sample_rate": 1.0, "flush_seconds": 0.5},
    }
    raw["drift"] = {"window": "1h", "textfile": str(tmp_path / "textfile" / "kfops_drift.prom")}
    raw["rollout"] = {"analysisTemplates": [{"name": "error-rate", "metrics": [CANDIDATE_ERROR_RATE]}],
                      "strategy": {"canary": {"steps": [
                          {"setWeight": 50},
                          {"analysis": {"templates": [{"templateName": "error-rate"}]}}]}}}  # fmt: skip
    config.write_text(yaml.safe_dump(raw))
    return config


def rows(shifted: bool) -> list[dict[str, Any]]:
    """The dataset's first rows as a client sends them; shifted: monthly_charges x3 and
    every month-to-month contract turned into 'weekly'."""
    frame = pd.read_csv(REPO / "examples" / "churn" / "data" / "churn.csv", nrows=ROWS)
    frame = frame.drop(columns=NOT_FEATURES)
    if shifted:
        frame["monthly_charges"] *= 3
        frame["contract"] = frame["contract"].replace("month-to-month", "weekly")
    return json.loads(frame.to_json(orient="records"))


def serve_and_send(config: Path, tmp_path: Path, name: str, sent: list[dict[str, Any]]) -> None:
    """``kfops serve`` the champion with the inference log on, send ``sent`` in batches of
    20, stop it (SIGTERM drains and writes the log)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [KFOPS, "serve", "-c", str(config), "--port", str(port)]
    with process(argv, tmp_path / f"serve-{name}.log", f"{url}/v2/health/ready"):
        for start in range(0, len(sent), 20):
            answer = httpx.post(
                f"{url}/v1/models/{MODEL}:predict",
                json={"instances": sent[start : start + 20]},
                headers={"x-request-id": f"{name}-{start}"},
                timeout=60,
            )
            assert answer.status_code == 200, answer.text


def drift_check(config: Path, tmp_path: Path, name: str) -> dict[str, Any]:
    """``kfops drift --json``: the report, and the gauges written to drift.textfile."""
    done = subprocess.run(
        [KFOPS, "drift", "-c", str(config), "--json", "--out", str(tmp_path / f"drift-{name}")],
        capture_output=True, text=True, env=ENV, timeout=600,
    )  # fmt: skip
    assert done.returncode in (0, 20), done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert (done.returncode == 20) == report["drifted"]
    return report


def prometheus_yml(folder: Path, textfile_target: str, alertmanager: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(DRIFT_RULES)],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": [
            {"job_name": "kfops-drift", "static_configs": [{"targets": [textfile_target]}]}
        ],
    }
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))


def alertmanager_yml(folder: Path, webhook: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "route": {
            "receiver": "kfops",
            "group_by": ["alertname", "model"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "kfops",
                "webhook_configs": [
                    {
                        "url": f"{webhook}/alerts",
                        "send_resolved": True,
                        "http_config": {"authorization": {"type": "Bearer", "credentials": SECRET}},
                    }
                ],
            }
        ],
    }
    path = folder / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def decisions(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text().splitlines() if line.startswith("{")]


def query(prometheus: str, expr: str) -> list[dict]:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=5)
    return answer.json()["data"]["result"]


def evaluated_since(prometheus: str, moment: float) -> bool:
    """True once the kfops-drift rule group was evaluated after ``moment`` (unix seconds)."""
    groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
    [group] = [g for g in groups if g["name"] == "kfops-drift"]
    stamp = pd.Timestamp(group["lastEvaluation"]).timestamp()
    return stamp > moment


def scraped(prometheus: str, version: str) -> bool:
    return bool(query(prometheus, f'kfops_feature_drift_distance{{version="{version}"}}'))


def figures(report: dict[str, Any]) -> list[str]:
    return [
        f"{f['name']} {f['comparison']} {f['distance']:.4f}/{f['threshold']:g}"
        + (" DRIFTED" if f["drifted"] else "")
        for f in report["features"]
    ]


def test_shifted_traffic_retrains_and_the_canary_moves_champion(
    project: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    began = time.monotonic()
    weak = kfops("run", "-c", str(project), "--set", "model.estimator=sklearn.dummy.DummyClassifier",
                 "--set", "model.params={strategy: prior}")  # fmt: skip
    assert weak.code == 0, weak.output
    assert aliases(state)["champion"] == "1"
    trained = time.monotonic()

    textfile = tmp_path / "textfile" / "kfops_drift.prom"
    webhook_port, am_port = free_port(), free_port()
    webhook_url, am_url = f"http://127.0.0.1:{webhook_port}", f"http://127.0.0.1:{am_port}"
    webhook_out = tmp_path / "webhook.out"
    am_config = alertmanager_yml(tmp_path / "alertmanager", webhook_url)
    with (
        textfile_endpoint(textfile) as target,
        process(
            [KFOPS, "webhook", "--local", "-c", str(project), "--port", str(webhook_port),
             "--cooldown", "1h"],
            webhook_out, f"{webhook_url}/healthz",
        ),
        process(
            [ALERTMANAGER, f"--config.file={am_config}",
             f"--storage.path={tmp_path / 'alertmanager' / 'data'}",
             f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
            tmp_path / "alertmanager.log", f"{am_url}/api/v2/status",
        ),
    ):  # fmt: skip
        prom_dir = tmp_path / "prometheus"
        prometheus_yml(prom_dir, target, f"127.0.0.1:{am_port}")
        prom_port = free_port()
        prom_url = f"http://127.0.0.1:{prom_port}"
        argv = [
            str(prometheus_binary()), f"--config.file={prom_dir / 'prometheus.yml'}",
            f"--storage.tsdb.path={prom_dir / 'tsdb'}", f"--web.listen-address=127.0.0.1:{prom_port}",
            "--log.level=warn",
        ]  # fmt: skip
        with process(argv, tmp_path / "prometheus.log", f"{prom_url}/-/ready"):
            # Traffic like the training data: no alert, nothing posted, no run.
            serve_and_send(project, tmp_path, "quiet", rows(shifted=False))
            quiet = drift_check(project, tmp_path, "quiet")
            assert quiet["drifted"] is False, figures(quiet)
            wait_until(lambda: scraped(prom_url, "1"), 60, "the quiet gauges scraped")
            seen_at = time.time()
            wait_until(lambda: evaluated_since(prom_url, seen_at + 2), 60, "rules evaluated")
            assert query(prom_url, "ALERTS") == []
            assert httpx.get(f"{am_url}/api/v2/alerts", timeout=5).json() == []
            drift_alert = {"status": "firing", "alerts": [
                {"status": "firing", "labels": {"alertname": "KfopsFeatureDrift"}}]}  # fmt: skip
            unsigned = httpx.post(f"{webhook_url}/alerts", json=drift_alert, timeout=10)
            assert unsigned.status_code == 401  # without the shared secret: refused
            assert decisions(webhook_out) == []
            assert not (state / "retraining").exists()
            quiet_checked = time.monotonic()

            # A new window of shifted traffic (the quiet window's log moved away).
            log = Path(yaml.safe_load(project.read_text())["serving"]["inference_log"]["path"])
            log.rename(tmp_path / "log-quiet")
            loop_began = time.monotonic()
            serve_and_send(project, tmp_path, "shifted", rows(shifted=True))
            shifted = drift_check(project, tmp_path, "shifted")
            assert shifted["drifted"] is True
            drifted = {f["name"] for f in shifted["features"] if f["drifted"]}
            assert {"monthly_charges", "contract"} <= drifted, figures(shifted)

            firing = wait_until(
                lambda: [a for a in httpx.get(f"{prom_url}/api/v1/alerts", timeout=5).json()
                         ["data"]["alerts"] if a["state"] == "firing"],
                60, "Prometheus fires the drift alert",
            )  # fmt: skip
            started = wait_until(
                lambda: [d for d in decisions(webhook_out) if d["started"]],
                60, "the webhook starts a retraining run",
            )  # fmt: skip
            alerted = time.monotonic()
            [run] = started
            pid = int(run["run_id"].removeprefix("local-"))
            wait_until(lambda: not live_in_session(pid), 900, "the retraining run ends")
            retrained = time.monotonic()
            fired = sorted({(a["labels"]["alertname"], a["labels"]["feature"],
                             a["labels"]["comparison"]) for a in firing})  # fmt: skip
            received = httpx.get(f"{am_url}/api/v2/alerts", timeout=5).json()
            all_decisions = decisions(webhook_out)

    [run_log] = sorted((state / "retraining").glob("retrain-*.log"))
    output = run_log.read_text()
    assert sum(d["started"] for d in all_decisions) == 1, all_decisions
    assert "retrained (" in output and f"model {MODEL} version 2, gate:" in output, output
    assert "aliases: challenger -> v2, champion -> v1" in output, output
    assert aliases(state) == {"champion": "1", "challenger": "2"}

    data = project.parent / "data" / "churn.csv"
    rollout = kfops("rollout", "start", "-c", str(project), "--interval", "0.5", "--replay",
                    str(data), "--replay-rate", "25", "--replay-repeats", "1")  # fmt: skip
    assert rollout.code == 0, rollout.output
    assert "rollout complete: version 2 takes 100% and alias 'champion'" in rollout.output
    assert aliases(state) == {"champion": "2", "challenger": "2"}
    done = time.monotonic()

    print("\nquiet traffic:", "; ".join(figures(quiet)), f"-> drifted={quiet['drifted']}")
    print("shifted traffic:", "; ".join(figures(shifted)), f"-> drifted={shifted['drifted']}")
    print("alerts fired (Prometheus):", fired)
    print("alerts received by Alertmanager:", len(received),
          "notifications to the webhook:", len(all_decisions), "runs started: 1")  # fmt: skip
    print(
        f"first training {trained - began:.1f} s, quiet phase {quiet_checked - trained:.1f} s; "
        f"loop: shifted traffic to alert-started run {alerted - loop_began:.1f} s, "
        f"retraining run {retrained - alerted:.1f} s, rollout {done - retrained:.1f} s, "
        f"shifted traffic to champion moved {done - loop_began:.1f} s"
    )
