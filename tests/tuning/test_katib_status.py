"""Reading an Experiment's status and its Trials: phases, progress, the best trial."""

from __future__ import annotations

import pytest

from kfops.tuning.katib_status import experiment_phase, optimal_trial, trial_records, trials_done
from kfops.tuning.results import TrialState


def condition(type_: str, status: str = "True", reason: str = "", message: str = "") -> dict:
    return {"type": type_, "status": status, "reason": reason, "message": message}


@pytest.mark.parametrize(
    ("conditions", "phase", "finished"),
    [
        ([], "", False),
        ([condition("Created")], "Created", False),
        ([condition("Created", "False"), condition("Running")], "Running", False),
        (
            [condition("Running", "False"), condition("Succeeded", reason="ExperimentGoalReached")],
            "Succeeded",
            True,
        ),
        (
            [condition("Running"), condition("Failed", reason="ExperimentMaxFailedTrialsReached")],
            "Failed",
            True,
        ),
        ([condition("Succeeded", "False"), condition("Restarting")], "Restarting", False),
    ],
)
def test_phase(conditions, phase, finished):
    found = experiment_phase({"status": {"conditions": conditions}})
    assert (found.name, found.finished) == (phase, finished)


def test_progress_counts_every_finished_trial():
    status = {"trialsSucceeded": 3, "trialsFailed": 1, "trialsEarlyStopped": 2, "trialsRunning": 2}
    assert trials_done({"status": status}) == 6
    assert trials_done({}) == 0


def test_optimal_trial():
    status = {
        "currentOptimalTrial": {
            "bestTrialName": "churn-tune-x-abc",
            "parameterAssignments": [{"name": "max_depth", "value": "5"}],
            "observation": {
                "metrics": [
                    {"name": "loss", "latest": "1"},
                    {"name": "roc_auc", "latest": "0.83", "max": "0.84"},
                ]
            },
        }
    }
    assert optimal_trial({"status": status}, "roc_auc") == (
        "churn-tune-x-abc",
        {"max_depth": "5"},
        0.83,
    )
    assert optimal_trial({"status": {}}, "roc_auc") == ("", {}, None)
    unavailable = {
        "currentOptimalTrial": {
            "observation": {"metrics": [{"name": "roc_auc", "latest": "unavailable"}]}
        }
    }
    assert optimal_trial({"status": unavailable}, "roc_auc")[2] is None


def test_trial_records_in_creation_order():
    def trial(name, created, state, value=None):
        status = {
            "conditions": [condition("Running", "False"), condition(state, message=f"{state} msg")]
        }
        if value is not None:
            status["observation"] = {"metrics": [{"name": "roc_auc", "latest": value}]}
        status.update(
            {"startTime": "2026-01-01T00:00:00Z", "completionTime": "2026-01-01T00:00:30Z"}
        )
        return {
            "metadata": {"name": name, "creationTimestamp": created},
            "spec": {"parameterAssignments": [{"name": "max_depth", "value": "3"}]},
            "status": status,
        }

    records = trial_records(
        [
            trial("b", "2026-01-01T00:00:02Z", "Failed"),
            trial("a", "2026-01-01T00:00:01Z", "Succeeded", "0.8"),
            trial("c", "2026-01-01T00:00:03Z", "EarlyStopped", "0.7"),
        ],
        "roc_auc",
    )
    assert [(r.number, r.name, r.state, r.value) for r in records] == [
        (0, "a", TrialState.SUCCEEDED, 0.8),
        (1, "b", TrialState.FAILED, None),
        (2, "c", TrialState.EARLY_STOPPED, 0.7),
    ]
    assert records[1].error == "Failed msg" and records[0].error == ""
    assert records[0].seconds == 30.0 and records[0].assignments == {"max_depth": "3"}
