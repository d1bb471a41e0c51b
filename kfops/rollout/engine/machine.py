"""The rollout engine: Argo Rollouts' canary state machine as pure functions.

Nothing here does I/O. A driver (the local controller or the operator) runs one tick as::

    requests = due_measurements(spec, status, now)          # what to ask Prometheus
    measurements = [...]                                     # its answers, errors included
    decision = reconcile(spec, status, now, measurements)    # new status, actions, events
    carry out decision.actions, then persist decision.status

and a user's command as ``apply_command(spec, status, "promote", now)``.

Semantics (Argo's, unless noted):

* Steps run in order. ``setWeight`` and ``setMirror`` take effect at once; ``pause`` waits
  for its duration, or for ``promote`` without one; ``analysis`` waits for its run:
  Successful goes on, Failed or Error aborts, Inconclusive pauses (reason Inconclusive);
  ``experiment`` splits traffic by a sticky key at its weight for its duration, then the
  comparison decides (candidate better: go on; worse: abort; undecided: its
  ``onInconclusive``). The sticky split ends with the step; the weight then returns to the
  last ``setWeight``. Steps that finish at once are passed in one reconcile.
* Metrics: measured after ``initialDelay``, every ``interval``, ``count`` times (no count and
  no interval: once; interval only: until the run ends). After an Error measurement the next
  one comes 10 s later. Errors do not count towards ``count``. A metric is Failed when
  failed > failureLimit, Inconclusive when inconclusive > inconclusiveLimit, Error when
  consecutive errors > consecutiveErrorLimit (later checks win, as in Argo); a limit of -1
  never trips (a kfops extension: Argo rejects negative limits). A run ends with its worst
  metric (Failed > Error > Inconclusive > Successful) as soon as one metric ends badly;
  the others are terminated as Successful, as Argo does.
* Background analysis starts at ``startingStep`` and runs across steps; a Failed or Error
  run aborts at any step, an Inconclusive one pauses; ``promote`` then starts a fresh run.
* After the last step: traffic 100 % to the candidate, then the champion alias moves to it
  (phase Healthy). An abort sends all traffic to stable, removes the mirror and leaves the
  alias alone (phase Degraded).
* Measurements keep running while the rollout is paused, so a failing background analysis
  still aborts a paused rollout.
* Traffic is a desired state: every reconcile computes the whole traffic state and emits one
  SetTraffic when it differs from the one recorded in the status (or was never applied).
  The driver persists the status only after the actions succeeded, so a restarted driver
  resumes exactly; one that cannot be sure the router kept its state (the router restarted)
  passes ``resync=True`` once, which re-emits the current traffic and alias.
* A measurement is recorded only if it is due for the status given to ``reconcile``, so a
  repeated or stale answer is ignored instead of counted twice.

This module is the step machine (reconcile, advancing steps, traffic); measuring and judging
analysis runs is in :mod:`kfops.rollout.engine.analysis`, the A/B experiment step in
:mod:`kfops.rollout.engine.experiment`, the user's commands in :mod:`kfops.rollout.engine.commands`, and
what they all share (the tick, run names, pausing) in :mod:`kfops.rollout.engine.tick`. The names
tests and drivers use are re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kfops.config.rollout import RolloutSpec, parse_duration
from kfops.errors import RolloutError
from kfops.rollout.engine.actions import Action, MoveAlias, SetTraffic
from kfops.rollout.engine.analysis import (
    ERROR_RETRY_SECONDS,
    Measurement,
    MeasurementRequest,
    abort,
    assess_metric,
    assess_run,
    due_metric_requests,
    expand,
    limit_verdict,
    metrics_of,
    new_run,
    no_traffic_message,
    record,
    resolve_metrics,
    terminate_runs,
)
from kfops.rollout.engine.commands import COMMANDS, handler_for
from kfops.rollout.engine.conditions import check_condition
from kfops.rollout.engine.experiment import (
    EXPERIMENT_ERROR_LIMIT,
    compare,
    comparison_requests,
    due_comparisons,
    record_experiment,
)
from kfops.rollout.engine.status import (
    BACKGROUND_RUN,
    AnalysisPhase,
    ExperimentStatus,
    PauseReason,
    RolloutPhase,
    RolloutStatus,
    spec_fingerprint,
)
from kfops.rollout.engine.tick import (
    Tick,
    active,
    describe_step,
    fresh,
    pause,
    run_name,
    step_label,
    steps_of,
    unpause,
)

__all__ = [
    "COMMANDS",
    "ERROR_RETRY_SECONDS",
    "EXPERIMENT_ERROR_LIMIT",
    "Decision",
    "Measurement",
    "MeasurementRequest",
    "apply_command",
    "assess_metric",
    "check_spec",
    "compare",
    "describe_step",
    "desired_traffic",
    "due_measurements",
    "expand",
    "limit_verdict",
    "reconcile",
    "resolve_metrics",
]


@dataclass
class Decision:
    """What one reconcile decided: the new status, the actions to carry out, the events."""

    status: RolloutStatus
    actions: list[Action] = field(default_factory=list)
    events: list[str] = field(default_factory=list)


# --- the spec, checked ---------------------------------------------------------------------


def check_spec(spec: RolloutSpec) -> None:
    """Everything the engine needs from a spec that pydantic cannot check: conditions
    parse, arguments have values, placeholders are known. Raises ConfigurationError."""
    for template in spec.analysis_templates:
        for metric in template.metrics:
            place = f"analysisTemplates[{template.name}].metrics[{metric.name}]"
            if metric.success_condition:
                check_condition(metric.success_condition, f"{place}.successCondition")
            if metric.failure_condition:
                check_condition(metric.failure_condition, f"{place}.failureCondition")
    if spec.strategy.canary.analysis is not None:
        resolve_metrics(spec, spec.strategy.canary.analysis, "strategy.canary.analysis")
    for index, step in enumerate(steps_of(spec)):
        where = f"strategy.canary.steps[{index}]"
        if step.analysis is not None:
            resolve_metrics(spec, step.analysis, f"{where}.analysis")
        if step.experiment is not None:
            comparison_requests(spec, index, where)


# --- measuring -----------------------------------------------------------------------------


def due_measurements(
    spec: RolloutSpec, status: RolloutStatus, now: float
) -> list[MeasurementRequest]:
    """The queries to run now: metrics of unfinished analysis runs whose time has come, and
    an experiment's comparison once its duration has passed."""
    if not active(status) or status.spec_fingerprint != spec_fingerprint(spec):
        return []
    return due_metric_requests(spec, status, now) + due_comparisons(spec, status, now)


