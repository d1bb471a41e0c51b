"""A user's commands on a rollout, as kubectl-argo-rollouts has them: ``promote`` (``--full``),
``abort``, ``retry``, ``pause``, ``resume``, ``set-weight``, ``undo``.

Each handler edits the status of one tick (or returns a new one, for ``retry``); the
engine's :func:`~kfops.rollout.engine.apply_command` looks the handler up here, runs it and
then reconciles. An invalid command raises RolloutError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kfops.config.rollout import RolloutSpec
from kfops.errors import RolloutError
from kfops.rollout.engine.actions import MoveAlias
from kfops.rollout.engine.analysis import abort, assess_run, new_run
from kfops.rollout.engine.status import BACKGROUND_RUN, PauseReason, RolloutStatus
from kfops.rollout.engine.tick import Tick, fresh, pause, run_name, step_label, steps_of, unpause

_USER_PAUSES = (PauseReason.USER_PAUSED, PauseReason.MANUAL_WEIGHT)

Handler = Callable[..., RolloutStatus | None]


def _require_running(status: RolloutStatus, command: str) -> None:
    if status.abort or status.rolled_back:
        raise RolloutError(f"{command}: the rollout is aborted; run `retry` to start it again")
    if status.alias_moved:
        raise RolloutError(
            f"{command}: the rollout is already Healthy (promoted); use `undo` to roll back"
        )


def _skip_step(spec: RolloutSpec, status: RolloutStatus, tick: Tick) -> None:
    index = status.current_step_index
    step = steps_of(spec)[index]
    if step.analysis is not None:
        run = status.run(run_name(index))
        if run is not None:
            assess_run(spec, run, tick, stop="terminated: step skipped by promote")
    experiment = status.experiment
    if step.experiment is not None and experiment and experiment.decision in (None, "pause"):
        experiment.decision = "promoted"
    unpause(status, PauseReason.PAUSED_BY_STEP)
    tick.events.append(f"{step_label(spec, index)}: skipped by promote")
    status.current_step_index = index + 1
    status.step_started_at = None


def _promote(spec: RolloutSpec, status: RolloutStatus, tick: Tick, full: bool = False) -> None:
    _require_running(status, "promote")
    if full:
        status.promote_full = True
        status.pause_conditions = []
        status.manual_weight = None
        tick.events.append("promote --full: skipping every remaining step and analysis")
        return
    acted = bool(unpause(status, *_USER_PAUSES))
    if acted:
        status.manual_weight = None
        tick.events.append("promote: user pause lifted")
    inconclusive = unpause(status, PauseReason.INCONCLUSIVE)
    index = status.current_step_index
    steps = steps_of(spec)
    if inconclusive:
        acted = True
        for condition in inconclusive:
            if condition.run == BACKGROUND_RUN:
                status.analysis_runs = [
                    run for run in status.analysis_runs if run.name != BACKGROUND_RUN
                ]
                status.analysis_runs.append(new_run(spec, BACKGROUND_RUN, None, tick.now))
                tick.events.append(f"analysis {BACKGROUND_RUN}: restarted by promote")
            elif index < len(steps) and status.step_started_at is not None:
                _skip_step(spec, status, tick)
    elif (
        index < len(steps)
        and status.step_started_at is not None
        and steps[index].set_weight is None
        and steps[index].set_mirror is None
    ):
        acted = True
        _skip_step(spec, status, tick)
    if not acted:
        where = step_label(spec, index) if index < len(steps) else "the end of the steps"
        raise RolloutError(
            f"promote: nothing is waiting at {where}; use `promote --full` to skip every "
            "remaining step"
        )


def _abort_command(spec: RolloutSpec, status: RolloutStatus, tick: Tick) -> None:
    _require_running(status, "abort")
    abort(spec, status, "aborted by user", tick)


def _retry(spec: RolloutSpec, status: RolloutStatus, tick: Tick) -> RolloutStatus:
    if not (status.abort or status.rolled_back):
        raise RolloutError(
            f"retry: the rollout is {status.phase.value}, not aborted; retry restarts an "
            "aborted rollout"
        )
    restarted = fresh(spec, status)
    restarted.previous_champion = status.previous_champion
    tick.events.append("retry: starting the rollout over at step 1")
    return restarted


def _pause_command(spec: RolloutSpec, status: RolloutStatus, tick: Tick) -> None:
    _require_running(status, "pause")
    if status.paused_for(PauseReason.USER_PAUSED):
        tick.events.append("pause: already paused by a user")
        return
    pause(status, PauseReason.USER_PAUSED, tick, "paused by user; `resume` to continue")


def _resume(spec: RolloutSpec, status: RolloutStatus, tick: Tick) -> None:
    _require_running(status, "resume")
    if not unpause(status, *_USER_PAUSES):
        raise RolloutError(
            "resume: the rollout is not paused by a user (pause or set-weight); use `promote` "
            "to skip a waiting step"
        )
    status.manual_weight = None
    tick.events.append("resumed: the steps take over the traffic again")


def _set_weight(spec: RolloutSpec, status: RolloutStatus, tick: Tick, weight: Any = None) -> None:
    """Hold the candidate at ``weight`` percent: the rollout pauses (reason ManualWeight) so
    no step overwrites it; ``resume`` or ``promote`` gives the traffic back to the steps."""
    if isinstance(weight, str) and weight.strip().isdigit():
        weight = int(weight)
    if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
        raise RolloutError(f"set-weight: weight {weight!r} is not a whole number in 0..100")
    _require_running(status, "set-weight")
    status.manual_weight = weight
    unpause(status, PauseReason.MANUAL_WEIGHT)
    pause(
        status,
        PauseReason.MANUAL_WEIGHT,
        tick,
        f"weight held at {weight}% by set-weight; `resume` to continue",
    )


def _undo(spec: RolloutSpec, status: RolloutStatus, tick: Tick) -> None:
    if status.abort or status.rolled_back:
        raise RolloutError("undo: the rollout is already aborted; nothing to undo")
    if not status.alias_moved:
        abort(spec, status, "undone by user before completion (aborted)", tick)
        return
    champion = status.previous_champion or spec.stable.version
    status.rolled_back = True
    status.alias_moved = False
    status.message = f"rolled back: version {champion} is {spec.champion_alias} again"
    tick.alias = MoveAlias(spec.model, spec.champion_alias, champion)
    tick.events.append(status.message)


_COMMANDS: dict[str, Handler] = {
    "promote": _promote,
    "abort": _abort_command,
    "retry": _retry,
    "pause": _pause_command,
    "resume": _resume,
    "set-weight": _set_weight,
    "undo": _undo,
}
COMMANDS = tuple(_COMMANDS)


def handler_for(command: str) -> Handler:
    """The handler of ``command`` (``set_weight`` and ``set-weight`` alike), called as
    ``handler(spec, status, tick, **arguments)``; it returns a new status or edits it."""
    handler = _COMMANDS.get(command.replace("_", "-"))
    if handler is None:
        raise RolloutError(f"unknown rollout command {command!r}; use one of {', '.join(COMMANDS)}")
    return handler
