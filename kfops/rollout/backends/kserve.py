"""Traffic on a KServe InferenceService (and its Istio VirtualService): the client.

It reads the objects, asks :mod:`kfops.rollout.backends.kserve_patches` what to send (the
module docstring there says what each deployment mode does) and sends it through
:mod:`kfops.cluster.kube_api`. Every request it makes is listed in :data:`PERMISSIONS`.
"""

from __future__ import annotations

from typing import Any

from kfops.cluster import kube_api
from kfops.cluster.kube_api import Permission
from kfops.cluster.names import (
    ISVC_GROUP,
    ISVC_KIND,
    ISVC_PLURAL,
    ISVC_VERSION,
    ROLLOUT_FIELD_MANAGER,
    VS_GROUP,
    VS_KIND,
    VS_PLURAL,
    VS_VERSION,
)
from kfops.config.rollout import RolloutSpec
from kfops.errors import RolloutError
from kfops.rollout.backends.kserve_patches import (
    RAW,
    SERVERLESS,
    Patch,
    TrafficState,
    check_mode,
    hosts_for,
    place_candidate_patch,
    remove_candidate_patch,
    traffic_state,
    virtual_service,
    weight_patch,
)
from kfops.rollout.engine.actions import SetTraffic

PERMISSIONS: tuple[Permission, ...] = (
    Permission(ISVC_GROUP, ISVC_PLURAL, ("get", "patch")),  # read(), every patch below
    # read() gets it; server-side apply creates it the first time, then patches it.
    Permission(VS_GROUP, VS_PLURAL, ("get", "create", "patch")),
)

_RIGHTS = (
    "grant the service account the verb on the resource (manifests/base/rollout-operator.yaml)"
)


class KServeTrafficBackend:
    """Carries out SetTraffic on one InferenceService (and its VirtualService, if named).

    ``api_client`` is a ``kubernetes.client.ApiClient`` (see
    :func:`kfops.cluster.kube_client.api_client`).
    """

    def __init__(
        self,
        api_client: Any,
        namespace: str,
        name: str,
        deployment_mode: str = SERVERLESS,
        virtual_service: str | None = None,
        *,
        hosts: list[str] | None = None,
        gateways: list[str] | None = None,
    ) -> None:
        self.api = api_client
        self.namespace = namespace
        self.name = name
        self.mode = check_mode(deployment_mode)
        self.virtual_service = virtual_service
        self.hosts = hosts or ([virtual_service] if virtual_service else [])
        self.gateways = gateways

    @classmethod
    def from_spec(
        cls, spec: RolloutSpec, namespace: str, api: Any | None = None
    ) -> KServeTrafficBackend:
        """The InferenceService ``spec.traffic`` names (default: the model's name), in its
        namespace or else ``namespace`` (the ModelRollout's); ``api`` defaults to the
        kubeconfig's or the pod's client."""
        if api is None:
            from kfops.cluster.kube_client import api_client

            api = api_client()
        traffic = spec.traffic
        return cls(
            api,
            traffic.namespace or namespace,
            traffic.inference_service or spec.model,
            traffic.deployment_mode,
            traffic.virtual_service,
        )

    @property
    def isvc_path(self) -> str:
        return kube_api.object_path(
            ISVC_GROUP, ISVC_VERSION, ISVC_PLURAL, self.namespace, self.name
        )

    @property
    def vs_path(self) -> str:
        return kube_api.object_path(
            VS_GROUP, VS_VERSION, VS_PLURAL, self.namespace, self.virtual_service
        )

    @property
    def _isvc(self) -> str:
        return f"{ISVC_KIND} {self.namespace}/{self.name}"

    @property
    def _vs(self) -> str:
        return f"{VS_KIND} {self.namespace}/{self.virtual_service}"

    def _isvc_hints(self) -> dict[int, str]:
        return {
            403: _RIGHTS,
            404: "deploy it first (kfops deploy) or fix traffic.inferenceService/namespace",
            409: "another writer changed it; the controller retries on its next pass",
            422: "KServe or a stale test op rejected the patch; read it again "
            f"(kubectl get isvc {self.name} -n {self.namespace} -o yaml) and retry",
        }

    def _send(self, what: str, patch: Patch) -> dict[str, Any]:
        return kube_api.call(
            self.api,
            "PATCH",
            self.isvc_path,
            f"{what} {self._isvc}",
            error=RolloutError,
            body=patch.body,
            content_type=patch.content_type,
            hints=self._isvc_hints(),
        )

    def get(self) -> dict[str, Any]:
        """The InferenceService as stored."""
        return kube_api.call(
            self.api,
            "GET",
            self.isvc_path,
            f"read {self._isvc}",
            error=RolloutError,
            hints=self._isvc_hints(),
        )

    def place_candidate(self, predictor: dict[str, Any], version: str) -> dict[str, Any]:
        """Start: put the candidate's predictor (camelCase, as serving builds it) at 0 %."""
        return self._send(
            "place the candidate on", place_candidate_patch(self.mode, predictor, version)
        )

    def remove_candidate(self, stable_predictor: dict[str, Any] | None = None) -> dict[str, Any]:
        """After an abort: take the candidate off (Serverless needs the stable predictor)."""
        return self._send(
            "remove the candidate from", remove_candidate_patch(self.mode, stable_predictor)
        )

    def apply(self, action: SetTraffic) -> None:
        """Make the cluster carry ``action`` (idempotent: the whole state every time)."""
        if action.sticky_field is not None:
            raise RolloutError(
                f"experiment.stickyKey.field {action.sticky_field!r}: Istio routes on headers, "
                "not JSON bodies; use stickyKey.header with the kserve backend"
            )
        needs_vs = action.mirror_percent > 0 or action.sticky_header is not None
        if needs_vs and self.virtual_service is None:
            raise RolloutError(
                f"{self._isvc}: shadow (setMirror) and A/B (experiment) need an Istio "
                "VirtualService; set spec.traffic.virtualService"
            )
        ab = action.sticky_header is not None and 0 < action.candidate_weight < 100
        isvc = self.get() if self.mode == RAW else None
        patch = weight_patch(self.mode, 0 if ab else action.candidate_weight, isvc)
        stored = self._send("set traffic on", patch) if patch is not None else isvc
        if self.virtual_service is not None:
            # Hosts from the object as stored now: a RawDeployment promotion renames stable.
            routes = hosts_for(self.mode, self.namespace, self.name, stored)
            manifest = virtual_service(
                self.virtual_service, self.namespace, self.hosts, routes, action, self.gateways
            )
            self._apply_vs(manifest)

    def _apply_vs(self, manifest: dict[str, Any]) -> dict[str, Any]:
        return kube_api.server_side_apply(
            self.api,
            self.vs_path,
            f"apply {self._vs}",
            manifest,
            ROLLOUT_FIELD_MANAGER,
            error=RolloutError,
            hints={
                403: _RIGHTS,
                404: "is Istio installed (CRD networking.istio.io/v1beta1 VirtualService)?",
            },
        )

    def read(self) -> TrafficState:
        """The weights the InferenceService and the VirtualService declare now."""
        isvc = self.get()
        vs = None
        if self.virtual_service is not None:
            try:
                what = f"read {self._vs}"
                vs = kube_api.call(
                    self.api, "GET", self.vs_path, what, error=RolloutError, hints={403: _RIGHTS}
                )
            except RolloutError as exc:
                if kube_api.api_status(exc) != 404:
                    raise
        return traffic_state(self.mode, isvc, vs)
