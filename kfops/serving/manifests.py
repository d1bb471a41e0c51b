"""The InferenceService of a model version, built with the kserve SDK's model classes, and
the ModelRollout that canaries a new version on it. Pure.

Two runtimes: ``kfops`` runs this package's server in the kfops image (digest check,
signature checks, batching, metrics, inference log); ``sklearn`` hands a plain MLflow
scikit-learn model (no kfops code in its pickle) to KServe's standard runtime, which
checks nothing, so KServe's own payload logger is switched on for it instead.

Two modes: ``Serverless`` (Knative: scales on concurrency or rps, to zero if allowed) and
``RawDeployment`` (a Deployment and an HPA: scales on cpu or memory). Containers run as
a non-root user with a read-only root filesystem, no privilege escalation, no Linux
capabilities and the runtime's seccomp profile; /tmp is an emptyDir.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from kfops.cluster.names import (
    DEPLOYMENT_MODE_ANNOTATION,
    ISVC_API_VERSION,
    ISVC_KIND,
    MODEL_ANNOTATION,
    MODEL_SHA256_ANNOTATION,
    MODEL_VERSION_LABEL,
    ROLLOUT_GROUP,
    ROLLOUT_KIND,
    ROLLOUT_VERSION,
    VARIANT_LABEL,
)
from kfops.config import ServingConfig
from kfops.config.rollout import RolloutPlan, RolloutSpec
from kfops.errors import ConfigurationError

PORT = 8080
GRPC_PORT = 8081  # KServe's gRPC port; named h2c (HTTP/2 cleartext) as KServe and Knative expect
CONTAINER = "kserve-container"
SERVING_ENV = "KFOPS_SERVING"  # the serving section as JSON, read by `kfops serve`
_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,43}[a-z0-9])?$")


@dataclass(frozen=True)
class DeploymentSpec:
    """Everything the manifest needs, resolved from the config and the registry."""

    name: str
    namespace: str
    model_name: str
    model_version: str
    sha256: str
    image: str
    tracking_uri: str | None
    storage_uri: str | None = None
    settings: ServingConfig = field(default_factory=ServingConfig)


def service_name(model_name: str) -> str:
    """A DNS-1035 name Knative can suffix: ``Churn_Classifier`` -> ``churn-classifier``."""
    name = re.sub(r"[^a-z0-9-]+", "-", model_name.lower()).strip("-")
    name = name if name[:1].isalpha() else f"m-{name}"
    return name[:45].rstrip("-")


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ConfigurationError(
            f"serving.service_name: '{name}' is not a DNS-1035 label of at most 45 characters "
            "(Knative appends -predictor-00001); use lowercase letters, digits and '-'"
        )
    return name


def _scaling(settings: ServingConfig) -> dict[str, Any]:
    scaling = settings.autoscaling
    raw = settings.deployment_mode == "RawDeployment"
    if raw and scaling.metric in ("concurrency", "rps"):
        raise ConfigurationError(
            f"serving.autoscaling.metric: RawDeployment scales with an HPA on cpu or memory, "
            f"not {scaling.metric}; set metric: cpu, or deployment_mode: Serverless"
        )
    if raw and scaling.min_replicas == 0:
        raise ConfigurationError(
            "serving.autoscaling.min_replicas: 0 needs Serverless mode (scale to zero); "
            "set it to 1 or more for RawDeployment"
        )
    return {
        "min_replicas": scaling.min_replicas,
        "max_replicas": scaling.max_replicas,
        "scale_metric": scaling.metric,
        "scale_target": scaling.target,
    }


def _security(client: Any) -> tuple[Any, Any]:
    container = client.V1SecurityContext(
        run_as_non_root=True,
        run_as_user=1000,
        run_as_group=1000,
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        capabilities=client.V1Capabilities(drop=["ALL"]),
        seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"),
    )
    pod = client.V1PodSecurityContext(
        run_as_non_root=True,
        fs_group=1000,
        seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"),
    )
    return container, pod


def _resources(client: Any, settings: ServingConfig) -> Any:
    r = settings.resources
    return client.V1ResourceRequirements(
        requests={"cpu": r.cpu_request, "memory": r.memory_request},
        limits={"cpu": r.cpu_limit, "memory": r.memory_limit},
    )


def _kfops_container(spec: DeploymentSpec, client: Any, security: Any) -> Any:
    settings = spec.settings
    env = {
        SERVING_ENV: json.dumps(
            settings.model_dump(mode="json", exclude_none=True), sort_keys=True
        ),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "HOME": "/tmp",
    }
    if spec.tracking_uri:
        env["MLFLOW_TRACKING_URI"] = spec.tracking_uri
    probe = client.V1Probe(
        http_get=client.V1HTTPGetAction(path="/v2/health/ready", port=PORT),
        period_seconds=10,
    )
    args = [
        "serve",
        "--model",
        f"models:/{spec.model_name}/{spec.model_version}",
        "--sha256",
        spec.sha256,
        # The pod's network namespace is the boundary: bind all of its addresses.
        "--host",
        "0.0.0.0",
        "--port",
        str(PORT),
    ]
    return client.V1Container(
        name=CONTAINER,
        image=spec.image,
        command=["kfops"],
        args=args + (["--grpc-port", str(GRPC_PORT)] if settings.grpc_port is not None else []),
        env=[client.V1EnvVar(name=k, value=v) for k, v in env.items()],
        ports=_ports(client, settings),
        resources=_resources(client, settings),
        security_context=security,
        readiness_probe=probe,
        volume_mounts=[client.V1VolumeMount(name="tmp", mount_path="/tmp")],
    )


def _ports(client: Any, settings: ServingConfig) -> list[Any]:
    """REST alone, or REST and gRPC (``h2c``): KServe gives each its own Service port.

    Knative routes one port per container, so gRPC beside REST needs RawDeployment.
    """
    if settings.grpc_port is None:
        return [client.V1ContainerPort(container_port=PORT, protocol="TCP")]
    if settings.deployment_mode != "RawDeployment":
        raise ConfigurationError(
            "serving.grpc_port needs serving.deployment_mode RawDeployment: Knative "
            "(Serverless) routes a single port per container; set RawDeployment or unset "
            "serving.grpc_port"
        )
    return [
        client.V1ContainerPort(name="http1", container_port=PORT, protocol="TCP"),
        client.V1ContainerPort(name="h2c", container_port=GRPC_PORT, protocol="TCP"),
    ]


def inference_service(spec: DeploymentSpec) -> dict[str, Any]:
    """The InferenceService as a plain dict, ready for server-side apply or YAML."""
    import kubernetes.client as client

    from kfops.serving.kserve_import import kserve

    settings = spec.settings
    container_security, pod_security = _security(client)
    labels = {
        "app.kubernetes.io/name": spec.name,
        "app.kubernetes.io/component": "model-server",
        "app.kubernetes.io/part-of": "kfops",
        MODEL_VERSION_LABEL: spec.model_version,
        VARIANT_LABEL: settings.variant,
    }
    predictor: dict[str, Any] = {
        **_scaling(settings),
        "service_account_name": settings.service_account,
        "automount_service_account_token": False,
        "security_context": pod_security,
        "labels": labels,
        "annotations": {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(PORT),
            "prometheus.io/path": "/metrics",
        },
    }
    if settings.runtime == "kfops":
        predictor["containers"] = [_kfops_container(spec, client, container_security)]
        predictor["volumes"] = [
            client.V1Volume(name="tmp", empty_dir=client.V1EmptyDirVolumeSource())
        ]
    else:
        if not spec.storage_uri:
            raise ConfigurationError(
                "serving.runtime sklearn needs the model's storage URI (s3://, gs://, pvc://); "
                "register the model in an artifact store the cluster can read"
            )
        predictor["model"] = kserve.V1beta1ModelSpec(
            model_format=kserve.V1beta1ModelFormat(name="sklearn"),
            storage_uri=spec.storage_uri,
            protocol_version="v2",
            resources=_resources(client, settings),
            security_context=container_security,
        )
        if settings.inference_log.url:
            predictor["logger"] = kserve.V1beta1LoggerSpec(
                mode="all", url=settings.inference_log.url
            )
    isvc = kserve.V1beta1InferenceService(
        api_version=ISVC_API_VERSION,
        kind=ISVC_KIND,
        metadata=client.V1ObjectMeta(
            name=spec.name,
            namespace=spec.namespace,
            labels=labels,
            annotations={
                DEPLOYMENT_MODE_ANNOTATION: settings.deployment_mode,
                MODEL_ANNOTATION: spec.model_name,
                MODEL_SHA256_ANNOTATION: spec.sha256,
            },
        ),
        spec=kserve.V1beta1InferenceServiceSpec(predictor=kserve.V1beta1PredictorSpec(**predictor)),
    )
    return kserve.ApiClient().sanitize_for_serialization(isvc)


def model_rollout(
    plan: RolloutPlan,
    *,
    name: str,
    namespace: str,
    model_name: str,
    stable: str,
    candidate: str,
    deployment_mode: str,
) -> dict[str, Any]:
    """The ModelRollout that moves the InferenceService ``namespace/name`` from ``stable``
    to ``candidate`` with the ``rollout:`` plan's steps, as a plain dict for server-side apply.

    The versions are the ones given, even where the plan pins some: the pipeline's deploy
    step rolls out the version it has just trained. Traffic is always the InferenceService's
    (the local router does not exist in a cluster); the plan's VirtualService is kept.
    ``paused`` is sent only when the plan sets it, so a ``kubectl kfops rollout pause`` is not
    undone by the next deploy. Raises ValueError (pydantic's) for a spec the CRD would refuse,
    and ConfigurationError when a Prometheus address is a loopback one (the local default).
    """
    _check_cluster_prometheus(plan)
    fields = plan.model_dump(mode="json", by_alias=True, exclude_none=True)
    fields.update(
        model=model_name,
        stable={"version": stable},
        candidate={"version": candidate},
        traffic={
            "backend": "kserve",
            "inferenceService": name,
            "namespace": namespace,
            "deploymentMode": deployment_mode,
            **(
                {"virtualService": plan.traffic.virtual_service}
                if plan.traffic.virtual_service
                else {}
            ),
        },
    )
    spec = RolloutSpec.model_validate(fields).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    if not spec.get("paused"):
        spec.pop("paused", None)
    spec["traffic"].pop("routerUrl", None)  # the local router's; meaningless in a cluster
    return {
        "apiVersion": f"{ROLLOUT_GROUP}/{ROLLOUT_VERSION}",
        "kind": ROLLOUT_KIND,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/name": name,
                "app.kubernetes.io/component": "model-rollout",
                "app.kubernetes.io/part-of": "kfops",
            },
            "annotations": {MODEL_ANNOTATION: spec["model"]},
        },
        "spec": spec,
    }


def _is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_cluster_prometheus(plan: RolloutPlan) -> None:
    """The operator measures from its own pod: a loopback Prometheus (``rollout:``'s default,
    right for a laptop) would never answer, and every analysis would end in errors."""
    for template in plan.analysis_templates:
        for metric in template.metrics:
            own = metric.provider.prometheus.address
            where = (
                f"rollout.analysisTemplates[{template.name}].metrics[{metric.name}]"
                ".provider.prometheus.address"
                if own
                else "rollout.prometheus.address"
            )
            address = own or plan.prometheus.address
            if _is_loopback(address):
                raise ConfigurationError(
                    f"{where}: {address} is a loopback address, which the rollout operator's "
                    "pod cannot measure from; set the cluster's Prometheus, e.g. "
                    "http://prometheus-operated.monitoring:9090"
                )
