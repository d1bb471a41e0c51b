"""Deploy step: the model version's InferenceService, applied and waited for; in the
training pipeline, a new version put in front of traffic (:func:`run_deploy_version`).

The registry supplies the version (the champion unless one is named), the artifact
digest recorded at registration (the server checks it before unpickling) and, for
KServe's sklearn runtime, the artifact's storage URI. The manifests are pure
(:mod:`kfops.serving.manifests`); :mod:`kfops.serving.kube` and the one Kubernetes call
helper (:mod:`kfops.cluster.kube_api`) do the I/O.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kfops.cluster import kube_api
from kfops.cluster.images import serving_image
from kfops.cluster.kube_api import Permission
from kfops.cluster.names import (
    DEPLOY_FIELD_MANAGER,
    ISVC_GROUP,
    ISVC_PLURAL,
    ROLLOUT_GROUP,
    ROLLOUT_KIND,
    ROLLOUT_PLURAL,
    ROLLOUT_VERSION,
)
from kfops.config import KfopsConfig, ServingConfig, config_from_dict
from kfops.errors import ClusterError, RegistryError, one_line
from kfops.registry.champion import CHAMPION
from kfops.registry.versions import MODEL_SHA256_TAG, alias_version
from kfops.steps.results import DeployResult

IN_POD_ENV = "KUBERNETES_SERVICE_HOST"
"""Set by the kubelet in every pod; ``tuning.backend: auto`` reads the same signal."""

RBAC_MANIFEST = "manifests/base/pipeline-rbac.yaml"

PERMISSIONS: tuple[Permission, ...] = (
    # wait_ready reads it; server-side apply is a PATCH, and creating with it needs create.
    Permission(ISVC_GROUP, ISVC_PLURAL, ("get", "create", "patch")),
    # the step reads whether the rollout exists, then applies it (create or update).
    Permission(ROLLOUT_GROUP, ROLLOUT_PLURAL, ("get", "create", "patch")),
)
"""Every request :func:`run_deploy_version` makes; the pipeline's Role in
:data:`RBAC_MANIFEST` grants exactly these (a test checks it)."""

_ROLLOUT_HINTS = {
    403: f"grant the pipeline's service account the Role in {RBAC_MANIFEST}",
    404: "is the ModelRollout CRD installed? kubectl apply -k manifests/base",
}


def _use_registry(cfg: KfopsConfig) -> None:
    """The config's MLflow store for this process, as both deploy entry points read it."""
    from kfops.registry.tracking import use_config_tracking

    use_config_tracking(cfg)


def deployment_spec(cfg: KfopsConfig, version: str | None = None) -> Any:
    """Resolve the version, its digest and storage URI from the registry (set up by the caller)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from kfops.serving.manifests import DeploymentSpec, check_name, service_name

    settings = cfg.serving or ServingConfig()
    client = MlflowClient()
    name = cfg.model_name
    try:
        mv = (
            client.get_model_version(name, version)
            if version
            else client.get_model_version_by_alias(name, CHAMPION)
        )
        storage = client.get_model_version_download_uri(name, mv.version)
    except MlflowException as exc:
        wanted = f"version {version}" if version else f"alias {CHAMPION}"
        raise RegistryError(
            f"registry: '{name}' has no {wanted} ({one_line(exc)}); run the "
            "training pipeline first, or pass --version"
        ) from exc
    digest = mv.tags.get(MODEL_SHA256_TAG)
    if not digest:
        raise RegistryError(
            f"registry: '{name}' v{mv.version} has no {MODEL_SHA256_TAG} tag, so the server "
            "could not check its files; register it again with kfops"
        )
    return DeploymentSpec(
        name=check_name(settings.service_name or service_name(name)),
        namespace=settings.namespace or cfg.cluster.namespace or "default",
        model_name=name,
        model_version=str(mv.version),
        sha256=digest,
        image=serving_image(cfg),
        tracking_uri=cfg.tracking.uri,
        storage_uri=storage if "://" in storage else None,
        settings=settings,
    )


def deployment_manifest(cfg: KfopsConfig, version: str | None = None) -> dict[str, Any]:
    from kfops.serving.manifests import inference_service

    return inference_service(deployment_spec(cfg, version))


def run_deploy(
    config: KfopsConfig | dict[str, Any], version: str | None = None, api: Any = None
) -> DeployResult:
    """Apply the InferenceService and wait until Ready; returns where it serves which version."""
    from kfops.cluster.names import MODEL_VERSION_LABEL
    from kfops.serving import kube

    cfg = config if isinstance(config, KfopsConfig) else config_from_dict(config)
    _use_registry(cfg)
    settings = cfg.serving or ServingConfig()
    manifest = deployment_manifest(cfg, version)
    meta = manifest["metadata"]
    client = api if api is not None else kube.api_client()
    applied = kube.apply(client, manifest)
    ready = kube.wait_ready(
        client,
        meta["namespace"],
        meta["name"],
        (applied.get("metadata") or {}).get("generation"),
        settings.ready_timeout_seconds,
    )
    served = {
        "name": meta["name"],
        "namespace": meta["namespace"],
        "url": (ready.get("status") or {}).get("url", ""),
        "version": meta["labels"][MODEL_VERSION_LABEL],
    }
    return DeployResult(**served)


class DeployAction(StrEnum):
    """What the pipeline's deploy step did with the new version."""

    SKIPPED = "skipped"
    """Not in a Kubernetes pod (a local run): nothing was sent to any cluster."""
    SERVED = "served"
    """The InferenceService now serves the version (no rollout, or the first champion)."""
    ROLLOUT_CREATED = "rollout-created"
    """The champion's InferenceService and a ModelRollout towards the version were created."""
    ROLLOUT_UPDATED = "rollout-updated"
    """The existing ModelRollout now rolls out the version (it starts over at step 1)."""


