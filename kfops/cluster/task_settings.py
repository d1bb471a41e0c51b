"""Per-task cluster settings: which image a component runs in, and how its pod is shaped.

The pipeline builder calls :func:`image_for` when it builds each component and
:func:`apply_task_settings` on each task when it compiles for a cluster. Everything comes
from the ``cluster:`` section of ``kfops.yaml`` (:class:`kfops.config.ClusterConfig`);
nothing here talks to Kubernetes, it only writes into the compiled pipeline spec.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kfp import dsl, kubernetes

from kfops.config import BUILTIN_STEPS, ClusterConfig, ComponentResources
from kfops.errors import ConfigurationError

COMPONENT_NAMES: tuple[str, ...] = BUILTIN_STEPS
"""Components of the pipelines, in pipeline order (drift: the retraining pipeline's first)."""

DEFAULT_RESOURCES_KEY = "default"
"""Key of ``cluster.resources`` used by every component without its own entry."""

TFDV_COMPONENTS: frozenset[str] = frozenset({"validate", "drift"})
"""Components that need the TFDV runtime image (see ``runtimes/tfdv/Dockerfile``)."""


def check_component_names(cluster: ClusterConfig, known: Sequence[str] = COMPONENT_NAMES) -> None:
    """Reject per-component keys in ``cluster.images`` / ``cluster.resources`` that name no
    component, so a typo such as ``trian`` fails instead of silently using the defaults.

    Raises:
        ConfigurationError: naming the first unknown key and the known components.
    """
    sections: tuple[tuple[str, Sequence[str], tuple[str, ...]], ...] = (
        ("images", list(cluster.images), ()),
        ("resources", list(cluster.resources), (DEFAULT_RESOURCES_KEY,)),
    )
    for section, keys, extra in sections:
        allowed = (*known, *extra)
        for key in keys:
            if key not in allowed:
                raise ConfigurationError(
                    f"cluster.{section}.{key}: unknown component '{key}'; "
                    f"use one of {', '.join(allowed)}"
                )


def _require_known(component: str, known: Sequence[str]) -> None:
    # A wrong name here is a bug in the pipeline builder, not in the user's kfops.yaml.
    if component not in known:
        raise ValueError(f"component '{component}' is not one of {', '.join(known)}")


def image_for(
    component: str, cluster: ClusterConfig, known: Sequence[str] = COMPONENT_NAMES
) -> str:
    """Container image for ``component``.

    Order: ``cluster.images[component]``, then ``cluster.tfdv_image`` for ``validate`` and
    ``drift`` (TFDV lives in its own image), then ``cluster.image``.
    """
    _require_known(component, known)
    check_component_names(cluster, known)
    if component in cluster.images:
        return cluster.images[component]
    if component in TFDV_COMPONENTS:
        return cluster.tfdv_image
    return cluster.image


def resources_for(
    component: str, cluster: ClusterConfig, known: Sequence[str] = COMPONENT_NAMES
) -> tuple[str, ComponentResources | None]:
    """The ``cluster.resources`` entry that applies to ``component`` and its key.

    A component's own entry replaces the ``default`` entry as a whole (fields are not
    merged), so what is written under a component is exactly what its pod gets.
    Returns ``(key, None)`` when neither is set.
    """
    _require_known(component, known)
    if component in cluster.resources:
        return component, cluster.resources[component]
    return DEFAULT_RESOURCES_KEY, cluster.resources.get(DEFAULT_RESOURCES_KEY)


def _set_resources(task: dsl.PipelineTask, key: str, resources: ComponentResources) -> None:
    setters: dict[str, Callable[[str], object]] = {
        "cpu_request": task.set_cpu_request,
        "cpu_limit": task.set_cpu_limit,
        "memory_request": task.set_memory_request,
        "memory_limit": task.set_memory_limit,
    }
    for field, setter in setters.items():
        value = getattr(resources, field)
        if value is None:
            continue
        try:
            setter(value)
        except ValueError as exc:
            example = "500m or 2" if field.startswith("cpu") else "512Mi or 4Gi"
            raise ConfigurationError(
                f"cluster.resources.{key}.{field}: invalid quantity '{value}'; "
                f"write it like {example}"
            ) from exc


def apply_task_settings(
    task: dsl.PipelineTask,
    component: str,
    cluster: ClusterConfig,
    known: Sequence[str] = COMPONENT_NAMES,
) -> None:
    """Apply resources, node selector and secrets from ``cluster`` to one task.

    - resources: ``cluster.resources[component]``, else ``cluster.resources["default"]``;
    - node selector: every ``cluster.node_selector`` label, on every task;
    - secrets: each ``cluster.secrets_as_env`` entry (secret name -> {key: ENV_VAR}) is
      exposed as environment variables on every task.

    Raises:
        ConfigurationError: an unknown component key or an invalid quantity in ``cluster``.
    """
    _require_known(component, known)
    check_component_names(cluster, known)
    key, resources = resources_for(component, cluster, known)
    if resources is not None:
        _set_resources(task, key, resources)
    # kfp-kubernetes 2.17 takes one label per call; repeated calls add to the same selector.
    for label, value in cluster.node_selector.items():
        kubernetes.add_node_selector(task, label_key=label, label_value=value)
    for secret_name, key_to_env in cluster.secrets_as_env.items():
        if not key_to_env:
            raise ConfigurationError(
                f"cluster.secrets_as_env.{secret_name}: no keys; map secret keys to "
                "environment variables, e.g. {AWS_ACCESS_KEY_ID: AWS_ACCESS_KEY_ID}"
            )
        kubernetes.use_secret_as_env(task, secret_name=secret_name, secret_key_to_env=key_to_env)
