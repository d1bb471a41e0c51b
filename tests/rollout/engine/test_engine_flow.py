"""Whole rollouts: background analysis, mirroring, A/B experiments, restarts from JSON."""

import json

import pytest

from kfops.rollout import engine
from kfops.rollout.engine.actions import MoveAlias, SetTraffic
from kfops.rollout.engine.status import PauseReason, RolloutPhase, RolloutStatus
from tests.rollout.engine.test_engine import ANALYSIS, BOTH, VALUES, Driver, make_spec, metric


def test_background_analysis_fails_mid_rollout():
    spec = make_spec(
        [
            {"setWeight": 10},
            {"pause": {"duration": "30s"}},
            {"setWeight": 30},
            {"pause": {"duration": "30s"}},
            {"setWeight": 60},
            {"pause": {"duration": "30s"}},
        ],
        [metric(interval="10s", failureLimit=1, **BOTH)],
        background={"startingStep": 2},
    )
    bad_from = 45.0

    def answer(request, now):
        return engine.Measurement(
            request.run, request.metric, value=VALUES["F" if now >= bad_from else "S"]
        )

    driver = Driver(spec, answer)
    driver.run(0, 200, 5)
    run = driver.status.run("background")
    assert run.started_at == 30  # entered at step index 2 (setWeight 30)
    assert driver.request_times()[0] == 35
    assert driver.status.abort and driver.status.phase == RolloutPhase.DEGRADED
    assert driver.status.current_step_index == 3  # aborted during the second pause
    assert "analysis background Failed" in driver.status.message
    assert "failed (2) > failureLimit (1)" in driver.status.message
    assert driver.actions == [
        SetTraffic(candidate_weight=10),
        SetTraffic(candidate_weight=30),
        SetTraffic(candidate_weight=0),
    ]


def test_background_inconclusive_pauses_and_promote_restarts_it():
    spec = make_spec(
        [{"setWeight": 10}, {"pause": {"duration": "100s"}}],
        [metric(interval="10s", **BOTH)],
        background={},
    )
    driver = Driver(
        spec,
        lambda r, now: engine.Measurement(r.run, r.metric, value=VALUES["I" if now == 20 else "S"]),
    )
    driver.run(0, 40, 10)
    assert driver.status.paused_for(PauseReason.INCONCLUSIVE).run == "background"
    driver.command(45, "promote")
    run = driver.status.run("background")
    assert run.started_at == 45 and not run.phase.completed
    assert driver.status.current_step_index == 1  # the pause step itself is not skipped
    driver.run(50, 120, 10)
    assert driver.status.phase == RolloutPhase.HEALTHY


def test_set_mirror_copies_and_completion_removes_it():
    spec = make_spec(
        [
            {"setWeight": 10},
            {"setMirror": {"percent": 25}},
            {"pause": {"duration": "10s"}},
            {"setMirror": {"percent": 0}},
            {"pause": {}},
        ]
    )
    driver = Driver(spec)
    decision = driver.tick(0)
    assert decision.events[:3] == [
        "step 1/5 setWeight 10",
        "step 2/5 setMirror 25",
        "step 3/5 pause 10s",
    ]
    assert decision.actions == [SetTraffic(candidate_weight=10, mirror_percent=25)]
    assert driver.tick(10).actions == [SetTraffic(candidate_weight=10, mirror_percent=0)]
    driver.command(20, "set-weight", weight=0)
    driver.command(21, "abort")
    assert driver.actions[-1] == SetTraffic(candidate_weight=0, mirror_percent=0)


def test_mirror_only_rollout_ends_at_full_weight_without_mirror():
    spec = make_spec([{"setMirror": {"percent": 50}}, {"pause": {"duration": "10s"}}])
    driver = Driver(spec)
    driver.run(0, 10, 10)
    assert driver.actions == [
        SetTraffic(candidate_weight=0, mirror_percent=50),
        SetTraffic(candidate_weight=100, mirror_percent=0),
        MoveAlias("iris", "champion", "2"),
    ]


# --- experiments --------------------------------------------------------------------------


def experiment_spec(test="two-proportion-z", on_inconclusive="pause", **comparison):
    queries = (
        {"successQuery": 'sum(ok{v="{{variant}}"})', "totalQuery": 'sum(all{v="{{variant}}"})'}
        if test == "two-proportion-z"
        else {
            "meanQuery": "m{v='{{variant}}'}",
            "varianceQuery": "v{v='{{variant}}'}",
            "countQuery": "c{v='{{variant}}'}",
        }
    )
    return make_spec(
        [
            {"setWeight": 10},
            {
                "experiment": {
                    "duration": "1h",
                    "weight": 50,
                    "stickyKey": {"header": "x-user"},
                    "comparison": {
                        "metric": "conversion",
                        "test": test,
                        "onInconclusive": on_inconclusive,
                        **queries,
                        **comparison,
                    },
                }
            },
            {"setWeight": 80},
            {"pause": {"duration": "10s"}},
        ]
    )