@dataclass(frozen=True)
class VersionDeployResult:
    """The pipeline deploy step's outcome; ``service`` is set when an InferenceService was
    applied and became Ready, ``rollout`` (``namespace/name``) when a ModelRollout was applied."""

    action: DeployAction
    version: str
    message: str
    service: DeployResult | None = None
    rollout: str | None = None


def _rollout_path(namespace: str, name: str) -> str:
    return kube_api.object_path(ROLLOUT_GROUP, ROLLOUT_VERSION, ROLLOUT_PLURAL, namespace, name)


def rollout_exists(api: Any, namespace: str, name: str) -> bool:
    """Whether the ModelRollout is there (a 404 is an answer, not an error)."""
    try:
        kube_api.call(
            api,
            "GET",
            _rollout_path(namespace, name),
            f"read {ROLLOUT_KIND} {namespace}/{name}",
            hints=_ROLLOUT_HINTS,
        )
    except ClusterError as exc:
        if kube_api.api_status(exc) == 404:
            return False
        raise
    return True


def apply_rollout(api: Any, manifest: dict[str, Any]) -> dict[str, Any]:
    """Server-side apply of a ModelRollout as the deploy field manager; its status (the
    operator's) is a subresource and stays as it is."""
    meta = manifest["metadata"]
    return kube_api.server_side_apply(
        api,
        _rollout_path(meta["namespace"], meta["name"]),
        f"apply {ROLLOUT_KIND} {meta['namespace']}/{meta['name']}",
        manifest,
        DEPLOY_FIELD_MANAGER,
        error=ClusterError,
        hints=_ROLLOUT_HINTS,
    )


def run_deploy_version(
    config: KfopsConfig | dict[str, Any],
    version: str,
    api: Any = None,
    environ: Mapping[str, str] = os.environ,
) -> VersionDeployResult:
    """Put a version that won the gate in front of traffic, in the cluster the step runs in.

    * The version is the champion (no ``rollout:``, or the project's first version): the
      InferenceService serves it, applied and waited for as ``kfops deploy`` does.
    * Otherwise, with ``rollout:``: an existing ModelRollout (named as the service) gets
      ``stable`` = the champion and ``candidate`` = the version; a changed candidate makes
      the operator start it over at step 1. Without one, the champion's InferenceService is
      applied and waited for, then the ModelRollout is created; the operator places the
      candidate at 0 % and moves ``champion`` if the rollout succeeds.

    Outside a Kubernetes pod (a local run) and with no ``api`` given, nothing is sent: the
    result is SKIPPED and says how to try the version on this machine.
    """
    from kfops.serving import kube
    from kfops.serving.manifests import check_name, model_rollout, service_name

    cfg = config if isinstance(config, KfopsConfig) else config_from_dict(config)
    version = str(version)
    if api is None and not environ.get(IN_POD_ENV):
        tryout = "kfops rollout start" if cfg.rollout is not None else "kfops serve"
        return VersionDeployResult(
            DeployAction.SKIPPED,
            version,
            f"not in a Kubernetes pod, so no cluster to deploy v{version} to; "
            f"try it on this machine with `{tryout}`",
        )
    _use_registry(cfg)
    settings = cfg.serving or ServingConfig()
    alias = cfg.rollout.champion_alias if cfg.rollout is not None else CHAMPION
    champion = alias_version(cfg.model_name, alias)
    client = api if api is not None else kube.api_client()
    if cfg.rollout is None or champion is None or str(champion) == version:
        served = run_deploy(cfg, version, api=client)
        return VersionDeployResult(
            DeployAction.SERVED,
            version,
            f"{served.name} in {served.namespace} serves v{version} at {served.url}",
            service=served,
        )
    name = check_name(settings.service_name or service_name(cfg.model_name))
    namespace = settings.namespace or cfg.cluster.namespace or "default"
    manifest = model_rollout(
        cfg.rollout,
        name=name,
        namespace=namespace,
        model_name=cfg.model_name,
        stable=str(champion),
        candidate=version,
        deployment_mode=settings.deployment_mode,
    )
    where = f"{namespace}/{name}"
    if rollout_exists(client, namespace, name):
        apply_rollout(client, manifest)
        return VersionDeployResult(
            DeployAction.ROLLOUT_UPDATED,
            version,
            f"{ROLLOUT_KIND} {where}: candidate v{version} against champion v{champion}; "
            "the operator starts it over at step 1",
            rollout=where,
        )
    served = run_deploy(cfg, str(champion), api=client)
    apply_rollout(client, manifest)
    return VersionDeployResult(
        DeployAction.ROLLOUT_CREATED,
        version,
        f"{served.name} in {served.namespace} serves champion v{champion}; {ROLLOUT_KIND} "
        f"{where} rolls out v{version}",
        service=served,
        rollout=where,
    )
