"""What to send for KServe traffic (kfops.rollout.backends.kserve_patches): pure functions of
the action and of the objects as read, checked without any server."""

from __future__ import annotations

import re

import pytest

from kfops.errors import RolloutError
from kfops.rollout.backends import kserve_patches as kp
from kfops.rollout.engine.actions import SetTraffic

MERGE, JSON_PATCH = "application/merge-patch+json", "application/json-patch+json"
NS, NAME = "team", "churn"
STABLE = {
    "name": "v7",
    "minReplicas": 2,
    "scaleMetric": "cpu",
    "labels": {"kfops.io/model-version": "7"},
    "containers": [{"name": "kserve-container", "args": ["--model", "models:/churn/7"]}],
}
CANDIDATE = {
    "minReplicas": 2,
    "scaleMetric": "cpu",
    "labels": {"kfops.io/model-version": "8"},
    "containers": [{"name": "kserve-container", "args": ["--model", "models:/churn/8"]}],
}


def raw_isvc(canary_weight: int | None = 0) -> dict:
    spec: dict = {"predictor": STABLE}
    if canary_weight is not None:
        predictor = {"name": "v8", "labels": {"kfops.io/model-version": "8"},
                     "containers": CANDIDATE["containers"]}  # fmt: skip
        spec["canary"] = [{"trafficPercent": canary_weight, "predictor": predictor}]
    return {"metadata": {"name": NAME, "namespace": NS}, "spec": spec}


# --- placing and removing the candidate ----------------------------------------------------


def test_serverless_places_the_candidate_at_zero_with_tag_routing() -> None:
    patch = kp.place_candidate_patch(kp.SERVERLESS, CANDIDATE, "8")
    assert patch.content_type == MERGE
    assert patch.body == {
        "metadata": {"annotations": {"serving.kserve.io/enable-tag-routing": "true"}},
        "spec": {"predictor": {**CANDIDATE, "canaryTrafficPercent": 0}},
    }


def test_raw_places_one_named_canary_without_autoscaling() -> None:
    patch = kp.place_candidate_patch(kp.RAW, CANDIDATE, "8.1-rc")
    (canary,) = patch.body["spec"]["canary"]
    assert canary["trafficPercent"] == 0
    assert canary["predictor"]["name"] == "v8-1-rc"
    assert not set(kp.CANARY_DROPS) & set(canary["predictor"])
    assert {"labels", "containers"} <= set(canary["predictor"])


@pytest.mark.parametrize(
    ("version", "name"),
    [("8", "v8"), ("Release_2.1", "vrelease-2-1"), ("x" * 40, "v" + "x" * 19)],
)
def test_canary_names_are_short_dns_labels(version: str, name: str) -> None:
    assert kp.canary_name(version) == name
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name) and len(name) <= 20


def test_removing_the_candidate() -> None:
    assert kp.remove_candidate_patch(kp.RAW).body == {"spec": {"canary": None}}
    serverless = kp.remove_candidate_patch(kp.SERVERLESS, STABLE)
    assert serverless.body == {"spec": {"predictor": {**STABLE, "canaryTrafficPercent": 0}}}
    with pytest.raises(RolloutError, match="needs the stable predictor"):
        kp.remove_candidate_patch(kp.SERVERLESS)


# --- weights -------------------------------------------------------------------------------


@pytest.mark.parametrize(("weight", "percent"), [(0, 0), (35, 35), (100, None)])
def test_serverless_weight_is_the_canary_percent(weight: int, percent: int | None) -> None:
    patch = kp.weight_patch(kp.SERVERLESS, weight)
    assert patch is not None and patch.content_type == MERGE
    assert patch.body == {"spec": {"predictor": {"canaryTrafficPercent": percent}}}


def test_raw_weight_is_guarded_by_the_canary_name() -> None:
    patch = kp.weight_patch(kp.RAW, 40, raw_isvc())
    assert patch is not None and patch.content_type == JSON_PATCH
    assert patch.body == [
        {"op": "test", "path": "/spec/canary/0/predictor/name", "value": "v8"},
        {"op": "replace", "path": "/spec/canary/0/trafficPercent", "value": 40},
    ]


def test_raw_promotion_overlays_the_canary_on_stable_and_drops_it() -> None:
    patch = kp.weight_patch(kp.RAW, 100, raw_isvc())
    assert patch is not None
    guard, replace, remove = patch.body
    assert guard["op"] == "test" and remove == {"op": "remove", "path": "/spec/canary"}
    promoted = replace["value"]
    assert replace["path"] == "/spec/predictor"
    assert promoted["name"] == "v8" and promoted["containers"] == CANDIDATE["containers"]
    assert (promoted["minReplicas"], promoted["scaleMetric"]) == (2, "cpu")  # stable's
    assert STABLE["name"] == "v7"  # the object as read is not modified


