"""A rollout as the page draws it: every kept measurement on one timeline in time order with
its verdict, the analysis counts, and the A/B experiment's verdict."""

from __future__ import annotations

from kfops.dashboard.rollouts import measurements, rollout_view
from kfops.rollout.drivers.store import LocalRolloutStore
from kfops.rollout.engine.abtest import ComparisonResult
from kfops.rollout.engine.status import (
    AnalysisPhase,
    AnalysisRunStatus,
    ExperimentStatus,
    MeasurementStatus,
    MetricResult,
)


def measured(phase: AnalysisPhase, at: float, value: float | None) -> MeasurementStatus:
    return MeasurementStatus(value=value, phase=phase, started_at=at - 0.5, finished_at=at)


def test_measurements_share_one_timeline_with_their_verdicts(store: LocalRolloutStore) -> None:
    record = store.load("churn")
    status = record.status.model_copy(deep=True)
    status.analysis_runs = [
        AnalysisRunStatus(name="step-1", step_index=1, phase=AnalysisPhase.FAILED, started_at=1.0,
                          metric_results=[
                              MetricResult(name="error-rate", phase=AnalysisPhase.FAILED, count=2,
                                           successful=1, failed=1, measurements=[
                                               measured(AnalysisPhase.SUCCESSFUL, 10.0, 0.0),
                                               measured(AnalysisPhase.FAILED, 30.0, 0.2)]),
                              MetricResult(name="p90", phase=AnalysisPhase.ERROR, error=1,
                                           measurements=[measured(AnalysisPhase.ERROR, 20.0, None)]),
                          ]),
    ]  # fmt: skip
    points = measurements(status)
    assert [(p["time"], p["metric"], p["phase"]) for p in points] == [
        (10.0, "error-rate", "Successful"), (20.0, "p90", "Error"), (30.0, "error-rate", "Failed")
    ]  # fmt: skip
    view = rollout_view("churn", record.spec, status, record.history)
    (run,) = view["analysis"]
    assert run["phase"] == "Failed"
    assert [(m["name"], m["successful"], m["failed"], m["error"]) for m in run["metrics"]] == [
        ("error-rate", 1, 1, 0), ("p90", 0, 0, 1)
    ]  # fmt: skip


def test_the_ab_verdict_is_shown_when_the_experiment_decided(store: LocalRolloutStore) -> None:
    record = store.load("churn")
    assert rollout_view("churn", record.spec, record.status, [])["experiment"] is None
    status = record.status.model_copy(deep=True)
    status.experiment = ExperimentStatus(
        step_index=1,
        started_at=1.0,
        result=ComparisonResult(test="welch-t", p_value=0.01, alpha=0.05, winner="candidate",
                                decision="candidate-better", message="candidate better"),
    )  # fmt: skip
    verdict = rollout_view("churn", record.spec, status, [])["experiment"]
    assert (verdict["winner"], verdict["decision"], verdict["pValue"]) == (
        "candidate", "candidate-better", 0.01
    )  # fmt: skip