def figures(**values):
    def answer(request, now):
        return engine.Measurement(
            request.run, request.metric, value=[values[request.metric.replace(".", "_")]]
        )

    return answer


BETTER = figures(success_stable=100, total_stable=1000, success_candidate=130, total_candidate=1000)
WORSE = figures(success_stable=130, total_stable=1000, success_candidate=100, total_candidate=1000)
SAME = figures(success_stable=100, total_stable=1000, success_candidate=105, total_candidate=1000)


def test_experiment_splits_by_sticky_key_and_waits_for_its_duration():
    driver = Driver(experiment_spec(), BETTER)
    decision = driver.tick(0)
    assert decision.actions == [SetTraffic(candidate_weight=50, sticky_header="x-user")]
    assert driver.status.experiment.started_at == 0
    driver.run(600, 3000, 600)
    assert driver.requests == []
    assert engine.due_measurements(driver.spec, driver.status, 3599.9) == []
    requests = engine.due_measurements(driver.spec, driver.status, 3600)
    assert {(r.metric, r.query) for r in requests} == {
        ("success.stable", 'sum(ok{v="stable"})'),
        ("success.candidate", 'sum(ok{v="candidate"})'),
        ("total.stable", 'sum(all{v="stable"})'),
        ("total.candidate", 'sum(all{v="candidate"})'),
    }


def test_experiment_candidate_better_continues():
    driver = Driver(experiment_spec(), BETTER)
    driver.tick(0)
    decision = driver.tick(3600)
    result = driver.status.experiment.result
    assert result.winner == "candidate" and result.p_value == pytest.approx(0.0355, abs=1e-4)
    assert driver.status.experiment.decision == "continue"
    assert decision.actions == [SetTraffic(candidate_weight=80)]
    driver.tick(3610)
    assert driver.status.phase == RolloutPhase.HEALTHY


def test_experiment_candidate_worse_aborts():
    driver = Driver(experiment_spec(), WORSE)
    driver.tick(0)
    decision = driver.tick(3600)
    assert decision.actions == [SetTraffic(candidate_weight=0)]
    assert driver.status.phase == RolloutPhase.DEGRADED
    assert driver.status.message.startswith(
        "experiment: conversion: stable is significantly better"
    )


@pytest.mark.parametrize(
    ("choice", "phase", "weight"),
    [
        ("pause", RolloutPhase.PAUSED, 50),
        ("promote", RolloutPhase.PAUSED, 80),
        ("abort", RolloutPhase.DEGRADED, 0),
    ],
)
def test_experiment_inconclusive_follows_on_inconclusive(choice, phase, weight):
    driver = Driver(experiment_spec(on_inconclusive=choice), SAME)
    driver.tick(0)
    driver.tick(3600)
    assert driver.status.experiment.result.decision == "inconclusive"
    assert driver.status.phase == phase
    assert driver.status.canary_weight == weight
    if choice == "promote":  # went on: the 10 s pause step after setWeight 80 pauses it
        assert driver.status.paused_for(PauseReason.PAUSED_BY_STEP)


def test_experiment_inconclusive_pause_then_promote():
    driver = Driver(experiment_spec(), SAME)
    driver.tick(0)
    driver.tick(3600)
    assert driver.status.paused_for(PauseReason.INCONCLUSIVE).run == "experiment-1"
    decision = driver.command(4000, "promote")
    assert decision.actions == [SetTraffic(candidate_weight=80)]
    assert driver.status.experiment.decision == "promoted"


def test_experiment_welch():
    answer = figures(
        mean_stable=100,
        variance_stable=400,
        count_stable=50,
        mean_candidate=92,
        variance_candidate=225,
        count_candidate=60,
    )
    driver = Driver(experiment_spec("welch-t", higherIsBetter=False), answer)
    driver.tick(0)
    driver.tick(3600)
    assert driver.status.experiment.result.test == "welch-t"
    assert driver.status.experiment.decision == "continue"


def test_experiment_query_errors_retry_then_abort():
    def answer(request, now):
        if request.metric == "total.candidate":
            return engine.Measurement(request.run, request.metric, error="timeout")
        return engine.Measurement(request.run, request.metric, value=[5.0])

    driver = Driver(experiment_spec(), answer)
    driver.tick(0)
    driver.run(3600, 3700, 5)
    times = sorted({t for t, _ in driver.requests})
    assert times == [3600, 3610, 3620, 3630, 3640]
    assert [r.metric for t, r in driver.requests if t == 3610] == ["total.candidate"]
    assert driver.status.abort
    assert "failed 5 times in a row" in driver.status.message


