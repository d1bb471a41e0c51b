"""A rollout as the page draws it: steps, traffic history, measurements and the A/B verdict.

One shape for both sources: a local rollout's state file (:mod:`kfops.rollout.drivers.store`)
and a ModelRollout object in the cluster (its spec and status), so the page does not know
where a rollout runs. The step lines are ``kfops rollout get``'s own (``describe_step``).
"""

from __future__ import annotations

from typing import Any

from kfops.config.rollout import RolloutSpec
from kfops.rollout.drivers.store import LocalRolloutStore
from kfops.rollout.engine.status import HistoryPoint, RolloutPhase, RolloutStatus
from kfops.rollout.view import describe_step

COMMANDS = ("promote", "abort", "pause", "resume", "retry", "undo", "set-weight")
"""The steering commands the page offers: ``kfops rollout <command>``'s."""


def _step_state(index: int, status: RolloutStatus) -> str:
    """done, current, aborted or pending: the marks of ``rollout get``'s tree."""
    if status.phase == RolloutPhase.HEALTHY or index < status.current_step_index:
        return "done"
    if index == status.current_step_index:
        return "aborted" if status.abort else "current"
    return "pending"


def measurements(status: RolloutStatus) -> list[dict[str, Any]]:
    """Every kept measurement as a point for the timeline: when, which metric, its verdict."""
    points = []
    for run in status.analysis_runs:
        for result in run.metric_results:
            for m in result.measurements:
                points.append(
                    {
                        "run": run.name,
                        "metric": result.name,
                        "time": m.finished_at,
                        "value": m.value,
                        "phase": str(m.phase),
                        "message": m.message,
                    }
                )
    return sorted(points, key=lambda point: point["time"])


def rollout_view(
    name: str, spec: RolloutSpec, status: RolloutStatus, history: list[HistoryPoint]
) -> dict[str, Any]:
    """JSON-ready: header figures, steps with their state, history, analysis, experiment."""
    steps = spec.strategy.canary.steps
    experiment = status.experiment
    verdict = None
    if experiment is not None and experiment.result is not None:
        verdict = experiment.result.model_dump(mode="json", by_alias=True)
    return {
        "name": name,
        "model": spec.model,
        "stable": spec.stable.version,
        "candidate": spec.candidate.version,
        "phase": str(status.phase),
        "aborted": status.abort,
        "message": status.message,
        "step": status.current_step_index,
        "weight": status.canary_weight,
        "mirror": status.mirror_percent,
        "gate": status.gate_decision,
        "gate_forced": status.gate_forced,
        "paused": [
            {"reason": str(c.reason), "message": c.message} for c in status.pause_conditions
        ],
        "steps": [
            {"index": i, "text": describe_step(step), "state": _step_state(i, status)}
            for i, step in enumerate(steps)
        ],
        "history": [point.model_dump(mode="json") for point in history],
        "analysis": [
            {
                "name": run.name,
                "phase": str(run.phase),
                "message": run.message,
                "metrics": [
                    {
                        "name": r.name,
                        "phase": str(r.phase),
                        "successful": r.successful,
                        "failed": r.failed,
                        "inconclusive": r.inconclusive,
                        "error": r.error,
                    }
                    for r in run.metric_results
                ],
            }
            for run in status.analysis_runs
        ],
        "measurements": measurements(status),
        "experiment": verdict,
        "updated": status.updated_at,
    }


def summary(view: dict[str, Any]) -> dict[str, Any]:
    """The list row: ``kfops rollout list``'s columns."""
    keys = ("name", "model", "phase", "aborted", "step", "weight", "stable", "candidate")
    return {key: view[key] for key in keys}


def local_rollout(store: LocalRolloutStore, name: str) -> dict[str, Any]:
    """One local rollout; RolloutError (one line, the known names) when there is none."""
    record = store.load(name)
    return rollout_view(name, record.spec, record.status, record.history)


def local_rollouts(store: LocalRolloutStore) -> list[dict[str, Any]]:
    return [summary(local_rollout(store, name)) for name in store.names()]


def cluster_view(body: dict[str, Any]) -> dict[str, Any]:
    """A ModelRollout object as the same view (the cluster keeps no traffic history)."""
    spec = RolloutSpec.model_validate(body.get("spec") or {})
    raw = body.get("status") or {}
    status = RolloutStatus.model_validate(raw) if raw else RolloutStatus.initial(spec)
    view = rollout_view(body["metadata"]["name"], spec, status, [])
    return {**view, "namespace": body["metadata"].get("namespace", "")}


class LocalRollouts:
    """The rollouts this machine runs (``kfops rollout start``), from their state files."""

    def __init__(self, store: LocalRolloutStore) -> None:
        self.store = store

    def list(self) -> list[dict[str, Any]]:
        return local_rollouts(self.store)

    def get(self, name: str) -> dict[str, Any]:
        return local_rollout(self.store, name)

    def exists(self, name: str) -> bool:
        return self.store.exists(name)
