"""A rollout :class:`kfops.rollout.drivers.controller.World` that records instead of acting: the
traffic and alias actions the controller or operator carried out, in order, for the test
to check, and a switch to make every action fail as an unreachable backend would."""

from __future__ import annotations

from kfops.errors import RolloutError
from kfops.rollout.drivers.controller import World

UNREACHABLE = "router at http://127.0.0.1:1 did not answer"

CANDIDATE_ERROR_RATE = {
    "name": "error-rate",
    "interval": "2s",
    "count": 3,
    "initialDelay": "3s",
    "successCondition": "result[0] <= 0.01",
    "failureCondition": "result[0] > 0.01",
    "provider": {"prometheus": {"query": (
        '(sum(rate(kfops_router_requests_total{variant="candidate",role="served",code=~"5.."}[5s]))'
        ' or vector(0)) / sum(rate(kfops_router_requests_total{variant="candidate",role="served"}[5s]))'
    )}},
}  # fmt: skip
"""A short error-rate analysis of the local router's candidate, for end-to-end rollouts."""


class Recorder:
    """A traffic or alias backend: ``got`` holds the applied actions; with ``fail`` set,
    every action raises ``RolloutError(message)`` and nothing is recorded."""

    def __init__(self, fail: bool = False, message: str = UNREACHABLE) -> None:
        self.got: list = []
        self.fail = fail
        self.message = message

    def apply(self, action) -> None:
        if self.fail:
            raise RolloutError(self.message)
        self.got.append(action)


def world(traffic: Recorder | None = None, aliases: Recorder | None = None) -> World:
    """A World of two recorders (new ones unless given) that measures nothing."""
    return World(traffic or Recorder(), aliases or Recorder(), measure=lambda requests: [])
