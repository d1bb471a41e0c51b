"""The series added for monitoring: the served version's creation time (model staleness)
and the operator's rollout phase and weight (aborted rollouts)."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kfops.config import ServingConfig
from kfops.rollout.drivers import operator
from kfops.rollout.engine.status import RolloutPhase
from kfops.series import MODEL_VERSION_CREATED, ROLLOUT_CANARY_WEIGHT, ROLLOUT_PHASE
from tests.serving.conftest import churn_frame, loaded, registry  # noqa: F401  (fixtures)


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


@pytest.mark.slow  # trains, logs and registers a model (about 25 s)
def test_the_server_exposes_when_its_version_was_registered(loaded, registry) -> None:  # noqa: F811
    from mlflow import MlflowClient

    from kfops.serving.model import build_model

    version = MlflowClient(registry.tracking_uri).get_model_version(
        registry.model_name, registry.version
    )
    assert loaded.created_at == version.creation_timestamp / 1000
    model = build_model(loaded, ServingConfig())
    text, _ = model.dataplane.metrics.render()
    found = samples(text.decode(), MODEL_VERSION_CREATED.name)
    key = (("model", registry.model_name), ("variant", "champion"), ("version", registry.version))
    assert found == {key: loaded.created_at}


def test_a_model_from_plain_storage_has_no_creation_time() -> None:
    from kfops.serving.metrics import ServingMetrics

    metrics = ServingMetrics("churn", "unversioned", "champion")
    text, _ = metrics.render()
    assert samples(text.decode(), MODEL_VERSION_CREATED.name) == {}


def test_the_operator_reports_each_rollouts_phase_and_weight() -> None:
    status = {"phase": RolloutPhase.PROGRESSING.value, "canaryWeight": 20}
    operator.record_status("ml", "churn-v4", "churn", status)
    operator.record_status("ml", "churn-v4", "churn", {**status, "phase": "Degraded"})
    text = generate_latest(operator.OPERATOR_REGISTRY).decode()
    phases = {
        dict(labels)["phase"]: value
        for labels, value in samples(text, ROLLOUT_PHASE.name).items()
        if dict(labels)["rollout"] == "churn-v4"
    }
    assert phases == {"Progressing": 0.0, "Paused": 0.0, "Healthy": 0.0, "Degraded": 1.0}
    weight = samples(text, ROLLOUT_CANARY_WEIGHT.name)
    assert weight[(("model", "churn"), ("namespace", "ml"), ("rollout", "churn-v4"))] == 20.0

    operator.forget_rollout("ml", "churn-v4")
    text = generate_latest(operator.OPERATOR_REGISTRY).decode()
    assert "churn-v4" not in text


def test_the_operator_serves_its_metrics_over_http() -> None:
    from kfops.rollout.drivers.local_stack import free_port

    port = free_port()
    server = operator.serve_metrics(port, "127.0.0.1")
    try:
        operator.record_status("ml", "churn-v6", "churn", {"phase": "Healthy", "canaryWeight": 100})
        answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    finally:
        server.shutdown()
        server.server_close()
        operator.forget_rollout("ml", "churn-v6")
    assert answer.status_code == 200
    found = samples(answer.text, ROLLOUT_PHASE.name)
    key = (("model", "churn"), ("namespace", "ml"), ("phase", "Healthy"), ("rollout", "churn-v6"))
    assert found[key] == 1.0
