"""Server-side apply and the wait for Ready (kfops.serving.kube), against a local endpoint
that records the requests (no cluster)."""

from __future__ import annotations

import pytest

from kfops.errors import ClusterError
from kfops.serving import kube
from tests.support.recording import recording

PATH = "/apis/serving.kserve.io/v1beta1/namespaces/team/inferenceservices/churn"
MANIFEST = {
    "apiVersion": "serving.kserve.io/v1beta1",
    "kind": "InferenceService",
    "metadata": {"name": "churn", "namespace": "team"},
    "spec": {"predictor": {"minReplicas": 1}},
}


def status(generation: int, observed: int, ready: str, **extra) -> dict:
    return {
        "metadata": {"name": "churn", "generation": generation},
        "status": {
            "observedGeneration": observed,
            "conditions": [{"type": "Ready", "status": ready, "reason": "Progressing"}],
            **extra,
        },
    }


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_apply_is_a_server_side_apply_patch() -> None:
    with recording(lambda request: (200, {**MANIFEST, "metadata": {"generation": 3}})) as api:
        stored = kube.apply(kube.api_client(api.url), MANIFEST)
    (sent,) = api.requests
    assert (sent.method, sent.path) == ("PATCH", PATH)
    assert sent.raw_query == "fieldManager=kfops&force=true"
    assert sent.headers["content-type"] == "application/apply-patch+yaml"
    assert sent.json() == MANIFEST
    assert stored["metadata"]["generation"] == 3


def test_wait_skips_a_stale_ready_and_returns_once_ready() -> None:
    answers = iter(
        [status(2, 1, "True"), status(2, 2, "False"), status(2, 2, "True", url="http://churn.team")]
    )
    clock = Clock()
    with recording(lambda request: (200, next(answers))) as api:
        obj = kube.wait_ready(
            kube.api_client(api.url),
            "team",
            "churn",
            2,
            60,
            poll_s=1,
            clock=clock,
            sleep=clock.sleep,
        )
    assert obj["status"]["url"] == "http://churn.team"
    assert [r.method for r in api.requests] == ["GET"] * 3 and clock.now == 2


def test_wait_times_out_with_the_conditions() -> None:
    clock = Clock()
    expected = r"team/churn not Ready after 5 s: Ready=False \(Progressing\)"
    with (
        recording(lambda request: (200, status(1, 1, "False"))) as api,
        pytest.raises(ClusterError, match=expected),
    ):
        client = kube.api_client(api.url)
        kube.wait_ready(client, "team", "churn", 1, 5, poll_s=2, clock=clock, sleep=clock.sleep)


def test_wait_stops_at_a_terminal_failure() -> None:
    failed = status(1, 1, "False", modelStatus={"states": {"targetModelState": "FailedToLoad"}})
    with (
        recording(lambda request: (200, failed)) as api,
        pytest.raises(ClusterError, match="failed: the model failed to load"),
    ):
        kube.wait_ready(kube.api_client(api.url), "team", "churn", 1, 600, sleep=lambda s: None)
    assert len(api.requests) == 1


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        (403, "grant the service account rights"),
        (404, "is KServe installed"),
        (422, "the cluster's KServe rejected the spec"),
    ],
)
def test_api_errors_are_one_line_cluster_errors(code: int, hint: str) -> None:
    with (
        recording(lambda request: (code, {"kind": "Status", "message": "nope"})) as api,
        pytest.raises(ClusterError, match=f"HTTP {code}: nope; {hint}"),
    ):
        kube.apply(kube.api_client(api.url), MANIFEST)


def test_an_unreachable_api_is_a_cluster_error() -> None:
    with recording() as api:
        url = api.url
    with pytest.raises(ClusterError, match="unreachable"):
        kube.apply(kube.api_client(url), MANIFEST)