# --- moving ---------------------------------------------------------------------------------


def _complete(spec: RolloutSpec, status: RolloutStatus, tick: Tick, how: str) -> None:
    terminate_runs(spec, status, tick, "rollout complete")
    status.current_step_index = len(steps_of(spec))
    status.step_started_at = None
    status.pause_conditions = []
    status.manual_weight = None
    status.alias_moved = True
    status.previous_champion = spec.stable.version
    status.completed_at = tick.now
    tick.alias = MoveAlias(spec.model, spec.champion_alias, spec.candidate.version)
    tick.events.append(
        f"{how}: version {spec.candidate.version} takes 100% and alias {spec.champion_alias!r}"
    )


def _enter(spec: RolloutSpec, status: RolloutStatus, index: int, tick: Tick) -> None:
    step = steps_of(spec)[index]
    status.step_started_at = tick.now
    tick.events.append(step_label(spec, index))
    background = spec.strategy.canary.analysis
    if (
        background is not None
        and index >= background.starting_step
        and status.run(BACKGROUND_RUN) is None
    ):
        status.analysis_runs.append(new_run(spec, BACKGROUND_RUN, None, tick.now))
        tick.events.append(f"analysis {BACKGROUND_RUN}: started")
    if step.pause is not None:
        pause(status, PauseReason.PAUSED_BY_STEP, tick, step_label(spec, index))
    elif step.analysis is not None:
        name = run_name(index)
        status.analysis_runs = [run for run in status.analysis_runs if run.name != name]
        status.analysis_runs.append(new_run(spec, name, index, tick.now))
    elif step.experiment is not None:
        status.experiment = ExperimentStatus(step_index=index, started_at=tick.now)


def _step_done(spec: RolloutSpec, status: RolloutStatus, index: int, tick: Tick) -> bool:
    step = steps_of(spec)[index]
    if step.pause is not None:
        if step.pause.duration is None:
            return False
        assert status.step_started_at is not None
        if tick.now < status.step_started_at + parse_duration(step.pause.duration):
            return False
        unpause(status, PauseReason.PAUSED_BY_STEP)
        return True
    if step.analysis is not None:
        run = status.run(run_name(index))
        return run is not None and run.phase == AnalysisPhase.SUCCESSFUL
    if step.experiment is not None:
        experiment = status.experiment
        return experiment is not None and experiment.decision == "continue"
    return True


