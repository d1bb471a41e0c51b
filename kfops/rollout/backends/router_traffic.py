"""Traffic on the local router: its admin endpoint on this machine.

``kfops rollout start`` runs the router (:mod:`kfops.rollout.router`) as a separate
process; this backend only tells it the traffic the engine decided.
"""

from __future__ import annotations

from typing import Any

import httpx

from kfops.config.rollout import RolloutSpec
from kfops.errors import RolloutError
from kfops.rollout.engine.actions import SetTraffic


class LocalRouterTraffic:
    """The router's admin endpoint (``PUT /router/traffic``) on this machine."""

    def __init__(self, router_url: str, timeout: float = 5.0) -> None:
        self.url = router_url.rstrip("/") + "/router/traffic"
        self.timeout = timeout

    @classmethod
    def from_spec(
        cls, spec: RolloutSpec, namespace: str, api: Any | None = None
    ) -> LocalRouterTraffic:
        """The router at ``spec.traffic.routerUrl`` (no namespace or cluster client)."""
        return cls(spec.traffic.router_url)

    def apply(self, action: SetTraffic) -> None:
        body = {
            "candidateWeight": action.candidate_weight,
            "mirrorPercent": action.mirror_percent,
            "stickyHeader": action.sticky_header,
            "stickyField": action.sticky_field,
        }
        try:
            response = httpx.put(self.url, json=body, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise RolloutError(
                f"router at {self.url} did not answer ({exc.__class__.__name__}); start it with "
                "`kfops rollout start` or fix spec.traffic.routerUrl"
            ) from exc
        if response.status_code >= 400:
            raise RolloutError(
                f"router at {self.url} refused traffic {body}: {response.status_code} "
                f"{response.text.strip()[:200]}"
            )

    def read(self) -> dict:
        try:
            return httpx.get(self.url, timeout=self.timeout).json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RolloutError(f"router at {self.url} did not answer: {exc}") from exc
