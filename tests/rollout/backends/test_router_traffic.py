"""Traffic on the local router (kfops.rollout.backends.router_traffic), against the real
router process code on 127.0.0.1."""

from __future__ import annotations

import httpx
import pytest

from kfops.config.rollout import RolloutPlan
from kfops.errors import RolloutError
from kfops.rollout.backends.router_traffic import LocalRouterTraffic
from kfops.rollout.engine.actions import SetTraffic
from kfops.rollout.router.proxy import start_router
from tests.support.http_server import json_server


def test_local_router_traffic_sets_the_real_router() -> None:
    with (
        json_server(lambda request: (200, {"ok": True})) as upstream,
        start_router(upstream, upstream) as router,
    ):
        backend = LocalRouterTraffic(router.url)
        backend.apply(SetTraffic(30, 10, sticky_header="x-user"))
        state = httpx.get(router.url + "/router/traffic").json()
        assert state["candidateWeight"] == 30 and state["mirrorPercent"] == 10
        assert state["stickyHeader"] == "x-user"
        assert backend.read() == state
        with pytest.raises(RolloutError, match="refused traffic"):
            backend.apply(SetTraffic(130))
    with pytest.raises(RolloutError, match=r"router at http://127\.0\.0\.1:\d+/router/traffic"):
        LocalRouterTraffic(router.url, timeout=1).apply(SetTraffic(0))


def test_built_from_the_spec_it_talks_to_the_router_url() -> None:
    plan = RolloutPlan.model_validate(
        {"strategy": {"canary": {"steps": [{"setWeight": 5}]}},
         "traffic": {"routerUrl": "http://127.0.0.1:8123/"}}
    )  # fmt: skip
    backend = LocalRouterTraffic.from_spec(plan.resolve("churn", "1", "2"), "default")
    assert backend.url == "http://127.0.0.1:8123/router/traffic"