def _blocked(spec: RolloutSpec, status: RolloutStatus) -> bool:
    return spec.paused or any(
        c.reason != PauseReason.PAUSED_BY_STEP for c in status.pause_conditions
    )


def _advance(spec: RolloutSpec, status: RolloutStatus, tick: Tick) -> None:
    steps = steps_of(spec)
    for _ in range(len(steps) + 2):
        if not active(status):
            return
        if status.promote_full:
            _complete(spec, status, tick, "promoted in full")
            return
        if _blocked(spec, status):
            return
        index = status.current_step_index
        if index >= len(steps):
            _complete(spec, status, tick, "rollout complete")
            return
        if status.step_started_at is None:
            _enter(spec, status, index, tick)
        if not _step_done(spec, status, index, tick):
            return
        status.current_step_index = index + 1
        status.step_started_at = None


def _react(spec: RolloutSpec, status: RolloutStatus, tick: Tick) -> None:
    """Consequences of finished runs: Failed or Error aborts, Inconclusive pauses."""
    current = run_name(status.current_step_index)
    for run in status.analysis_runs:
        if not active(status):
            return
        relevant = run.name == BACKGROUND_RUN or (
            run.name == current and status.step_started_at is not None
        )
        if not relevant:
            continue
        if run.phase in (AnalysisPhase.FAILED, AnalysisPhase.ERROR):
            abort(spec, status, f"analysis {run.name} {run.phase.value}: {run.message}", tick)
        elif run.phase == AnalysisPhase.INCONCLUSIVE:
            pause(status, PauseReason.INCONCLUSIVE, tick, run.message, run=run.name)


# --- traffic --------------------------------------------------------------------------------


def desired_traffic(spec: RolloutSpec, status: RolloutStatus) -> SetTraffic:
    """The whole traffic state the status calls for.

    Worked example: steps setWeight 20, setMirror 10, pause, setWeight 50; at the pause
    the candidate answers 20 % and sees a copy of 10 % of stable's requests.
    """
    if status.abort or status.rolled_back:
        return SetTraffic(candidate_weight=0)
    if status.alias_moved:
        return SetTraffic(candidate_weight=100)
    steps = steps_of(spec)
    weight = mirror = 0
    for step in steps[: status.current_step_index]:
        if step.set_weight is not None:
            weight = step.set_weight
        if step.set_mirror is not None:
            mirror = step.set_mirror.percent
    if status.manual_weight is not None:
        return SetTraffic(candidate_weight=status.manual_weight, mirror_percent=mirror)
    experiment = status.experiment
    if (
        experiment is not None
        and experiment.step_index == status.current_step_index
        and status.step_started_at is not None
        and experiment.decision in (None, "pause")
    ):
        step = steps[experiment.step_index].experiment
        assert step is not None
        return SetTraffic(
            candidate_weight=step.weight,
            mirror_percent=mirror,
            sticky_header=step.sticky_key.header,
            sticky_field=step.sticky_key.field,
        )
    return SetTraffic(candidate_weight=weight, mirror_percent=mirror)


def _traffic_actions(
    spec: RolloutSpec, status: RolloutStatus, tick: Tick, resync: bool
) -> list[Action]:
    actions: list[Action] = []
    target = desired_traffic(spec, status)
    applied = SetTraffic(
        candidate_weight=status.canary_weight,
        mirror_percent=status.mirror_percent,
        sticky_header=status.sticky_header,
        sticky_field=status.sticky_field,
    )
    if resync or not status.traffic_applied or target != applied:
        actions.append(target)
        status.canary_weight = target.candidate_weight
        status.mirror_percent = target.mirror_percent
        status.sticky_header = target.sticky_header
        status.sticky_field = target.sticky_field
        status.traffic_applied = True
    alias = tick.alias
    if alias is None and resync:
        if status.rolled_back and status.previous_champion:
            alias = MoveAlias(spec.model, spec.champion_alias, status.previous_champion)
        elif status.alias_moved:
            alias = MoveAlias(spec.model, spec.champion_alias, spec.candidate.version)
    if alias is not None:
        actions.append(alias)
    return actions


