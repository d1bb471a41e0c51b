"""Deploy step: the model version's InferenceService, applied and waited for.

The registry supplies the version (the champion unless one is named), the artifact
digest recorded at registration (the server checks it before unpickling) and, for
KServe's sklearn runtime, the artifact's storage URI. The manifest is pure
(:mod:`kfops.serving.manifests`); :mod:`kfops.serving.kube` does the I/O.
"""

from __future__ import annotations

from typing import Any

from kfops.config import KfopsConfig, ServingConfig, config_from_dict
from kfops.errors import RegistryError, one_line
from kfops.registry.champion import CHAMPION
from kfops.registry.versions import MODEL_SHA256_TAG
from kfops.steps.results import DeployResult


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
        image=settings.image or cfg.cluster.images.get("serving") or cfg.cluster.image,
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
    from kfops.registry.tracking import use_tracking
    from kfops.serving import kube

    cfg = config if isinstance(config, KfopsConfig) else config_from_dict(config)
    use_tracking(
        cfg.resolved_tracking_uri(),
        cfg.experiment_name,
        cfg.resolved_artifact_location(),
        cfg.tracking.registry_uri,
    )
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
