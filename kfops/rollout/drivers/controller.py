"""The rollout controller: one reconcile tick joins the pure engine to the world.

A tick asks the engine which measurements are due, takes them from Prometheus, lets the
engine decide, then carries out its actions. The new status is only kept when every action
succeeded: a router that is down leaves the status as it was, and the next tick decides
again. Actions are idempotent (a whole traffic state, an alias), so repeating one after a
crash is harmless, and nothing is skipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kfops.config.rollout import RolloutSpec
from kfops.errors import RolloutError
from kfops.rollout import engine
from kfops.rollout.backends.base import AliasBackend, TrafficBackend
from kfops.rollout.drivers.store import LocalRolloutStore, RolloutRecord
from kfops.rollout.engine.actions import Action, MoveAlias, SetTraffic
from kfops.rollout.engine.status import HistoryPoint, RolloutStatus

Measure = Callable[[Sequence[Any]], list[Any]]
"""Takes the engine's measurement requests, returns its measurements (Prometheus)."""

TERMINAL_PHASES = frozenset({"Healthy", "Degraded"})


@dataclass
class World:
    """Everything a tick may touch."""

    traffic: TrafficBackend
    aliases: AliasBackend
    measure: Measure
    performed: list[Action] = field(default_factory=list)

    def perform(self, actions: Sequence[Action]) -> None:
        for action in actions:
            if isinstance(action, SetTraffic):
                self.traffic.apply(action)
            elif isinstance(action, MoveAlias):
                self.aliases.apply(action)
            else:  # pragma: no cover - the engine emits only the two kinds
                raise RolloutError(f"unknown rollout action {action!r}")
            self.performed.append(action)


def prometheus_measure(requests: Sequence[Any]) -> list[Any]:
    """Measurements from the Prometheus each request names; errors become error values."""
    from kfops.rollout.providers.prometheus import execute

    return [
        engine.Measurement(run=run, metric=metric, value=value, error=error)
        for run, metric, value, error in execute(requests)
    ]


def tick(
    spec: RolloutSpec, status: RolloutStatus, now: float, world: World, resync: bool = False
) -> engine.Decision:
    """One reconcile: measure what is due, decide, act. Raises when an action failed.

    ``resync`` re-sends the current traffic and alias: the first tick of a (re)started
    controller cannot know that the router or the registry kept them.
    """
    requests = engine.due_measurements(spec, status, now)
    measurements = world.measure(requests) if requests else []
    decision = engine.reconcile(spec, status, now, measurements, resync=resync)
    world.perform(decision.actions)
    return decision


def command(
    spec: RolloutSpec,
    status: RolloutStatus,
    name: str,
    now: float,
    world: World,
    **arguments: Any,
) -> engine.Decision:
    """A user's command (promote, abort, ...), decided by the engine and carried out now."""
    decision = engine.apply_command(spec, status, name, now, **arguments)
    world.perform(decision.actions)
    return decision


def is_done(status: RolloutStatus) -> bool:
    return str(status.phase) in TERMINAL_PHASES


def remember(record: RolloutRecord, now: float, note: str = "") -> None:
    """Append a history point when the step, traffic or phase moved (for the timeline)."""
    status = record.status
    point = HistoryPoint(
        time=now,
        step=status.current_step_index,
        candidate_weight=status.canary_weight,
        mirror_percent=status.mirror_percent,
        phase=str(status.phase),
        note=note,
    )
    last = record.history[-1] if record.history else None
    if (
        last is None
        or note
        or (last.step, last.candidate_weight, last.mirror_percent, last.phase)
        != (point.step, point.candidate_weight, point.mirror_percent, point.phase)
    ):
        record.history.append(point)


def _decide_locally(
    store: LocalRolloutStore,
    name: str,
    now: float | None,
    decide: Callable[[RolloutRecord, float], engine.Decision],
    notes: tuple[str, ...] = (),
    on_event: Callable[[str], None] | None = None,
) -> RolloutRecord:
    """Read, decide and act, then write, all under the rollout's lock; the state file
    changes only when the decision's actions succeeded."""
    with store.locked(name):
        record = store.load(name)
        when = time.time() if now is None else now
        decision = decide(record, when)
        record.status = decision.status
        for note in notes:
            remember(record, when, note=note)
        for event in decision.events:
            remember(record, when, note=str(event))
            if on_event is not None:
                on_event(str(event))
        remember(record, when)
        store.save(record)
        return record


def local_tick(
    store: LocalRolloutStore,
    name: str,
    world: World,
    now: float | None = None,
    on_event: Callable[[str], None] | None = None,
    resync: bool = False,
) -> RolloutRecord:
    """One tick of a local rollout."""
    return _decide_locally(
        store, name, now,
        lambda record, when: tick(record.spec, record.status, when, world, resync=resync),
        on_event=on_event,
    )  # fmt: skip


def local_command(
    store: LocalRolloutStore,
    name: str,
    command_name: str,
    world: World,
    now: float | None = None,
    **arguments: Any,
) -> RolloutRecord:
    """A user's command on a local rollout, carried out at once."""
    return _decide_locally(
        store, name, now,
        lambda record, when: command(
            record.spec, record.status, command_name, when, world, **arguments
        ),
        notes=(f"command {command_name}",),
    )  # fmt: skip


def run_local(
    store: LocalRolloutStore,
    name: str,
    world: World,
    interval: float = 1.0,
    max_ticks: int | None = None,
    on_event: Callable[[str], None] | None = None,
    on_error: Callable[[RolloutError], None] | None = None,
    until: Callable[[RolloutRecord], bool] = lambda record: is_done(record.status),
) -> RolloutRecord:
    """Tick until the rollout ends (or ``max_ticks``); a failed action is retried next tick."""
    ticks = 0
    synced = False
    record = store.load(name)
    while max_ticks is None or ticks < max_ticks:
        ticks += 1
        try:
            record = local_tick(store, name, world, on_event=on_event, resync=not synced)
            synced = True
        except RolloutError as exc:
            if on_error is None:
                raise
            on_error(exc)
        if until(record):
            return record
        time.sleep(interval)
    return record
