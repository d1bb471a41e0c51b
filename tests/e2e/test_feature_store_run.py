"""``kfops run`` with a Feast feature service: labels in, point-in-time features joined."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from kfops.serving.errors import InputError
from tests.e2e.conftest import kfops, registry

pytestmark = pytest.mark.slow


def test_feature_service_run_trains_on_joined_features(repo, state):
    config = repo / "examples" / "churn" / "kfops.features.yaml"
    result = kfops("run", "--config", str(config), "--set", f"runtime.root={state}")
    assert result.code == 0, result.output
    assert "✓ features" in result.stdout
    client = registry(state)
    version = client.get_model_version_by_alias("churn-classifier-feast", "champion")
    run = client.get_run(version.run_id)
    assert run.data.metrics["roc_auc"] > 0.7, "features reached the model"
    logged = run.data.params
    assert logged["estimator"] == "sklearn.ensemble.RandomForestClassifier"
    # Nothing of Feast's state is written into the committed repository.
    assert (state / "feast").is_dir()
    assert not list((repo / "feature_repo").glob("**/*.db"))

    # The served model takes entity ids and completes them from the real online store.
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "kfops"), "serve", "--config", str(config),
         "--set", f"runtime.root={state}", "--set", "serving.entity_keys=[customer_id]",
         "--set", "serving.inference=thread", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}/v1/models/churn-classifier-feast"
        _wait_ready(f"http://127.0.0.1:{port}/v2/health/ready", server)
        labels = pd.read_csv(repo / "examples" / "churn" / "data" / "churn_labels.csv")
        # Recent customers: their activity features are within the view's TTL at the cutoff
        # (the latest label); a customer last seen a year earlier has expired features.
        recent = labels.sort_values("event_timestamp")["customer_id"].drop_duplicates(keep="last")
        ids = recent.tail(3).tolist()
        answer = httpx.post(
            f"{base}:predict", json={"instances": [{"customer_id": i} for i in ids]}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert len(body["predictions"]) == len(ids)
        assert all(abs(sum(p) - 1.0) < 1e-6 for p in body["probabilities"])
        unknown = httpx.post(
            f"{base}:predict", json={"instances": [{"customer_id": "C-unknown"}]}, timeout=30
        )
        assert unknown.status_code == InputError.http_status, unknown.text
        assert "customer_id" in unknown.text or "online" in unknown.text
    finally:
        server.terminate()
        server.wait(timeout=60)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(url: str, server: subprocess.Popen, attempts: int = 240) -> None:
    for _ in range(attempts):
        if server.poll() is not None:
            raise AssertionError(f"kfops serve exited: {server.stdout.read()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} not ready after {attempts / 2:.0f} s")
