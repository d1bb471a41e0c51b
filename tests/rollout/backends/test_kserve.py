"""KServe traffic's client (kfops.rollout.backends.kserve): the exact requests sent to a
local endpoint that plays the Kubernetes API (it stores the objects and applies the
patches), the objects that result, and the errors an operator sees. The patch builders
alone are tested in test_kserve_patches.py."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kfops.errors import RolloutError
from kfops.rollout.backends import kserve as kb
from kfops.rollout.backends import kserve_patches as kp
from kfops.rollout.engine.actions import SetTraffic
from tests.support.http_server import Request
from tests.support.recording import Recorder, recording

REPO = Path(__file__).resolve().parents[3]
VALIDATE = REPO.parent / "shared" / "schemas" / "validate.py"
NS, NAME, VS = "kubeflow-user", "churn-classifier", "churn-shadow"
ISVC_PATH = f"/apis/serving.kserve.io/v1beta1/namespaces/{NS}/inferenceservices/{NAME}"
VS_PATH = f"/apis/networking.istio.io/v1beta1/namespaces/{NS}/virtualservices/{VS}"
MERGE, JSON_PATCH, APPLY = (
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/apply-patch+yaml",
)
PREDICTOR_HOST = f"{NAME}-predictor.{NS}.svc.cluster.local"


def example(mode: str) -> dict[str, Any]:
    """The InferenceService kfops deploys for the stable version 7 (serving's example)."""
    name = "churn-serverless.yaml" if mode == kp.SERVERLESS else "churn-rawdeployment.yaml"
    return yaml.safe_load((REPO / "manifests" / "examples" / name).read_text())


def candidate_predictor(mode: str) -> dict[str, Any]:
    """The same predictor serving version 8, as the controller would build it."""
    predictor = copy.deepcopy(example(mode)["spec"]["predictor"])
    container = predictor["containers"][0]
    container["args"][container["args"].index("models:/churn-classifier/7")] = (
        "models:/churn-classifier/8"
    )
    predictor["labels"].update({"kfops.io/model-version": "8", "kfops.io/variant": "candidate"})
    return predictor


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(target: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any] | None:
    """RFC 6902 test/replace/remove; None when a test fails."""
    result = copy.deepcopy(target)
    for op in ops:
        *parents, last = op["path"].strip("/").split("/")
        node: Any = result
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        key: Any = int(last) if isinstance(node, list) else last
        if op["op"] == "test" and node[key] != op["value"]:
            return None
        if op["op"] == "replace":
            node[key] = op["value"]
        elif op["op"] == "remove":
            del node[key]
    return result


class FakeApi:
    """Objects by path; GET reads, PATCH applies merge, JSON and server-side-apply patches.

    ``fail`` maps a path to an HTTP status to answer instead (a Kubernetes Status body).
    """

    def __init__(self, objects: dict[str, dict[str, Any]]) -> None:
        self.objects = objects
        self.fail: dict[str, int] = {}

    def __call__(self, request: Request) -> tuple[int, Any]:
        if request.path in self.fail:
            code = self.fail[request.path]
            return code, {"kind": "Status", "code": code, "message": f"refused with {code}"}
        current = self.objects.get(request.path)
        kind = request.headers.get("content-type")
        if request.method == "PATCH" and kind == APPLY:
            self.objects[request.path] = request.json()
            return 200, request.json()
        if current is None:
            return 404, {"kind": "Status", "code": 404, "message": "not found"}
        if request.method == "PATCH" and kind == MERGE:
            self.objects[request.path] = merge_patch(current, request.json())
        elif request.method == "PATCH" and kind == JSON_PATCH:
            patched = json_patch(current, request.json())
            if patched is None:
                return 422, {"kind": "Status", "code": 422, "message": "test operation failed"}
            self.objects[request.path] = patched
        return 200, self.objects[request.path]


def backend(api: Recorder, mode: str, virtual_service: str | None = None):
    return kb.KServeTrafficBackend(api.client(), NS, NAME, mode, virtual_service)


def placed(mode: str) -> dict[str, Any]:
    """The InferenceService right after place_candidate (built with the module's patch)."""
    patch = kp.place_candidate_patch(mode, candidate_predictor(mode), "8")
    return merge_patch(example(mode), patch.body)


# --- Serverless --------------------------------------------------------------------------


def test_serverless_start_writes_the_candidate_with_no_traffic() -> None:
    fake = FakeApi({ISVC_PATH: example(kp.SERVERLESS)})
    with recording(fake) as api:
        backend(api, kp.SERVERLESS).place_candidate(candidate_predictor(kp.SERVERLESS), "8")
    ((method, path, kind, body),) = api.sent()
    assert (method, path, kind) == ("PATCH", ISVC_PATH, MERGE)
    assert body == {
        "metadata": {"annotations": {"serving.kserve.io/enable-tag-routing": "true"}},
        "spec": {"predictor": {**candidate_predictor(kp.SERVERLESS), "canaryTrafficPercent": 0}},
    }
    stored = fake.objects[ISVC_PATH]["spec"]["predictor"]
    assert "models:/churn-classifier/8" in stored["containers"][0]["args"]
    assert stored["canaryTrafficPercent"] == 0


@pytest.mark.parametrize(
    ("weight", "percent"), [(0, 0), (20, 20), (99, 99), (100, None)], ids=["0", "20", "99", "100"]
)
def test_serverless_weights_are_one_merge_patch(weight: int, percent: int | None) -> None:
    fake = FakeApi({ISVC_PATH: placed(kp.SERVERLESS)})
    with recording(fake) as api:
        backend(api, kp.SERVERLESS).apply(SetTraffic(weight))
    assert api.sent() == [
        ("PATCH", ISVC_PATH, MERGE, {"spec": {"predictor": {"canaryTrafficPercent": percent}}})
    ]
    predictor = fake.objects[ISVC_PATH]["spec"]["predictor"]
    assert predictor.get("canaryTrafficPercent") == percent  # 100: removed, KServe promotes


def test_serverless_read_reports_the_split_and_the_candidate_version() -> None:
    fake = FakeApi({ISVC_PATH: placed(kp.SERVERLESS)})
    with recording(fake) as api:
        traffic = backend(api, kp.SERVERLESS)
        traffic.apply(SetTraffic(20))
        assert traffic.read() == kp.TrafficState(20, "8", 0, None)
        traffic.apply(SetTraffic(100))
        assert traffic.read() == kp.TrafficState(None, None, 0, None)


def test_serverless_remove_writes_stable_back_pinned_to_stable() -> None:
    stable = example(kp.SERVERLESS)["spec"]["predictor"]
    fake = FakeApi({ISVC_PATH: placed(kp.SERVERLESS)})
    with recording(fake) as api:
        backend(api, kp.SERVERLESS).remove_candidate(stable)
        with pytest.raises(RolloutError, match="needs the stable predictor"):
            backend(api, kp.SERVERLESS).remove_candidate()
    assert api.sent() == [
        ("PATCH", ISVC_PATH, MERGE, {"spec": {"predictor": {**stable, "canaryTrafficPercent": 0}}})
    ]
    stored = fake.objects[ISVC_PATH]["spec"]["predictor"]
    assert stored["labels"]["kfops.io/model-version"] == "7"


# --- RawDeployment -------------------------------------------------------------------------


def test_raw_start_adds_one_named_canary_without_autoscaling() -> None:
    fake = FakeApi({ISVC_PATH: example(kp.RAW)})
    with recording(fake) as api:
        backend(api, kp.RAW).place_candidate(candidate_predictor(kp.RAW), "8")
    ((method, path, kind, body),) = api.sent()
    assert (method, path, kind) == ("PATCH", ISVC_PATH, MERGE)
    (canary,) = body["spec"]["canary"]
    assert canary["trafficPercent"] == 0
    assert canary["predictor"]["name"] == "v8"
    assert not set(kp.CANARY_DROPS) & set(canary["predictor"])
    assert fake.objects[ISVC_PATH]["spec"]["predictor"]["minReplicas"] == 2  # stable untouched


@pytest.mark.parametrize("weight", [0, 20, 99])
def test_raw_weights_are_a_guarded_json_patch(weight: int) -> None:
    fake = FakeApi({ISVC_PATH: placed(kp.RAW)})
    with recording(fake) as api:
        backend(api, kp.RAW).apply(SetTraffic(weight))
    assert api.sent() == [
        ("GET", ISVC_PATH, None, None),
        (
            "PATCH",
            ISVC_PATH,
            JSON_PATCH,
            [
                {"op": "test", "path": "/spec/canary/0/predictor/name", "value": "v8"},
                {"op": "replace", "path": "/spec/canary/0/trafficPercent", "value": weight},
            ],
        ),
    ]
    assert fake.objects[ISVC_PATH]["spec"]["canary"][0]["trafficPercent"] == weight


def test_raw_promotion_retargets_stable_at_the_canary_and_is_idempotent() -> None:
    fake = FakeApi({ISVC_PATH: placed(kp.RAW)})
    with recording(fake) as api:
        backend(api, kp.RAW).apply(SetTraffic(100))
        backend(api, kp.RAW).apply(SetTraffic(100))  # a resumed controller repeats it
    (get, patch, get_again) = api.sent()
    assert get[0] == "GET" and get_again[0] == "GET"
    assert patch[:3] == ("PATCH", ISVC_PATH, JSON_PATCH)
    assert [op["op"] for op in patch[3]] == ["test", "replace", "remove"]
    predictor = fake.objects[ISVC_PATH]["spec"]["predictor"]
    assert predictor["name"] == "v8"
    assert "models:/churn-classifier/8" in predictor["containers"][0]["args"]
    assert (predictor["minReplicas"], predictor["scaleMetric"]) == (2, "cpu")  # stable's
    assert "canary" not in fake.objects[ISVC_PATH]["spec"]


def test_raw_weight_without_a_candidate_says_to_start_first() -> None:
    with (
        recording(FakeApi({ISVC_PATH: example(kp.RAW)})) as api,
        pytest.raises(RolloutError, match="0 spec.canary entries, kfops manages exactly one"),
    ):
        backend(api, kp.RAW).apply(SetTraffic(20))
    assert [r.method for r in api.requests] == ["GET"]


def test_raw_remove_drops_the_canary() -> None:
    fake = FakeApi({ISVC_PATH: placed(kp.RAW)})
    with recording(fake) as api:
        backend(api, kp.RAW).remove_candidate()
    assert api.sent() == [("PATCH", ISVC_PATH, MERGE, {"spec": {"canary": None}})]
    assert "canary" not in fake.objects[ISVC_PATH]["spec"]


# --- shadow and A/B through the VirtualService ----------------------------------------------


def vs_body(http: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {
            "name": VS,
            "namespace": NS,
            "labels": {"app.kubernetes.io/managed-by": "kfops"},
        },
        "spec": {"hosts": [VS], "http": http},
    }


def test_serverless_mirror_on_then_off() -> None:
    fake = FakeApi({ISVC_PATH: placed(kp.SERVERLESS)})
    latest = f"latest-{NAME}-predictor.{NS}.svc.cluster.local"
    with recording(fake) as api:
        traffic = backend(api, kp.SERVERLESS, VS)
        traffic.apply(SetTraffic(0, mirror_percent=50))
        assert traffic.read().mirror_percent == 50
        traffic.apply(SetTraffic(0))
        assert traffic.read().mirror_percent == 0
    sent = api.sent()
    assert sent[0] == (
        "PATCH",
        ISVC_PATH,
        MERGE,
        {"spec": {"predictor": {"canaryTrafficPercent": 0}}},
    )
    assert sent[1] == (
        "PATCH",
        VS_PATH,
        APPLY,
        vs_body(
            [
                {
                    "name": "kfops-default",
                    "route": [{"destination": {"host": PREDICTOR_HOST}}],
                    "mirror": {"host": latest},
                    "mirrorPercentage": {"value": 50.0},
                }
            ]
        ),
    )
    assert api.requests[1].query == {"fieldManager": ["kfops-rollout"], "force": ["true"]}
    off = [s for s in sent if s[:2] == ("PATCH", VS_PATH)][-1]
    assert off[3]["spec"]["http"] == [
        {"name": "kfops-default", "route": [{"destination": {"host": PREDICTOR_HOST}}]}
    ]


def test_raw_mirror_targets_the_canary_service_and_follows_the_promotion() -> None:
    fake = FakeApi({ISVC_PATH: placed(kp.RAW)})
    with recording(fake) as api:
        traffic = backend(api, kp.RAW, VS)
        traffic.apply(SetTraffic(0, mirror_percent=25))
        shadow = copy.deepcopy(fake.objects[VS_PATH])
        traffic.apply(SetTraffic(100))
    (route,) = shadow["spec"]["http"]
    assert route["route"] == [{"destination": {"host": PREDICTOR_HOST}}]
    assert route["mirror"] == {"host": f"{NAME}-v8-predictor.{NS}.svc.cluster.local"}
    assert route["mirrorPercentage"] == {"value": 25.0}
    (after,) = fake.objects[VS_PATH]["spec"]["http"]
    assert after == {
        "name": "kfops-default",
        "route": [{"destination": {"host": f"{NAME}-v8-predictor.{NS}.svc.cluster.local"}}],
    }


def test_ab_split_routes_by_the_sticky_header_and_holds_the_isvc_at_zero() -> None:
    fake = FakeApi({ISVC_PATH: placed(kp.SERVERLESS)})
    with recording(fake) as api:
        traffic = backend(api, kp.SERVERLESS, VS)
        traffic.apply(SetTraffic(30, sticky_header="X-User-Id"))
        state = traffic.read()
    assert api.sent()[0][3] == {"spec": {"predictor": {"canaryTrafficPercent": 0}}}
    http = fake.objects[VS_PATH]["spec"]["http"]
    assert http == [
        {
            "name": "kfops-candidate",
            "match": [{"headers": {"x-user-id": {"regex": ".*[01234]"}}}],
            "route": [{"destination": {"host": f"latest-{NAME}-predictor.{NS}.svc.cluster.local"}}],
        },
        {
            "name": "kfops-default",
            "route": [{"destination": {"host": f"prev-{NAME}-predictor.{NS}.svc.cluster.local"}}],
        },
    ]
    assert state == kp.TrafficState(31, "8", 0, "x-user-id")


def test_sticky_field_and_missing_virtual_service_are_refused_before_any_call() -> None:
    with recording(FakeApi({ISVC_PATH: placed(kp.SERVERLESS)})) as api:
        with pytest.raises(RolloutError, match="use stickyKey.header with the kserve backend"):
            backend(api, kp.SERVERLESS, VS).apply(SetTraffic(50, sticky_field="user"))
        with pytest.raises(RolloutError, match="set spec.traffic.virtualService"):
            backend(api, kp.SERVERLESS).apply(SetTraffic(0, mirror_percent=10))
    assert api.requests == []


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "code", "message"),
    [
        (
            kp.SERVERLESS,
            404,
            "set traffic on InferenceService kubeflow-user/churn-classifier: "
            "HTTP 404: refused with 404; deploy it first",
        ),
        (
            kp.RAW,
            404,
            "read InferenceService kubeflow-user/churn-classifier: HTTP 404: "
            "refused with 404; deploy it first",
        ),
        (kp.SERVERLESS, 409, "HTTP 409: refused with 409; another writer changed it"),
        (kp.SERVERLESS, 422, "HTTP 422: refused with 422; KServe or a stale test op rejected"),
        (kp.SERVERLESS, 403, "HTTP 403: refused with 403; grant the service account"),
    ],
)
def test_api_errors_are_one_line_rollout_errors(mode: str, code: int, message: str) -> None:
    fake = FakeApi({ISVC_PATH: placed(mode)})
    fake.fail[ISVC_PATH] = code
    with recording(fake) as api, pytest.raises(RolloutError) as caught:
        backend(api, mode).apply(SetTraffic(20))
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_raced_raw_canary_fails_the_test_op() -> None:
    """Another writer swaps the canary between our GET and our PATCH: the test op refuses."""
    fake = FakeApi({ISVC_PATH: placed(kp.RAW)})

    def racing(request: Request) -> tuple[int, Any]:
        answer = copy.deepcopy(fake(request))
        if request.method == "GET":
            fake.objects[ISVC_PATH]["spec"]["canary"][0]["predictor"]["name"] = "v9"
        return answer

    with (
        recording(racing) as api,
        pytest.raises(RolloutError, match="HTTP 422: test operation failed; KServe or a stale"),
    ):
        backend(api, kp.RAW).apply(SetTraffic(20))
    assert fake.objects[ISVC_PATH]["spec"]["canary"][0]["trafficPercent"] == 0


