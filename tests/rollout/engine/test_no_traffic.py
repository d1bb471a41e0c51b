"""An analysis that sees no traffic says so: an empty vector is an Error (Argo's phase for a
condition that cannot be evaluated), with one line naming the variant and where to send
requests, in the measurement, the run's message and the events."""

from __future__ import annotations

from typing import Any

from kfops.rollout.engine.status import AnalysisPhase, RolloutPhase
from tests.rollout.engine.test_engine import ANALYSIS, Driver, answer_with, make_spec, metric

CONDITIONS = {"successCondition": "result[0] <= 0.01", "failureCondition": "result[0] > 0.01"}
QUERY = 'sum(rate(kfops_router_requests_total{variant="candidate",code=~"5.."}[30s]))'
LOCAL = "no traffic: the query returned no samples for candidate; send requests to "


def driver(value: Any, traffic: dict | None = None, **fields: Any) -> Driver:
    spec = make_spec(
        [{"setWeight": 20}, ANALYSIS, {"setWeight": 60}],
        [metric(query=QUERY, interval="10s", count=3, **{**CONDITIONS, **fields})],
        traffic=traffic or {"routerUrl": "http://127.0.0.1:8123"},
    )
    run = Driver(spec, answer_with(value))
    run.run(0, 60, 10)
    return run


def test_an_empty_result_is_an_error_that_says_no_traffic_and_where_to_send_it():
    run = driver([])
    result = run.status.run("step-1").metric_results[0]
    assert result.error == 5 and result.count == 0  # consecutiveErrorLimit 4, then Error
    assert result.phase == AnalysisPhase.ERROR
    expected = LOCAL + "http://127.0.0.1:8123"
    assert {m.message for m in result.measurements} == {expected}
    assert run.status.phase == RolloutPhase.DEGRADED and expected in run.status.message
    assert "result has 0 values" not in run.status.message


def test_every_measurement_event_carries_the_line():
    spec = make_spec(
        [{"setWeight": 20}, ANALYSIS],
        [metric(query=QUERY, interval="10s", count=1, **CONDITIONS)],
        traffic={"routerUrl": "http://127.0.0.1:8123"},
    )
    run = Driver(spec, answer_with([]))
    events = [event for now in (0, 10, 20) for event in run.tick(now).events]
    lines = [e for e in events if "measurement 1" in e]
    assert lines == [f"analysis step-1/score: measurement 1 error ({LOCAL}http://127.0.0.1:8123)"]


def test_a_condition_that_handles_no_samples_still_decides():
    run = driver([], successCondition="len(result) == 0 || result[0] <= 0.01", failureCondition="")
    result = run.status.run("step-1").metric_results[0]
    assert result.successful == 3 and result.error == 0


def test_a_cluster_rollout_names_the_inference_service():
    run = driver([], traffic={"backend": "kserve", "inferenceService": "churn", "namespace": "ml"})
    message = run.status.run("step-1").metric_results[0].measurements[-1].message
    assert message == (
        "no traffic: the query returned no samples for candidate; send requests to "
        "InferenceService churn in namespace ml"
    )


def test_a_nan_ratio_over_no_requests_gets_the_hint():
    run = driver([float("nan")])
    message = run.status.run("step-1").metric_results[0].measurements[-1].message
    assert message.startswith("successCondition 'result[0] <= 0.01': result[0] is NaN")
    assert message.endswith(
        "(NaN: a ratio over no requests? send requests to http://127.0.0.1:8123)"
    )
