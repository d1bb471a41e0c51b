"""What to send for traffic on a KServe InferenceService (and an Istio VirtualService for
shadow and A/B): pure functions of the action and of the objects as read, no I/O.

:class:`kfops.rollout.backends.kserve.KServeTrafficBackend` reads the objects and sends
what these build. What each mode does (KServe 0.20+, checked against the
InferenceService CRD in ../shared/schemas/kserve and KServe's canary docs):

**Serverless** (Knative). KServe splits traffic between the last revision rolled out at
100 % (stable) and the latest ready revision (the predictor as now specified) by
``spec.predictor.canaryTrafficPercent``.

* start (:func:`place_candidate_patch`): one merge patch writes the candidate's predictor
  (its container args / storageUri carry the candidate model version) *and*
  ``canaryTrafficPercent: 0``, so the new revision starts with no traffic; it also sets
  ``serving.kserve.io/enable-tag-routing: "true"`` so the revisions get the hosts
  ``prev-<isvc>-predictor`` and ``latest-<isvc>-predictor`` the VirtualService needs.
* weight 0..99: ``canaryTrafficPercent: N`` (0 pins everything to stable: KServe's rollback).
* weight 100 (promotion): the field is removed (merge patch ``null``); KServe then makes the
  latest revision the rolled-out one and sends it all traffic.
* discard (:func:`remove_candidate_patch`): the stable predictor is written back with
  ``canaryTrafficPercent: 0``, so the spec describes stable again while traffic stays on
  the stable revision (removing the field first would route to the ready candidate).

**RawDeployment** (Deployments; KServe 0.20+ ``spec.canary[]``, items
``{trafficPercent, predictor}`` whose ``predictor.name`` is required and names the
Deployment and Service ``<isvc>-<name>-predictor``):

* start: ``spec.canary: [{trafficPercent: 0, predictor: {name: v<version>, ...}}]``;
* weight 0..99: a JSON patch replaces ``/spec/canary/0/trafficPercent`` after a ``test``
  that the entry is still ours;
* weight 100 (promotion): ``/spec/predictor`` becomes the stable predictor overlaid with the
  canary's (KServe merges them the same way), ``/spec/canary`` is removed; KServe retargets
  the stable name at the candidate's Deployment without restarting it;
* discard: ``/spec/canary`` is removed (KServe deletes the canary Deployment).

**Shadow** (``mirror_percent > 0``) and **A/B** (``sticky_header``) need an Istio
VirtualService (``traffic.virtualService``), kept whole by server-side apply. It fronts
``hosts`` (default: the VirtualService's own name, a Service of that name in the namespace)
and routes to the predictor: ``mirror`` copies ``mirrorPercentage.value`` percent of the
requests to the candidate's host and Istio discards the copies' answers. Istio mirrors per
route, so with a canary weight above 0 the copies come from requests either variant answers.

A/B: Istio cannot hash a header into a percentage, so the split is a regex match on the
*last character* of the sticky header's value: with weight 30, values ending in ``0-4``
(5 of the 16 hex digits, 31.25 %) go to the candidate, the rest to stable, and a subject
keeps its variant. It is fair when the key ends in a uniformly distributed hex digit (UUIDs,
hashes); the weight is rounded to sixteenths; requests without the header go to stable.
During A/B the InferenceService's own split is 0, so only the VirtualService decides.
A sticky JSON body field cannot be routed by Istio: that raises (use the local router).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from kfops.cluster.kube_api import JSON_PATCH, MERGE_PATCH
from kfops.cluster.names import (
    ISVC_KIND,
    MODEL_VERSION_LABEL,
    TAG_ROUTING_ANNOTATION,
    VS_API_VERSION,
    VS_KIND,
)
from kfops.errors import RolloutError
from kfops.rollout.engine.actions import SetTraffic

SERVERLESS, RAW = "Serverless", "RawDeployment"
BUCKETS = "0123456789abcdef"
# KServe's canary webhook refuses autoscaling fields on a canary (it sizes the canary from
# its traffic share); the promotion overlays the canary on the stable predictor, so the
# stable autoscaling comes back then.
CANARY_DROPS = (
    "minReplicas",
    "maxReplicas",
    "scaleMetric",
    "scaleMetricType",
    "scaleTarget",
    "autoScaling",
)


@dataclass(frozen=True)
class Patch:
    """A request body with the content type the API server must read it as."""

    content_type: str
    body: Any


@dataclass(frozen=True)
class TrafficState:
    """The traffic the cluster objects declare now.

    ``candidate_weight`` is None when the InferenceService has no rollout on it (never
    started, promoted, or the candidate removed); ``candidate_version`` is the
    ``kfops.io/model-version`` label of the candidate's predictor, when there is one.
    """

    candidate_weight: int | None
    candidate_version: str | None = None
    mirror_percent: int = 0
    sticky_header: str | None = None


def canary_name(version: str) -> str:
    """The RawDeployment canary's predictor name: ``v`` + the version as a DNS label."""
    slug = re.sub(r"[^a-z0-9-]+", "-", str(version).lower()).strip("-")
    return f"v{slug}"[:20].rstrip("-")


