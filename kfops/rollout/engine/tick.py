"""What every part of the rollout engine shares: one reconcile's working state (:class:`Tick`),
the names of runs, reading the steps, and the small status edits (pause, unpause, start over).

The engine is split by concept (:mod:`~kfops.rollout.engine.analysis`,
:mod:`~kfops.rollout.engine.experiment`, :mod:`~kfops.rollout.engine.commands` and the step machine in
:mod:`~kfops.rollout.engine`); this module sits below them all so that none imports another
in a cycle. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kfops.config.rollout import RolloutSpec, Step
from kfops.rollout.engine.actions import MoveAlias
from kfops.rollout.engine.status import PauseCondition, PauseReason, RolloutStatus


@dataclass
class Tick:
    """One reconcile (or command): its spec, clock, the events it emits and the alias move
    it asks for."""

    spec: RolloutSpec
    now: float
    events: list[str] = field(default_factory=list)
    alias: MoveAlias | None = None


def steps_of(spec: RolloutSpec) -> list[Step]:
    return spec.strategy.canary.steps


def describe_step(step: Step) -> str:
    """``setWeight 40``, ``pause 60s``, ``analysis error-rate`` ... for events and status."""
    if step.set_weight is not None:
        return f"setWeight {step.set_weight}"
    if step.set_mirror is not None:
        return f"setMirror {step.set_mirror.percent}"
    if step.pause is not None:
        duration = step.pause.duration
        return "pause until promote" if duration is None else f"pause {duration}"
    if step.analysis is not None:
        return "analysis " + ",".join(t.template_name for t in step.analysis.templates)
    assert step.experiment is not None
    return f"experiment {step.experiment.weight}% for {step.experiment.duration}"


def step_label(spec: RolloutSpec, index: int) -> str:
    steps = steps_of(spec)
    return f"step {index + 1}/{len(steps)} {describe_step(steps[index])}"


def run_name(step_index: int) -> str:
    """The analysis run of an ``analysis`` step."""
    return f"step-{step_index}"


def experiment_name(step_index: int) -> str:
    """The run name of an ``experiment`` step's comparison measurements."""
    return f"experiment-{step_index}"


def active(status: RolloutStatus) -> bool:
    """Neither aborted, rolled back nor finished."""
    return not (status.abort or status.rolled_back or status.alias_moved)


def pause(
    status: RolloutStatus, reason: PauseReason, tick: Tick, message: str, run: str | None = None
) -> None:
    if any(c.reason == reason and c.run == run for c in status.pause_conditions):
        return
    status.pause_conditions.append(
        PauseCondition(reason=reason, start_time=tick.now, message=message, run=run)
    )
    tick.events.append(f"paused ({reason.value}): {message}")


def unpause(status: RolloutStatus, *reasons: PauseReason) -> list[PauseCondition]:
    removed = [c for c in status.pause_conditions if c.reason in reasons]
    status.pause_conditions = [c for c in status.pause_conditions if c.reason not in reasons]
    return removed


def fresh(spec: RolloutSpec, status: RolloutStatus) -> RolloutStatus:
    """The initial status, keeping what is known of the traffic actually applied."""
    initial = RolloutStatus.initial(spec)
    if status.candidate_version == spec.candidate.version:  # the gate judged this candidate
        initial.gate_decision, initial.gate_forced = status.gate_decision, status.gate_forced
    for name in (
        "canary_weight",
        "mirror_percent",
        "sticky_header",
        "sticky_field",
        "traffic_applied",
    ):
        setattr(initial, name, getattr(status, name))
    return initial
