"""What a backend is: something that carries out one kind of engine action.

The controller is handed one of each (the local world on a laptop, the cluster world in
the operator, a recording world in tests) and knows them only by these protocols.
"""

from __future__ import annotations

from typing import Protocol

from kfops.rollout.engine.actions import MoveAlias, SetTraffic


class TrafficBackend(Protocol):
    """Makes the serving side carry a SetTraffic (the whole traffic state, idempotent)."""

    def apply(self, action: SetTraffic) -> None: ...


class AliasBackend(Protocol):
    """Points a registered model's alias at a version (MoveAlias, idempotent)."""

    def apply(self, action: MoveAlias) -> None: ...