def check_mode(mode: str) -> str:
    """``mode`` when it is one KServe knows, else a RolloutError naming the field."""
    if mode not in (SERVERLESS, RAW):
        raise RolloutError(
            f"traffic.deploymentMode {mode!r} is not Serverless or RawDeployment; fix the spec"
        )
    return mode


def place_candidate_patch(mode: str, predictor: dict[str, Any], version: str) -> Patch:
    """Put the candidate's predictor on the InferenceService with 0 % of the traffic."""
    if check_mode(mode) == SERVERLESS:
        return Patch(
            MERGE_PATCH,
            {
                "metadata": {"annotations": {TAG_ROUTING_ANNOTATION: "true"}},
                "spec": {"predictor": {**predictor, "canaryTrafficPercent": 0}},
            },
        )
    candidate = {k: v for k, v in predictor.items() if k not in CANARY_DROPS}
    candidate["name"] = canary_name(version)
    return Patch(MERGE_PATCH, {"spec": {"canary": [{"trafficPercent": 0, "predictor": candidate}]}})


def _canary(isvc: dict[str, Any], what: str) -> dict[str, Any]:
    canaries = (isvc.get("spec") or {}).get("canary") or []
    if len(canaries) != 1:
        raise RolloutError(
            f"{what} has {len(canaries)} spec.canary entries, kfops manages exactly one; "
            "start the rollout (place the candidate) or remove foreign canaries"
        )
    return canaries[0]