def test_a_missing_virtual_service_reads_as_no_mirror() -> None:
    with recording(FakeApi({ISVC_PATH: placed(kp.SERVERLESS)})) as api:
        assert backend(api, kp.SERVERLESS, VS).read() == kp.TrafficState(0, "8", 0, None)


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(RolloutError, match="deploymentMode 'Knative'"):
        kb.KServeTrafficBackend(None, NS, NAME, "Knative")


# --- the resulting objects against the upstream schemas (only where ../shared exists) -----


@pytest.mark.skipif(not VALIDATE.exists(), reason="../shared/schemas is not here")
def test_every_object_the_backend_leaves_validates_upstream(tmp_path: Path) -> None:
    results: list[dict[str, Any]] = []
    for mode in (kp.SERVERLESS, kp.RAW):
        fake = FakeApi({ISVC_PATH: example(mode)})
        with recording(fake) as api:
            traffic = backend(api, mode, VS)
            traffic.place_candidate(candidate_predictor(mode), "8")
            results.append(copy.deepcopy(fake.objects[ISVC_PATH]))
            for action in (SetTraffic(20, mirror_percent=50), SetTraffic(100)):
                traffic.apply(action)
                results.append(copy.deepcopy(fake.objects[ISVC_PATH]))
    for index, obj in enumerate(results):
        obj["metadata"]["name"] = f"{NAME}-{index}"
        (tmp_path / f"isvc-{index}.yaml").write_text(json.dumps(obj))
    run = subprocess.run(
        [sys.executable, str(VALIDATE), "-q", str(tmp_path)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{len(results)} ok" in run.stdout
