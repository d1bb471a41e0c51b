"""The rollout engine: Argo's metric limits and timing, step by step, with explicit clocks.

Helpers here build specs and drive ticks; test_engine_commands.py and test_engine_flow.py
reuse them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from kfops.config.rollout import RolloutSpec
from kfops.errors import ConfigurationError
from kfops.rollout import engine
from kfops.rollout.engine.actions import MoveAlias, SetTraffic
from kfops.rollout.engine.status import AnalysisPhase, PauseReason, RolloutPhase, RolloutStatus

# a measurement value per verdict, for metrics with both conditions below
VALUES = {"S": 1.0, "F": 0.0, "I": 0.7}
BOTH = {"successCondition": "result >= 0.9", "failureCondition": "result < 0.5"}


def metric(name: str = "score", **fields: Any) -> dict[str, Any]:
    query = fields.pop("query", 'score{model="{{rollout.model}}",variant="{{variant.candidate}}"}')
    return {"name": name, "provider": {"prometheus": {"query": query}}, **fields}


def make_spec(
    steps: list[dict[str, Any]],
    metrics: list[dict[str, Any]] | None = None,
    background: dict[str, Any] | None = None,
    **extra: Any,
) -> RolloutSpec:
    templates = [{"name": "checks", "metrics": metrics}] if metrics else []
    canary: dict[str, Any] = {"steps": steps}
    if background is not None:
        canary["analysis"] = {"templates": [{"templateName": "checks"}], **background}
    return RolloutSpec.model_validate(
        {
            "model": "iris",
            "stable": {"version": "1"},
            "candidate": {"version": "2"},
            "strategy": {"canary": canary},
            "analysisTemplates": templates,
            **extra,
        }
    )


ANALYSIS = {"analysis": {"templates": [{"templateName": "checks"}]}}

Answer = Callable[[engine.MeasurementRequest, float], engine.Measurement | None]


def answer_with(value: Any = None, error: str | None = None) -> Answer:
    def answer(request: engine.MeasurementRequest, now: float) -> engine.Measurement:
        return engine.Measurement(request.run, request.metric, value=value, error=error)

    return answer


class Driver:
    """Ticks a rollout like the controller: due -> measure -> reconcile -> keep."""

    def __init__(self, spec: RolloutSpec, answer: Answer | None = None, restart: bool = False):
        self.spec = spec
        self.status = RolloutStatus.initial(spec)
        self.answer = answer or answer_with(1.0)
        self.restart = restart
        self.log: list[tuple[float, str, Any]] = []
        self.requests: list[tuple[float, engine.MeasurementRequest]] = []

    def tick(self, now: float) -> engine.Decision:
        requests = engine.due_measurements(self.spec, self.status, now)
        self.requests += [(now, request) for request in requests]
        answers = [a for r in requests if (a := self.answer(r, now)) is not None]
        decision = engine.reconcile(self.spec, self.status, now, answers)
        self.keep(now, decision)
        return decision

    def command(self, now: float, name: str, **arguments: Any) -> engine.Decision:
        decision = engine.apply_command(self.spec, self.status, name, now, **arguments)
        self.keep(now, decision)
        return decision

    def keep(self, now: float, decision: engine.Decision) -> None:
        status = decision.status
        if self.restart:  # a controller restart: the status only survives as JSON
            status = RolloutStatus.model_validate(json.loads(json.dumps(status.to_json_dict())))
        self.status = status
        for action in decision.actions:
            self.log.append((now, "action", action))
        self.log.append((now, "step", (status.current_step_index, str(status.phase))))

    def run(self, start: float, stop: float, every: float) -> None:
        now = start
        while now <= stop:
            self.tick(now)
            now += every

    @property
    def actions(self) -> list[Any]:
        return [entry for _, kind, entry in self.log if kind == "action"]

    def request_times(self, metric: str | None = None) -> list[float]:
        return [t for t, r in self.requests if metric is None or r.metric == metric]


def analysis_driver(verdicts: str, **limits: Any) -> Driver:
    """An analysis step whose metric answers the verdicts in order (S, F, I or E)."""
    fields = {"interval": "10s", "count": limits.pop("count", len(verdicts)), **BOTH, **limits}
    spec = make_spec([{"setWeight": 20}, ANALYSIS, {"setWeight": 60}], [metric(**fields)])
    sequence = iter(verdicts)

    def answer(request: engine.MeasurementRequest, now: float) -> engine.Measurement:
        verdict = next(sequence)
        if verdict == "E":
            return engine.Measurement(request.run, request.metric, error="connection refused")
        return engine.Measurement(request.run, request.metric, value=VALUES[verdict])

    driver = Driver(spec, answer)
    driver.tick(0)  # enters the analysis step: its run starts at 0
    for index in range(len(verdicts)):
        driver.tick(10.0 * index)
    return driver


# --- metric limits ------------------------------------------------------------------------

LIMIT_ROWS = [
    # verdicts, limits, run phase, measurements taken
    ("F", {}, "Failed", 1),  # failureLimit default 0
    ("S", {}, "Successful", 1),
    ("SSF", {}, "Failed", 3),
    ("F", {"failureLimit": 1, "count": 3}, "Running", 1),
    ("FF", {"failureLimit": 1, "count": 3}, "Failed", 2),  # limit + 1
    ("FSS", {"failureLimit": 1}, "Successful", 3),
    ("FF", {"failureLimit": 2, "count": 3}, "Running", 2),
    ("FFF", {"failureLimit": 2}, "Failed", 3),
    ("FFF", {"failureLimit": -1}, "Successful", 3),  # -1: never trips
    ("I", {}, "Inconclusive", 1),  # inconclusiveLimit default 0
    ("IS", {"inconclusiveLimit": 1}, "Successful", 2),
    ("II", {"inconclusiveLimit": 1}, "Inconclusive", 2),
    ("III", {"inconclusiveLimit": -1}, "Successful", 3),
    ("EEEE", {"count": 1}, "Running", 4),  # consecutiveErrorLimit default 4
    ("EEEEE", {"count": 1}, "Error", 5),  # limit + 1
    ("E", {"consecutiveErrorLimit": 0, "count": 1}, "Error", 1),
    ("ESES", {"consecutiveErrorLimit": 1, "count": 2}, "Successful", 4),
    ("EE", {"consecutiveErrorLimit": 1, "count": 2}, "Error", 2),
    ("EEEEEEEEEE", {"consecutiveErrorLimit": -1, "count": 1}, "Running", 10),
    ("ES", {"count": 1}, "Successful", 2),  # errors do not count towards count
    ("FI", {"failureLimit": 1, "inconclusiveLimit": 0}, "Inconclusive", 2),
    ("IEEEEE", {"inconclusiveLimit": 1, "count": 2}, "Error", 6),
]


@pytest.mark.parametrize(("verdicts", "limits", "phase", "taken"), LIMIT_ROWS)
def test_metric_limits(verdicts, limits, phase, taken):
    driver = analysis_driver(verdicts, **limits)
    run = driver.status.run("step-1")
    assert run is not None
    assert run.phase == AnalysisPhase(phase)
    assert run.metric_results[0].taken == taken
    consequence = {
        "Failed": RolloutPhase.DEGRADED,
        "Error": RolloutPhase.DEGRADED,
        "Inconclusive": RolloutPhase.PAUSED,
        "Successful": RolloutPhase.HEALTHY,
        "Running": RolloutPhase.PROGRESSING,
    }[phase]
    assert driver.status.phase == consequence


def test_counters_and_messages():
    driver = analysis_driver("SEFE", failureLimit=3, count=4)
    result = driver.status.run("step-1").metric_results[0]
    assert (result.count, result.successful, result.failed, result.error) == (2, 1, 1, 2)
    assert result.consecutive_error == 1
    assert [m.phase.value for m in result.measurements] == [
        "Successful",
        "Error",
        "Failed",
        "Error",
    ]
    assert result.measurements[1].message == "connection refused"
    assert result.measurements[2].message == "0.0 < 0.5"


def test_failed_analysis_aborts_to_stable_and_keeps_the_alias():
    driver = analysis_driver("SF", count=3)
    status = driver.status
    assert status.abort and status.phase == RolloutPhase.DEGRADED
    assert not status.alias_moved
    assert driver.actions[-1] == SetTraffic(candidate_weight=0, mirror_percent=0)
    assert not any(isinstance(action, MoveAlias) for action in driver.actions)
    assert "analysis step-1 Failed" in status.message
    assert "failed (1) > failureLimit (0)" in status.message
    # nothing more is measured or moved
    assert engine.due_measurements(driver.spec, status, 1000) == []
    assert engine.reconcile(driver.spec, status, 1000).actions == []


def test_errored_analysis_aborts():
    driver = analysis_driver("EEEEE", count=1)
    assert driver.status.abort
    assert "consecutiveErrors (5) > consecutiveErrorLimit (4)" in driver.status.message


def test_inconclusive_analysis_pauses():
    driver = analysis_driver("I")
    condition = driver.status.paused_for(PauseReason.INCONCLUSIVE)
    assert condition is not None and condition.run == "step-1"
    assert driver.status.controller_pause
    assert driver.status.canary_weight == 20  # traffic stays where it was
    assert engine.reconcile(driver.spec, driver.status, 500).actions == []


def test_worst_metric_decides_the_run_and_terminates_the_others():
    spec = make_spec(
        [ANALYSIS],
        [
            metric("good", interval="10s", count=5, **BOTH),
            metric("bad", interval="10s", count=5, **BOTH),
        ],
    )

    def answer(request, now):
        value = VALUES["F"] if request.metric == "bad" else VALUES["S"]
        return engine.Measurement(request.run, request.metric, value=value)

    driver = Driver(spec, answer)
    driver.run(0, 10, 10)
    run = driver.status.run("step-0")
    assert run.phase == AnalysisPhase.FAILED
    phases = {r.name: r.phase for r in run.metric_results}
    assert phases == {"good": AnalysisPhase.SUCCESSFUL, "bad": AnalysisPhase.FAILED}
    assert "metric 'bad' Failed" in run.message


# --- timing -------------------------------------------------------------------------------


def timing_driver(**fields: Any) -> Driver:
    spec = make_spec([ANALYSIS], [metric(**fields)])
    return Driver(spec)


def test_interval_and_count():
    driver = timing_driver(interval="60s", count=3)
    driver.run(0, 300, 1)
    assert driver.request_times() == [1, 61, 121]  # the run starts at 0, measured at tick 1
    assert driver.status.phase == RolloutPhase.HEALTHY


def test_interval_is_measured_from_the_last_measurement():
    driver = timing_driver(interval="60s", count=3)
    driver.tick(0)
    driver.tick(0)
    assert driver.request_times() == [0]
    assert engine.due_measurements(driver.spec, driver.status, 59.9) == []
    assert [r.metric for r in engine.due_measurements(driver.spec, driver.status, 60)] == ["score"]


def test_initial_delay():
    driver = timing_driver(initialDelay="30s")
    driver.run(0, 100, 5)
    assert driver.request_times() == [30]


def test_no_count_no_interval_measures_once():
    driver = timing_driver()
    driver.run(0, 100, 5)
    assert driver.request_times() == [5]  # the run starts at 0, the next tick measures
    assert driver.status.run("step-0").phase == AnalysisPhase.SUCCESSFUL


def test_error_retries_after_ten_seconds_even_with_a_longer_interval():
    calls = iter(["E", "S", "S"])

    def answer(request, now):
        if next(calls) == "E":
            return engine.Measurement(request.run, request.metric, error="timeout")
        return engine.Measurement(request.run, request.metric, value=1.0)

    spec = make_spec([ANALYSIS], [metric(interval="60s", count=2)])
    driver = Driver(spec, answer)
    driver.run(0, 200, 1)
    assert driver.request_times() == [1, 11, 71]


def test_interval_without_count_runs_until_the_step_ends():
    spec = make_spec(
        [{"setWeight": 10}, {"pause": {"duration": "55s"}}, {"setWeight": 50}],
        [metric(interval="20s")],
        background={},
    )
    driver = Driver(spec)
    driver.run(0, 200, 5)
    assert driver.request_times() == [5, 25, 45]
    run = driver.status.run("background")
    assert run.phase == AnalysisPhase.SUCCESSFUL
    assert run.message == "terminated: rollout complete"


def test_query_expansion_and_address():
    spec = make_spec(
        [
            {
                "analysis": {
                    "templates": [{"templateName": "t"}],
                    "args": [{"name": "svc", "value": "api"}],
                }
            }
        ],
        analysisTemplates=[
            {
                "name": "t",
                "args": [{"name": "svc"}, {"name": "window", "value": "5m"}],
                "metrics": [
                    {
                        "name": "errors",
                        "provider": {
                            "prometheus": {
                                "address": "http://prom:9090",
                                "timeoutSeconds": 3,
                                "query": 'rate(e{svc="{{ args.svc }}",m="{{rollout.model}}",'
                                'v="{{variant.candidate}}"}[{{args.window}}]) / '
                                'rate(e{v="{{variant.stable}}"}[1m])',
                            }
                        },
                    }
                ],
            }
        ],
    )
    status = engine.reconcile(spec, RolloutStatus.initial(spec), 0).status
    [request] = engine.due_measurements(spec, status, 0)
    assert request.query == (
        'rate(e{svc="api",m="iris",v="candidate"}[5m]) / rate(e{v="stable"}[1m])'
    )
    assert (request.address, request.timeout, request.run) == ("http://prom:9090", 3, "step-0")


def test_default_prometheus_address():
    spec = make_spec([ANALYSIS], [metric()], prometheus={"address": "http://p:1"})
    status = engine.reconcile(spec, RolloutStatus.initial(spec), 0).status
    assert engine.due_measurements(spec, status, 0)[0].address == "http://p:1"


@pytest.mark.parametrize(
    ("metrics", "args", "message"),
    [
        (
            [metric(successCondition="result >")],
            [],
            r"checks\]\.metrics\[score\]\.successCondition",
        ),
        ([metric(failureCondition="import os")], [], "failureCondition"),
        ([metric(query='x{a="{{args.nope}}"}')], [], r"unknown placeholder \{\{args.nope\}\}"),
        ([metric(query="{{variant}}")], [], r"unknown placeholder \{\{variant\}\}"),
    ],
)
def test_bad_specs_are_configuration_errors(metrics, args, message):
    spec = make_spec([ANALYSIS], metrics)
    with pytest.raises(ConfigurationError, match=message):
        engine.reconcile(spec, RolloutStatus.initial(spec), 0)


def test_missing_argument_value_is_a_configuration_error():
    spec = make_spec(
        [{"analysis": {"templates": [{"templateName": "t"}]}}],
        analysisTemplates=[{"name": "t", "args": [{"name": "svc"}], "metrics": [metric()]}],
    )
    with pytest.raises(ConfigurationError, match="argument 'svc' of template 't' has no value"):
        engine.check_spec(spec)


# --- idempotence --------------------------------------------------------------------------


def test_reconcile_is_pure_and_does_not_count_an_answer_twice():
    spec = make_spec([{"setWeight": 20}, ANALYSIS], [metric(interval="10s", count=3, **BOTH)])
    status = engine.reconcile(spec, RolloutStatus.initial(spec), 0).status
    before = status.model_dump()
    [request] = engine.due_measurements(spec, status, 5)
    answer = [engine.Measurement(request.run, request.metric, value=1.0)]
    first = engine.reconcile(spec, status, 5, answer)
    second = engine.reconcile(spec, status, 5, answer)
    assert status.model_dump() == before  # the input is not modified
    assert first.status == second.status and first.actions == second.actions
    again = engine.reconcile(spec, first.status, 5, answer)
    assert again.actions == []
    assert again.status.run("step-1").metric_results[0].taken == 1
    assert "ignored a measurement of step-1/score: not due" in again.events


def test_repeated_reconcile_emits_no_repeated_actions():
    spec = make_spec([{"setWeight": 20}, {"pause": {}}])
    first = engine.reconcile(spec, RolloutStatus.initial(spec), 0)
    assert first.actions == [SetTraffic(candidate_weight=20)]
    assert engine.reconcile(spec, first.status, 0).actions == []
    assert engine.reconcile(spec, first.status, 50).actions == []


def test_resync_re_emits_the_current_traffic_and_alias():
    spec = make_spec([{"setWeight": 20}, {"setMirror": {"percent": 5}}, {"pause": {}}])
    status = engine.reconcile(spec, RolloutStatus.initial(spec), 0).status
    again = engine.reconcile(spec, status, 1, resync=True)
    assert again.actions == [SetTraffic(candidate_weight=20, mirror_percent=5)]
    done = engine.apply_command(spec, status, "promote", 2, full=True).status
    assert engine.reconcile(spec, done, 3, resync=True).actions == [
        SetTraffic(candidate_weight=100),
        MoveAlias("iris", "champion", "2"),
    ]


def test_status_json_keeps_non_finite_values():
    spec = make_spec([ANALYSIS], [metric(successCondition="isNaN(result)")])
    driver = Driver(spec, answer_with(float("nan")), restart=True)
    driver.tick(0)
    driver.tick(1)
    measurement = driver.status.run("step-0").metric_results[0].measurements[0]
    assert measurement.phase == AnalysisPhase.SUCCESSFUL
    assert measurement.value != measurement.value  # NaN came back from JSON
    text = json.dumps(driver.status.to_json_dict(), allow_nan=False)
    assert '"NaN"' in text and "currentStepIndex" in text
