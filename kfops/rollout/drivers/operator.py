"""The kfops rollout operator: kopf reconciles every ModelRollout with the engine.

Run it with ``kopf run --standalone --all-namespaces -m kfops.rollout.drivers.operator`` (the
Deployment in manifests/base/rollout-operator.yaml does). The kopf handler is a thin shell
around :func:`reconcile_object`, a plain function of the object, the clock and the world,
so every decision it takes is tested without a cluster.

Users steer a rollout with ``kubectl kfops rollout promote|abort|…``, which writes the
request to the ``rollouts.kfops.io/command`` annotation; the next reconcile carries it out
(once: its id is kept in ``status.lastCommand``) and removes the annotation.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, start_http_server
from pydantic import ValidationError

from kfops.cluster.names import (
    COMMAND_ANNOTATION,
    MODEL_VERSION_LABEL,
    ROLLOUT_GROUP,
    ROLLOUT_KIND,
    ROLLOUT_PLURAL,
    ROLLOUT_VERSION,
    VARIANT_LABEL,
)
from kfops.config.rollout import RolloutSpec
from kfops.errors import ConfigurationError, KfopsError, config_error
from kfops.rollout.drivers import controller
from kfops.rollout.drivers.controller import World
from kfops.rollout.engine.status import RolloutPhase, RolloutStatus
from kfops.series import ROLLOUT_CANARY_WEIGHT, ROLLOUT_PHASE, Series

RECONCILE_SECONDS = float(os.environ.get("KFOPS_ROLLOUT_INTERVAL", "5"))
TRACKING_ENV = "MLFLOW_TRACKING_URI"
METRICS_PORT = int(os.environ.get("KFOPS_OPERATOR_METRICS_PORT", "8081"))
"""Where the operator serves /metrics (0: not at all); the Deployment names it ``metrics``."""

log = logging.getLogger(__name__)


@dataclass
class ObjectUpdate:
    """What one reconcile writes back: the status, annotations to set or remove, events."""

    status: dict[str, Any]
    annotations: dict[str, str | None] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _plain(value: Any) -> Any:
    """kopf hands out read-only mapping views; the engine wants plain data."""
    return json.loads(json.dumps(value, default=dict))


def _command(annotations: dict[str, str]) -> dict[str, Any] | None:
    raw = annotations.get(COMMAND_ANNOTATION)
    if not raw:
        return None
    try:
        request = json.loads(raw)
        if not isinstance(request, dict) or "command" not in request:
            raise ValueError("no 'command' key")
    except ValueError as exc:
        return {"command": None, "id": None, "error": f"unreadable command {raw!r}: {exc}"}
    return request


def rollout_spec(obj: dict[str, Any]) -> RolloutSpec:
    """The object's spec, validated; an invalid one is a ConfigurationError naming the
    first wrong field (the same line the API server's schema check would give)."""
    meta = obj.get("metadata") or {}
    where = "/".join(part for part in (meta.get("namespace"), meta.get("name")) if part)
    try:
        return RolloutSpec.model_validate(obj.get("spec") or {})
    except ValidationError as exc:
        raise config_error(exc, f"{ROLLOUT_KIND} {where or '?'}: spec") from exc


def _gate_decision(world: World, spec: RolloutSpec) -> str | None:
    """The training gate's decision on the candidate, when the alias backend can read it
    (the MLflow one can), for the status of a rollout that starts."""
    lookup = getattr(world.aliases, "gate_decision", None)
    return lookup(spec.model, spec.candidate.version) if lookup is not None else None


def reconcile_object(
    obj: dict[str, Any],
    world: World | Callable[[RolloutSpec], World],
    now: float,
    *,
    resync: bool = False,
    place_candidate: Callable[[RolloutSpec], None] | None = None,
) -> ObjectUpdate:
    """One reconcile of a ModelRollout object (as the API server returns it).

    Raises ConfigurationError for an invalid spec (:func:`rollout_spec`): nothing can be
    decided for it, and the kopf handler reports it as a permanent error.
    """
    spec = rollout_spec(obj)
    raw_status = copy.deepcopy(obj.get("status") or {})
    last_command = raw_status.get("lastCommand") or {}
    the_world = world(spec) if callable(world) and not isinstance(world, World) else world
    status = (
        RolloutStatus.model_validate(raw_status)
        if raw_status.get("specFingerprint")
        else RolloutStatus.initial(spec, gate_decision=_gate_decision(the_world, spec))
    )
    update = ObjectUpdate(status={})
    request = _command((obj.get("metadata") or {}).get("annotations") or {})
    if request is not None:
        update.annotations[COMMAND_ANNOTATION] = None
        if request.get("error"):
            update.warnings.append(request["error"])
        elif request.get("id") is None or request.get("id") != last_command.get("id"):
            outcome = {"id": request.get("id"), "command": request["command"], "at": now}
            try:
                decision = controller.command(
                    spec, status, request["command"], now, the_world,
                    **(request.get("arguments") or {}),
                )  # fmt: skip
                status = decision.status
                update.events += [f"command {request['command']}", *decision.events]
            except KfopsError as exc:
                outcome["error"] = exc.message
                update.warnings.append(f"command {request['command']}: {exc.message}")
            last_command = outcome
    try:
        if place_candidate is not None and not controller.is_done(status):
            place_candidate(spec)
        decision = controller.tick(spec, status, now, the_world, resync=resync)
        status = decision.status
        update.events += decision.events
    except KfopsError as exc:
        # Keep the status as it was: the next reconcile decides again (nothing skipped).
        status = status.model_copy(update={"message": f"retrying: {exc.message}"})
        update.warnings.append(exc.message)
    update.status = status.to_json_dict()
    if last_command:
        update.status["lastCommand"] = last_command
    return update


# -- metrics ---------------------------------------------------------------------------------------

OPERATOR_REGISTRY = CollectorRegistry()


def _gauge(series: Series) -> Gauge:
    return Gauge(series.name, series.help, series.labels, registry=OPERATOR_REGISTRY)


_PHASE, _WEIGHT = _gauge(ROLLOUT_PHASE), _gauge(ROLLOUT_CANARY_WEIGHT)


def record_status(namespace: str, name: str, model: str, status: dict[str, Any]) -> None:
    """The rollout's phase (one series per phase, 1 for the current one) and weight, so an
    alert sees an aborted rollout and a dashboard its traffic."""
    for phase in RolloutPhase:
        current = 1.0 if status.get("phase") == phase.value else 0.0
        _PHASE.labels(namespace, name, model, phase.value).set(current)
    _WEIGHT.labels(namespace, name, model).set(float(status.get("canaryWeight") or 0))


def serve_metrics(port: int, addr: str = "0.0.0.0") -> Any:
    """/metrics of :data:`OPERATOR_REGISTRY` in a daemon thread; returns the HTTP server."""
    server, _ = start_http_server(port, addr=addr, registry=OPERATOR_REGISTRY)
    return server


def forget_rollout(namespace: str, name: str) -> None:
    """A deleted rollout's series go with it (an alert must not fire for it forever)."""
    for gauge in (_PHASE, _WEIGHT):
        gauge.remove_by_labels({"namespace": namespace, "rollout": name})


# -- the cluster world -------------------------------------------------------------------------


def cluster_world(spec: RolloutSpec, namespace: str, api: Any) -> World:
    """KServe traffic, the MLflow registry the pod is configured for, Prometheus.

    The operator's traffic is KServe's whatever ``traffic.backend`` says: in the cluster
    there is no local router (and the spec's default type is ``local``).
    """
    from kfops.rollout.backends.aliases import MlflowAliases
    from kfops.rollout.backends.table import traffic_backend

    uri = os.environ.get(TRACKING_ENV)
    if not uri:
        raise KfopsError(f"the operator needs {TRACKING_ENV} to move aliases; set it")
    return World(
        traffic=traffic_backend(spec, backend_type="kserve", namespace=namespace, api=api),
        aliases=MlflowAliases(uri),
        measure=controller.prometheus_measure,
    )


def candidate_predictor(
    stable: dict[str, Any], model: str, version: str, sha256: str | None, source: str | None
) -> dict[str, Any]:
    """The candidate's predictor: stable's, with the candidate's model in it.

    The kfops image takes ``--model models:/NAME/VERSION --sha256 DIGEST``; KServe's sklearn
    runtime takes ``model.storageUri``.
    """
    predictor = copy.deepcopy(stable)
    predictor.pop("canaryTrafficPercent", None)
    labels = predictor.setdefault("labels", {})
    labels[MODEL_VERSION_LABEL] = version
    labels[VARIANT_LABEL] = "candidate"
    for container in predictor.get("containers") or []:
        args = container.get("args") or []
        for index, arg in enumerate(args[:-1]):
            if arg == "--model":
                args[index + 1] = f"models:/{model}/{version}"
            elif arg == "--sha256" and sha256:
                args[index + 1] = sha256
    if "model" in predictor and source:
        predictor["model"]["storageUri"] = source
    return predictor


def candidate_placer(world: World) -> Callable[[RolloutSpec], None]:
    """Puts the candidate on the InferenceService once (at 0 %), if it is not there yet."""
    from mlflow import MlflowClient

    from kfops.registry.versions import MODEL_SHA256_TAG

    def place(spec: RolloutSpec) -> None:
        backend = world.traffic
        if backend.read().candidate_version == spec.candidate.version:
            return
        stable = (backend.get().get("spec") or {}).get("predictor") or {}
        if (stable.get("labels") or {}).get(MODEL_VERSION_LABEL) == spec.candidate.version:
            return  # promoted already: the candidate is the predictor
        client = MlflowClient(tracking_uri=os.environ.get(TRACKING_ENV))
        version = client.get_model_version(spec.model, spec.candidate.version)
        predictor = candidate_predictor(
            stable, spec.model, spec.candidate.version,
            version.tags.get(MODEL_SHA256_TAG), version.source,
        )  # fmt: skip
        backend.place_candidate(predictor, spec.candidate.version)

    return place


# -- kopf -----------------------------------------------------------------------------------------

try:  # the library stays importable (and testable) where kopf is not installed
    import kopf
except ImportError:  # pragma: no cover
    kopf = None  # type: ignore[assignment]

if kopf is not None:

    @kopf.on.startup()
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        """No CRD scanning, no peering objects, progress in annotations (not in status)."""
        settings.scanning.disabled = True
        settings.peering.standalone = True
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
            prefix=ROLLOUT_GROUP
        )
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=ROLLOUT_GROUP
        )
        settings.posting.level = logging.INFO
        if METRICS_PORT:
            serve_metrics(METRICS_PORT)

    @kopf.timer(
        ROLLOUT_GROUP,
        ROLLOUT_VERSION,
        ROLLOUT_PLURAL,
        interval=RECONCILE_SECONDS,
        initial_delay=1.0,
    )
    def reconcile(
        body: kopf.Body, namespace: str, patch: kopf.Patch, memo: kopf.Memo, **_: Any
    ) -> None:
        """Every few seconds per ModelRollout: measure, decide, act, write the status.

        An invalid spec stops here, before any world is built, as a permanent error: kopf
        posts its one line as a Warning event and tries again only on the next timer tick.
        """
        from kfops.rollout.drivers import kube

        obj = _plain(body)
        try:
            spec = rollout_spec(obj)
        except ConfigurationError as exc:
            raise kopf.PermanentError(exc.message) from exc
        api = memo.get("api") or kube.api_client()
        memo["api"] = api
        world = cluster_world(spec, namespace, api)
        update = reconcile_object(
            obj, world, time.time(), resync=not memo.get("synced"),
            place_candidate=candidate_placer(world),
        )  # fmt: skip
        memo["synced"] = True
        record_status(namespace, obj["metadata"]["name"], spec.model, update.status)
        patch.status.update(update.status)
        for key, value in update.annotations.items():
            patch.metadata.annotations[key] = value
        for event in update.events:
            kopf.info(body, reason="Rollout", message=event[:1000])
        for warning in update.warnings:
            kopf.warn(body, reason="Rollout", message=warning[:1000])

    @kopf.on.delete(ROLLOUT_GROUP, ROLLOUT_VERSION, ROLLOUT_PLURAL, optional=True)
    def deleted(body: kopf.Body, namespace: str, **_: Any) -> None:
        """No finalizer (optional): the object goes at once; its metric series follow."""
        forget_rollout(namespace, body["metadata"]["name"])