def test_experiment_vector_with_many_series_is_an_error():
    driver = Driver(
        experiment_spec(), lambda r, now: engine.Measurement(r.run, r.metric, value=[1.0, 2.0])
    )
    driver.tick(0)
    decision = driver.tick(3600)
    assert "gave 2 series; aggregate it to one with sum()" in " ".join(decision.events)


# --- restarts -----------------------------------------------------------------------------


def scenario_spec():
    return make_spec(
        [
            {"setWeight": 10},
            {"pause": {"duration": "30s"}},
            ANALYSIS,
            {"setMirror": {"percent": 20}},
            {"setWeight": 30},
            {"pause": {}},
            {
                "experiment": {
                    "duration": "60s",
                    "weight": 40,
                    "stickyKey": {"field": "user"},
                    "comparison": {
                        "metric": "ok",
                        "successQuery": "s{v='{{variant}}'}",
                        "totalQuery": "t{v='{{variant}}'}",
                    },
                }
            },
            {"setWeight": 70},
            {"pause": {"duration": "20s"}},
        ],
        [
            metric("score", interval="10s", count=3, failureLimit=1, **BOTH),
            metric("errors", initialDelay="15s", failureCondition="result > 0.5"),
        ],
        background={"startingStep": 1},
    )


def scenario_answer(request, now):
    if request.run.startswith("experiment"):
        table = {"s.stable": 100, "t.stable": 1000, "s.candidate": 140, "t.candidate": 1000}
        key = request.metric.replace("success", "s").replace("total", "t")
        return engine.Measurement(request.run, request.metric, value=[float(table[key])])
    if int(now) % 70 == 0:
        return engine.Measurement(request.run, request.metric, error="flaky")
    verdict = "F" if int(now) % 50 == 0 else "S"
    return engine.Measurement(
        request.run, request.metric, value=VALUES[verdict] if request.metric == "score" else 0.1
    )


def play(restart: bool) -> Driver:
    driver = Driver(scenario_spec(), scenario_answer, restart=restart)
    now = 0.0
    while now <= 400:
        driver.tick(now)
        if now == 150:
            driver.command(now, "promote")
        now += 5
    return driver


def test_a_restart_after_every_tick_changes_nothing():
    straight, restarted = play(False), play(True)
    assert straight.status.phase == RolloutPhase.HEALTHY
    assert restarted.log == straight.log
    assert [t for t, _ in restarted.requests] == [t for t, _ in straight.requests]
    assert restarted.status == straight.status
    # the rollout did pass every kind of step
    assert straight.actions == [
        SetTraffic(candidate_weight=10),
        SetTraffic(candidate_weight=30, mirror_percent=20),
        SetTraffic(candidate_weight=40, mirror_percent=20, sticky_field="user"),
        SetTraffic(candidate_weight=70, mirror_percent=20),
        SetTraffic(candidate_weight=100),
        MoveAlias("iris", "champion", "2"),
    ]


def test_final_status_round_trips_through_strict_json():
    driver = play(False)
    status = driver.status
    text = json.dumps(status.to_json_dict(), allow_nan=False)
    assert RolloutStatus.model_validate(json.loads(text)) == status


def test_spec_change_starts_over_but_a_finished_rollout_keeps_its_state():
    spec = make_spec([{"setWeight": 20}, {"pause": {}}])
    status = engine.reconcile(spec, RolloutStatus.initial(spec), 0).status
    other = spec.model_copy(
        update={"candidate": spec.candidate.model_copy(update={"version": "3"})}
    )
    decision = engine.reconcile(other, status, 1)
    assert decision.events[0] == "spec changed: starting the rollout over at step 1"
    assert decision.actions == []  # still 20 % applied: the same weight, nothing to send
    assert decision.status.current_step_index == 1
    done = engine.apply_command(spec, status, "promote", 2, full=True).status
    edited = make_spec([{"setWeight": 50}, {"pause": {}}])
    after = engine.reconcile(edited, done, 3)
    assert after.status.phase == RolloutPhase.HEALTHY and after.actions == []


def test_events_read_as_progress():
    spec = make_spec(
        [{"setWeight": 20}, {"setWeight": 40}, ANALYSIS],
        [metric(failureCondition="result[0] > 0.05")],
    )
    driver = Driver(spec, lambda r, now: engine.Measurement(r.run, r.metric, value=[0.12]))
    first = driver.tick(0)
    assert first.events == [
        "step 1/3 setWeight 20",
        "step 2/3 setWeight 40",
        "step 3/3 analysis checks",
    ]
    second = driver.tick(1)
    assert second.events[0] == "analysis step-2/score: measurement 1 failed (0.12 > 0.05)"
    assert second.events[-1].startswith("aborted: analysis step-2 Failed: metric 'score' Failed")
