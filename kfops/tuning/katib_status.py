"""Reading a Katib Experiment's status and its Trials. Pure: plain dicts in, values out.

The objects are the JSON the Kubernetes API returns: conditions as in
``status.conditions[] = {type: Succeeded, status: "True", reason, message}``, and the
best trial in ``status.currentOptimalTrial = {bestTrialName, parameterAssignments:
[{name, value}], observation: {metrics: [{name, latest, min, max}]}}``, values as strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kfops.tuning.results import TrialRecord, TrialState

SUCCEEDED, FAILED = "Succeeded", "Failed"
COUNTERS = ("trialsSucceeded", "trialsFailed", "trialsEarlyStopped", "trialsKilled")
TRIAL_STATES = {
    "Succeeded": TrialState.SUCCEEDED,
    "Failed": TrialState.FAILED,
    "EarlyStopped": TrialState.EARLY_STOPPED,
    "Killed": TrialState.KILLED,
    "MetricsUnavailable": TrialState.FAILED,
}


@dataclass(frozen=True)
class Phase:
    name: str  # Created, Running, Restarting, Succeeded or Failed ("" before the first)
    reason: str = ""
    message: str = ""

    @property
    def finished(self) -> bool:
        return self.name in (SUCCEEDED, FAILED)


def _true_conditions(obj: dict[str, Any]) -> list[dict[str, Any]]:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return [c for c in conditions if str(c.get("status")) == "True"]


def experiment_phase(experiment: dict[str, Any]) -> Phase:
    """Succeeded or Failed when either condition is true, else the latest true condition."""
    true = _true_conditions(experiment)
    for wanted in (FAILED, SUCCEEDED):
        for condition in true:
            if condition.get("type") == wanted:
                return Phase(wanted, condition.get("reason", ""), condition.get("message", ""))
    if not true:
        return Phase("")
    last = true[-1]
    return Phase(last.get("type", ""), last.get("reason", ""), last.get("message", ""))


def _metric(observation: dict[str, Any] | None, metric: str) -> float | None:
    for item in (observation or {}).get("metrics") or []:
        if item.get("name") == metric:
            try:
                return float(item.get("latest"))
            except (TypeError, ValueError):
                return None  # Katib writes "unavailable" when no value was collected
    return None


def trials_done(experiment: dict[str, Any]) -> int:
    status = experiment.get("status") or {}
    return sum(int(status.get(counter) or 0) for counter in COUNTERS)


def optimal_trial(
    experiment: dict[str, Any], metric: str
) -> tuple[str, dict[str, str], float | None]:
    """(trial name, parameter assignments as Katib strings, objective value) of the best
    trial so far; ("", {}, None) before any trial reported."""
    best = (experiment.get("status") or {}).get("currentOptimalTrial") or {}
    assignments = {
        str(a["name"]): str(a.get("value", "")) for a in best.get("parameterAssignments") or []
    }
    return best.get("bestTrialName") or "", assignments, _metric(best.get("observation"), metric)


def _seconds(status: dict[str, Any]) -> float | None:
    try:
        start = datetime.fromisoformat(str(status["startTime"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(status["completionTime"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    return (end - start).total_seconds()


def trial_records(trials: list[dict[str, Any]], metric: str) -> list[TrialRecord]:
    """One record per Katib Trial, numbered in creation order."""
    ordered = sorted(
        trials,
        key=lambda t: (
            (t.get("metadata") or {}).get("creationTimestamp") or "",
            (t.get("metadata") or {}).get("name") or "",
        ),
    )
    records = []
    for number, trial in enumerate(ordered):
        status = trial.get("status") or {}
        state = TrialState.RUNNING
        message = ""
        for condition in _true_conditions(trial):
            if condition.get("type") in TRIAL_STATES:
                state = TRIAL_STATES[condition["type"]]
                message = condition.get("message") or condition.get("reason") or ""
        assignments = (trial.get("spec") or {}).get("parameterAssignments") or []
        records.append(
            TrialRecord(
                number=number,
                name=(trial.get("metadata") or {}).get("name", f"trial-{number}"),
                assignments={str(a["name"]): str(a.get("value", "")) for a in assignments},
                state=state,
                value=_metric(status.get("observation"), metric),
                seconds=_seconds(status),
                error=message if state is TrialState.FAILED else "",
            )
        )
    return records