def overlay(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``, recursively for mappings (lists and scalars are replaced)."""
    merged = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = overlay(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def weight_patch(mode: str, weight: int, isvc: dict[str, Any] | None = None) -> Patch | None:
    """Give the candidate ``weight`` percent; 100 promotes it (see the module docstring).

    RawDeployment needs the InferenceService as read (``isvc``) to name its canary; None
    means nothing to send (weight 100 again after the promotion: the canary is gone).
    Worked example, RawDeployment at weight 20 with canary ``v7``::

        [{"op": "test", "path": "/spec/canary/0/predictor/name", "value": "v7"},
         {"op": "replace", "path": "/spec/canary/0/trafficPercent", "value": 20}]
    """
    if not 0 <= weight <= 100:
        raise RolloutError(f"candidate weight {weight} is outside 0..100; fix the step")
    if check_mode(mode) == SERVERLESS:
        percent = None if weight == 100 else weight
        return Patch(MERGE_PATCH, {"spec": {"predictor": {"canaryTrafficPercent": percent}}})
    if isvc is None:
        raise ValueError("RawDeployment needs the InferenceService as read")
    if weight == 100 and not (isvc.get("spec") or {}).get("canary"):
        return None
    canary = _canary(isvc, _describe(isvc))
    guard = {"op": "test", "path": "/spec/canary/0/predictor/name"}
    guard["value"] = canary["predictor"]["name"]
    if weight < 100:
        return Patch(
            JSON_PATCH,
            [guard, {"op": "replace", "path": "/spec/canary/0/trafficPercent", "value": weight}],
        )
    promoted = overlay(isvc["spec"]["predictor"], canary["predictor"])
    return Patch(
        JSON_PATCH,
        [
            guard,
            {"op": "replace", "path": "/spec/predictor", "value": promoted},
            {"op": "remove", "path": "/spec/canary"},
        ],
    )


def remove_candidate_patch(mode: str, stable_predictor: dict[str, Any] | None = None) -> Patch:
    """Take the candidate off the InferenceService after an abort."""
    if check_mode(mode) == RAW:
        return Patch(MERGE_PATCH, {"spec": {"canary": None}})
    if stable_predictor is None:
        raise RolloutError(
            "Serverless: removing the candidate needs the stable predictor to write back; "
            "pass the stable version's predictor"
        )
    return Patch(
        MERGE_PATCH, {"spec": {"predictor": {**stable_predictor, "canaryTrafficPercent": 0}}}
    )


def _describe(isvc: dict[str, Any]) -> str:
    meta = isvc.get("metadata") or {}
    return f"{ISVC_KIND} {meta.get('namespace', '?')}/{meta.get('name', '?')}"


def service_host(namespace: str, service: str) -> str:
    return f"{service}.{namespace}.svc.cluster.local"


def hosts_for(
    mode: str, namespace: str, name: str, isvc: dict[str, Any] | None = None
) -> tuple[str, str, str]:
    """(split host, stable-only host, candidate host) of the InferenceService's predictor.

    Serverless: Knative's route ``<isvc>-predictor`` and its tags ``prev-`` and ``latest-``.
    RawDeployment: the Services ``<isvc>[-<name>]-predictor`` of stable and canary; the
    stable Service is the split host too (KServe splits RawDeployment traffic on its
    Gateway API route, which mesh callers of the Service do not pass through).
    """
    if check_mode(mode) == SERVERLESS:
        route = f"{name}-predictor"
        return (
            service_host(namespace, route),
            service_host(namespace, f"prev-{route}"),
            service_host(namespace, f"latest-{route}"),
        )
    spec = (isvc or {}).get("spec") or {}
    stable_name = (spec.get("predictor") or {}).get("name")
    stable = service_host(
        namespace, f"{name}-{stable_name}-predictor" if stable_name else f"{name}-predictor"
    )
    canaries = spec.get("canary") or []
    candidate = (
        service_host(namespace, f"{name}-{canaries[0]['predictor']['name']}-predictor")
        if canaries
        else stable
    )
    return stable, stable, candidate


def sticky_bucket(weight: int) -> tuple[str, int]:
    """(RE2 regex on the key's last character, the weight it really gives).

    ``n = round(weight * 16 / 100)`` of the 16 hex digits, at least 1 and at most 15:
    weight 30 -> n 5 -> ``.*[0-4]`` -> 5/16 = 31.25 %, reported as 31.
    """
    n = min(15, max(1, round(weight * len(BUCKETS) / 100)))
    chars = BUCKETS[:n]
    letters = "".join(c for c in chars if c.isalpha())
    return f".*[{chars}{letters.upper()}]", round(100 * n / len(BUCKETS))


def virtual_service(
    name: str,
    namespace: str,
    hosts: list[str],
    routes: tuple[str, str, str],
    action: SetTraffic,
    gateways: list[str] | None = None,
) -> dict[str, Any]:
    """The whole VirtualService for ``action`` (an Istio object: a plain dict, no SDK)."""
    split_host, stable_host, candidate_host = routes
    http: list[dict[str, Any]] = []
    default_host = split_host
    if action.sticky_header and 0 < action.candidate_weight < 100:
        regex, _ = sticky_bucket(action.candidate_weight)
        http.append(
            {
                "name": "kfops-candidate",
                "match": [{"headers": {action.sticky_header.lower(): {"regex": regex}}}],
                "route": [{"destination": {"host": candidate_host}}],
            }
        )
        default_host = stable_host
    default: dict[str, Any] = {
        "name": "kfops-default",
        "route": [{"destination": {"host": default_host}}],
    }
    if action.mirror_percent > 0:
        default["mirror"] = {"host": candidate_host}
        default["mirrorPercentage"] = {"value": float(action.mirror_percent)}
    http.append(default)
    spec: dict[str, Any] = {"hosts": hosts, "http": http}
    if gateways:
        spec["gateways"] = gateways
    return {
        "apiVersion": VS_API_VERSION,
        "kind": VS_KIND,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "kfops"},
        },
        "spec": spec,
    }


def traffic_state(
    mode: str, isvc: dict[str, Any], vs: dict[str, Any] | None = None
) -> TrafficState:
    """What the InferenceService (and the VirtualService, when given) declare."""
    spec = isvc.get("spec") or {}
    predictor = spec.get("predictor") or {}
    if check_mode(mode) == SERVERLESS:
        weight = predictor.get("canaryTrafficPercent")
        version = (
            (predictor.get("labels") or {}).get(MODEL_VERSION_LABEL) if weight is not None else None
        )
    else:
        canaries = spec.get("canary") or []
        weight = canaries[0].get("trafficPercent", 0) if canaries else None
        labels = (canaries[0].get("predictor") or {}).get("labels") if canaries else None
        version = (labels or {}).get(MODEL_VERSION_LABEL)
    mirror, sticky = 0, None
    for route in ((vs or {}).get("spec") or {}).get("http") or []:
        if route.get("mirror"):
            mirror = round((route.get("mirrorPercentage") or {}).get("value", 100))
        for match in route.get("match") or []:
            for header, rule in (match.get("headers") or {}).items():
                sticky = header
                chars = re.fullmatch(r"\.\*\[([0-9a-fA-F]+)\]", rule.get("regex", ""))
                if chars and weight is not None:
                    weight = round(100 * len(set(chars.group(1).lower())) / len(BUCKETS))
    return TrafficState(weight, version, mirror, sticky)