def test_raw_promotion_again_sends_nothing() -> None:
    assert kp.weight_patch(kp.RAW, 100, raw_isvc(canary_weight=None)) is None


def test_weights_are_checked() -> None:
    with pytest.raises(RolloutError, match="outside 0..100"):
        kp.weight_patch(kp.SERVERLESS, 101)
    with pytest.raises(RolloutError, match="0 spec.canary entries, kfops manages exactly one"):
        kp.weight_patch(kp.RAW, 20, raw_isvc(canary_weight=None))
    with pytest.raises(ValueError, match="needs the InferenceService as read"):
        kp.weight_patch(kp.RAW, 20)


def test_overlay_merges_mappings_and_replaces_the_rest() -> None:
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 1}
    assert kp.overlay(base, {"a": {"y": [3]}, "c": 2}) == {"a": {"x": 1, "y": [3]}, "b": 1, "c": 2}
    assert base == {"a": {"x": 1, "y": [1, 2]}, "b": 1}


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(RolloutError, match="deploymentMode 'Knative'"):
        kp.check_mode("Knative")


# --- hosts, sticky buckets and the VirtualService ------------------------------------------


def test_hosts_per_mode() -> None:
    svc = f"{NS}.svc.cluster.local"
    assert kp.hosts_for(kp.SERVERLESS, NS, NAME) == (
        f"{NAME}-predictor.{svc}",
        f"prev-{NAME}-predictor.{svc}",
        f"latest-{NAME}-predictor.{svc}",
    )
    stable = f"{NAME}-v7-predictor.{svc}"
    assert kp.hosts_for(kp.RAW, NS, NAME, raw_isvc()) == (
        stable,
        stable,
        f"{NAME}-v8-predictor.{svc}",
    )
    assert kp.hosts_for(kp.RAW, NS, NAME, raw_isvc(canary_weight=None)) == (stable,) * 3


@pytest.mark.parametrize(
    ("weight", "regex", "effective"),
    [
        (1, ".*[0]", 6),
        (30, ".*[01234]", 31),
        (50, ".*[01234567]", 50),
        (70, ".*[0123456789aA]", 69),
        (99, ".*[0123456789abcdeABCDE]", 94),
    ],
)
def test_sticky_buckets(weight: int, regex: str, effective: int) -> None:
    assert kp.sticky_bucket(weight) == (regex, effective)
    keys = [f"{n:032x}" for n in range(4096)]  # last hex digit uniform
    share = sum(bool(re.fullmatch(regex, key)) for key in keys) / len(keys)
    assert round(100 * share) == effective


ROUTES = ("split.svc", "stable.svc", "candidate.svc")


def test_virtual_service_mirrors_on_the_default_route() -> None:
    vs = kp.virtual_service("shadow", NS, ["shadow"], ROUTES, SetTraffic(0, mirror_percent=25))
    assert (vs["apiVersion"], vs["kind"]) == ("networking.istio.io/v1beta1", "VirtualService")
    assert vs["spec"] == {
        "hosts": ["shadow"],
        "http": [
            {
                "name": "kfops-default",
                "route": [{"destination": {"host": "split.svc"}}],
                "mirror": {"host": "candidate.svc"},
                "mirrorPercentage": {"value": 25.0},
            }
        ],
    }


def test_virtual_service_splits_by_the_sticky_header_through_a_gateway() -> None:
    action = SetTraffic(50, sticky_header="X-User")
    vs = kp.virtual_service("ab", NS, ["ab.example.com"], ROUTES, action, ["ns/gateway"])
    candidate, default = vs["spec"]["http"]
    assert candidate["match"] == [{"headers": {"x-user": {"regex": ".*[01234567]"}}}]
    assert candidate["route"] == [{"destination": {"host": "candidate.svc"}}]
    assert default["route"] == [{"destination": {"host": "stable.svc"}}]
    assert vs["spec"]["gateways"] == ["ns/gateway"]


def test_traffic_state_reads_back_what_the_patches_wrote() -> None:
    vs = kp.virtual_service("ab", NS, ["ab"], ROUTES, SetTraffic(30, 10, sticky_header="X-U"))
    assert kp.traffic_state(kp.RAW, raw_isvc(canary_weight=0), vs) == kp.TrafficState(
        31, "8", 10, "x-u"
    )
    serverless = {"spec": {"predictor": {**CANDIDATE, "canaryTrafficPercent": 20}}}
    assert kp.traffic_state(kp.SERVERLESS, serverless) == kp.TrafficState(20, "8")
    assert kp.traffic_state(kp.SERVERLESS, {"spec": {"predictor": STABLE}}) == kp.TrafficState(None)
