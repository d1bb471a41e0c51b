"""The traffic backends by their ``traffic.backend`` type, as Feast picks its stores.

A driver asks for the type (the spec's, or the one its world fixes) and gets the backend
built from the spec; supporting another way to move traffic is one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kfops.config.rollout import RolloutSpec
from kfops.errors import RolloutError
from kfops.rollout.backends.base import TrafficBackend
from kfops.rollout.backends.kserve import KServeTrafficBackend
from kfops.rollout.backends.router_traffic import LocalRouterTraffic

TrafficFactory = Callable[[RolloutSpec, str, Any], TrafficBackend]
"""Builds a backend from the spec, the rollout's namespace and a Kubernetes client (or None)."""

TRAFFIC_BACKENDS: dict[str, TrafficFactory] = {
    "local": LocalRouterTraffic.from_spec,
    "kserve": KServeTrafficBackend.from_spec,
}


def traffic_backend(
    spec: RolloutSpec,
    *,
    backend_type: str | None = None,
    namespace: str = "default",
    api: Any = None,
) -> TrafficBackend:
    """The backend of ``backend_type`` (default: ``spec.traffic.backend``) for ``spec``."""
    kind = backend_type or spec.traffic.backend
    build = TRAFFIC_BACKENDS.get(kind)
    if build is None:
        raise RolloutError(
            f"traffic.backend {kind!r} is not one of {', '.join(sorted(TRAFFIC_BACKENDS))}; "
            "fix the rollout's traffic section"
        )
    return build(spec, namespace, api)