def _summarise(spec: RolloutSpec, status: RolloutStatus, now: float) -> None:
    status.controller_pause = bool(status.pause_conditions)
    status.updated_at = now
    steps = steps_of(spec)
    if status.abort or status.rolled_back:
        status.phase = RolloutPhase.DEGRADED
    elif status.alias_moved:
        status.phase = RolloutPhase.HEALTHY
        status.message = (
            f"version {spec.candidate.version} is {spec.champion_alias} with 100% of traffic"
        )
    elif spec.paused or status.pause_conditions:
        status.phase = RolloutPhase.PAUSED
        reasons = ["spec.paused is true"] if spec.paused else []
        reasons += [f"{c.reason.value}: {c.message}" for c in status.pause_conditions]
        status.message = "; ".join(reasons)
    else:
        status.phase = RolloutPhase.PROGRESSING
        index = min(status.current_step_index, len(steps) - 1)
        status.message = step_label(spec, index)


def _adopt_spec(spec: RolloutSpec, status: RolloutStatus, tick: Tick) -> RolloutStatus:
    """A status written for another spec starts over (a finished rollout of the same
    candidate only takes the new fingerprint)."""
    fingerprint = spec_fingerprint(spec)
    if status.spec_fingerprint == fingerprint:
        return status
    same_candidate = status.candidate_version == spec.candidate.version
    if not status.spec_fingerprint or (status.alias_moved and same_candidate):
        status.spec_fingerprint = fingerprint
        return status
    tick.events.append("spec changed: starting the rollout over at step 1")
    return fresh(spec, status)


def _decide(
    spec: RolloutSpec,
    status: RolloutStatus,
    tick: Tick,
    measurements: Iterable[Measurement] = (),
    resync: bool = False,
) -> Decision:
    due = {(request.run, request.metric) for request in due_measurements(spec, status, tick.now)}
    experiment_answers = []
    for answer in measurements:
        if (answer.run, answer.metric) not in due:
            tick.events.append(f"ignored a measurement of {answer.run}/{answer.metric}: not due")
            continue
        due.discard((answer.run, answer.metric))
        if answer.run.startswith("experiment-"):
            experiment_answers.append(answer)
            continue
        run = status.run(answer.run)
        metric, query = next(
            (m, q) for m, q in metrics_of(spec, answer.run) if m.name == answer.metric
        )
        assert run is not None
        record(run, metric, answer, tick, no_traffic=no_traffic_message(spec, query))
    for run in status.analysis_runs:
        assess_run(spec, run, tick)
    if active(status):
        record_experiment(spec, status, experiment_answers, tick)
    _react(spec, status, tick)
    _advance(spec, status, tick)
    actions = _traffic_actions(spec, status, tick, resync)
    _summarise(spec, status, tick.now)
    return Decision(status=status, actions=actions, events=tick.events)


def reconcile(
    spec: RolloutSpec,
    status: RolloutStatus,
    now: float,
    measurements: Iterable[Measurement] = (),
    *,
    resync: bool = False,
) -> Decision:
    """Record the measurements, judge the analyses, move through the steps.

    ``status`` is not modified; the new one is in the decision. ``resync=True`` re-emits
    the current traffic (and alias, when the rollout moved it) even if unchanged.
    """
    check_spec(spec)
    tick = Tick(spec=spec, now=now)
    current = _adopt_spec(spec, status.model_copy(deep=True), tick)
    return _decide(spec, current, tick, measurements, resync)


# --- commands -------------------------------------------------------------------------------


def apply_command(
    spec: RolloutSpec, status: RolloutStatus, command: str, now: float, **arguments: Any
) -> Decision:
    """Steer a rollout as kubectl-argo-rollouts does, then reconcile (without measurements).

    ``promote`` (``full=True`` for --full), ``abort``, ``retry``, ``pause``, ``resume``,
    ``set-weight`` (``weight=N``), ``undo``. An invalid command raises RolloutError.
    """
    handler = handler_for(command)
    check_spec(spec)
    tick = Tick(spec=spec, now=now)
    current = _adopt_spec(spec, status.model_copy(deep=True), tick)
    try:
        replaced = handler(spec, current, tick, **arguments)
    except TypeError as exc:
        raise RolloutError(f"{command}: {exc}") from None
    return _decide(spec, replaced or current, tick)
