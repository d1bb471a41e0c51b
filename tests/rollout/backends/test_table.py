"""The traffic backends by type (kfops.rollout.backends.table): every type the spec allows
has a backend, and each is built from the spec to talk to what the spec names."""

from __future__ import annotations

from typing import get_args

import pytest

from kfops.config.rollout import RolloutPlan, RolloutSpec, TrafficConfig
from kfops.errors import RolloutError
from kfops.rollout.backends.kserve import KServeTrafficBackend
from kfops.rollout.backends.router_traffic import LocalRouterTraffic
from kfops.rollout.backends.table import TRAFFIC_BACKENDS, traffic_backend
from kfops.rollout.engine.actions import SetTraffic
from tests.support.recording import recording


def spec(**traffic: str) -> RolloutSpec:
    plan = RolloutPlan.model_validate(
        {"strategy": {"canary": {"steps": [{"setWeight": 20}]}}, "traffic": traffic}
    )
    return plan.resolve("churn", "1", "2")


def test_every_type_the_spec_accepts_has_a_backend() -> None:
    allowed = get_args(TrafficConfig.model_fields["backend"].annotation)
    assert set(TRAFFIC_BACKENDS) == set(allowed)


def test_the_default_type_is_the_local_router() -> None:
    backend = traffic_backend(spec(routerUrl="http://127.0.0.1:8555"))
    assert isinstance(backend, LocalRouterTraffic)
    assert backend.url == "http://127.0.0.1:8555/router/traffic"


def test_kserve_patches_the_inference_service_the_spec_names() -> None:
    with recording(lambda request: (200, {})) as api:
        backend = traffic_backend(
            spec(backend="kserve", inferenceService="churn-isvc", namespace="team"),
            namespace="elsewhere",
            api=api.client(),
        )
        backend.apply(SetTraffic(20))
    assert isinstance(backend, KServeTrafficBackend)
    ((method, path, _, body),) = api.sent()
    assert (method, path) == (
        "PATCH",
        "/apis/serving.kserve.io/v1beta1/namespaces/team/inferenceservices/churn-isvc",
    )
    assert body == {"spec": {"predictor": {"canaryTrafficPercent": 20}}}


def test_kserve_defaults_to_the_model_in_the_rollouts_namespace() -> None:
    with recording() as api:
        backend = traffic_backend(spec(), backend_type="kserve", namespace="ops", api=api.client())
    assert isinstance(backend, KServeTrafficBackend)
    assert (backend.namespace, backend.name, backend.mode) == ("ops", "churn", "Serverless")


def test_an_unknown_type_names_the_known_ones() -> None:
    with pytest.raises(RolloutError, match=r"traffic.backend 'istio' is not one of kserve, local"):
        traffic_backend(spec(), backend_type="istio")
